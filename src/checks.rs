//! Named check results and the report the KSR and SKR checks produce
//! (`ksr::checks`, `skr::checks`). Pure data: rendering to text and JSON,
//! no I/O.
//!
//! A check either passed, failed, or does not apply to the input (for
//! example proof of possession in the text format, which carries none). A
//! check that does not apply is never shown as passed: it renders as `N/A`
//! and its JSON has `"applicable": false, "passed": false`; it is not a
//! failure either, so it does not fail the report.

use std::fmt;

use serde::Serialize;

/// The outcome of one named check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The stable check id (`KSR-POP`, `SKR-SIG-VERIFY`, ...); see docs/checks.md.
    pub id: &'static str,
    /// Whether the check ran and passed. `false` when not applicable.
    pub passed: bool,
    /// `false` when the check does not apply to this input; `message` says why.
    pub applicable: bool,
    /// What was checked (on success) or what is wrong, naming bundles and key tags.
    pub message: String,
}

impl CheckResult {
    pub fn pass(id: &'static str, message: impl Into<String>) -> Self {
        CheckResult {
            id,
            passed: true,
            applicable: true,
            message: message.into(),
        }
    }

    pub fn fail(id: &'static str, message: impl Into<String>) -> Self {
        CheckResult {
            id,
            passed: false,
            applicable: true,
            message: message.into(),
        }
    }

    pub fn not_applicable(id: &'static str, message: impl Into<String>) -> Self {
        CheckResult {
            id,
            passed: false,
            applicable: false,
            message: message.into(),
        }
    }

    /// Pass with `ok_message` when `problems` is empty, else fail listing
    /// them (at most 10, then a count of the rest).
    pub fn from_problems(
        id: &'static str,
        problems: Vec<String>,
        ok_message: impl Into<String>,
    ) -> Self {
        if problems.is_empty() {
            return CheckResult::pass(id, ok_message);
        }
        const SHOWN: usize = 10;
        let n = problems.len();
        let mut msg = problems
            .into_iter()
            .take(SHOWN)
            .collect::<Vec<_>>()
            .join("; ");
        if n > SHOWN {
            msg.push_str(&format!("; and {} more", n - SHOWN));
        }
        CheckResult::fail(id, msg)
    }

    /// A failure: applicable and not passed.
    pub fn is_failure(&self) -> bool {
        self.applicable && !self.passed
    }

    /// `PASS`, `FAIL` or `N/A`.
    pub fn status(&self) -> &'static str {
        match (self.applicable, self.passed) {
            (false, _) => "N/A",
            (true, true) => "PASS",
            (true, false) => "FAIL",
        }
    }
}

impl fmt::Display for CheckResult {
    /// `PASS KSR-POP every key signed every bundle`, `FAIL KSR-POP: reason`,
    /// `N/A  KSR-POP: reason`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status() {
            "PASS" => write!(f, "PASS {} {}", self.id, self.message),
            "FAIL" => write!(f, "FAIL {}: {}", self.id, self.message),
            _ => write!(f, "N/A  {}: {}", self.id, self.message),
        }
    }
}

/// The results of a run of checks, in the order they ran, and notes about
/// the input that are not checks (format limits, assumptions made).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub results: Vec<CheckResult>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn new() -> Self {
        Report::default()
    }

    pub fn push(&mut self, result: CheckResult) {
        self.results.push(result);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        let n = note.into();
        if !self.notes.contains(&n) {
            self.notes.push(n);
        }
    }

    /// True when no applicable check failed.
    pub fn passed(&self) -> bool {
        !self.results.iter().any(CheckResult::is_failure)
    }

    /// The failed checks.
    pub fn failures(&self) -> Vec<&CheckResult> {
        self.results.iter().filter(|r| r.is_failure()).collect()
    }

    /// The result of the check `id`, if it ran.
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }

    /// One line per check, then one `NOTE` line per note, then a summary line.
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// The report as pretty-printed JSON (`results`, `notes`, `passed`).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            passed: bool,
            results: &'a [CheckResult],
            notes: &'a [String],
        }
        serde_json::to_string_pretty(&Out {
            passed: self.passed(),
            results: &self.results,
            notes: &self.notes,
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.results {
            writeln!(f, "{r}")?;
        }
        for n in &self.notes {
            writeln!(f, "NOTE {n}")?;
        }
        let failed = self.failures().len();
        let na = self.results.iter().filter(|r| !r.applicable).count();
        let passed = self.results.len() - failed - na;
        write!(
            f,
            "{}: {passed} passed, {failed} failed, {na} not applicable",
            if failed == 0 { "OK" } else { "FAILED" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_and_outcome() {
        let mut r = Report::new();
        r.push(CheckResult::pass(
            "KSR-POP",
            "every key signed every bundle",
        ));
        r.push(CheckResult::not_applicable(
            "KSR-BUNDLE-GAP",
            "text format has no bundle expiration",
        ));
        assert!(r.passed());
        r.push(CheckResult::from_problems(
            "KSR-KEY-TAG",
            vec!["bundle b1 key tag 1 should be 2".into()],
            "ok",
        ));
        r.note("text format");
        r.note("text format");
        assert!(!r.passed());
        assert_eq!(r.failures().len(), 1);
        assert_eq!(r.failures()[0].id, "KSR-KEY-TAG");
        let text = r.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "PASS KSR-POP every key signed every bundle");
        assert_eq!(
            lines[1],
            "N/A  KSR-BUNDLE-GAP: text format has no bundle expiration"
        );
        assert_eq!(
            lines[2],
            "FAIL KSR-KEY-TAG: bundle b1 key tag 1 should be 2"
        );
        assert_eq!(lines[3], "NOTE text format");
        assert_eq!(lines[4], "FAILED: 1 passed, 1 failed, 1 not applicable");
        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["passed"], false);
        assert_eq!(json["results"][1]["applicable"], false);
        assert_eq!(json["results"][1]["passed"], false);
        assert_eq!(json["results"][2]["id"], "KSR-KEY-TAG");
    }

    #[test]
    fn many_problems_are_summarised() {
        let probs: Vec<String> = (0..13).map(|i| format!("p{i}")).collect();
        let r = CheckResult::from_problems("X", probs, "ok");
        assert!(r.message.ends_with("; and 3 more"));
        assert!(r.is_failure());
    }
}
