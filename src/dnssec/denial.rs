//! Authenticated denial of existence: the NSEC (RFC 4034 §4) and NSEC3
//! (RFC 5155) record data, their type bit maps, and the NSEC3 owner-name
//! hash. Pure: used by the signer (src/signzone/) and by zone verification.

use data_encoding::BASE32_DNSSEC;
use sha1::{Digest, Sha1};

use super::name::{canonical_wire, from_wire, Name};
use super::DnssecError;

/// NSEC3 hash algorithm 1, SHA-1 (RFC 5155 §11), the only one defined.
pub const NSEC3_HASH_SHA1: u8 = 1;
/// The NSEC3 Opt-Out flag (RFC 5155 §3.1.2.1).
pub const NSEC3_FLAG_OPT_OUT: u8 = 0x01;
/// The largest iteration count a validator is expected to accept (RFC 9276
/// §3.2 says validators may treat more than 0 as insecure; 150 was the old
/// BIND/Knot limit). kskit refuses to sign with more and reports zones that
/// use more.
pub const NSEC3_MAX_ITERATIONS: u16 = 150;

/// The NSEC/NSEC3 type bit maps field (RFC 4034 §4.1.2): windows of 256
/// types, each with the length of its bitmap in octets (trailing zero octets
/// dropped) and the bitmap, type `t` at bit `t % 256` of its window, most
/// significant bit first.
pub fn type_bitmap(types: &[u16]) -> Vec<u8> {
    let mut sorted: Vec<u16> = types.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&first) = sorted.get(i) {
        let window = (first >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0usize;
        while let Some(&t) = sorted.get(i) {
            if (t >> 8) as u8 != window {
                break;
            }
            let low = (t & 0xff) as usize;
            if let Some(b) = bits.get_mut(low / 8) {
                *b |= 0x80 >> (low % 8);
            }
            len = len.max(low / 8 + 1);
            i += 1;
        }
        out.push(window);
        out.push(len as u8);
        out.extend_from_slice(bits.get(..len).unwrap_or(&[]));
    }
    out
}

/// The types a bitmap names, in order (the inverse of [`type_bitmap`]);
/// `None` when the bitmap is malformed (RFC 4034 §4.1.2: windows in
/// increasing order, lengths 1..=32).
pub fn bitmap_types(mut data: &[u8]) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    let mut last_window: Option<u8> = None;
    while !data.is_empty() {
        let (&window, rest) = data.split_first()?;
        let (&len, rest) = rest.split_first()?;
        if last_window.is_some_and(|w| window <= w) {
            return None;
        }
        last_window = Some(window);
        let len = len as usize;
        if len == 0 || len > 32 || rest.len() < len {
            return None;
        }
        let (bits, rest) = rest.split_at(len);
        for (i, b) in bits.iter().enumerate() {
            for j in 0..8 {
                if b & (0x80 >> j) != 0 {
                    out.push(((window as u16) << 8) | (i * 8 + j) as u16);
                }
            }
        }
        data = rest;
    }
    Some(out)
}

/// NSEC record data (RFC 4034 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nsec {
    pub next: Name,
    pub types: Vec<u16>,
}

impl Nsec {
    /// Wire form; the next name uncompressed and as given (RFC 6840 §5.1;
    /// kskit passes lowercase names).
    pub fn to_wire(&self) -> Vec<u8> {
        let mut data = canonical_wire(&self.next);
        data.extend(type_bitmap(&self.types));
        data
    }

    pub fn from_wire(data: &[u8]) -> Result<Self, DnssecError> {
        let (next, used) = from_wire(data)?;
        let types = data
            .get(used..)
            .and_then(bitmap_types)
            .ok_or_else(|| DnssecError::Malformed("NSEC record with a malformed type bit map".into()))?;
        Ok(Nsec { next, types })
    }
}

/// NSEC3 record data (RFC 5155 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nsec3 {
    pub hash_algorithm: u8,
    pub flags: u8,
    pub iterations: u16,
    pub salt: Vec<u8>,
    /// The next hashed owner name, raw (not base32).
    pub next_hashed: Vec<u8>,
    pub types: Vec<u16>,
}

impl Nsec3 {
    pub fn opt_out(&self) -> bool {
        self.flags & NSEC3_FLAG_OPT_OUT != 0
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = vec![self.hash_algorithm, self.flags];
        out.extend(self.iterations.to_be_bytes());
        out.push(self.salt.len() as u8);
        out.extend(&self.salt);
        out.push(self.next_hashed.len() as u8);
        out.extend(&self.next_hashed);
        out.extend(type_bitmap(&self.types));
        out
    }

    pub fn from_wire(data: &[u8]) -> Result<Self, DnssecError> {
        let bad = |what: &str| DnssecError::Malformed(format!("NSEC3 record with {what}"));
        let (&hash_algorithm, rest) = data.split_first().ok_or_else(|| bad("no data"))?;
        let (&flags, rest) = rest.split_first().ok_or_else(|| bad("no flags"))?;
        let (it, rest) = rest.split_first_chunk::<2>().ok_or_else(|| bad("no iterations"))?;
        let (&slen, rest) = rest.split_first().ok_or_else(|| bad("no salt length"))?;
        let salt = rest.get(..usize::from(slen)).ok_or_else(|| bad("a truncated salt"))?.to_vec();
        let rest = rest.get(usize::from(slen)..).unwrap_or(&[]);
        let (&hlen, rest) = rest.split_first().ok_or_else(|| bad("no hash length"))?;
        if hlen == 0 {
            return Err(bad("an empty next hashed owner name"));
        }
        let next_hashed = rest.get(..usize::from(hlen)).ok_or_else(|| bad("a truncated next hashed owner name"))?.to_vec();
        let rest = rest.get(usize::from(hlen)..).unwrap_or(&[]);
        let types = bitmap_types(rest).ok_or_else(|| bad("a malformed type bit map"))?;
        Ok(Nsec3 { hash_algorithm, flags, iterations: u16::from_be_bytes(*it), salt, next_hashed, types })
    }
}

/// NSEC3PARAM record data (RFC 5155 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nsec3Param {
    pub hash_algorithm: u8,
    pub flags: u8,
    pub iterations: u16,
    pub salt: Vec<u8>,
}

impl Nsec3Param {
    /// RFC 9276 §3.1's recommendation: SHA-1, no flags, zero extra
    /// iterations, empty salt.
    pub fn rfc9276() -> Self {
        Nsec3Param { hash_algorithm: NSEC3_HASH_SHA1, flags: 0, iterations: 0, salt: Vec::new() }
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = vec![self.hash_algorithm, self.flags];
        out.extend(self.iterations.to_be_bytes());
        out.push(self.salt.len() as u8);
        out.extend(&self.salt);
        out
    }

    pub fn from_wire(data: &[u8]) -> Result<Self, DnssecError> {
        let bad = |what: &str| DnssecError::Malformed(format!("NSEC3PARAM record with {what}"));
        let (&hash_algorithm, rest) = data.split_first().ok_or_else(|| bad("no data"))?;
        let (&flags, rest) = rest.split_first().ok_or_else(|| bad("no flags"))?;
        let (it, rest) = rest.split_first_chunk::<2>().ok_or_else(|| bad("no iterations"))?;
        let (&slen, rest) = rest.split_first().ok_or_else(|| bad("no salt length"))?;
        if rest.len() != usize::from(slen) {
            return Err(bad("a salt of the wrong length"));
        }
        Ok(Nsec3Param { hash_algorithm, flags, iterations: u16::from_be_bytes(*it), salt: rest.to_vec() })
    }
}

/// The NSEC3 hash of an owner name (RFC 5155 §5): SHA-1 over the
/// canonical wire form of the name and the salt, then `iterations` more
/// times over the previous digest and the salt.
pub fn nsec3_hash(name: &Name, salt: &[u8], iterations: u16) -> [u8; 20] {
    nsec3_hash_wire(&canonical_wire(name), salt, iterations)
}

/// [`nsec3_hash`] of a name already in canonical wire form (lowercase,
/// uncompressed; RFC 4034 §6.2), as the signer holds names.
pub fn nsec3_hash_wire(wire: &[u8], salt: &[u8], iterations: u16) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(wire);
    h.update(salt);
    let mut digest: [u8; 20] = h.finalize().into();
    for _ in 0..iterations {
        let mut h = Sha1::new();
        h.update(digest);
        h.update(salt);
        digest = h.finalize().into();
    }
    digest
}

/// Base32 with the extended hex alphabet, lowercase, no padding (RFC 4648
/// §7 as RFC 5155 §3.3 uses it for hashed owner names).
pub fn base32hex(data: &[u8]) -> String {
    BASE32_DNSSEC.encode(data)
}

/// Decodes a hashed owner name label (either case); `None` if it is not
/// base32hex.
pub fn base32hex_decode(s: &str) -> Option<Vec<u8>> {
    BASE32_DNSSEC.decode(s.to_ascii_lowercase().as_bytes()).ok()
}

/// The NSEC3 owner name of `name` in `zone`: the base32hex hash as one
/// label prepended to the zone apex (RFC 5155 §3).
pub fn nsec3_owner(name: &Name, zone: &Name, salt: &[u8], iterations: u16) -> Result<Name, DnssecError> {
    let label = base32hex(&nsec3_hash(name, salt, iterations));
    Name::from_ascii(&label)
        .and_then(|l| l.append_domain(zone))
        .map_err(|e| DnssecError::Malformed(format!("cannot form the NSEC3 owner name under {zone}: {e}")))
}

/// Salt in presentation form: hex, or `-` when empty (RFC 5155 §3.3).
pub fn format_salt(salt: &[u8]) -> String {
    if salt.is_empty() {
        "-".into()
    } else {
        data_encoding::HEXUPPER.encode(salt)
    }
}

/// Parses a salt field: `-` for empty, else hex of at most 255 octets.
pub fn parse_salt(s: &str) -> Option<Vec<u8>> {
    if s == "-" {
        return Some(Vec::new());
    }
    let v = data_encoding::HEXUPPER_PERMISSIVE.decode(s.as_bytes()).ok()?;
    (v.len() <= 255).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::parse_name;

    /// RFC 5155 Appendix A: salt AABBCCDD, 12 iterations.
    #[test]
    fn rfc5155_appendix_a_hashes() {
        let salt = parse_salt("aabbccdd").unwrap();
        for (name, want) in [
            ("example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            ("a.example", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            ("ai.example", "gjeqe526plbf1g8mklp59enfd789njgi"),
            ("ns1.example", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
            ("x.y.w.example", "2vptu5timamqttgl4luu9kg21e0aor3s"),
            ("*.w.example", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"),
        ] {
            let n = parse_name(name).unwrap();
            assert_eq!(base32hex(&nsec3_hash(&n, &salt, 12)), want, "{name}");
        }
        let owner = nsec3_owner(&parse_name("a.example").unwrap(), &parse_name("example").unwrap(), &salt, 12).unwrap();
        assert_eq!(owner.to_ascii(), "35mthgpgcu1qg68fab165klnsnk3dpvl.example.");
        assert_eq!(base32hex_decode("35MTHGPGCU1QG68FAB165KLNSNK3DPVL").unwrap(), nsec3_hash(&parse_name("a.example").unwrap(), &salt, 12));
    }

    #[test]
    fn nsec3_wire_round_trip_and_refusals() {
        let r = Nsec3 { hash_algorithm: 1, flags: 1, iterations: 0, salt: vec![], next_hashed: vec![7; 20], types: vec![1, 2, 46] };
        let w = r.to_wire();
        assert_eq!(Nsec3::from_wire(&w).unwrap(), r);
        assert!(r.opt_out());
        assert!(Nsec3::from_wire(&w[..5]).is_err());
        assert!(Nsec3::from_wire(&[1, 0, 0, 0, 0, 0]).is_err(), "an empty next hashed owner name is refused");
        let p = Nsec3Param::rfc9276();
        assert_eq!(p.to_wire(), vec![1, 0, 0, 0, 0]);
        assert_eq!(Nsec3Param::from_wire(&p.to_wire()).unwrap(), p);
        assert!(Nsec3Param::from_wire(&[1, 0, 0, 0, 2, 9]).is_err());
    }

    #[test]
    fn bitmap_refuses_windows_out_of_order() {
        let bm = type_bitmap(&[1, 1234]);
        assert_eq!(bitmap_types(&bm).unwrap(), vec![1, 1234]);
        let mut swapped = bm[3..].to_vec();
        swapped.extend(&bm[..3]);
        assert!(bitmap_types(&swapped).is_none());
    }
}

#[cfg(test)]
mod presentation_tests {
    use crate::dnssec::presentation::{format_rdata, parse_records};
    use crate::dnssec::{rtype, RData};

    /// NSEC, NSEC3 and NSEC3PARAM records read from presentation form and
    /// printed back the same (RFC 4034 §4.2, RFC 5155 §3.3 and §4.3; the
    /// NSEC3 record is RFC 5155 Appendix A's).
    #[test]
    fn denial_records_read_and_print_back() {
        let zone = "example. 3600 IN NSEC Alfa.example. NS SOA RRSIG NSEC DNSKEY TYPE1234\n\
            0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 3600 IN NSEC3 1 1 12 aabbccdd ( 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG )\n\
            example. 3600 IN NSEC3PARAM 1 0 12 aabbccdd\n\
            example. 3600 IN NSEC3PARAM 1 0 0 -\n";
        let recs = parse_records(zone, None, None).unwrap();
        let text: Vec<String> = recs.iter().map(|r| format_rdata(&r.rdata)).collect();
        assert_eq!(text[0], "Alfa.example. NS SOA RRSIG NSEC DNSKEY TYPE1234", "the next name keeps its case");
        assert_eq!(text[1], "1 1 12 AABBCCDD 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM");
        assert_eq!(text[2], "1 0 12 AABBCCDD");
        assert_eq!(text[3], "1 0 0 -");
        // The NSEC next name keeps its case on the wire (RFC 6840 §5.1).
        let RData::Other { rtype: t, data } = &recs[0].rdata else { panic!("NSEC not carried as wire data") };
        assert_eq!(*t, rtype::NSEC);
        assert_eq!(&data[1..5], b"Alfa");
        let n3 = super::Nsec3::from_wire(&recs[1].rdata.to_wire()).unwrap();
        assert!(n3.opt_out());
        assert_eq!(n3.iterations, 12);
        assert!(parse_records("x. 1 IN NSEC3 1 0 0 zz 2t7b4g4vsa5smi47k61mv5bv1a22bojr A\n", None, None).is_err());
        assert!(parse_records("x. 1 IN NSEC3 1 0 0 - not-base32! A\n", None, None).is_err());
    }
}
