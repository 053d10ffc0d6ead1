use super::*;
use crate::backends::soft;
use crate::dnssec::presentation::parse_records;
use crate::dnssec::verify::verify_rrsig;
use crate::dnssec::{parse_name, Algorithm, RrSet};

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
    SignOptions { inception: 1_800_000_000, expiration: 1_800_000_000 + 21 * 86400, jitter: 3600, threads, denial: Denial::Nsec, verify: Verify::All }
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

/// Signs `text` (zone example.com.) with the reference (pre-rewrite)
/// signer and with the new one, both ways (records and streamed text),
/// at a fixed time with a fixed Ed25519 ZSK (deterministic signatures, RFC
/// 8032) and no jitter, and asserts the three zone texts are identical line
/// for line: the compact, parallel, streaming signer makes the same NSEC
/// zone as before.
fn assert_same_as_reference(text: &str, threads: usize) {
    let zone = parse_name("example.com.").unwrap();
    let recs = parse_records(text, Some(&zone), None).unwrap();
    let zsk = soft::SoftKey::ed25519_from_seed(&[7u8; 32], 256).unwrap();
    let ksk = soft::SoftKey::ed25519_from_seed(&[9u8; 32], 257).unwrap();
    let dnskey_set = RrSet::new(zone.clone(), 3600, vec![RData::Dnskey(zsk.dnskey().clone()), RData::Dnskey(ksk.dnskey().clone())]).unwrap();
    let sig = crate::dnssec::sign::sign_rrset(&ksk, &dnskey_set, &zone, 1_800_000_000, 1_800_000_000 + 21 * 86400).unwrap();
    let mut pre = dnskey_set.records();
    pre.push(Record::new(zone.clone(), 3600, RData::Rrsig(sig)));
    pre.push(Record::new(zone.clone(), 0, RData::Cds(ksk.dnskey().ds(&zone, crate::dnssec::DigestType::Sha256))));
    let o = SignOptions { inception: 1_800_000_000, expiration: 1_800_000_000 + 14 * 86400, jitter: 0, threads, denial: Denial::Nsec, verify: Verify::Sample };
    let old = super::reference::reference_sign_zone_rolling(&zone, &recs, &pre, &[&zsk], &[], &o).unwrap();
    let want = super::reference::reference_format_zone(&old, "h");
    let new = sign_zone(&zone, &recs, &pre, &[&zsk], &o).unwrap();
    assert_eq!(new.stats, old.stats);
    let got_records = format_zone(&new, "h");
    let mut streamed = Vec::new();
    let input = ZoneInput::new(&zone, recs.clone()).unwrap();
    let stats = write_signed_zone(&zone, &input, &pre, &[&zsk], &[], &o, "h", &mut streamed).unwrap();
    assert_eq!(stats, old.stats);
    let got_stream = String::from_utf8(streamed).unwrap();
    // As the CLI does it: the text parsed straight into the compact form.
    let mut b = ZoneInputBuilder::new(&zone, 0);
    crate::dnssec::presentation::parse_records_each(text, Some(&zone), None, |r| b.push(r)).unwrap();
    let parsed = b.finish();
    assert_eq!(parsed.len(), input.len());
    let mut streamed2 = Vec::new();
    assert_eq!(write_signed_zone(&zone, &parsed, &pre, &[&zsk], &[], &o, "h", &mut streamed2).unwrap(), old.stats);
    let got_parsed = String::from_utf8(streamed2).unwrap();
    // The CLI's path: parsing and conversion on two threads, the sort split.
    let piped = parse_zone_text(&zone, text, threads).unwrap();
    let mut streamed3 = Vec::new();
    assert_eq!(write_signed_zone(&zone, &piped, &pre, &[&zsk], &[], &o, "h", &mut streamed3).unwrap(), old.stats);
    let got_piped = String::from_utf8(streamed3).unwrap();
    let w: Vec<&str> = want.lines().collect();
    for got in [&got_records, &got_stream, &got_parsed, &got_piped] {
        let g: Vec<&str> = got.lines().collect();
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            assert_eq!(a, b, "line {i} differs from the reference signer's");
        }
        assert_eq!(g.len(), w.len(), "the number of lines differs from the reference signer's");
    }
    assert!(w.len() > recs.len(), "the reference signed something");
}

#[test]
fn nsec_zone_is_line_for_line_the_reference_signers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let text = std::fs::read_to_string(dir.join("signzone-golden.zone")).unwrap();
    assert_same_as_reference(&text, 2);
    assert_same_as_reference(&text, 1);
}

/// The compact input as comparable tuples: every record in order, every RRset.
fn input_shape(z: &ZoneInput) -> (Vec<(Vec<u8>, u16, u32, Vec<u8>)>, Vec<(usize, usize, u16, u32)>) {
    let recs = z.recs.iter().map(|r| (z.owner_of(r).to_vec(), r.rtype, r.ttl, z.rd_of(r).to_vec())).collect();
    let sets = z.sets.iter().map(|s| (s.start, s.end, s.rtype, s.ttl)).collect();
    (recs, sets)
}

#[test]
fn two_thread_parse_and_split_sort_give_the_one_thread_input_on_a_large_zone() {
    // Above PARALLEL_SORT_MIN records, with owners out of order, mixed case,
    // duplicate RDATA and many RDATA per RRset (whose input order must stay).
    let mut t = String::from("$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 600\n@ NS ns1\nns1 A 192.0.2.1\n");
    let n = PARALLEL_SORT_MIN + 5000;
    for i in 0..n {
        let k = (i * 7919) % 9000;
        let owner = if i % 5 == 0 { format!("H{k}") } else { format!("h{k}") };
        t.push_str(&format!("{owner} {} TXT \"r{}\"\n", 300 + (i % 3), i % 3));
    }
    let zone = parse_name("example.com.").unwrap();
    let one = parse_zone_text(&zone, &t, 1).unwrap();
    let two = parse_zone_text(&zone, &t, 2).unwrap();
    assert!(one.len() < n && one.len() > 9000, "duplicates dropped, not everything");
    assert_eq!(input_shape(&one), input_shape(&two));
}

#[test]
fn stable_sort_on_two_threads_keeps_the_input_order_of_ties() {
    let v: Vec<(u32, u32)> = (0..PARALLEL_SORT_MIN as u32 * 2).map(|i| (i.wrapping_mul(2654435761u32) % 1000, i)).collect();
    let mut want = v.clone();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(stable_sort(v, 2, |a, b| a.0.cmp(&b.0)), want);
}

#[test]
fn two_thread_parse_reports_the_first_error_of_either_side() {
    let zone = parse_name("example.com.").unwrap();
    let mut t = String::from("$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 600\n@ NS ns1\n");
    for i in 0..20_000 {
        t.push_str(&format!("h{i} A 10.0.0.1\n"));
    }
    let out_of_zone = format!("{t}www.example.net. A 192.0.2.1\n{t}");
    assert!(matches!(parse_zone_text(&zone, &out_of_zone, 2), Err(SignZoneError::OutOfZone { .. })));
    let bad = format!("{t}h1 A not-an-address\n{t}");
    let e = parse_zone_text(&zone, &bad, 2).unwrap_err();
    assert!(matches!(e, SignZoneError::Dnssec(_)), "{e}");
    assert!(e.to_string().contains("line 20004"), "{e}");
}

#[test]
fn generated_zone_of_3000_records_is_line_for_line_the_reference_signers() {
    // Many names, mixed case, deep names (empty non-terminals), delegations
    // with and without DS, glue, wildcards, duplicates: more RRsets than one
    // signing chunk, so chunk boundaries and ordering are exercised.
    let mut t = String::from("$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 600\n@ NS ns1\nns1 A 192.0.2.1\n");
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..3000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let label = format!("{}n{}", if x % 7 == 0 { "H" } else { "h" }, x % 1500);
        match x % 11 {
            0 => t.push_str(&format!("d{i} NS ns.d{i}\nns.d{i} A 192.0.2.{}\n", i % 250)),
            1 => t.push_str(&format!("s{i} NS ns1\ns{i} DS {} 13 2 {:064X}\n", i, x as u128)),
            2 => t.push_str(&format!("*.w{} TXT \"w{i}\"\n", x % 50)),
            3 => t.push_str(&format!("a.b{}.c{} AAAA 2001:db8::{:x}\n", x % 40, x % 3, i)),
            _ => t.push_str(&format!("{label} A 10.0.{}.{}\n", (x >> 8) % 256, x % 256)),
        }
    }
    assert_same_as_reference(&t, 2);
}

/// RFC 5155 Appendix A: the example zone signed with salt AABBCCDD, 12
/// iterations and opt-out gives exactly the appendix's NSEC3 chain: the
/// insecure delegation c.example is left out, the empty non-terminals
/// w.example and y.w.example are in with empty bit maps, the name that
/// equals an NSEC3 owner (2t7b4g4vsa5smi47k61mv5bv1a22bojr.example) is
/// hashed like any other, and every NSEC3 carries the opt-out flag.
#[test]
fn rfc5155_appendix_a_chain_with_opt_out() {
    let zone = parse_name("example.").unwrap();
    let text = "$TTL 3600
@ SOA ns1 bugs.x.w.example. 1 3600 300 3600000 3600
@ NS ns1
@ NS ns2
@ MX 1 xx
2t7b4g4vsa5smi47k61mv5bv1a22bojr A 192.0.2.127
a NS ns1.a
a NS ns2.a
a DS 58470 5 1 3079F1593EBAD6DC121E202A8B766A6A4837206C
ns1.a A 192.0.2.5
ns2.a A 192.0.2.6
ai A 192.0.2.9
ai HINFO \"KLH-10\" \"ITS\"
ai AAAA 2001:db8::f00:baa9
c NS ns1.c
c NS ns2.c
ns1.c A 192.0.2.7
ns2.c A 192.0.2.8
ns1 A 192.0.2.1
ns2 A 192.0.2.2
*.w MX 1 ai
x.w MX 1 xx
x.y.w MX 1 xx
xx A 192.0.2.10
xx HINFO \"KLH-10\" \"TOPS-20\"
xx AAAA 2001:db8::f00:baaa
";
    let recs = parse_records(text, Some(&zone), None).unwrap();
    let zsk = soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap();
    let pre = vec![Record::new(zone.clone(), 3600, RData::Dnskey(zsk.dnskey().clone()))];
    let param = crate::dnssec::denial::Nsec3Param { hash_algorithm: 1, flags: 0, iterations: 12, salt: vec![0xaa, 0xbb, 0xcc, 0xdd] };
    let mut o = opts(2);
    o.denial = Denial::Nsec3 { param, opt_out: true };
    let z = sign_zone(&zone, &recs, &pre, &[&zsk], &o).unwrap();
    let text = format_zone(&z, "");
    let chain: Vec<String> = text
        .lines()
        .filter(|l| l.contains(" IN NSEC3 "))
        .map(|l| l.split_once(" IN NSEC3 ").map(|(a, b)| format!("{} {b}", a.split(' ').next().unwrap())).unwrap())
        .collect();
    let want = [
        "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example. 1 1 12 AABBCCDD 2t7b4g4vsa5smi47k61mv5bv1a22bojr NS SOA MX RRSIG DNSKEY NSEC3PARAM",
        "2t7b4g4vsa5smi47k61mv5bv1a22bojr.example. 1 1 12 AABBCCDD 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG",
        "2vptu5timamqttgl4luu9kg21e0aor3s.example. 1 1 12 AABBCCDD 35mthgpgcu1qg68fab165klnsnk3dpvl MX RRSIG",
        "35mthgpgcu1qg68fab165klnsnk3dpvl.example. 1 1 12 AABBCCDD b4um86eghhds6nea196smvmlo4ors995 NS DS RRSIG",
        "b4um86eghhds6nea196smvmlo4ors995.example. 1 1 12 AABBCCDD gjeqe526plbf1g8mklp59enfd789njgi MX RRSIG",
        "gjeqe526plbf1g8mklp59enfd789njgi.example. 1 1 12 AABBCCDD ji6neoaepv8b5o6k4ev33abha8ht9fgc A HINFO AAAA RRSIG",
        "ji6neoaepv8b5o6k4ev33abha8ht9fgc.example. 1 1 12 AABBCCDD k8udemvp1j2f7eg6jebps17vp3n8i58h",
        "k8udemvp1j2f7eg6jebps17vp3n8i58h.example. 1 1 12 AABBCCDD kohar7mbb8dc2ce8a9qvl8hon4k53uhi",
        "kohar7mbb8dc2ce8a9qvl8hon4k53uhi.example. 1 1 12 AABBCCDD q04jkcevqvmu85r014c7dkba38o0ji5r A RRSIG",
        "q04jkcevqvmu85r014c7dkba38o0ji5r.example. 1 1 12 AABBCCDD r53bq7cc2uvmubfu5ocmm6pers9tk9en A RRSIG",
        "r53bq7cc2uvmubfu5ocmm6pers9tk9en.example. 1 1 12 AABBCCDD t644ebqk9bibcna874givr6joj62mlhv MX RRSIG",
        "t644ebqk9bibcna874givr6joj62mlhv.example. 1 1 12 AABBCCDD 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom A HINFO AAAA RRSIG",
    ];
    assert_eq!(chain, want, "{text}");
    assert!(text.contains("example. 3600 IN NSEC3PARAM 1 0 12 AABBCCDD\n"), "{text}");
    assert!(!text.contains(" IN NSEC "), "no NSEC with NSEC3");
    assert_eq!((z.stats.nsec3, z.stats.empty_non_terminals), (12, 2));
    // Every NSEC3 and the NSEC3PARAM are signed; c.example's NS and glue are not.
    assert_eq!(z.records.iter().filter(|r| matches!(&r.rdata, RData::Rrsig(s) if s.type_covered == rtype::NSEC3)).count(), 12);
    assert_eq!(sigs_of(&z, "example.", rtype::NSEC3PARAM).len(), 1);
    assert!(sigs_of(&z, "c.example.", rtype::NS).is_empty() && sigs_of(&z, "ns1.c.example.", rtype::A).is_empty());
    // The wildcard's RRSIG has the label count without the `*` (RFC 4034 §3.1.3).
    assert_eq!(sigs_of(&z, "*.w.example.", rtype::MX)[0].labels, 2);

    // Without opt-out c.example is in the chain (NS only: nothing signed there).
    o.denial = Denial::Nsec3 { param: crate::dnssec::denial::Nsec3Param { hash_algorithm: 1, flags: 0, iterations: 12, salt: vec![0xaa, 0xbb, 0xcc, 0xdd] }, opt_out: false };
    let z = sign_zone(&zone, &recs, &pre, &[&zsk], &o).unwrap();
    let c = crate::dnssec::denial::base32hex(&crate::dnssec::denial::nsec3_hash(&parse_name("c.example.").unwrap(), &[0xaa, 0xbb, 0xcc, 0xdd], 12));
    let text = format_zone(&z, "");
    assert!(text.lines().any(|l| l.starts_with(&format!("{c}.example. 3600 IN NSEC3 1 0 12 AABBCCDD ")) && l.ends_with(" NS")), "{text}");
    assert_eq!(z.stats.nsec3, 13);
}

#[test]
fn nsec3_parameters_beyond_the_limits_are_refused() {
    let (zone, recs, zsk, pre) = setup();
    let mut o = opts(1);
    let mut param = crate::dnssec::denial::Nsec3Param::rfc9276();
    param.iterations = 151;
    o.denial = Denial::Nsec3 { param, opt_out: false };
    assert!(matches!(sign_zone(&zone, &recs, &pre, &[&zsk], &o), Err(SignZoneError::Nsec3Param(_))));
    let mut param = crate::dnssec::denial::Nsec3Param::rfc9276();
    param.hash_algorithm = 2;
    o.denial = Denial::Nsec3 { param, opt_out: false };
    assert!(matches!(sign_zone(&zone, &recs, &pre, &[&zsk], &o), Err(SignZoneError::Nsec3Param(_))));
}
