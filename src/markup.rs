//! Escaping text for the HTML and XML kskit writes (the ceremony print,
//! the rollover chart). One function for both: the five markup characters
//! as entities valid in HTML and XML alike, and control characters, which
//! XML 1.0 forbids, replaced by `?`. And [`terminal_safe`] for text quoted
//! from an input file into a terminal message, a report or a comment line of
//! a zone file or SKR kskit writes.

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// Longest quotation [`terminal_safe`] keeps, in characters.
pub const MAX_QUOTE: usize = 200;

/// Text from an input file made safe to print on one line: on a terminal, in
/// a report, in a `;` comment of a zone file or SKR. Control characters (C0,
/// DEL, C1: newlines, ESC sequences, carriage returns) and the Unicode bidi
/// and line/paragraph separator controls are written as `\u{..}` escapes,
/// a backslash as `\\`, so nothing quoted can start a new line, move the
/// cursor or reorder what follows; more than [`MAX_QUOTE`] characters are
/// cut with `…`.
pub fn terminal_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4 * MAX_QUOTE));
    for (n, c) in s.chars().enumerate() {
        if n == MAX_QUOTE {
            out.push('…');
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{escape, terminal_safe, MAX_QUOTE};

    #[test]
    fn terminal_safe_keeps_one_line_and_no_escape_sequences() {
        assert_eq!(terminal_safe("b-1.x:y"), "b-1.x:y");
        let hostile = "id\n. 3600 IN A 192.0.2.1\r\u{1b}[2J\u{202e}x\\u{a}";
        let safe = terminal_safe(hostile);
        assert_eq!(safe, "id\\u{a}. 3600 IN A 192.0.2.1\\u{d}\\u{1b}[2J\\u{202e}x\\\\u{a}");
        assert!(!safe.chars().any(|c| c.is_control()), "{safe}");
        let long = "a".repeat(MAX_QUOTE + 50);
        assert_eq!(terminal_safe(&long).chars().count(), MAX_QUOTE + 1);
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
        assert_eq!(escape("a\u{1}b\tc\nd"), "a?b\tc\nd");
        assert_eq!(escape("plain"), "plain");
    }
}
