use super::*;
use crate::backends::soft;
use crate::dnssec::presentation::parse_records;
use crate::dnssec::verify::verify_rrsig;
use crate::dnssec::{parse_name, Algorithm};

const ZONE: &str = "$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ NS ns1
@ NS ns2.other.net.
ns1 A 192.0.2.1
www A 192.0.2.2
www AAAA 2001:db8::2
WWW A 192.0.2.2
mail MX 10 www
txt TXT \"hello world\"
child NS ns.child
child DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.child A 192.0.2.53
insecure NS ns.elsewhere.net.
a.b.c A 192.0.2.9
@ DNSKEY 256 3 13 AAAA
old RRSIG A 13 3 3600 20300101000000 20200101000000 1 example.com. AAAA
";

fn setup() -> (Name, Vec<Record>, soft::SoftKey, Vec<Record>) {
    let zone = parse_name("example.com.").unwrap();
    let recs = parse_records(ZONE, Some(&zone), None).unwrap();
    let zsk = soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
    let ksk = Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![4; 64]);
    let pre = vec![
        Record::new(zone.clone(), 3600, RData::Dnskey(zsk.dnskey().clone())),
        Record::new(zone.clone(), 3600, RData::Dnskey(ksk.clone())),
        Record::new(zone.clone(), 0, RData::Cds(ksk.ds(&zone, crate::dnssec::DigestType::Sha256))),
    ];
    (zone, recs, zsk, pre)
}

fn opts(threads: usize) -> SignOptions {
    SignOptions { inception: 1_800_000_000, expiration: 1_800_000_000 + 21 * 86400, jitter: 3600, threads }
}

fn sets_of(z: &SignedZone, name: &str) -> Vec<u16> {
    let n = parse_name(name).unwrap();
    let mut v: Vec<u16> = z.records.iter().filter(|r| r.name == n && r.rtype() != rtype::RRSIG).map(|r| r.rtype()).collect();
    v.dedup();
    v
}

fn sigs_of(z: &SignedZone, name: &str, t: u16) -> Vec<Rrsig> {
    let n = parse_name(name).unwrap();
    z.records
        .iter()
        .filter(|r| r.name == n)
        .filter_map(|r| match &r.rdata {
            RData::Rrsig(s) if s.type_covered == t => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn nsec_of(z: &SignedZone, name: &str) -> Option<(Name, Vec<u16>)> {
    let n = parse_name(name).unwrap();
    z.records.iter().find(|r| r.name == n && r.rtype() == rtype::NSEC).map(|r| {
        let RData::Other { data, .. } = &r.rdata else { unreachable!() };
        let (next, used) = crate::dnssec::name::from_wire(data).unwrap();
        (next, nsec::bitmap_types(&data[used..]).unwrap())
    })
}

#[test]
fn signs_authoritative_data_and_chains_nsec() {
    let (zone, recs, zsk, pre) = setup();
    let z = sign_zone(&zone, &recs, &pre, &[&zsk], &opts(2)).unwrap();
    // Every ZSK signature verifies, within the validity asked for.
    let mut n = 0;
    let key = zsk.dnskey();
    for r in &z.records {
        let RData::Rrsig(s) = &r.rdata else { continue };
        if s.key_tag != key.key_tag() {
            continue;
        }
        let set: Vec<Record> = z.records.iter().filter(|x| x.name == r.name && x.rtype() == s.type_covered).cloned().collect();
        verify_rrsig(&RrSet::from_records(&set).unwrap(), s, key).unwrap();
        assert_eq!(s.inception, 1_800_000_000);
        assert!(s.expiration <= 1_800_000_000 + 21 * 86400 && s.expiration >= 1_800_000_000 + 21 * 86400 - 3600);
        n += 1;
    }
    assert_eq!(n, z.stats.signatures);
    // The input's DNSKEY and RRSIG are gone; the SKR's are in.
    assert_eq!(z.records.iter().filter(|r| r.rtype() == rtype::DNSKEY).count(), 2);
    assert!(sigs_of(&z, "old.example.com.", rtype::A).is_empty());
    // Apex: SOA first, DNSKEY and CDS pre-signed (no ZSK signature over them).
    assert_eq!(z.records[0].rtype(), rtype::SOA);
    assert!(sigs_of(&z, "example.com.", rtype::DNSKEY).is_empty());
    let (next, types) = nsec_of(&z, "example.com.").unwrap();
    assert_eq!(next, parse_name("a.b.c.example.com.").unwrap());
    assert_eq!(types, vec![rtype::NS, rtype::SOA, rtype::RRSIG, rtype::NSEC, rtype::DNSKEY, rtype::CDS]);
    // The duplicate (case-folded) www A is one record.
    assert_eq!(z.records.iter().filter(|r| r.name == parse_name("www.example.com.").unwrap() && r.rtype() == rtype::A).count(), 1);
    // Delegation with DS: NS and glue unsigned, DS signed, NSEC has NS DS RRSIG NSEC.
    assert!(sigs_of(&z, "child.example.com.", rtype::NS).is_empty());
    assert_eq!(sigs_of(&z, "child.example.com.", rtype::DS).len(), 1);
    let (_, types) = nsec_of(&z, "child.example.com.").unwrap();
    assert_eq!(types, vec![rtype::NS, rtype::DS, rtype::RRSIG, rtype::NSEC]);
    assert_eq!(sets_of(&z, "ns.child.example.com."), vec![rtype::A]);
    assert!(sigs_of(&z, "ns.child.example.com.", rtype::A).is_empty());
    assert!(nsec_of(&z, "ns.child.example.com.").is_none());
    // Delegation without DS: only the NSEC is signed.
    let (_, types) = nsec_of(&z, "insecure.example.com.").unwrap();
    assert_eq!(types, vec![rtype::NS, rtype::RRSIG, rtype::NSEC]);
    assert_eq!(sigs_of(&z, "insecure.example.com.", rtype::NSEC).len(), 1);
    // The chain closes at the apex; NSEC TTL is min(SOA minimum, SOA TTL) = 300.
    let (next, _) = nsec_of(&z, "www.example.com.").unwrap();
    assert_eq!(next, zone);
    assert!(z.records.iter().filter(|r| r.rtype() == rtype::NSEC).all(|r| r.ttl == 300));
    assert_eq!(z.stats.delegations, 2);
    assert_eq!(z.stats.glue_names, 1);
    // Names in canonical order.
    let names: Vec<Name> = z.records.iter().map(|r| r.name.clone()).collect();
    assert!(names.windows(2).all(|w| nsec::canonical_cmp(&w[0], &w[1]) != std::cmp::Ordering::Greater));
    // Printing: NSEC with mnemonics; the text reads back.
    let text = format_zone(&z, "test");
    assert!(text.contains("child.example.com. 300 IN NSEC insecure.example.com. NS DS RRSIG NSEC"), "{text}");
    // (kskit's own parser does not read NSEC in presentation form; the tools do.)
    let without_nsec: String = text.lines().filter(|l| !l.contains(" IN NSEC ")).map(|l| format!("{l}\n")).collect();
    let nsecs = z.records.iter().filter(|r| r.rtype() == rtype::NSEC).count();
    assert_eq!(parse_records(&without_nsec, None, None).unwrap().len() + nsecs, z.records.len());
}

#[test]
fn thread_count_does_not_change_the_zone_shape() {
    let (zone, recs, zsk, pre) = setup();
    let a = sign_zone(&zone, &recs, &pre, &[&zsk], &opts(1)).unwrap();
    let b = sign_zone(&zone, &recs, &pre, &[&zsk], &opts(7)).unwrap();
    let shape = |z: &SignedZone| z.records.iter().map(|r| (r.name.clone(), r.rtype())).collect::<Vec<_>>();
    assert_eq!(shape(&a), shape(&b));
    assert_eq!(a.stats, b.stats);
}

#[test]
fn refuses_bad_zones_and_unpublished_zsks() {
    let (zone, recs, zsk, pre) = setup();
    let o = opts(1);
    let other = soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
    assert!(matches!(sign_zone(&zone, &recs, &pre, &[&other], &o), Err(SignZoneError::ZskNotPublished { .. })));
    assert!(matches!(sign_zone(&zone, &recs, &pre, &[], &o), Err(SignZoneError::NoZsk)));
    // An RSA KSK in the DNSKEY RRset with only an ECDSA ZSK: the algorithm rule.
    let mut mixed = pre.clone();
    mixed.push(Record::new(zone.clone(), 3600, RData::Dnskey(Dnskey::new(257, Algorithm::RsaSha256, vec![3, 1, 0, 1, 0xc3]))));
    assert!(matches!(sign_zone(&zone, &recs, &mixed, &[&zsk], &o), Err(SignZoneError::AlgorithmNotCovered { algorithm: 8 })));
    let with = |extra: &str| {
        let mut r = recs.clone();
        r.extend(parse_records(extra, Some(&zone), Some(60)).unwrap());
        sign_zone(&zone, &r, &pre, &[&zsk], &o).map(|_| ())
    };
    assert!(matches!(with("www.other.org. A 192.0.2.1\n"), Err(SignZoneError::OutOfZone { .. })));
    assert!(matches!(with("www CNAME ns1\n"), Err(SignZoneError::CnameAndOther(_))));
    assert!(matches!(with("www DS 1 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"), Err(SignZoneError::DsWithoutDelegation(_))));
    assert!(matches!(with("@ DS 1 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"), Err(SignZoneError::DsAtApex(_))));
    assert!(matches!(with("www SOA a b 1 2 3 4 5\n"), Err(SignZoneError::SoaNotAtApex(_))));
    assert!(matches!(with("@ SOA a b 2 2 3 4 5\n"), Err(SignZoneError::ManySoa(2))));
    let no_soa: Vec<Record> = recs.iter().filter(|r| r.rtype() != rtype::SOA).cloned().collect();
    assert!(matches!(sign_zone(&zone, &no_soa, &pre, &[&zsk], &o), Err(SignZoneError::NoSoa(_))));
}
