//! The syntax of the KSR/SKR fields no signature covers (docs/formats.md,
//! "Unsigned fields"). Ids, key identifiers and the text format's footer
//! generator are copied into files, reports and terminals kskit writes, so
//! a hostile peer must not be able to put a newline, a control character, a
//! quote or markup in them: the parsers refuse anything outside these sets
//! (check ids KSR-FIELD-SYNTAX and SKR-FIELD-SYNTAX, docs/checks.md), and
//! the same rules are named checks over the model.
//!
//! Fields that are numbers (serial, keyTag, TTLs, policy durations) are
//! parsed as numbers and cannot carry text; they are bound to signed content
//! by the checks where anything can bind them (KSR-KEY-TAG, SKR-KEY-TAG,
//! SKR-MATCHES-KSR).

use crate::ksr::model::{BundleKey, BundleSignature};

/// Longest KSR, SKR or bundle id accepted (a UUID has 36 characters).
pub const MAX_ID: usize = 64;
/// Longest key identifier accepted (the root's are 98 hex digits, the DER
/// of an X.509 name).
pub const MAX_KEY_IDENTIFIER: usize = 255;
/// Longest generator string in a text-format footer (`Knot DNS 3.2.6`,
/// `9.20.28-dev`, `kskit 0.1.0`).
pub const MAX_GENERATOR: usize = 128;

/// What each rule allows, for error messages and docs.
pub const ID_RULE: &str = "1 to 64 characters of A-Z a-z 0-9 . _ : -";
pub const KEY_IDENTIFIER_RULE: &str = "up to 255 characters of A-Z a-z 0-9 . _ : - + / = @";
pub const GENERATOR_RULE: &str = "1 to 128 printable ASCII characters (space to ~)";

/// A KSR, SKR or bundle id: `[A-Za-z0-9._:-]{1,64}` (UUIDs, kskit's and
/// the root's ids).
pub fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_ID && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// A `keyIdentifier`: `[A-Za-z0-9._:+/=@-]{0,255}`; empty means absent.
pub fn key_identifier_ok(s: &str) -> bool {
    s.len() <= MAX_KEY_IDENTIFIER
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-' | b'+' | b'/' | b'=' | b'@'))
}

/// A text-format footer's generator: printable ASCII, 1 to 128 characters.
pub fn generator_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_GENERATOR && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// The message for a refused field: names the field, quotes the value
/// terminal-safe, and says what is allowed.
pub fn refusal(check: &str, field: &str, value: &str, rule: &str) -> String {
    format!("{check}: {field} \"{}\" is refused: an unsigned field must be {rule}", crate::markup::terminal_safe(value))
}

/// Every unsigned field of one KSR or SKR that breaks its rule, as
/// [`refusal`] messages under `check`: the document's id (`what` names it;
/// the text format has none), each bundle's id and key identifiers (of its
/// keys and its signatures), and the footer generator. The one body of
/// KSR-FIELD-SYNTAX and SKR-FIELD-SYNTAX.
pub fn syntax_problems<'a>(
    check: &str,
    what: &str,
    id: &str,
    text_format: bool,
    bundles: impl Iterator<Item = (&'a str, &'a [BundleKey], &'a [BundleSignature])>,
    generated: Option<&str>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bad = |field: String, value: &str, rule: &str| problems.push(refusal(check, &field, value, rule));
    if !(id_ok(id) || text_format && id.is_empty()) {
        bad(format!("the {what} id"), id, ID_RULE);
    }
    for (i, (bundle_id, keys, signatures)) in bundles.enumerate() {
        let which = format!("bundle #{}", i + 1);
        if !id_ok(bundle_id) {
            bad(format!("the id of {which}"), bundle_id, ID_RULE);
        }
        for k in keys.iter().filter(|k| !key_identifier_ok(&k.key_identifier)) {
            bad(format!("a keyIdentifier in {which}"), &k.key_identifier, KEY_IDENTIFIER_RULE);
        }
        for id in signatures.iter().filter_map(|g| g.key_identifier.as_deref()).filter(|id| !key_identifier_ok(id)) {
            bad(format!("a signature keyIdentifier in {which}"), id, KEY_IDENTIFIER_RULE);
        }
    }
    if let Some(g) = generated.filter(|g| !generator_ok(g)) {
        bad("the footer generator".into(), g, GENERATOR_RULE);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_identifiers_and_generators() {
        assert!(id_ok("23e34059-7725-46a8-a7d2-662d657aab2b"));
        assert!(id_ok("bundle-4") && id_ok("a.b_c:d"));
        assert!(!id_ok("") && !id_ok(&"a".repeat(MAX_ID + 1)));
        assert!(!id_ok("x\n. 3600 IN A 192.0.2.1") && !id_ok("a b") && !id_ok("a\"b") && !id_ok("ä"));
        assert!(key_identifier_ok("302e312c302a06035504031323566572695369676e20444e5353656320526f6f7420414c47382032303438205a534b32"));
        assert!(key_identifier_ok("") && key_identifier_ok("Kjqmt7v") && key_identifier_ok("ksk-2026"));
        assert!(!key_identifier_ok("k\u{1b}[2J") && !key_identifier_ok("<k>") && !key_identifier_ok(&"a".repeat(256)));
        assert!(generator_ok("Knot DNS 3.2.6") && generator_ok("9.20.28-dev") && generator_ok("kskit 0.1.0"));
        assert!(!generator_ok("") && !generator_ok("x\ry") && !generator_ok("x\u{1b}") && !generator_ok(&"a".repeat(129)));
    }
}
