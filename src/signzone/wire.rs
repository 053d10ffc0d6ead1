//! Owner names as lowercase uncompressed wire bytes (RFC 4034 §6.2): the
//! signer's compact form. Canonical order (RFC 4034 §6.1), ancestors, the
//! RRSIG label count and the presentation form work on the bytes directly,
//! without building a `Name` per record.

use std::cmp::Ordering;

/// Offsets of the labels of `w` (a valid wire name), leftmost first, the
/// root label excluded; returns how many.
fn label_starts(w: &[u8], out: &mut [u8; 128]) -> usize {
    let mut n = 0;
    let mut i = 0usize;
    while let Some(&len) = w.get(i) {
        if len == 0 || n >= out.len() {
            break;
        }
        if let Some(o) = out.get_mut(n) {
            *o = i as u8;
        }
        n += 1;
        i += 1 + usize::from(len);
    }
    n
}

fn label_at(w: &[u8], start: u8) -> &[u8] {
    let s = usize::from(start);
    let len = w.get(s).copied().map(usize::from).unwrap_or(0);
    w.get(s + 1..s + 1 + len).unwrap_or(&[])
}

/// Canonical order of two lowercase wire names (RFC 4034 §6.1): labels
/// compared from the rightmost as octet strings, a missing label first.
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut la, mut lb) = ([0u8; 128], [0u8; 128]);
    let (na, nb) = (label_starts(a, &mut la), label_starts(b, &mut lb));
    let (mut i, mut j) = (na, nb);
    while i > 0 && j > 0 {
        i -= 1;
        j -= 1;
        let (x, y) = (label_at(a, la[i]), label_at(b, lb[j]));
        match x.cmp(y) {
            Ordering::Equal => {}
            o => return o,
        }
    }
    na.cmp(&nb)
}

/// The strict ancestors of `w` (suffixes at label boundaries), nearest
/// first, down to and including the root.
pub fn ancestors(w: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut i = 0usize;
    std::iter::from_fn(move || {
        let len = usize::from(*w.get(i)?);
        if len == 0 {
            return None;
        }
        i += 1 + len;
        w.get(i..)
    })
}

/// Whether `w` is `apex` or below it.
pub fn in_zone(w: &[u8], apex: &[u8]) -> bool {
    w == apex || ancestors(w).any(|a| a == apex)
}

/// Number of labels, the root not counted.
pub fn label_count(w: &[u8]) -> usize {
    ancestors(w).count()
}

/// The RRSIG Labels field (RFC 4034 §3.1.3): a leading `*` label is not counted.
pub fn rrsig_labels(w: &[u8]) -> u8 {
    let n = label_count(w);
    let wild = w.get(..2) == Some(b"\x01*");
    (n - usize::from(wild && n > 0)) as u8
}

/// Appends the presentation form of `w` (as `presentation::format_name`
/// prints it: trailing dot, special characters escaped).
pub fn push_presentation(out: &mut String, w: &[u8]) {
    let mut i = 0usize;
    let mut any = false;
    while let Some(&len) = w.get(i) {
        if len == 0 {
            break;
        }
        any = true;
        for &c in w.get(i + 1..i + 1 + usize::from(len)).unwrap_or(&[]) {
            match c {
                b'.' | b';' | b'\\' | b'(' | b')' | b'"' | b'@' | b'$' => {
                    out.push('\\');
                    out.push(c as char);
                }
                0x21..=0x7E => out.push(c as char),
                _ => {
                    use std::fmt::Write as _;
                    let _ = write!(out, "\\{c:03}");
                }
            }
        }
        out.push('.');
        i += 1 + usize::from(len);
    }
    if !any {
        out.push('.');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::name::canonical_wire;
    use crate::dnssec::presentation::{format_name, parse_records};

    #[test]
    fn wire_order_and_forms_agree_with_the_name_based_ones() {
        let names = ["example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."];
        let parsed: Vec<crate::dnssec::Name> = names.iter().map(|n| parse_records(&format!("{n} 1 IN A 1.2.3.4\n"), None, None).unwrap()[0].name.clone()).collect();
        let wires: Vec<Vec<u8>> = parsed.iter().map(canonical_wire).collect();
        let mut sorted = wires.clone();
        sorted.reverse();
        sorted.sort_by(|a, b| canonical_cmp(a, b));
        assert_eq!(sorted, wires, "RFC 4034 §6.1 example order");
        for (n, w) in parsed.iter().zip(&wires) {
            let mut s = String::new();
            push_presentation(&mut s, w);
            assert_eq!(s, format_name(&n.to_lowercase()));
            assert_eq!(rrsig_labels(w), crate::dnssec::name::rrsig_label_count(n));
        }
        let root = [0u8];
        let mut s = String::new();
        push_presentation(&mut s, &root);
        assert_eq!(s, ".");
        let w = canonical_wire(&crate::dnssec::parse_name("a.b.example.").unwrap());
        let anc: Vec<&[u8]> = ancestors(&w).collect();
        assert_eq!(anc, vec![&b"\x01b\x07example\x00"[..], b"\x07example\x00", b"\x00"]);
        assert!(in_zone(&w, b"\x07example\x00") && !in_zone(b"\x07example\x00", &w));
    }
}
