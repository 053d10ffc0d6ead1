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
    if let Some(rest) = t.strip_prefix('+') {
        return Ok(now + parse_duration(rest).map_err(|_| TimeError::BadTime(s.into()))?);
    }
    if let Some(rest) = t.strip_prefix('-') {
        return Ok(now - parse_duration(rest).map_err(|_| TimeError::BadTime(s.into()))?);
    }
    parse_instant(t).ok_or_else(|| TimeError::BadTime(s.into()))
}

/// `t` truncated to whole seconds.
pub fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// An RFC 3339 instant; without an offset it is UTC. A bare date is midnight UTC.
pub fn parse_instant(t: &str) -> Option<OffsetDateTime> {
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
                    let n: i64 = num.parse().map_err(|_| err())?;
                    num.clear();
                    let mult = match (in_time, u.to_ascii_uppercase()) {
                        (false, 'W') => 7 * 86400,
                        (false, 'D') => 86400,
                        (true, 'H') => 3600,
                        (true, 'M') => 60,
                        (true, 'S') => 1,
                        _ => return Err(err()),
                    };
                    total = n.checked_mul(mult).and_then(|v| total.checked_add(v)).ok_or_else(err)?;
                    seen = true;
                }
            }
        }
        if !num.is_empty() || !seen {
            return Err(err());
        }
        return Ok(Duration::seconds(total));
    }
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = digits.parse().map_err(|_| err())?;
    let mult = match unit {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        "y" => 365 * 86400,
        _ => return Err(err()),
    };
    n.checked_mul(mult).map(Duration::seconds).ok_or_else(err)
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
    fn rrsig_times() {
        assert_eq!(parse_rrsig_time("20261207094519"), Some(1796636719));
        assert_eq!(format_rrsig_time(1796636719), "20261207094519");
        let near = parse_instant("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(from_rrsig_time(to_rrsig_time(near), near), near);
    }
}
