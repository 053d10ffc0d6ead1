//! An SVG Gantt chart of a plan for people: a left gutter with one label per
//! key (sized to the longest label, measured conservatively; a label too
//! long for the widest gutter is cut with "…" and given whole in a
//! `<title>` tooltip), bars for "in the DNSKEY RRset", "signing", "revoked"
//! and the DS at the parent (submitted and held by the registry/parent
//! until it is served, then at the parent, then withdrawn and still
//! cached), a date axis with month ticks and labels, a "now" line, the
//! planned KSR ceremonies and the end of the SKR's coverage, and a legend.
//!
//! Every text comes from [`crate::markup::escape`]. Labels are laid out so
//! that no label box overlaps a bar, a line or another label (the Chromium
//! test in tests/pictures.rs measures it). Pure: returns the document.

use std::fmt::Write as _;

use time::{Duration, OffsetDateTime};

use super::plan::Plan;
use crate::markup::escape;
use crate::timeutil::format_rfc3339;

const CHART_W: f64 = 900.0;
const ROW_H: f64 = 30.0;
/// Font size of labels, px.
const FONT: f64 = 11.0;
/// The widest the label gutter gets, px.
const MAX_GUTTER: f64 = 380.0;
const PAD: f64 = 8.0;
/// Three header rows: "now", KSR ceremonies, SKR end.
const HEADER_ROW: f64 = 16.0;
const TITLE_H: f64 = 24.0;

/// What the chart shows besides the plan.
#[derive(Debug, Clone, Default)]
pub struct ChartOptions {
    /// The "now" line.
    pub now: Option<OffsetDateTime>,
    /// Planned KSR ceremonies.
    pub ceremonies: Vec<OffsetDateTime>,
    /// End of the imported SKR's coverage (its last signatures' expiry).
    pub skr_end: Option<OffsetDateTime>,
    /// After a DS is submitted, how long before it counts as at the parent:
    /// the registry's hold and the parent's propagation delay, plus the DS TTL.
    pub ds_hold: Duration,
    /// How long a withdrawn DS stays in caches (the DS TTL).
    pub ds_ttl: Duration,
}

/// Planned KSR ceremonies in `[from, until)`: the first `lead` before the
/// end of the current SKR's coverage (at `from` when there is none or it
/// is already due), then one every `every`.
pub fn planned_ceremonies(
    skr_end: Option<OffsetDateTime>,
    from: OffsetDateTime,
    until: OffsetDateTime,
    lead: Duration,
    every: Duration,
) -> Vec<OffsetDateTime> {
    let mut t = skr_end.map(|e| e - lead).filter(|t| *t > from).unwrap_or(from);
    let mut out = Vec::new();
    if every <= Duration::ZERO {
        return out;
    }
    while t < until && out.len() < 400 {
        out.push(t);
        t += every;
    }
    out
}

/// A conservative width in px of `s` at `font` px: at least as wide as
/// DejaVu Sans and Liberation Sans draw it (their widest glyphs are ~1 em).
pub fn text_width(s: &str, font: f64) -> f64 {
    s.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' | 'I' | 'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' => 0.45,
            '0'..='9' => 0.68,
            'm' | 'w' | 'M' | 'W' | '@' | '%' | '&' => 1.05,
            'a'..='z' => 0.72,
            'A'..='Z' => 0.85,
            _ => 1.1,
        })
        .sum::<f64>()
        * font
}

/// `s` cut to fit `max` px (with "…"), and whether it was cut.
fn fit(s: &str, max: f64) -> (String, bool) {
    if text_width(s, FONT) <= max {
        return (s.to_string(), false);
    }
    let mut out = String::new();
    for c in s.chars() {
        let mut next = out.clone();
        next.push(c);
        if text_width(&next, FONT) + text_width("…", FONT) > max {
            break;
        }
        out = next;
    }
    out.push('…');
    (out, true)
}

fn month_label(t: OffsetDateTime) -> String {
    const M: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let m = M[usize::from(u8::from(t.month())).saturating_sub(1).min(11)];
    if t.month() == time::Month::January {
        format!("{m} {}", t.year())
    } else {
        m.to_string()
    }
}

/// The first instants of the months in `[from, until)`.
fn months(from: OffsetDateTime, until: OffsetDateTime) -> Vec<OffsetDateTime> {
    let mut out = Vec::new();
    let (mut y, mut m) = (from.year(), u8::from(from.month()));
    loop {
        // Next month start after `from` (or `from` itself when it is one).
        let Ok(month) = time::Month::try_from(m) else { break };
        let Ok(d) = time::Date::from_calendar_date(y, month, 1) else { break };
        let t = d.midnight().assume_utc();
        if t >= until || out.len() > 1200 {
            break;
        }
        if t >= from {
            out.push(t);
        }
        m += 1;
        if m > 12 {
            m = 1;
            y += 1;
        }
    }
    out
}

/// The SVG document (with XML declaration) of `plan` from `from` to `until`.
pub fn render(plan: &Plan, from: OffsetDateTime, until: OffsetDateTime, opts: &ChartOptions) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", render_svg(plan, from, until, opts))
}

/// The `<svg>` element alone, for inlining in HTML.
pub fn render_svg(plan: &Plan, from: OffsetDateTime, until: OffsetDateTime, opts: &ChartOptions) -> String {
    let keys: Vec<_> = plan
        .keys
        .iter()
        .filter(|k| {
            let start = [k.publish, k.active, k.ds_submit].into_iter().flatten().min();
            let end = [k.remove, k.retire, k.ds_withdraw].into_iter().flatten().max();
            start.is_some_and(|s| s < until) && end.is_none_or(|e| e > from)
        })
        .collect();
    let labels: Vec<String> = keys
        .iter()
        .map(|k| format!("{} {} {}{}", k.id, k.role, k.algorithm, k.key_tag.map(|t| format!(" tag {t}")).unwrap_or_default()))
        .collect();
    let longest = labels.iter().map(|l| text_width(l, FONT)).fold(text_width("key", FONT), f64::max);
    let gutter = (longest + 2.0 * PAD).min(MAX_GUTTER);
    let x0 = gutter;
    let span = (until - from).whole_seconds().max(1) as f64;
    let x = |t: OffsetDateTime| -> f64 {
        let s = (t - from).whole_seconds() as f64;
        x0 + (s / span).clamp(0.0, 1.0) * CHART_W
    };
    let inside = |t: OffsetDateTime| t >= from && t <= until;
    let header_top = TITLE_H + 4.0;
    let rows_top = header_top + 3.0 * HEADER_ROW + 6.0;
    let rows_bottom = rows_top + ROW_H * keys.len() as f64;
    let axis_y = rows_bottom + 4.0;
    let legend_y = axis_y + 36.0;
    let width = gutter + CHART_W + 24.0;

    // Legend entries, laid out left to right, wrapping.
    let legend: [(&str, &str, &str); 8] = [
        ("#9ecae1", "", "in the DNSKEY RRset"),
        ("#3182bd", "", "signing"),
        ("#de2d26", "", "revoked"),
        ("#c7e9c0", "", "DS submitted, held until served"),
        ("#31a354", "", "DS at the parent"),
        ("#a1d99b", "", "DS withdrawn, still cached"),
        ("#756bb1", "line", "KSR ceremony (planned)"),
        ("#e6550d", "line", "end of SKR coverage"),
    ];
    let mut legend_items = Vec::new();
    let (mut lx, mut ly) = (PAD, legend_y);
    for (color, kind, text) in legend.iter().chain([("#d62728", "line", "now")].iter()) {
        let w = 14.0 + 4.0 + text_width(text, FONT) + 16.0;
        if lx + w > width - PAD {
            lx = PAD;
            ly += 18.0;
        }
        legend_items.push((lx, ly, *color, *kind, *text));
        lx += w;
    }
    let height = ly + 24.0;

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="kskit-timeline" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="{FONT}">"#
    );
    let _ = writeln!(
        s,
        r#"<text class="label title" x="{PAD}" y="16" font-size="13">{}</text>"#,
        escape(&format!("{} rollover plan, {} to {}", plan.zone, format_rfc3339(from), format_rfc3339(until)))
    );
    // Row backgrounds and the month grid.
    for i in 0..keys.len() {
        if i % 2 == 1 {
            let _ = writeln!(
                s,
                r##"<rect class="band" x="{x0:.1}" y="{:.1}" width="{CHART_W}" height="{ROW_H}" fill="#f7f7f7"/>"##,
                rows_top + ROW_H * i as f64
            );
        }
    }
    let ms = months(from, until);
    let px_per_month = CHART_W / (span / (30.44 * 86400.0));
    let every = (60.0 / px_per_month.max(1.0)).ceil().max(1.0) as usize;
    let mut last_label_end = f64::MIN;
    for (i, m) in ms.iter().enumerate() {
        let mx = x(*m);
        let _ = writeln!(s, r##"<line class="grid" x1="{mx:.1}" y1="{rows_top:.1}" x2="{mx:.1}" y2="{:.1}" stroke="#ddd"/>"##, axis_y + 6.0);
        let jan = m.month() == time::Month::January;
        if i % every == 0 || jan {
            let text = month_label(*m);
            let lx = mx + 3.0;
            let w = text_width(&text, FONT);
            if lx > last_label_end + 4.0 && lx + w <= x0 + CHART_W + 20.0 {
                let _ = writeln!(s, r#"<text class="label axis" x="{lx:.1}" y="{:.1}">{}</text>"#, axis_y + 16.0, escape(&text));
                last_label_end = lx + w;
            }
        }
    }
    let _ = writeln!(s, r##"<line class="axis" x1="{x0:.1}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="#555"/>"##, x0 + CHART_W);

    // Key rows: label in the gutter, bars in the chart.
    for (i, (k, label)) in keys.iter().zip(&labels).enumerate() {
        let y = rows_top + ROW_H * i as f64;
        let (shown, cut) = fit(label, gutter - 2.0 * PAD);
        let title = if cut { format!("<title>{}</title>", escape(label)) } else { String::new() };
        let _ = writeln!(s, r#"<text class="label key" x="{PAD}" y="{:.1}">{title}{}</text>"#, y + 19.0, escape(&shown));
        let mut bar = |a: Option<OffsetDateTime>, b: Option<OffsetDateTime>, dy: f64, h: f64, color: &str, what: &str| {
            let Some(a) = a else { return };
            let b = b.unwrap_or(until);
            if b <= from || a >= until || b <= a {
                return;
            }
            let (xa, xb) = (x(a), x(b));
            let _ = writeln!(
                s,
                r#"<rect class="bar" x="{xa:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{color}"><title>{}</title></rect>"#,
                y + dy,
                (xb - xa).max(1.0),
                escape(&format!("{}: {what} {} to {}", k.id, format_rfc3339(a.max(from)), format_rfc3339(b.min(until))))
            );
        };
        bar(k.publish, k.remove, 3.0, 18.0, "#9ecae1", "in the DNSKEY RRset");
        bar(k.active, k.retire, 7.0, 10.0, "#3182bd", "signing");
        bar(k.revoke, k.remove, 7.0, 10.0, "#de2d26", "revoked");
        if let Some(sub) = k.ds_submit {
            let served = sub + opts.ds_hold;
            let end = k.ds_withdraw;
            bar(Some(sub), Some(end.map_or(served, |e| e.min(served))), 22.0, 5.0, "#c7e9c0", "DS submitted, held until served");
            if end.is_none_or(|e| e > served) {
                bar(Some(served), end, 22.0, 5.0, "#31a354", "DS at the parent");
            }
        }
        if let Some(w) = k.ds_withdraw {
            bar(Some(w), Some(w + opts.ds_ttl), 22.0, 5.0, "#a1d99b", "DS withdrawn, still cached");
        }
    }

    // Markers: a vertical line over the rows, a short tick and a label in its own header row.
    let mut marker = |row: usize, t: OffsetDateTime, color: &str, text: &str, dash: &str, last_end: &mut f64| {
        if !inside(t) {
            return;
        }
        let mx = x(t);
        let ty = header_top + HEADER_ROW * row as f64;
        let _ = writeln!(
            s,
            r#"<line class="marker" x1="{mx:.1}" y1="{rows_top:.1}" x2="{mx:.1}" y2="{rows_bottom:.1}" stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}"><title>{}</title></line>"#,
            escape(&format!("{text}: {}", format_rfc3339(t)))
        );
        let _ = writeln!(s, r#"<line class="tick" x1="{mx:.1}" y1="{:.1}" x2="{mx:.1}" y2="{:.1}" stroke="{color}" stroke-width="1.5"/>"#, ty + 2.0, ty + HEADER_ROW - 1.0);
        let w = text_width(text, FONT);
        let lx = if mx + 3.0 + w <= width - 2.0 { mx + 3.0 } else { mx - 3.0 - w };
        if lx <= *last_end + 4.0 {
            return;
        }
        let anchor_x = lx;
        let _ = writeln!(s, r#"<text class="label marker-label" x="{anchor_x:.1}" y="{:.1}" fill="{color}">{}</text>"#, ty + 12.0, escape(text));
        *last_end = lx + w;
    };
    if let Some(n) = opts.now {
        let mut end = f64::MIN;
        marker(0, n, "#d62728", "now", "none", &mut end);
    }
    let mut cer_end = f64::MIN;
    for c in &opts.ceremonies {
        marker(1, *c, "#756bb1", "KSR ceremony", "4 3", &mut cer_end);
    }
    if let Some(e) = opts.skr_end {
        let mut end = f64::MIN;
        marker(2, e, "#e6550d", "SKR coverage ends", "2 2", &mut end);
    }

    // Legend.
    for (lx, ly, color, kind, text) in legend_items {
        if kind == "line" {
            let _ = writeln!(s, r#"<line class="swatch" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"/>"#, lx + 7.0, ly - 10.0, lx + 7.0, ly + 2.0);
        } else {
            let _ = writeln!(s, r#"<rect class="swatch" x="{lx:.1}" y="{:.1}" width="14" height="10" fill="{color}"/>"#, ly - 9.0);
        }
        let _ = writeln!(s, r#"<text class="label legend" x="{:.1}" y="{ly:.1}">{}</text>"#, lx + 18.0, escape(text));
    }
    let _ = writeln!(s, "</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_and_t0() -> (Plan, OffsetDateTime) {
        let t0 = crate::timeutil::parse_instant("2027-01-15T00:00:00Z").unwrap();
        let mut p = crate::config::Policy::default();
        p.ksk.lifetime = crate::config::Dur(time::Duration::days(120));
        (super::super::plan::plan("ex<ample>.", &p, &[], t0, t0 + time::Duration::days(200)).unwrap(), t0)
    }

    #[test]
    fn draws_every_key_axis_markers_and_legend() {
        let (plan, t0) = plan_and_t0();
        let opts = ChartOptions {
            now: Some(t0 + Duration::days(3)),
            ceremonies: planned_ceremonies(Some(t0 + Duration::days(60)), t0, t0 + Duration::days(200), Duration::days(14), Duration::days(90)),
            skr_end: Some(t0 + Duration::days(60)),
            ds_hold: Duration::days(2),
            ds_ttl: Duration::days(1),
        };
        let svg = render(&plan, t0, t0 + Duration::days(200), &opts);
        assert!(svg.contains("ex&lt;ample&gt;."));
        assert!(!svg.contains("ex<ample"));
        for k in &plan.keys {
            assert!(svg.contains(&k.id), "{}", k.id);
        }
        for m in ["Feb", "Mar", "Jul"] {
            assert!(svg.contains(&format!(">{m}</text>")), "month label {m}");
        }
        assert!(svg.contains(">now</text>"));
        assert_eq!(svg.matches(">KSR ceremony</text>").count(), 2, "ceremonies at days 46 and 136");
        assert!(svg.contains(">SKR coverage ends</text>"));
        assert!(svg.contains("DS submitted, held until served"));
    }

    #[test]
    fn a_long_label_is_cut_with_its_whole_text_in_a_title() {
        let (s, cut) = fit(&"W".repeat(200), 300.0);
        assert!(cut && s.ends_with('…') && text_width(&s, FONT) <= 300.0);
        let (s, cut) = fit("short", 300.0);
        assert!(!cut && s == "short");
    }

    #[test]
    fn ceremonies_start_before_the_skr_ends() {
        let t0 = crate::timeutil::parse_instant("2027-01-01T00:00:00Z").unwrap();
        let c = planned_ceremonies(Some(t0 + Duration::days(30)), t0, t0 + Duration::days(365), Duration::days(14), Duration::days(90));
        assert_eq!(c[0], t0 + Duration::days(16));
        assert_eq!(c.len(), 4, "days 16, 106, 196 and 286");
        assert_eq!(planned_ceremonies(None, t0, t0 + Duration::days(10), Duration::days(14), Duration::days(90)), vec![t0]);
    }
}
