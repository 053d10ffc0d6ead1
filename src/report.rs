//! `kskit report --html`: one self-contained HTML page for people (inline
//! CSS and SVG, no script, no external resource): the rollover timeline,
//! the SKR's coverage, the last parent polls, the key inventory and the
//! check results. Pure: the CLI gathers the data, this module writes the
//! page. Every string that came from a file or the keystore goes through
//! [`crate::markup::escape`].

use std::fmt::Write as _;

use crate::markup::escape;

/// One row of the key inventory.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub id: String,
    pub role: String,
    pub algorithm: String,
    pub bits: u32,
    pub key_tag: u16,
    pub locator: String,
    pub state: String,
}

/// The imported SKR's coverage.
#[derive(Debug, Clone)]
pub struct Coverage {
    pub file: String,
    pub bundles: usize,
    pub first_inception: String,
    pub last_expiration: String,
    pub days_left: i64,
    pub bundle_in_force_until: Option<String>,
}

/// One parent poll recorded by `rollover step`.
#[derive(Debug, Clone)]
pub struct Poll {
    pub at: String,
    pub expected: Vec<String>,
    pub seen: bool,
    pub reason: String,
}

/// One check result: id, status word (OK, WARNING, CRITICAL, FAIL), message.
#[derive(Debug, Clone)]
pub struct CheckRow {
    pub id: String,
    pub status: String,
    pub message: String,
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct Page {
    pub zone: String,
    pub generated: String,
    pub version: String,
    /// The `<svg>` element of the timeline ([`crate::rollover::svg::render_svg`]), already escaped.
    pub timeline_svg: String,
    pub coverage: Option<Coverage>,
    pub polls: Vec<Poll>,
    pub keys: Vec<KeyRow>,
    pub checks: Vec<CheckRow>,
}

const CSS: &str = "body{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.ok{color:#1a7f37}.bad{color:#b42318;font-weight:bold}.warn{color:#b54708}\
.chart{overflow-x:auto}code{font-size:.9em;word-break:break-all}p.meta{color:#555;font-size:.9em}";

fn status_class(s: &str) -> &'static str {
    match s {
        "OK" | "seen" => "ok",
        "WARNING" => "warn",
        _ => "bad",
    }
}

/// The HTML page.
pub fn render(p: &Page) -> String {
    let e = escape;
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width\">\n<title>kskit report: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1 id=\"title\">kskit report: {}</h1>\n<p class=\"meta\">Generated {} by kskit {}.</p>\n",
        e(&p.zone),
        e(&p.zone),
        e(&p.generated),
        e(&p.version)
    );
    let _ = write!(s, "<section id=\"timeline\">\n<h2>Rollover timeline</h2>\n<div class=\"chart\">\n{}</div>\n</section>\n", p.timeline_svg);

    let _ = write!(s, "<section id=\"coverage\">\n<h2>SKR coverage</h2>\n");
    match &p.coverage {
        Some(c) => {
            let cls = if c.days_left < 14 { "bad" } else { "ok" };
            let _ = write!(
                s,
                "<table>\n<tr><th>SKR file</th><td><code>{}</code></td></tr>\n<tr><th>Bundles</th><td>{}</td></tr>\n<tr><th>First inception</th><td>{}</td></tr>\n<tr><th>Signatures end</th><td>{}</td></tr>\n<tr><th>Days left</th><td class=\"{cls}\">{}</td></tr>\n<tr><th>Bundle in force until</th><td>{}</td></tr>\n</table>\n",
                e(&c.file),
                c.bundles,
                e(&c.first_inception),
                e(&c.last_expiration),
                c.days_left,
                e(c.bundle_in_force_until.as_deref().unwrap_or("no bundle in force"))
            );
        }
        None => s.push_str("<p class=\"bad\">No SKR imported.</p>\n"),
    }
    s.push_str("</section>\n");

    let _ = write!(s, "<section id=\"polls\">\n<h2>Last parent polls</h2>\n");
    if p.polls.is_empty() {
        s.push_str("<p>No parent poll recorded (kskit rollover step records them).</p>\n");
    } else {
        s.push_str("<table>\n<tr><th>Time</th><th>Expected DS of</th><th>Result</th><th>Reason</th></tr>\n");
        for q in &p.polls {
            let r = if q.seen { "seen" } else { "not seen" };
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td class=\"{}\">{r}</td><td>{}</td></tr>",
                e(&q.at),
                e(&q.expected.join(", ")),
                status_class(r),
                e(&q.reason)
            );
        }
        s.push_str("</table>\n");
    }
    s.push_str("</section>\n");

    let _ = write!(s, "<section id=\"keys\">\n<h2>Keys</h2>\n<table>\n<tr><th>Id</th><th>Role</th><th>Algorithm</th><th>Bits</th><th>Key tag</th><th>State</th><th>Where</th></tr>\n");
    for k in &p.keys {
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            e(&k.id),
            e(&k.role),
            e(&k.algorithm),
            k.bits,
            k.key_tag,
            e(&k.state),
            e(&k.locator)
        );
    }
    s.push_str("</table>\n</section>\n");

    let _ = write!(s, "<section id=\"checks\">\n<h2>Checks</h2>\n<table>\n<tr><th>Check</th><th>Status</th><th>Message</th></tr>\n");
    for c in &p.checks {
        let _ = writeln!(s, "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>", e(&c.id), status_class(&c.status), e(&c.status), e(&c.message));
    }
    s.push_str("</table>\n</section>\n</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_from_files_is_escaped() {
        let evil = "<script>alert(1)</script>";
        let p = Page {
            zone: evil.into(),
            generated: "2027-01-01T00:00:00Z".into(),
            version: "0".into(),
            timeline_svg: String::new(),
            coverage: Some(Coverage { file: evil.into(), bundles: 1, first_inception: evil.into(), last_expiration: evil.into(), days_left: 3, bundle_in_force_until: Some(evil.into()) }),
            polls: vec![Poll { at: evil.into(), expected: vec![evil.into()], seen: false, reason: evil.into() }],
            keys: vec![KeyRow { id: evil.into(), role: evil.into(), algorithm: evil.into(), bits: 1, key_tag: 2, locator: evil.into(), state: evil.into() }],
            checks: vec![CheckRow { id: evil.into(), status: evil.into(), message: evil.into() }],
        };
        let html = render(&p);
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains(" src="), "no external resource");
    }
}
