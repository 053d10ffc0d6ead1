//! Criterion benchmarks of the hot paths (`cargo bench`): canonical RRset
//! encoding (`RrSet::signing_input`), key tag, and one signature per
//! algorithm over a DNSKEY RRset signing input (2 ZSKs + 1 KSK). Measurement
//! times are short so the whole run takes a few minutes on 2 cores; the
//! rates that matter are measured by `kskit bench` and benches/compare.sh.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use kskit::backends::Signer;
use kskit::bench::{bench_zone, default_cases, dnskey_signing_input, soft_ksk};

fn encoding(c: &mut Criterion) {
    let k = soft_ksk(default_cases()[0]).expect("RSA-2048 key");
    let inp = dnskey_signing_input(k.dnskey(), &bench_zone()).expect("signing input");
    c.bench_function("signing_input/dnskey-rrset-rsa2048", |b| b.iter(|| inp.rrset.signing_input(std::hint::black_box(&inp.rrsig))));
    let key = k.dnskey().clone();
    c.bench_function("key_tag/rsa2048", |b| b.iter(|| std::hint::black_box(&key).key_tag()));
}

fn signatures(c: &mut Criterion) {
    let mut g = c.benchmark_group("sign");
    for case in default_cases() {
        let k = soft_ksk(case).expect("key generation");
        let inp = dnskey_signing_input(k.dnskey(), &bench_zone()).expect("signing input");
        g.bench_function(case.to_string(), |b| b.iter(|| k.sign(std::hint::black_box(&inp.data)).expect("sign")));
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2)).sample_size(20)
}

criterion_group! { name = benches; config = config(); targets = encoding, signatures }
criterion_main!(benches);
