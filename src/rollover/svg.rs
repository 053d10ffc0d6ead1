//! A plain SVG Gantt chart of a plan: one row per key; bars for "in the
//! DNSKEY RRset", "signing", "revoked" and "DS at the parent". Text is
//! XML-escaped. Pure: returns the document as a string.

use std::fmt::Write as _;

use time::OffsetDateTime;

use super::plan::Plan;
use crate::timeutil::format_rfc3339;

use crate::markup::escape;

const LABEL_W: f64 = 300.0;
const CHART_W: f64 = 900.0;
const ROW_H: f64 = 26.0;
const TOP: f64 = 40.0;

/// Draws the keys of `plan` that exist during `[from, until)`.
pub fn render(plan: &Plan, from: OffsetDateTime, until: OffsetDateTime) -> String {
    let span = (until - from).whole_seconds().max(1) as f64;
    let x = |t: OffsetDateTime| -> f64 {
        let s = (t - from).whole_seconds() as f64;
        LABEL_W + (s / span).clamp(0.0, 1.0) * CHART_W
    };
    let keys: Vec<_> = plan
        .keys
        .iter()
        .filter(|k| {
            let start = [k.publish, k.active, k.ds_submit].into_iter().flatten().min();
            let end = [k.remove, k.retire, k.ds_withdraw].into_iter().flatten().max();
            start.is_some_and(|s| s < until) && end.is_none_or(|e| e > from)
        })
        .collect();
    let height = TOP + ROW_H * keys.len() as f64 + 40.0;
    let width = LABEL_W + CHART_W + 20.0;
    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#);
    let _ = writeln!(
        s,
        r#"<text x="4" y="16" font-size="13">{} rollover plan, {} to {}</text>"#,
        escape(&plan.zone),
        escape(&format_rfc3339(from)),
        escape(&format_rfc3339(until))
    );
    let _ = writeln!(
        s,
        r##"<text x="4" y="32"><tspan fill="#9ecae1">■ published</tspan> <tspan fill="#3182bd">■ signing</tspan> <tspan fill="#de2d26">■ revoked</tspan> <tspan fill="#31a354">■ DS at parent</tspan></text>"##
    );
    // Bundle grid lines (at most 200).
    let starts = plan.bundle_starts(from, until);
    let step = starts.len().div_ceil(200).max(1);
    for t in starts.iter().step_by(step) {
        let _ = writeln!(s, r##"<line x1="{0:.1}" y1="{TOP}" x2="{0:.1}" y2="{1:.1}" stroke="#eee"/>"##, x(*t), height - 40.0);
    }
    for (i, k) in keys.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let label = format!(
            "{} {} {}{}",
            k.id,
            k.role,
            k.algorithm,
            k.key_tag.map(|t| format!(" tag {t}")).unwrap_or_default()
        );
        let _ = writeln!(s, r#"<text x="4" y="{:.1}">{}</text>"#, y + 15.0, escape(&label));
        let mut bar = |a: Option<OffsetDateTime>, b: Option<OffsetDateTime>, dy: f64, h: f64, color: &str, what: &str| {
            if let Some(a) = a {
                let b = b.unwrap_or(until);
                if b <= from || a >= until || b <= a {
                    return;
                }
                let (x0, x1) = (x(a), x(b));
                let _ = writeln!(
                    s,
                    r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{color}"><title>{}</title></rect>"#,
                    y + dy,
                    (x1 - x0).max(1.0),
                    escape(&format!("{}: {what} {} to {}", k.id, format_rfc3339(a), b.min(until).pipe_fmt()))
                );
            }
        };
        bar(k.publish, k.remove, 2.0, 18.0, "#9ecae1", "published");
        bar(k.active, k.retire, 6.0, 10.0, "#3182bd", "signing");
        bar(k.revoke, k.remove, 6.0, 10.0, "#de2d26", "revoked");
        bar(k.ds_submit, k.ds_withdraw, 18.0, 4.0, "#31a354", "DS at parent");
    }
    let _ = writeln!(s, "</svg>");
    s
}

trait PipeFmt {
    fn pipe_fmt(self) -> String;
}
impl PipeFmt for OffsetDateTime {
    fn pipe_fmt(self) -> String {
        format_rfc3339(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_key() {
        let t0 = crate::timeutil::parse_instant("2027-01-01T00:00:00Z").unwrap();
        let mut p = crate::config::Policy::default();
        p.ksk.lifetime = crate::config::Dur(time::Duration::days(120));
        let plan = super::super::plan::plan("ex<ample>.", &p, &[], t0, t0 + time::Duration::days(200)).unwrap();
        let svg = render(&plan, t0, t0 + time::Duration::days(200));
        assert!(svg.contains("ex&lt;ample&gt;."));
        assert!(!svg.contains("ex<ample"));
        for k in &plan.keys {
            assert!(svg.contains(&k.id), "{}", k.id);
        }
    }
}
