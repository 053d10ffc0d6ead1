use super::*;
use crate::backends::{soft, Signer};
use crate::dnssec::presentation::parse_records;
use crate::dnssec::sign::sign_rrset;
use crate::dnssec::{parse_name, Algorithm, DigestType, RrSet};
use crate::signzone::{sign_zone, Denial, SignOptions, Verify};

const ZONE: &str = "$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.2
www AAAA 2001:db8::2
child NS ns.child
child DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.child A 192.0.2.53
insecure NS ns.elsewhere.net.
a.b.c A 192.0.2.9
";

const INCEPTION: u32 = 1_800_000_000;
const EXPIRATION: u32 = INCEPTION + 21 * 86400;

struct Fixture {
    zone: Name,
    records: Vec<Record>,
    ksk: soft::SoftKey,
}

/// example.com. signed by kskit's signer: a ZSK for the zone, a KSK over
/// the DNSKEY RRset (as the SKR would carry it).
fn signed() -> Fixture {
    let zone = parse_name("example.com.").unwrap();
    let input = parse_records(ZONE, Some(&zone), None).unwrap();
    let zsk = soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
    let ksk = soft::generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap();
    let keys = RrSet::new(zone.clone(), 3600, vec![RData::Dnskey(zsk.dnskey().clone()), RData::Dnskey(ksk.dnskey().clone())]).unwrap();
    let ksig = sign_rrset(&ksk, &keys, &zone, INCEPTION, EXPIRATION).unwrap();
    let mut pre = keys.records();
    pre.push(Record::new(zone.clone(), 3600, RData::Rrsig(ksig)));
    let opts = SignOptions { inception: INCEPTION, expiration: EXPIRATION, jitter: 0, threads: 1, denial: Denial::Nsec, verify: Verify::All };
    let z = sign_zone(&zone, &input, &pre, &[&zsk as &dyn Signer], &opts).unwrap();
    Fixture { zone, records: z.records, ksk }
}

fn trust(f: &Fixture) -> Trust {
    let ds = f.ksk.dnskey().ds(&f.zone, DigestType::Sha256);
    Trust { anchor: TrustAnchor { ds: vec![ds], dnskeys: vec![], domain: f.zone.clone() }, bundle: None }
}

fn at(days: u64) -> Options {
    Options { now: u64::from(INCEPTION) + days * 86400, valid_for: 7 * 86400 }
}

fn run(f: &Fixture, records: &[Record], o: Options) -> ZoneReport {
    verify_zone(records, None, &trust(f), &o).unwrap()
}

fn ids(r: &ZoneReport) -> Vec<(&'static str, String, String)> {
    r.problems.iter().map(|p| (p.check, p.owner.clone(), p.rtype.clone())).collect()
}

#[test]
fn kskit_signed_zone_passes_every_check() {
    let f = signed();
    let r = run(&f, &f.records, at(1));
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.stats.denial, "nsec");
    assert_eq!(r.stats.delegations, 2);
    assert_eq!(r.stats.glue_names, 1);
    assert_eq!(r.stats.empty_non_terminals, 2, "b.c and c");
    assert_eq!(r.checks.len(), ALL.len());
    assert!(r.stats.rrsigs_verified > 10);
}

#[test]
fn dropped_rrsig_is_a_missing_algorithm_at_its_owner_and_type() {
    let f = signed();
    let www = parse_name("www.example.com.").unwrap();
    let recs: Vec<Record> = f.records.iter().filter(|r| !(r.name == www && matches!(&r.rdata, RData::Rrsig(s) if s.type_covered == rtype::A))).cloned().collect();
    let r = run(&f, &recs, at(1));
    assert_eq!(ids(&r), vec![(ZONE_RRSIG_ALGORITHMS, "www.example.com.".into(), "A".into())]);
}

#[test]
fn changed_record_fails_its_signature() {
    let f = signed();
    let mut recs = f.records.clone();
    let i = recs.iter().position(|r| r.rtype() == rtype::AAAA).unwrap();
    recs[i].rdata = RData::Other { rtype: rtype::AAAA, data: vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9] };
    let r = run(&f, &recs, at(1));
    assert_eq!(ids(&r), vec![(ZONE_RRSIG_VALID, "www.example.com.".into(), "AAAA".into())]);
}

#[test]
fn expiry_and_margin_are_named() {
    let f = signed();
    // 16 days in: valid, but expires within the 7-day margin.
    let r = run(&f, &f.records, at(16));
    assert!(r.problems.iter().all(|p| p.check == ZONE_RRSIG_TIME || p.check == ZONE_DNSKEY_TRUSTED), "{:?}", r.problems);
    assert!(r.problems.iter().any(|p| p.owner == "www.example.com." && p.rtype == "A" && p.message.contains("margin")));
    // 22 days in: expired.
    let r = run(&f, &f.records, at(22));
    assert!(r.problems.iter().any(|p| p.check == ZONE_RRSIG_TIME && p.message.contains("expired")));
    assert!(run(&f, &f.records, Options { valid_for: 0, ..at(16) }).ok());
}

#[test]
fn foreign_anchor_and_broken_chain_are_found() {
    let f = signed();
    let other = soft::generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap();
    let t = Trust { anchor: TrustAnchor { ds: vec![other.dnskey().ds(&f.zone, DigestType::Sha256)], dnskeys: vec![], domain: f.zone.clone() }, bundle: None };
    let r = verify_zone(&f.records, None, &t, &at(1)).unwrap();
    assert_eq!(ids(&r), vec![(ZONE_DNSKEY_TRUSTED, "example.com.".into(), "DNSKEY".into())]);

    let www = parse_name("www.example.com.").unwrap();
    let recs: Vec<Record> = f.records.iter().filter(|r| !(r.name == www && (r.rtype() == rtype::NSEC || matches!(&r.rdata, RData::Rrsig(s) if s.type_covered == rtype::NSEC)))).cloned().collect();
    let r = run(&f, &recs, at(1));
    assert_eq!(ids(&r), vec![(ZONE_NSEC_CHAIN, "www.example.com.".into(), "NSEC".into())]);
}

#[test]
fn signed_delegation_ns_and_glue_are_refused() {
    let f = signed();
    let mut recs = f.records.clone();
    let sig = recs.iter().find_map(|r| match &r.rdata {
        RData::Rrsig(s) if s.type_covered == rtype::A => Some(s.clone()),
        _ => None,
    });
    let mut s = sig.unwrap();
    s.type_covered = rtype::A;
    recs.push(Record::new(parse_name("ns.child.example.com.").unwrap(), 3600, RData::Rrsig(s)));
    let r = run(&f, &recs, at(1));
    assert_eq!(ids(&r), vec![(ZONE_DELEGATION_UNSIGNED, "ns.child.example.com.".into(), "A".into())]);
}

#[test]
fn skr_bundle_must_match() {
    let f = signed();
    let keys = f.records.iter().filter_map(|r| if let RData::Dnskey(k) = &r.rdata { Some(k.clone()) } else { None }).collect::<Vec<_>>();
    let mut t = trust(&f);
    t.bundle = Some(SkrBundle { label: "b1".into(), dnskey: keys.clone(), cds: vec![], cdnskey: vec![] });
    assert!(verify_zone(&f.records, None, &t, &at(1)).unwrap().ok());
    t.bundle = Some(SkrBundle { label: "b1".into(), dnskey: keys[..1].to_vec(), cds: vec![f.ksk.dnskey().ds(&f.zone, DigestType::Sha256)], cdnskey: vec![] });
    let r = verify_zone(&f.records, None, &t, &at(1)).unwrap();
    assert_eq!(ids(&r), vec![(ZONE_SKR_BUNDLE, "example.com.".into(), "DNSKEY".into()), (ZONE_SKR_BUNDLE, "example.com.".into(), "CDS".into())]);
}
