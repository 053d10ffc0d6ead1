//! Resource records and RRsets, with the canonical RRset form and the RRSIG
//! signing input (RFC 4034 §3.1.8.1 and §6, RFC 4035 §5.3.2).

use super::name::{canonical_wire, same_name, Name};
use super::rdata::{Dnskey, Ds, Rrsig};
use super::DnssecError;

/// RR type numbers kskit names (others are carried as numbers).
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const DS: u16 = 43;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const DNSKEY: u16 = 48;
    pub const NSEC3: u16 = 50;
    pub const NSEC3PARAM: u16 = 51;
    pub const CDS: u16 = 59;
    pub const CDNSKEY: u16 = 60;

    /// The mnemonic of a type (RFC 3597 `TYPEnnn` for unnamed ones).
    pub fn name(t: u16) -> String {
        match hickory_proto::rr::RecordType::from(t) {
            hickory_proto::rr::RecordType::Unknown(n) => format!("TYPE{n}"),
            r => r.to_string(),
        }
    }

    /// Parses a mnemonic or `TYPEnnn`.
    pub fn parse(s: &str) -> Option<u16> {
        let u = s.to_ascii_uppercase();
        if let Some(n) = u.strip_prefix("TYPE") {
            return n.parse().ok();
        }
        let t: hickory_proto::rr::RecordType = u.parse().ok()?;
        match t {
            hickory_proto::rr::RecordType::Unknown(_) => None,
            t => Some(u16::from(t)),
        }
    }
}

pub const CLASS_IN: u16 = 1;

/// Record data: the DNSSEC types kskit models, and any other type as wire RDATA.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RData {
    Dnskey(Dnskey),
    Cdnskey(Dnskey),
    Ds(Ds),
    Cds(Ds),
    Rrsig(Rrsig),
    /// Any other type: its number and RDATA in (canonical) wire format.
    Other { rtype: u16, data: Vec<u8> },
}

impl RData {
    pub fn rtype(&self) -> u16 {
        match self {
            RData::Dnskey(_) => rtype::DNSKEY,
            RData::Cdnskey(_) => rtype::CDNSKEY,
            RData::Ds(_) => rtype::DS,
            RData::Cds(_) => rtype::CDS,
            RData::Rrsig(_) => rtype::RRSIG,
            RData::Other { rtype, .. } => *rtype,
        }
    }

    /// RDATA in canonical wire format (RFC 4034 §6.2; the DNSSEC types hold no
    /// names that need lowercasing except the RRSIG signer, already canonical).
    pub fn to_wire(&self) -> Vec<u8> {
        match self {
            RData::Dnskey(k) | RData::Cdnskey(k) => k.to_wire(),
            RData::Ds(d) | RData::Cds(d) => d.to_wire(),
            RData::Rrsig(s) => s.to_wire(),
            RData::Other { data, .. } => data.clone(),
        }
    }

    pub fn from_wire(rtype: u16, data: &[u8]) -> Result<Self, DnssecError> {
        Ok(match rtype {
            rtype::DNSKEY => RData::Dnskey(Dnskey::from_wire(data)?),
            rtype::CDNSKEY => RData::Cdnskey(Dnskey::from_wire(data)?),
            rtype::DS => RData::Ds(Ds::from_wire(data)?),
            rtype::CDS => RData::Cds(Ds::from_wire(data)?),
            rtype::RRSIG => RData::Rrsig(Rrsig::from_wire(data)?),
            t => RData::Other { rtype: t, data: data.to_vec() },
        })
    }
}

/// One resource record (class IN only: DNSSEC keys live in IN).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    pub name: Name,
    pub ttl: u32,
    pub rdata: RData,
}

impl Record {
    pub fn new(name: Name, ttl: u32, rdata: RData) -> Self {
        Record { name, ttl, rdata }
    }
    pub fn rtype(&self) -> u16 {
        self.rdata.rtype()
    }
}

/// An RRset: records of one owner, class and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrSet {
    pub name: Name,
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Vec<RData>,
}

impl RrSet {
    /// Builds an RRset from records, which must share owner (ignoring case)
    /// and type. The TTL is the first record's.
    pub fn from_records(records: &[Record]) -> Result<Self, DnssecError> {
        let first = records.first().ok_or_else(|| DnssecError::Malformed("empty RRset".into()))?;
        for r in records {
            if !same_name(&r.name, &first.name) || r.rtype() != first.rtype() {
                return Err(DnssecError::Malformed(format!(
                    "records of {} {} and {} {} are not one RRset",
                    first.name,
                    rtype::name(first.rtype()),
                    r.name,
                    rtype::name(r.rtype())
                )));
            }
        }
        Ok(RrSet { name: first.name.clone(), rtype: first.rtype(), ttl: first.ttl, rdatas: records.iter().map(|r| r.rdata.clone()).collect() })
    }

    pub fn new(name: Name, ttl: u32, rdatas: Vec<RData>) -> Result<Self, DnssecError> {
        let rtype = rdatas.first().map(|r| r.rtype()).ok_or_else(|| DnssecError::Malformed("empty RRset".into()))?;
        if rdatas.iter().any(|r| r.rtype() != rtype) {
            return Err(DnssecError::Malformed("mixed types in one RRset".into()));
        }
        Ok(RrSet { name, rtype, ttl, rdatas })
    }

    pub fn records(&self) -> Vec<Record> {
        self.rdatas.iter().map(|rd| Record::new(self.name.clone(), self.ttl, rd.clone())).collect()
    }

    /// RDATA in canonical order (RFC 4034 §6.3: sorted as left-justified
    /// octet strings), duplicates removed (RFC 2181 §5).
    pub fn canonical_rdatas(&self) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = self.rdatas.iter().map(|r| r.to_wire()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The data an RRSIG over this RRset signs (RFC 4034 §3.1.8.1): RRSIG
    /// RDATA without signature, then each RR in canonical form and order with
    /// owner lowercased (or replaced by the wildcard, RFC 4035 §5.3.2) and the
    /// RRSIG's original TTL.
    pub fn signing_input(&self, sig: &Rrsig) -> Vec<u8> {
        let mut out = sig.to_wire_without_signature();
        out.extend(self.canonical_body(&self.canonical_rdatas(), sig.labels, sig.original_ttl));
        out
    }

    /// The RR part of the signing input: each of `rdatas` (canonical, in
    /// order) as an RR with the signing owner for `labels` and `original_ttl`.
    pub fn canonical_body(&self, rdatas: &[Vec<u8>], labels: u8, original_ttl: u32) -> Vec<u8> {
        let owner = owner_for_signing(&self.name, labels);
        let mut out = Vec::new();
        for rd in rdatas {
            out.extend_from_slice(&owner);
            out.extend_from_slice(&self.rtype.to_be_bytes());
            out.extend_from_slice(&super::record::CLASS_IN.to_be_bytes());
            out.extend_from_slice(&original_ttl.to_be_bytes());
            out.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            out.extend_from_slice(rd);
        }
        out
    }
}

/// Canonical owner for the signed data: lowercased; if the RRSIG has fewer
/// labels than the owner, the owner is replaced by `*.` plus its rightmost
/// `labels` labels (RFC 4035 §5.3.2).
fn owner_for_signing(name: &Name, labels: u8) -> Vec<u8> {
    let n = name.num_labels();
    if labels >= n {
        return canonical_wire(name);
    }
    let trimmed = name.trim_to(labels as usize);
    let mut out = vec![1u8, b'*'];
    out.extend(canonical_wire(&trimmed));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::name::parse_name;

    #[test]
    fn rtype_names() {
        assert_eq!(rtype::name(rtype::CDNSKEY), "CDNSKEY");
        assert_eq!(rtype::name(65280), "TYPE65280");
        assert_eq!(rtype::parse("cds"), Some(rtype::CDS));
        assert_eq!(rtype::parse("TYPE65534"), Some(65534));
        assert_eq!(rtype::parse("NOPE"), None);
    }

    #[test]
    fn canonical_order_and_dedup() {
        let n = parse_name("example.").unwrap();
        let a = RData::Other { rtype: rtype::A, data: vec![10, 0, 0, 2] };
        let b = RData::Other { rtype: rtype::A, data: vec![10, 0, 0, 1] };
        let s = RrSet::new(n, 60, vec![a.clone(), b.clone(), a.clone()]).unwrap();
        assert_eq!(s.canonical_rdatas(), vec![vec![10, 0, 0, 1], vec![10, 0, 0, 2]]);
    }

    #[test]
    fn wildcard_owner() {
        let n = parse_name("a.b.Example.").unwrap();
        assert_eq!(owner_for_signing(&n, 1), b"\x01*\x07example\x00".to_vec());
        assert_eq!(owner_for_signing(&n, 3), b"\x01a\x01b\x07example\x00".to_vec());
    }
}
