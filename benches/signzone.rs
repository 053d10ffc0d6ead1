//! Criterion benchmarks of sign-zone's hot paths (`cargo bench --bench
//! signzone`): zone-file parsing into the compact form, canonical name
//! order over wire names, the NSEC3 hash (RFC 5155 §5, 0 and 10
//! iterations), the NSEC type bitmap, the NSEC3 opt-out chain alone, and
//! whole zones of 2,000 names signed
//! with the NSEC chain and with the NSEC3 opt-out chain (Ed25519 ZSK: the
//! chains, grouping, signing input and formatting dominate less than with
//! slower algorithms, so a regression there shows). Rates that matter at
//! scale are measured by benches/compare.sh.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use kskit::backends::soft::SoftKey;
use kskit::backends::Signer;
use kskit::dnssec::denial::{nsec3_hash_wire, Nsec3Param};
use kskit::dnssec::name::{canonical_wire, parse_name};
use kskit::dnssec::presentation::{parse_records, parse_records_each};
use kskit::dnssec::{RData, Record};
use kskit::signzone::{nsec, nsec3, sign_zone, wire, Denial, SignOptions, Verify, ZoneInputBuilder};

fn zone_text(n: usize) -> String {
    let mut t = String::from("$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n");
    for i in 0..n {
        match i % 4 {
            0 => t.push_str(&format!("d{i} NS ns.hoster.net.\n")),
            1 => t.push_str(&format!("s{i} NS ns.hoster.net.\ns{i} DS {i} 13 2 {:064X}\n", i as u128 * 7919)),
            _ => t.push_str(&format!("h{i}.sub{} A 10.0.{}.{}\n", i % 17, (i >> 8) & 255, i & 255)),
        }
    }
    t
}

fn ordering_and_hash(c: &mut Criterion) {
    let zone = parse_name("example.com.").unwrap();
    let recs = parse_records(&zone_text(2000), Some(&zone), None).unwrap();
    let wires: Vec<Vec<u8>> = recs.iter().map(|r| canonical_wire(&r.name)).collect();
    c.bench_function("canonical_order/sort-2000-wire-names", |b| {
        b.iter(|| {
            let mut v: Vec<&[u8]> = wires.iter().map(|w| &w[..]).collect();
            v.sort_by(|a, b| wire::canonical_cmp(a, b));
            std::hint::black_box(v.len())
        })
    });
    let w = canonical_wire(&parse_name("h1234.sub3.example.com.").unwrap());
    c.bench_function("nsec3_hash/0-iterations", |b| b.iter(|| nsec3_hash_wire(std::hint::black_box(&w), &[], 0)));
    c.bench_function("nsec3_hash/10-iterations-salt", |b| b.iter(|| nsec3_hash_wire(std::hint::black_box(&w), &[0xab, 0xcd], 10)));
}

fn parsing_and_chains(c: &mut Criterion) {
    let zone = parse_name("example.com.").unwrap();
    let text = zone_text(2000);
    c.bench_function("parse/zone-2000-names-into-compact-form", |b| {
        b.iter(|| {
            let mut bld = ZoneInputBuilder::new(&zone, 2600);
            parse_records_each(&text, Some(&zone), None, |r| bld.push(r)).unwrap();
            bld.finish().len()
        })
    });
    c.bench_function("nsec/type-bitmap", |b| b.iter(|| nsec::type_bitmap(std::hint::black_box(&[1u16, 2, 6, 15, 16, 28, 46, 47, 48, 51, 257]))));
    // The NSEC3 chain alone: delegations (opt-out members) and authoritative names.
    let recs = parse_records(&text, Some(&zone), None).unwrap();
    let mut owners: Vec<Vec<u8>> = recs.iter().map(|r| canonical_wire(&r.name)).collect();
    owners.sort_by(|a, b| wire::canonical_cmp(a, b));
    owners.dedup();
    let apex = canonical_wire(&zone);
    let members: Vec<nsec3::Member<'_>> = owners
        .iter()
        .map(|o| nsec3::Member { owner: o, types: if o.first() == Some(&2) && o.get(1) == Some(&b'd') { None } else { Some(vec![1, 46]) } })
        .collect();
    let existing: std::collections::HashSet<&[u8]> = owners.iter().map(|o| &o[..]).collect();
    let param = Nsec3Param::rfc9276();
    c.bench_function("nsec3_chain/build-optout-2000-names", |b| {
        b.iter(|| nsec3::build(&apex, &members, &existing, &param, true).unwrap().records.len())
    });
}

fn whole_zone(c: &mut Criterion) {
    let zone = parse_name("example.com.").unwrap();
    let recs: Vec<Record> = parse_records(&zone_text(2000), Some(&zone), None).unwrap();
    let zsk = SoftKey::ed25519_from_seed(&[7u8; 32], 256).unwrap();
    let pre = vec![Record::new(zone.clone(), 3600, RData::Dnskey(zsk.dnskey().clone()))];
    let mut g = c.benchmark_group("sign_zone");
    for (label, denial) in [
        ("nsec-2000-names", Denial::Nsec),
        ("nsec3-optout-2000-names", Denial::Nsec3 { param: Nsec3Param::rfc9276(), opt_out: true }),
    ] {
        let o = SignOptions { inception: 1_800_000_000, expiration: 1_801_000_000, jitter: 3600, threads: 1, denial, verify: Verify::Sample };
        g.bench_function(label, |b| b.iter(|| sign_zone(&zone, &recs, &pre, &[&zsk], &o).unwrap().records.len()));
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(10)
}

criterion_group! { name = benches; config = config(); targets = ordering_and_hash, parsing_and_chains, whole_zone }
criterion_main!(benches);
