//! Times and durations as kskit reads and writes them: RFC 3339 instants
//! (a missing zone offset means UTC, as in root KSRs), `now`, offsets from
//! now (`+90d`, `+12h`, `-1w`), and ISO 8601 durations (`P21D`, `PT0S`).

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    #[error("bad time {0:?}: use RFC 3339 (2027-01-01T00:00:00Z), `now`, or an offset such as +90d, +12h")]
    BadTime(String),
    #[error("bad duration {0:?}: use an ISO 8601 duration such as P21D or PT12H, or a number with a unit (90d, 12h, 30m, 2w, 3600s)")]
    BadDuration(String),
    #[error("time {0:?} is out of range: kskit handles times from 1970-01-01T00:00:00Z to 2106-02-07T06:28:15Z (the range of DNSSEC signature times)")]
    TimeOutOfRange(String),
    #[error("duration {0:?} is out of range: at most 100 years (P36500D)")]
    DurationOutOfRange(String),
}

/// The latest instant kskit accepts: 2106-02-07T06:28:15Z, the largest
/// unsigned 32-bit count of seconds, as an RRSIG time or a BIND/Knot text
/// header carries it (RFC 4034 §3.1.5). Every time read from the command
/// line, a configuration or an input file is held to
/// [`MIN_UNIX`]..=[`MAX_UNIX`], so that adding a bounded duration to it can
/// never leave the range of [`OffsetDateTime`].
pub const MAX_UNIX: i64 = u32::MAX as i64;
/// The earliest instant kskit accepts: the Unix epoch.
pub const MIN_UNIX: i64 = 0;
/// The longest duration kskit accepts anywhere (command line, kskit.toml,
/// KSK policy, KSR request policy): 100 years of 365 days.
pub const MAX_DURATION_SECS: i64 = 36500 * 86400;

/// `t` if it lies within [`MIN_UNIX`]..=[`MAX_UNIX`].
pub fn in_range(t: OffsetDateTime) -> Option<OffsetDateTime> {
    (MIN_UNIX..=MAX_UNIX).contains(&t.unix_timestamp()).then_some(t)
}

/// Parses `now`, `+N<unit>`/`-N<unit>` (relative to `now`), or an RFC 3339
/// instant, with or without a zone offset (none means UTC).
/// Results are whole seconds (DNSSEC and both file formats count seconds).
pub fn parse_time(s: &str, now: OffsetDateTime) -> Result<OffsetDateTime, TimeError> {
    let now = whole_seconds(now);
    let t = s.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    let offset = |rest: &str| match parse_duration(rest) {
        Ok(d) => Ok(d),
        Err(TimeError::DurationOutOfRange(_)) => Err(TimeError::TimeOutOfRange(s.into())),
        Err(_) => Err(TimeError::BadTime(s.into())),
    };
    let out = if let Some(rest) = t.strip_prefix('+') {
        now.checked_add(offset(rest)?)
    } else if let Some(rest) = t.strip_prefix('-') {
        now.checked_sub(offset(rest)?)
    } else {
        return match parse_instant_unbounded(t) {
            Some(v) => in_range(v).ok_or_else(|| TimeError::TimeOutOfRange(s.into())),
            None => Err(TimeError::BadTime(s.into())),
        };
    };
    out.and_then(in_range).ok_or_else(|| TimeError::TimeOutOfRange(s.into()))
}

/// `t` truncated to whole seconds.
pub fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// An RFC 3339 instant; without an offset it is UTC. A bare date is midnight
/// UTC. `None` also for an instant outside [`MIN_UNIX`]..=[`MAX_UNIX`].
pub fn parse_instant(t: &str) -> Option<OffsetDateTime> {
    parse_instant_unbounded(t).and_then(in_range)
}

fn parse_instant_unbounded(t: &str) -> Option<OffsetDateTime> {
    if let Ok(v) = OffsetDateTime::parse(t, &Rfc3339) {
        return Some(whole_seconds(v.to_offset(UtcOffset::UTC)));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(v) = PrimitiveDateTime::parse(t, &fmt) {
        return Some(v.assume_utc());
    }
    let dfmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(t, &dfmt) {
        return Some(d.midnight().assume_utc());
    }
    None
}

/// RFC 3339 in UTC with `Z`, seconds precision: `2027-01-01T00:00:00Z`.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.to_offset(UtcOffset::UTC).format(&fmt).unwrap_or_default()
}

/// Parses ISO 8601 durations (`P21D`, `PT0S`, `P1DT12H`, `P2W`) and the short
/// forms `90d`, `12h`, `30m`, `45s`, `2w`, and plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, TimeError> {
    let t = s.trim();
    let err = || TimeError::BadDuration(s.into());
    if t.is_empty() {
        return Err(err());
    }
    if let Some(iso) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
        let mut total: i64 = 0;
        let mut in_time = false;
        let mut num = String::new();
        let mut seen = false;
        for c in iso.chars() {
            match c {
                '0'..='9' => num.push(c),
                'T' | 't' => {
                    if in_time || !num.is_empty() {
                        return Err(err());
                    }
                    in_time = true
                }
                u => {
                    if num.is_empty() {
                        return Err(err());
                    }
                    // All digits: a parse failure can only be an overflow.
                    let n: i64 = num.parse().map_err(|_| TimeError::DurationOutOfRange(s.into()))?;
                    num.clear();
                    let mult = match (in_time, u.to_ascii_uppercase()) {
                        (false, 'W') => 7 * 86400,
                        (false, 'D') => 86400,
                        (true, 'H') => 3600,
                        (true, 'M') => 60,
                        (true, 'S') => 1,
                        _ => return Err(err()),
                    };
                    total = n
                        .checked_mul(mult)
                        .and_then(|v| total.checked_add(v))
                        .ok_or_else(|| TimeError::DurationOutOfRange(s.into()))?;
                    seen = true;
                }
            }
        }
        if !num.is_empty() || !seen {
            return Err(err());
        }
        return bounded_duration(total, s);
    }
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    if digits.is_empty() {
        return Err(err());
    }
    let mult = match unit {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        "y" => 365 * 86400,
        _ => return Err(err()),
    };
    let n: i64 = digits.parse().map_err(|_| TimeError::DurationOutOfRange(s.into()))?;
    let total = n.checked_mul(mult).ok_or_else(|| TimeError::DurationOutOfRange(s.into()))?;
    bounded_duration(total, s)
}

fn bounded_duration(secs: i64, text: &str) -> Result<Duration, TimeError> {
    if secs > MAX_DURATION_SECS {
        return Err(TimeError::DurationOutOfRange(text.into()));
    }
    Ok(Duration::seconds(secs))
}

/// ISO 8601 form as the IANA format writes it: `P21D`, `PT0S`, `P1DT2H`.
pub fn format_iso_duration(d: Duration) -> String {
    let mut s = d.whole_seconds();
    if s == 0 {
        return "PT0S".into();
    }
    let neg = s < 0;
    s = s.abs();
    let days = s / 86400;
    let rem = s % 86400;
    let mut out = String::from(if neg { "-P" } else { "P" });
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if rem > 0 {
        out.push('T');
        let (h, m, sec) = (rem / 3600, (rem % 3600) / 60, rem % 60);
        if h > 0 {
            out.push_str(&format!("{h}H"));
        }
        if m > 0 {
            out.push_str(&format!("{m}M"));
        }
        if sec > 0 {
            out.push_str(&format!("{sec}S"));
        }
    }
    out
}

/// Seconds since the epoch as the u32 an RRSIG carries (RFC 4034 §3.1.5).
pub fn to_rrsig_time(t: OffsetDateTime) -> u32 {
    t.unix_timestamp() as u32
}

/// Converts an RRSIG time to an instant, taking the one nearest to `near`
/// (serial-number arithmetic, RFC 4034 §3.1.5).
pub fn from_rrsig_time(v: u32, near: OffsetDateTime) -> OffsetDateTime {
    let base = near.unix_timestamp();
    let diff = (v.wrapping_sub(base as u32)) as i32 as i64;
    OffsetDateTime::from_unix_timestamp(base + diff).unwrap_or(near)
}

/// RRSIG presentation form `YYYYMMDDHHmmSS` (RFC 4034 §3.2).
pub fn format_rrsig_time(v: u32) -> String {
    let t = OffsetDateTime::from_unix_timestamp(v as i64).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
    t.format(&fmt).unwrap_or_default()
}

/// Parses `YYYYMMDDHHmmSS` or a plain number of seconds (RFC 4034 §3.2).
pub fn parse_rrsig_time(s: &str) -> Option<u32> {
    if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
        let t = PrimitiveDateTime::parse(s, &fmt).ok()?.assume_utc();
        return Some(t.unix_timestamp() as u32);
    }
    s.parse::<u32>().ok()
}

/// An absolute time written like an RRSIG time: `YYYYMMDDHHmmSS` (BIND) or
/// Unix seconds (Knot), as in the `;; KeySigningRequest 1.0 <time>` header
/// of the text format. Unlike an RRSIG time this is not serial arithmetic
/// (RFC 4034 §3.1.5 applies to signatures only): a `YYYYMMDDHHmmSS` time
/// past 2106-02-07T06:28:15Z is refused ([`TimeError::TimeOutOfRange`]),
/// never wrapped to 1970.
pub fn parse_absolute_rrsig_time(s: &str) -> Result<OffsetDateTime, TimeError> {
    let t = if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        let fmt = time::macros::format_description!("[year][month][day][hour][minute][second]");
        PrimitiveDateTime::parse(s, &fmt).map_err(|_| TimeError::BadTime(s.into()))?.assume_utc()
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().map_err(|_| TimeError::TimeOutOfRange(s.into()))?;
        OffsetDateTime::from_unix_timestamp(n).map_err(|_| TimeError::TimeOutOfRange(s.into()))?
    } else {
        return Err(TimeError::BadTime(s.into()));
    };
    in_range(t).ok_or_else(|| TimeError::TimeOutOfRange(s.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = parse_instant("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_time("+90d", now).unwrap(), now + Duration::days(90));
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(parse_time("2017-04-01T00:00:00", now).unwrap(), parse_instant("2017-04-01T00:00:00+00:00").unwrap());
        assert!(parse_time("tomorrow", now).is_err());
        assert_eq!(format_rfc3339(now), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("P21D").unwrap(), Duration::days(21));
        assert_eq!(parse_duration("PT0S").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("P1DT12H").unwrap(), Duration::hours(36));
        assert_eq!(parse_duration("12h").unwrap(), Duration::hours(12));
        assert!(parse_duration("P").is_err());
        assert!(parse_duration("P1H").is_err());
        assert!(parse_duration("12x").is_err());
        assert_eq!(format_iso_duration(Duration::days(21)), "P21D");
        assert_eq!(format_iso_duration(Duration::ZERO), "PT0S");
        assert_eq!(format_iso_duration(Duration::hours(36)), "P1DT12H");
    }

    #[test]
    fn out_of_range_times_and_durations_are_errors_not_panics() {
        let now = parse_instant("2026-01-01T00:00:00Z").unwrap();
        for t in ["+9999999d", "-9999999d", "+9223372036854775807s", "+99999999999999999999d", "+P9999999D", "2107-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31"] {
            assert!(matches!(parse_time(t, now), Err(TimeError::TimeOutOfRange(_))), "{t}: {:?}", parse_time(t, now));
        }
        // the last representable second is still accepted
        assert_eq!(parse_time("2106-02-07T06:28:15Z", now).unwrap().unix_timestamp(), u32::MAX as i64);
        assert!(parse_time("+29000d", now).is_ok());
        for d in ["P9999999D", "9999999d", "P36501D", "36501d", "99999999999999999999s", "P1DT9223372036854775807S", "101y"] {
            assert!(matches!(parse_duration(d), Err(TimeError::DurationOutOfRange(_))), "{d}: {:?}", parse_duration(d));
        }
        assert!(matches!(parse_duration("PD"), Err(TimeError::BadDuration(_))));
        assert!(matches!(parse_duration("d"), Err(TimeError::BadDuration(_))));
        assert_eq!(parse_duration("P36500D").unwrap(), Duration::days(36500));
    }

    #[test]
    fn header_times_past_2106_are_refused_not_wrapped() {
        assert_eq!(parse_absolute_rrsig_time("20261123094519").unwrap().unix_timestamp(), 1795427119);
        assert_eq!(parse_absolute_rrsig_time("1795427119").unwrap().unix_timestamp(), 1795427119);
        assert_eq!(parse_absolute_rrsig_time("21060207062815").unwrap().unix_timestamp(), u32::MAX as i64);
        for t in ["21060207062816", "21070101000000", "99991231235959", "4294967296", "19691231235959"] {
            assert!(matches!(parse_absolute_rrsig_time(t), Err(TimeError::TimeOutOfRange(_))), "{t}");
        }
        assert!(matches!(parse_absolute_rrsig_time("soon"), Err(TimeError::BadTime(_))));
        // RRSIG times proper keep serial arithmetic (RFC 4034 §3.1.5)
        assert_eq!(parse_rrsig_time("21070101000000"), Some((4323283200i64 - (1i64 << 32)) as u32));
    }

    #[test]
    fn rrsig_times() {
        assert_eq!(parse_rrsig_time("20261207094519"), Some(1796636719));
        assert_eq!(format_rrsig_time(1796636719), "20261207094519");
        let near = parse_instant("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(from_rrsig_time(to_rrsig_time(near), near), near);
    }
}
