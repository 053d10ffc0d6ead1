//! Prometheus text exposition format (version 0.0.4), for node_exporter's
//! textfile collector. Metric names are kskit's own; label values (zone
//! names, server names, RRset labels) come from outside and are escaped as
//! the format says: backslash, double quote and line feed (Prometheus
//! "Exposition formats", text format details).

use std::fmt::Write as _;

/// Escapes a label value: `\` → `\\`, `"` → `\"`, line feed → `\n`.
/// Other control characters are replaced by U+FFFD so that nothing breaks
/// the one-sample-per-line layout.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A set of metric families, written in the order first declared.
#[derive(Debug, Default)]
pub struct Metrics {
    families: Vec<(String, String, String, Vec<String>)>,
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Adds one sample of gauge `name` (a fixed kskit name, `[a-z_]+`) with
    /// `help` (fixed text) and labels.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        let mut line = String::from(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_label(v))).collect();
            let _ = write!(line, "{{{}}}", l.join(","));
        }
        let v = if value.is_finite() { format!("{value}") } else { "NaN".into() };
        let _ = write!(line, " {v}");
        match self.families.iter_mut().find(|(n, ..)| n == name) {
            Some((.., samples)) => samples.push(line),
            None => self.families.push((name.to_string(), help.to_string(), "gauge".into(), vec![line])),
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, kind, samples) in &self.families {
            let help = help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for s in samples {
                let _ = writeln!(out, "{s}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_label_values_stay_on_one_line_and_quoted() {
        let mut m = Metrics::new();
        m.gauge("kskit_x", "help", &[("zone", "a\"b\\c\nd\re")], 1.0);
        let t = m.render();
        assert_eq!(t, "# HELP kskit_x help\n# TYPE kskit_x gauge\nkskit_x{zone=\"a\\\"b\\\\c\\nd\u{FFFD}e\"} 1\n");
    }

    #[test]
    fn samples_of_one_family_share_one_header() {
        let mut m = Metrics::new();
        m.gauge("kskit_a", "A", &[("s", "1")], 1.5);
        m.gauge("kskit_b", "B", &[], -2.0);
        m.gauge("kskit_a", "A", &[("s", "2")], 3.0);
        let t = m.render();
        assert_eq!(t.matches("# TYPE kskit_a gauge").count(), 1);
        assert!(t.contains("kskit_a{s=\"1\"} 1.5\nkskit_a{s=\"2\"} 3\n# HELP kskit_b"), "{t}");
        assert!(t.contains("kskit_b -2\n"));
    }
}
