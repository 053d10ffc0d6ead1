//! Quoting input in error messages: whatever an error quotes from a file or
//! the command line is cut to a readable length with a marker saying how
//! long it was, so a 5000-byte token gives a one-line error, not a screen
//! of base64. One function ([`input`]) and its `Display`/`Debug` wrapper
//! ([`Q`]) are used by every error that embeds input.

use std::fmt;

/// How many characters of an input an error message quotes.
pub const MAX_QUOTED_CHARS: usize = 80;

/// `s` quoted as Rust's `{:?}` quotes it (control characters escaped, so a
/// quoted newline cannot start a new line), cut after
/// [`MAX_QUOTED_CHARS`] characters with the marker `… (N bytes)`:
/// `"AAAA…AAAA"… (5000 bytes)`.
pub fn input(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}… ({} bytes)", &s[..cut], s.len()),
    }
}

/// An input string shown with [`input`] by both `{}` and `{:?}`: wrap the
/// argument (`format!("bad name {:?}", Q(&text))`) and the message stays as
/// it was for short input.
#[derive(Clone, Copy)]
pub struct Q<'a>(pub &'a str);

impl fmt::Display for Q<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&input(self.0))
    }
}

impl fmt::Debug for Q<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&input(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_quoted_long_input_cut_with_its_length() {
        assert_eq!(input("abc"), "\"abc\"");
        assert_eq!(input("a\nb"), "\"a\\nb\"");
        let long = "A".repeat(5000);
        let q = input(&long);
        assert_eq!(q, format!("\"{}\"… (5000 bytes)", "A".repeat(80)));
        assert_eq!(format!("{:?}", Q(&long)), q);
        // cut on a character boundary
        let wide = "é".repeat(100);
        assert_eq!(input(&wide), format!("\"{}\"… (200 bytes)", "é".repeat(80)));
        assert_eq!(input(&"x".repeat(80)), format!("\"{}\"", "x".repeat(80)));
    }
}
