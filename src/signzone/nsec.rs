//! Canonical name order (RFC 4034 §6.1) and NSEC records (RFC 4034 §4).

use std::cmp::Ordering;

use crate::dnssec::name::canonical_wire;
use crate::dnssec::presentation::{format_name, type_mnemonic};
use crate::dnssec::{rtype, Name, RData, Record};

/// A sort key giving RFC 4034 §6.1 canonical order: labels compared from the
/// rightmost, each as a lowercase octet string, a missing label first.
pub type CanonicalKey = Vec<Vec<u8>>;

/// The canonical sort key of `name` (RFC 4034 §6.1).
pub fn canonical_key(name: &Name) -> CanonicalKey {
    let mut labels: Vec<Vec<u8>> = name.to_lowercase().iter().map(|l| l.to_vec()).collect();
    labels.reverse();
    labels
}

/// Compares two names in canonical order (RFC 4034 §6.1).
pub fn canonical_cmp(a: &Name, b: &Name) -> Ordering {
    canonical_key(a).cmp(&canonical_key(b))
}

pub use crate::dnssec::denial::{bitmap_types, type_bitmap};

/// An NSEC record at `owner` pointing at `next` with the types `types`
/// (RFC 4034 §4.1; the next domain name is written uncompressed and, per
/// RFC 6840 §5.1, as is; kskit passes lowercase names).
pub fn nsec_record(owner: &Name, next: &Name, types: &[u16], ttl: u32) -> Record {
    let mut data = canonical_wire(next);
    data.extend(type_bitmap(types));
    Record::new(owner.clone(), ttl, RData::Other { rtype: rtype::NSEC, data })
}

/// Presentation form of NSEC RDATA (`next.name. A NS RRSIG NSEC`), or
/// `None` when the data is malformed.
pub fn format_nsec_rdata(data: &[u8]) -> Option<String> {
    let (next, used) = crate::dnssec::name::from_wire(data).ok()?;
    let types = bitmap_types(data.get(used..)?)?;
    let mut s = format_name(&next);
    for t in types {
        s.push(' ');
        s.push_str(&type_mnemonic(t));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::parse_name;

    #[test]
    fn rfc4034_canonical_order_example() {
        // RFC 4034 §6.1: the example names in canonical order.
        let names = ["example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."];
        let parsed: Vec<Name> = names
            .iter()
            .map(|n| crate::dnssec::presentation::parse_records(&format!("{n} 1 IN A 1.2.3.4\n"), None, None).unwrap()[0].name.clone())
            .collect();
        let mut sorted = parsed.clone();
        sorted.reverse();
        sorted.sort_by(canonical_cmp);
        assert_eq!(sorted, parsed);
        let _ = parse_name("x.");
    }

    #[test]
    fn bitmap_of_rfc4034_example() {
        // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
        let bm = type_bitmap(&[rtype::A, rtype::MX, rtype::RRSIG, rtype::NSEC, 1234]);
        let mut want = vec![0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b];
        want.extend([0u8; 26]);
        want.push(0x20);
        assert_eq!(bm, want);
        assert_eq!(bitmap_types(&bm).unwrap(), vec![rtype::A, rtype::MX, rtype::RRSIG, rtype::NSEC, 1234]);
        let r = nsec_record(&parse_name("alfa.example.com.").unwrap(), &parse_name("host.example.com.").unwrap(), &[rtype::A, rtype::MX, rtype::RRSIG, rtype::NSEC, 1234], 3600);
        let RData::Other { data, .. } = &r.rdata else { panic!() };
        assert_eq!(format_nsec_rdata(data).unwrap(), "host.example.com. A MX RRSIG NSEC TYPE1234");
    }
}
