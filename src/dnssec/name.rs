//! Domain names: hickory-proto's `Name`, with the canonical helpers DNSSEC needs.

pub use hickory_proto::rr::Name;

use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::DnssecError;

/// Parses an absolute domain name in presentation format. A name without the
/// trailing dot is taken as absolute too (KSR files and CLI arguments are).
pub fn parse_name(s: &str) -> Result<Name, DnssecError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(DnssecError::Malformed("empty domain name".into()));
    }
    let mut n = Name::from_ascii(t).map_err(|e| DnssecError::Malformed(format!("bad domain name {t:?}: {e}", t = crate::quote::Q(t))))?;
    n.set_fqdn(true);
    Ok(n)
}

/// Canonical wire form (RFC 4034 §6.2): uncompressed, lowercase ASCII letters.
pub fn canonical_wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.to_lowercase().iter() {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

/// Reads an uncompressed name at the start of `data`; returns it and the bytes used.
pub fn from_wire(data: &[u8]) -> Result<(Name, usize), DnssecError> {
    let mut dec = BinDecoder::new(data);
    let name = Name::read(&mut dec).map_err(|e| DnssecError::Malformed(format!("bad name in wire data: {e}")))?;
    let used = dec.index();
    Ok((name, used))
}

/// The number of labels for the RRSIG Labels field (RFC 4034 §3.1.3): the
/// root is 0 and a leading wildcard label is not counted.
pub fn rrsig_label_count(name: &Name) -> u8 {
    name.num_labels()
}

/// Presentation form with the trailing dot, as zone files print it.
pub fn to_presentation(name: &Name) -> String {
    let s = name.to_ascii();
    if s.ends_with('.') {
        s
    } else {
        format!("{s}.")
    }
}

/// Whether two names are equal ignoring ASCII case (RFC 4343).
pub fn same_name(a: &Name, b: &Name) -> bool {
    canonical_wire(a) == canonical_wire(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_labels() {
        let n = parse_name("WwW.Example.COM.").unwrap();
        assert_eq!(canonical_wire(&n), b"\x03www\x07example\x03com\x00");
        assert_eq!(rrsig_label_count(&n), 3);
        assert_eq!(rrsig_label_count(&Name::root()), 0);
        assert_eq!(rrsig_label_count(&parse_name("*.example.com").unwrap()), 2);
        assert_eq!(to_presentation(&Name::root()), ".");
        assert_eq!(to_presentation(&parse_name("example.com").unwrap()), "example.com.");
        let (back, used) = from_wire(b"\x07example\x03com\x00rest").unwrap();
        assert_eq!(used, 13);
        assert!(same_name(&back, &parse_name("EXAMPLE.com.").unwrap()));
    }
}
