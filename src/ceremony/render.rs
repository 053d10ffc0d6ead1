//! A resolved ceremony script as a printable HTML document: numbered steps
//! with role, what to say, the command and what to confirm, a line to initial
//! per step, and signature lines for every role at the end. All text is
//! HTML-escaped.

use super::script::Resolved;

use crate::markup::escape;

const STYLE: &str = "body{font-family:serif;max-width:48em;margin:2em auto;line-height:1.4}\
h1{font-size:1.6em}table.vars{border-collapse:collapse}table.vars td,table.vars th{border:1px solid #888;padding:.2em .5em;text-align:left}\
ol.steps>li{margin:1.2em 0;page-break-inside:avoid}.role{font-weight:bold}.cmd{font-family:monospace;white-space:pre-wrap;background:#f2f2f2;padding:.3em;border:1px solid #ccc}\
.initials{margin-top:.6em}.line{display:inline-block;border-bottom:1px solid #000;width:8em}.sig{margin:2em 0}.sig .line{width:20em}\
.files{font-family:monospace;font-size:.9em}";

/// Renders `script` (with its variable values; secret ones shown as `***`)
/// as a standalone HTML document. `source` names the script file and its
/// SHA-256, printed in the header so the paper copy can be matched to it.
pub fn render_html(script: &Resolved, source: &str, script_sha256: &str) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(&format!(
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&script.title)
    ));
    h.push_str(&format!("<h1>{}</h1>\n", escape(&script.title)));
    if !script.description.trim().is_empty() {
        h.push_str(&format!(
            "<p class=\"description\">{}</p>\n",
            escape(script.description.trim())
        ));
    }
    h.push_str(&format!(
        "<p>Script: <code>{}</code><br>SHA-256: <code>{}</code></p>\n",
        escape(source),
        escape(script_sha256)
    ));
    h.push_str(
        "<p>Date: <span class=\"line\"></span> &nbsp; Place: <span class=\"line\"></span></p>\n",
    );
    let values = script.shown_values();
    if !values.is_empty() {
        h.push_str(
            "<h2>Variables</h2>\n<table class=\"vars\">\n<tr><th>name</th><th>value</th></tr>\n",
        );
        for (k, v) in &values {
            h.push_str(&format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>\n",
                escape(k),
                escape(v)
            ));
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Steps</h2>\n<ol class=\"steps\">\n");
    for s in &script.steps {
        h.push_str(&format!(
            "<li id=\"step-{}\">\n<h3>Step {}: {}</h3>\n",
            s.number,
            s.number,
            escape(&s.title)
        ));
        h.push_str(&format!(
            "<p><span class=\"role\">{}</span>: {}</p>\n",
            escape(&s.role),
            escape(&s.say)
        ));
        if let Some(c) = &s.command_shown {
            h.push_str(&format!("<div class=\"cmd\">{}</div>\n", escape(c)));
        }
        for (what, files) in [("reads", &s.reads), ("writes", &s.writes)] {
            if !files.is_empty() {
                let list: Vec<String> = files.iter().map(|f| escape(f)).collect();
                h.push_str(&format!("<p class=\"files\">{what}: {} (SHA-256 words: <span class=\"line\"></span>)</p>\n", list.join(", ")));
            }
        }
        h.push_str(&format!("<p>Confirm: {}</p>\n", escape(&s.confirm)));
        h.push_str("<p class=\"initials\">Time: <span class=\"line\"></span> &nbsp; Initials: <span class=\"line\"></span></p>\n</li>\n");
    }
    h.push_str("</ol>\n<h2>Transcript</h2>\n<p>Entries: <span class=\"line\"></span><br>Final hash: <span class=\"line\" style=\"width:40em\"></span></p>\n");
    h.push_str("<h2>Signatures</h2>\n");
    for r in &script.roles {
        h.push_str(&format!(
            "<div class=\"sig\"><p>{}<br>Name: <span class=\"line\"></span> &nbsp; Signature: <span class=\"line\"></span> &nbsp; Date: <span class=\"line\"></span></p></div>\n",
            escape(r)
        ));
    }
    h.push_str("</body>\n</html>\n");
    h
}

