//! Signing-rate benchmarks and ceremony scenarios (docs/benchmarks.md).
//!
//! Rates are measured over real signing input: the RFC 4034 §3.1.8.1 data an
//! RRSIG over a DNSKEY RRset of two ZSKs and one KSK signs, built with
//! [`RrSet::signing_input`]. The raw rate calls [`Signer::sign`] directly;
//! [`crate::dnssec::sign::sign_rrset`] (what ceremonies use) also verifies
//! every signature, so the sign-and-verify rate is measured separately.
//!
//! Nothing here prints; the CLI (`kskit bench`) does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::backends::soft::{self, SoftKey};
use crate::backends::Signer;
use crate::dnssec::name::rrsig_label_count;
use crate::dnssec::pubkey::rsa_encode;
use crate::dnssec::verify::verify_raw;
use crate::dnssec::{Algorithm, DigestType, Dnskey, Name, RData, RrSet, Rrsig, FLAG_SEP, FLAG_ZONE};
use crate::ksr::generate::{generate_ksr, GenerateParams, ZskInput};
use crate::ksr::model::{Format, Ksr};
use crate::skr::sign::{sign_ksr, CdsMode, Ksk, SignOptions};
use crate::timeutil::to_rrsig_time;

/// Errors of the benchmarks.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("bad benchmark case {0:?}: use an algorithm mnemonic, optionally with /BITS (e.g. RSASHA256/3072)")]
    BadCase(String),
    #[error("{0}")]
    Backend(#[from] crate::backends::BackendError),
    #[error("{0}")]
    Dnssec(#[from] crate::dnssec::DnssecError),
    #[error("{0}")]
    Generate(#[from] crate::ksr::generate::GenerateError),
    #[error("{0}")]
    Sign(#[from] crate::skr::sign::SignError),
    #[error("{0}")]
    Other(String),
}

/// One benchmark case: an algorithm and key size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchCase {
    pub algorithm: Algorithm,
    pub bits: u32,
}

impl std::fmt::Display for BenchCase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.algorithm, self.bits)
    }
}

/// The standard cases: RSASHA256 2048, 3072 and 4096; RSASHA512 2048;
/// ECDSAP256SHA256; ECDSAP384SHA384; ED25519 (the algorithms RFC 8624 §3.1
/// recommends or allows for signing, at the key sizes kskit generates).
pub fn default_cases() -> Vec<BenchCase> {
    let c = |algorithm, bits| BenchCase { algorithm, bits };
    vec![
        c(Algorithm::RsaSha256, 2048),
        c(Algorithm::RsaSha256, 3072),
        c(Algorithm::RsaSha256, 4096),
        c(Algorithm::RsaSha512, 2048),
        c(Algorithm::EcdsaP256Sha256, 256),
        c(Algorithm::EcdsaP384Sha384, 384),
        c(Algorithm::Ed25519, 256),
    ]
}

/// Parses `ALG` (every standard case of that algorithm) or `ALG/BITS`.
pub fn parse_cases(s: &str) -> Result<Vec<BenchCase>, BenchError> {
    let bad = || BenchError::BadCase(s.to_string());
    let (alg, bits) = match s.split_once(['/', ':']) {
        Some((a, b)) => (a, Some(b.trim().parse::<u32>().map_err(|_| bad())?)),
        None => (s, None),
    };
    let algorithm: Algorithm = alg.trim().parse().map_err(|_| bad())?;
    if !algorithm.can_sign() {
        return Err(crate::dnssec::DnssecError::VerifyOnlyAlgorithm(algorithm.mnemonic()).into());
    }
    match bits {
        Some(b) => Ok(vec![BenchCase { algorithm, bits: algorithm.check_new_bits(Some(b))? }]),
        None => {
            let v: Vec<BenchCase> = default_cases().into_iter().filter(|c| c.algorithm == algorithm).collect();
            if v.is_empty() {
                Ok(vec![BenchCase { algorithm, bits: algorithm.default_bits() }])
            } else {
                Ok(v)
            }
        }
    }
}

/// The zone the benchmark records belong to.
pub fn bench_zone() -> Name {
    // A constant, valid name: parsing cannot fail.
    crate::dnssec::parse_name("example.com.").unwrap_or_else(|_| Name::root())
}

/// A ZSK DNSKEY of `alg` and `bits` for the benchmark RRsets: a freshly
/// generated key for the elliptic-curve algorithms (cheap), and for RSA a
/// public key of exponent 65537 and a random odd modulus of exactly `bits`
/// bits (RSA key generation is slow; only the size of the record matters
/// for the signing input, and a KSK never checks a ZSK's modulus).
pub fn zsk_dnskey(alg: Algorithm, bits: u32) -> Result<Dnskey, BenchError> {
    if alg.is_rsa() {
        let len = bits.div_ceil(8) as usize;
        let mut n = vec![0u8; len];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut n)
            .map_err(|_| BenchError::Other("no system randomness".into()))?;
        if let Some(first) = n.first_mut() {
            *first |= 0x80;
        }
        if let Some(last) = n.last_mut() {
            *last |= 1;
        }
        return Ok(Dnskey::new(FLAG_ZONE, alg, rsa_encode(&[1, 0, 1], &n)));
    }
    Ok(soft::generate(alg, Some(bits), FLAG_ZONE)?.dnskey().clone())
}

/// A DNSKEY RRset (two ZSKs and the KSK) and an RRSIG template over it by
/// the KSK, with the signing input.
#[derive(Debug, Clone)]
pub struct SigningInput {
    pub rrset: RrSet,
    /// The RRSIG without its signature.
    pub rrsig: Rrsig,
    /// `rrset.signing_input(&rrsig)`.
    pub data: Vec<u8>,
}

/// Builds the DNSKEY RRset of `zone` with two ZSKs of the KSK's algorithm
/// and size plus `ksk`, TTL 3600, and the RRSIG signing input for a 14-day
/// signature by `ksk` (RFC 4034 §3.1.8.1).
pub fn dnskey_signing_input(ksk: &Dnskey, zone: &Name) -> Result<SigningInput, BenchError> {
    let alg = ksk.algorithm()?;
    let bits = ksk.key_bits().unwrap_or(alg.default_bits());
    let mut rdatas = vec![RData::Dnskey(zsk_dnskey(alg, bits)?), RData::Dnskey(zsk_dnskey(alg, bits)?)];
    rdatas.push(RData::Dnskey(ksk.clone()));
    let rrset = RrSet::new(zone.clone(), 3600, rdatas)?;
    let now = OffsetDateTime::now_utc();
    let rrsig = Rrsig {
        type_covered: rrset.rtype,
        algorithm: ksk.algorithm,
        labels: rrsig_label_count(zone),
        original_ttl: rrset.ttl,
        expiration: to_rrsig_time(now + time::Duration::days(14)),
        inception: to_rrsig_time(now - time::Duration::hours(1)),
        key_tag: ksk.key_tag(),
        signer_name: zone.to_lowercase(),
        signature: Vec::new(),
    };
    let data = rrset.signing_input(&rrsig);
    Ok(SigningInput { rrset, rrsig, data })
}

/// Operations done in a measured time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub operations: u64,
    pub seconds: f64,
}

impl Rate {
    /// Operations per second.
    pub fn per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.operations as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Runs `op(thread_index)` on `threads` threads at once until `duration`
/// has passed (each thread does at least one operation) and returns the
/// operations done and the wall time. The first error stops every thread.
fn run_threads<F>(threads: usize, duration: Duration, op: F) -> Result<Rate, BenchError>
where
    F: Fn(usize) -> Result<(), BenchError> + Sync,
{
    let threads = threads.max(1);
    let barrier = Barrier::new(threads + 1);
    let stop = AtomicBool::new(false);
    let (op, barrier_ref, stop_ref) = (&op, &barrier, &stop);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                s.spawn(move || -> Result<u64, BenchError> {
                    barrier_ref.wait();
                    let mut n = 0u64;
                    loop {
                        if let Err(e) = op(i) {
                            stop_ref.store(true, Ordering::SeqCst);
                            return Err(e);
                        }
                        n += 1;
                        if stop_ref.load(Ordering::Relaxed) {
                            return Ok(n);
                        }
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        while start.elapsed() < duration && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(2).min(duration));
        }
        stop.store(true, Ordering::SeqCst);
        let mut total = 0u64;
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(n)) => total += n,
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(BenchError::Other("a benchmark thread panicked".into()));
                }
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        match first_err {
            Some(e) => Err(e),
            None => Ok(Rate { operations: total, seconds }),
        }
    })
}

/// Raw signing rate: thread `i` calls `signers[i].sign(data)` in a loop
/// (one signer per thread, e.g. one PKCS#11 session each).
pub fn measure_sign(signers: &[&dyn Signer], data: &[u8], duration: Duration) -> Result<Rate, BenchError> {
    run_threads(signers.len(), duration, |i| {
        let s = signers.get(i).ok_or_else(|| BenchError::Other("no signer for a thread".into()))?;
        s.sign(data)?;
        Ok(())
    })
}

/// Verification rate of `sig` over `data` with `key` on `threads` threads.
pub fn measure_verify(key: &Dnskey, data: &[u8], sig: &[u8], threads: usize, duration: Duration) -> Result<Rate, BenchError> {
    run_threads(threads, duration, |_| Ok(verify_raw(key, data, sig)?))
}

/// Sign-then-verify rate (what [`crate::dnssec::sign::sign_rrset`] does per
/// RRSIG): thread `i` signs with `signers[i]` and verifies the result.
pub fn measure_sign_verify(signers: &[&dyn Signer], data: &[u8], duration: Duration) -> Result<Rate, BenchError> {
    run_threads(signers.len(), duration, |i| {
        let s = signers.get(i).ok_or_else(|| BenchError::Other("no signer for a thread".into()))?;
        let sig = s.sign(data)?;
        Ok(verify_raw(s.dnskey(), data, &sig)?)
    })
}

/// The result of one case on one thread count (one JSON object of `kskit bench --json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub backend: String,
    pub algorithm: String,
    pub bits: u32,
    pub threads: usize,
    /// Raw [`Signer::sign`] calls per second (a PKCS#11 signer verifies each
    /// token signature in software inside `sign`).
    pub sign_per_sec: f64,
    pub verify_per_sec: f64,
    /// Sign and verify the result, per second (what a ceremony does per RRSIG).
    pub sign_verify_per_sec: f64,
    /// Length of the signing input in bytes.
    pub input_bytes: usize,
    /// Measured seconds per phase.
    pub seconds: f64,
}

/// Measures one case: `signers` has one signer per thread (all the same
/// key); `threads` of them are used.
pub fn run_case(backend: &str, bits: u32, signers: &[&dyn Signer], threads: usize, duration: Duration) -> Result<CaseResult, BenchError> {
    let first = signers.first().ok_or_else(|| BenchError::Other("no signer".into()))?;
    let threads = threads.clamp(1, signers.len());
    let used = signers.get(..threads).unwrap_or(signers);
    let input = dnskey_signing_input(first.dnskey(), &bench_zone())?;
    let sig = first.sign(&input.data)?;
    verify_raw(first.dnskey(), &input.data, &sig)?;
    let s = measure_sign(used, &input.data, duration)?;
    let v = measure_verify(first.dnskey(), &input.data, &sig, threads, duration)?;
    let sv = measure_sign_verify(used, &input.data, duration)?;
    Ok(CaseResult {
        backend: backend.to_string(),
        algorithm: first.algorithm().mnemonic().to_string(),
        bits,
        threads,
        sign_per_sec: s.per_sec(),
        verify_per_sec: v.per_sec(),
        sign_verify_per_sec: sv.per_sec(),
        input_bytes: input.data.len(),
        seconds: duration.as_secs_f64(),
    })
}

/// A generated software KSK (flags 257) for a case.
pub fn soft_ksk(case: BenchCase) -> Result<SoftKey, BenchError> {
    Ok(soft::generate(case.algorithm, Some(case.bits), FLAG_ZONE | FLAG_SEP)?)
}

/// The result of a scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScenarioResult {
    pub scenario: String,
    pub seconds: f64,
    /// Signatures made (or verified, for verification scenarios).
    pub signatures: u64,
    pub signatures_per_sec: f64,
    pub detail: String,
}

impl ScenarioResult {
    pub fn new(scenario: &str, seconds: f64, signatures: u64, detail: String) -> Self {
        let per = if seconds > 0.0 { signatures as f64 / seconds } else { 0.0 };
        ScenarioResult { scenario: scenario.to_string(), seconds, signatures, signatures_per_sec: per, detail }
    }
}

/// A KSR of `zone` from `from` for `days` days with a ZSK rollover in the
/// middle (the new ZSK pre-published 10 days before the old one goes): two
/// ZSKs of `alg`, TTL 3600. IANA format: 10-day bundles with 21-day
/// signatures and proof of possession by software ZSKs (as the root does);
/// text format: a bundle at each ZSK change (as Knot and BIND do).
pub fn rollover_ksr(zone: &Name, alg: Algorithm, format: Format, from: OffsetDateTime, days: i64) -> Result<Ksr, BenchError> {
    let bits = alg.default_bits();
    let mid = from + time::Duration::days(days / 2);
    let pre = time::Duration::days(10.min(days / 4).max(1));
    let (k1, k2): (Option<SoftKey>, Option<SoftKey>) = match format {
        Format::Iana => (Some(soft::generate(alg, Some(bits), FLAG_ZONE)?), Some(soft::generate(alg, Some(bits), FLAG_ZONE)?)),
        Format::Text => (None, None),
    };
    let dk = |k: &Option<SoftKey>| -> Result<Dnskey, BenchError> {
        match k {
            Some(k) => Ok(k.dnskey().clone()),
            None => zsk_dnskey(alg, bits),
        }
    };
    let zsks = vec![
        ZskInput {
            identifier: "zsk-1".into(),
            dnskey: dk(&k1)?,
            publish: from - time::Duration::days(30),
            remove: Some(mid + pre),
            signer: k1.as_ref().map(|k| k as &dyn Signer),
        },
        ZskInput {
            identifier: "zsk-2".into(),
            dnskey: dk(&k2)?,
            publish: mid - pre,
            remove: None,
            signer: k2.as_ref().map(|k| k as &dyn Signer),
        },
    ];
    let params = GenerateParams {
        domain: zone.clone(),
        from,
        until: from + time::Duration::days(days),
        format,
        bundle_interval: time::Duration::days(10),
        signature_validity: time::Duration::days(21),
        dnskey_ttl: 3600,
        request_policy: None,
    };
    let mut ksr = generate_ksr(&params, &zsks)?;
    if format == Format::Text {
        ksr.generated = Some((crate::timeutil::whole_seconds(OffsetDateTime::now_utc()), format!("kskit {}", env!("CARGO_PKG_VERSION"))));
    }
    Ok(ksr)
}

/// Scenario `ksr-year`: signs one KSR of a year of bundles with `ksks`
/// through [`sign_ksr`] (each signature verified, CDS/CDNSKEY published).
pub fn scenario_ksr_year(ksks: &[Ksk<'_>], format: Format) -> Result<(ScenarioResult, crate::skr::model::Skr, Ksr), BenchError> {
    let first = ksks.first().ok_or_else(|| BenchError::Other("no KSK".into()))?;
    let alg = first.signer.algorithm();
    let ksr = rollover_ksr(&bench_zone(), alg, format, crate::timeutil::whole_seconds(OffsetDateTime::now_utc()), 365)?;
    let opts = SignOptions { cds: CdsMode::Publish(vec![DigestType::Sha256]), ..SignOptions::default() };
    let start = Instant::now();
    let skr = sign_ksr(&ksr, ksks, &opts, &mut |_, _| {})?;
    let secs = start.elapsed().as_secs_f64();
    let sigs: usize = skr.bundles.iter().map(|b| b.signatures.len()).sum();
    let detail = format!(
        "{} KSR of 365 days, {} request bundles -> {} SKR bundles, {} KSK(s) {alg}, DNSKEY+CDS+CDNSKEY signed and verified",
        match format {
            Format::Iana => "IANA",
            Format::Text => "text",
        },
        ksr.bundles.len(),
        skr.bundles.len(),
        ksks.len()
    );
    Ok((ScenarioResult::new("ksr-year", secs, sigs as u64, detail), skr, ksr))
}

/// Scenario `verify-skr`: writes `skr` in its format, then parses it back
/// and runs every SKR check against the KSKs and the KSR (what `kskit skr
/// verify` does), timing parse and checks.
pub fn scenario_verify_skr(skr: &crate::skr::model::Skr, ksr: &Ksr, ksks: &[Dnskey]) -> Result<ScenarioResult, BenchError> {
    let text = crate::formats::write_skr(skr, skr.format);
    let ta = crate::skr::checks::TrustAnchor { domain: skr.domain.clone(), ds: vec![], dnskeys: ksks.to_vec() };
    let at = ksr.bundles.first().map(|b| b.inception).unwrap_or(OffsetDateTime::now_utc());
    let start = Instant::now();
    let back = crate::formats::parse_skr_any(text.as_bytes()).map_err(|e| BenchError::Other(format!("the SKR does not parse back: {e}")))?;
    let report = crate::skr::checks::check_skr(&back, &ta, Some(ksr), at);
    let secs = start.elapsed().as_secs_f64();
    if !report.passed() {
        return Err(BenchError::Other(format!("the benchmark SKR fails its checks:\n{}", report.to_text())));
    }
    let sigs: usize = back.bundles.iter().map(|b| b.signatures.len()).sum();
    let detail = format!("{} bytes, {} bundles, {sigs} RRSIGs: parsed and every SKR check run", text.len(), back.bundles.len());
    Ok(ScenarioResult::new("verify-skr", secs, sigs as u64, detail))
}

/// The names of the zones of a batch: `z0001.bench.example.` and so on.
pub fn batch_zone_names(n: usize) -> Vec<String> {
    let width = n.to_string().len().max(4);
    (1..=n).map(|i| format!("z{i:0width$}.bench.example.")).collect()
}

/// Text-format KSRs of 90 days for `zones` (ECDSAP256SHA256 ZSKs by
/// default, a ZSK rollover in the middle), each with its file name
/// (`ZONE.ksr`) and contents, as a ZSK side would send them.
pub fn batch_ksrs(zones: &[String], alg: Algorithm, from: OffsetDateTime) -> Result<Vec<(String, String)>, BenchError> {
    zones
        .iter()
        .map(|z| {
            let name = crate::dnssec::parse_name(z)?;
            let ksr = rollover_ksr(&name, alg, Format::Text, from, 90)?;
            Ok((format!("{}ksr", z), crate::formats::write_ksr(&ksr, Format::Text)))
        })
        .collect()
}

/// The label prefix of keys `kskit bench` generates on a token.
pub const TOKEN_LABEL_PREFIX: &str = "kskit-bench-";

/// A fresh label for a benchmark key on a token: `kskit-bench-ALG-BITS-RANDOM`.
pub fn token_label(case: BenchCase) -> String {
    let r: [u8; 4] = rand::random();
    format!("{TOKEN_LABEL_PREFIX}{}-{}-{}", case.algorithm.mnemonic().to_ascii_lowercase(), case.bits, data_encoding::HEXLOWER.encode(&r))
}

/// Removes every object labelled `label` (the benchmark key pair) from the
/// token named by `uri`, logging in with `pin`; returns how many were
/// destroyed. Refuses labels that do not start with [`TOKEN_LABEL_PREFIX`],
/// so it can never remove a real key.
pub fn remove_token_objects(
    uri: &crate::keys::keyref::Pkcs11Uri,
    pin: &crate::secrets::Secret,
    label: &str,
) -> Result<usize, BenchError> {
    if !label.starts_with(TOKEN_LABEL_PREFIX) {
        return Err(BenchError::Other(format!("refusing to remove {label:?}: not a benchmark key label")));
    }
    let opts = crate::backends::pkcs11::OpenOptions { pin: Some(pin.clone()), ..Default::default() };
    crate::backends::pkcs11::delete_objects(uri, label, &opts).map_err(|e| BenchError::Other(format!("removing benchmark key {label:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_parse() {
        assert_eq!(parse_cases("RSASHA256").unwrap().len(), 3);
        assert_eq!(parse_cases("rsasha256/3072").unwrap(), vec![BenchCase { algorithm: Algorithm::RsaSha256, bits: 3072 }]);
        assert_eq!(parse_cases("ED25519").unwrap(), vec![BenchCase { algorithm: Algorithm::Ed25519, bits: 256 }]);
        assert!(parse_cases("RSASHA256/1024").is_err());
        assert!(parse_cases("RSASHA1").is_err());
        assert!(parse_cases("NOPE").is_err());
    }

    /// The benchmark input is a real DNSKEY RRset signing input: a
    /// signature over it verifies as an RRSIG over that RRset.
    #[test]
    fn signing_input_is_a_real_dnskey_rrsig_input() {
        let k = soft_ksk(BenchCase { algorithm: Algorithm::EcdsaP256Sha256, bits: 256 }).unwrap();
        let inp = dnskey_signing_input(k.dnskey(), &bench_zone()).unwrap();
        assert_eq!(inp.rrset.rdatas.len(), 3);
        let mut sig = inp.rrsig.clone();
        sig.signature = k.sign(&inp.data).unwrap();
        crate::dnssec::verify::verify_rrsig(&inp.rrset, &sig, k.dnskey()).unwrap();
        let rsa = zsk_dnskey(Algorithm::RsaSha256, 3072).unwrap();
        assert_eq!(rsa.key_bits(), Some(3072));
    }

    #[test]
    fn rates_count_operations() {
        let k = soft_ksk(BenchCase { algorithm: Algorithm::Ed25519, bits: 256 }).unwrap();
        let r = run_case("soft", 256, &[&k, &k], 2, Duration::from_millis(30)).unwrap();
        assert!(r.sign_per_sec > 0.0 && r.verify_per_sec > 0.0 && r.sign_verify_per_sec > 0.0);
        assert_eq!(r.threads, 2);
    }
}

/// A KeyTrap-shaped input (CVE-2023-50387): `bundles` bundles, each with
/// `keys` RSASHA256 2048-bit keys all sharing one key tag (valid odd
/// moduli, so every verification attempt would run a full modular
/// exponentiation) and `sigs` junk RRSIGs naming that tag. Returned as an
/// IANA KSR (the signatures as proofs of possession) and as an SKR of the
/// same bundles, for `kskit bench --scenario keytrap` and the tests that
/// bound the verification attempts.
pub fn keytrap_inputs(zone: &Name, bundles: usize, keys: usize, sigs: usize) -> (Ksr, crate::skr::model::Skr) {
    use crate::ksr::model::{BundleKey, BundleSignature, RequestBundle};
    let mut base = vec![0x55u8; 256];
    base[0] = 0xC5;
    base[255] = 0x57;
    // +k at byte p and -k at byte p+2: the same key tag (RFC 4034
    // Appendix B sums even and odd octets apart), a different key.
    let key = |j: usize| {
        let mut n = base.clone();
        let p = 1 + j % 250;
        let k = (1 + (j / 250) % 80) as u8;
        n[p] = n[p].wrapping_add(k);
        n[p + 2] = n[p + 2].wrapping_sub(k);
        Dnskey { flags: FLAG_ZONE, protocol: 3, algorithm: Algorithm::RsaSha256.number(), public_key: rsa_encode(&[1, 0, 1], &n) }
    };
    let t0 = crate::timeutil::whole_seconds(OffsetDateTime::now_utc());
    let tag = key(0).key_tag();
    let labels = rrsig_label_count(zone);
    let mut req = Vec::with_capacity(bundles);
    let mut resp = Vec::with_capacity(bundles);
    for b in 0..bundles {
        let inception = t0 + time::Duration::days(10 * b as i64);
        let expiration = inception + time::Duration::days(21);
        let bkeys: Vec<BundleKey> = (0..keys)
            .map(|j| {
                let dnskey = key(b * keys + j);
                BundleKey { key_identifier: format!("k{b}-{j}"), key_tag: dnskey.key_tag(), ttl: 3600, dnskey }
            })
            .collect();
        let bsigs: Vec<BundleSignature> = (0..sigs)
            .map(|j| BundleSignature {
                key_identifier: None,
                ttl: 3600,
                rrsig: Rrsig {
                    type_covered: crate::dnssec::rtype::DNSKEY,
                    algorithm: Algorithm::RsaSha256.number(),
                    labels,
                    original_ttl: 3600,
                    inception: to_rrsig_time(inception),
                    expiration: to_rrsig_time(expiration),
                    key_tag: tag,
                    signer_name: zone.clone(),
                    signature: (0..256).map(|i| (i as u8) ^ (j as u8)).collect(),
                },
            })
            .collect();
        req.push(RequestBundle { id: format!("bundle-{b}"), inception, expiration: Some(expiration), keys: bkeys.clone(), signatures: bsigs.clone() });
        resp.push(crate::skr::model::ResponseBundle {
            id: format!("bundle-{b}"),
            inception,
            expiration: Some(expiration),
            keys: bkeys,
            cds: vec![],
            cds_ttl: 0,
            cdnskey: vec![],
            cdnskey_ttl: 0,
            signatures: bsigs,
        });
    }
    let ksr = Ksr { format: Format::Iana, id: "keytrap".into(), domain: zone.clone(), serial: Some(1), request_policy: None, layout: Default::default(), bundles: req, generated: None };
    let skr = crate::skr::model::Skr { format: Format::Iana, id: "keytrap".into(), domain: zone.clone(), serial: Some(1), ksk_policy: None, zsk_policy: None, layout: Default::default(), bundles: resp, generated: None };
    (ksr, skr)
}

/// Scenario `keytrap`: a KeyTrap-shaped KSR and SKR (`bundles` bundles of
/// `keys` keys sharing one key tag and `sigs` junk signatures), written,
/// parsed back and checked as `ksr verify` and `skr verify` do; reports the
/// time and the verification attempts made (docs/security.md). `format`
/// picks the file format the input is written in and read back from (the
/// IANA XML or the Knot/BIND text format), so both parsers are measured.
pub fn scenario_keytrap(bundles: usize, keys: usize, sigs: usize, format: Format) -> Result<ScenarioResult, BenchError> {
    let zone = bench_zone();
    let (mut ksr, mut skr) = keytrap_inputs(&zone, bundles, keys, sigs);
    ksr.format = format;
    skr.format = format;
    let ksr_text = crate::formats::write_ksr(&ksr, format);
    let skr_text = crate::formats::write_skr(&skr, format);
    let before = crate::dnssec::verify::verification_attempts();
    let start = Instant::now();
    let k = crate::formats::parse_ksr_any(ksr_text.as_bytes()).map_err(|e| BenchError::Other(format!("the KeyTrap KSR does not parse: {e}")))?;
    let policy = crate::ksr::ksk_policy::KskPolicy { accepted_domains: Some(vec![zone.to_ascii()]), ..Default::default() };
    let kr = crate::ksr::checks::check_ksr(&k, &policy, None, ksr.bundles.first().map(|b| b.inception).unwrap_or(OffsetDateTime::UNIX_EPOCH));
    let s = crate::formats::parse_skr_any(skr_text.as_bytes()).map_err(|e| BenchError::Other(format!("the KeyTrap SKR does not parse: {e}")))?;
    let ta = crate::skr::checks::TrustAnchor { domain: zone.clone(), ds: vec![], dnskeys: vec![] };
    let sr = crate::skr::checks::check_skr(&s, &ta, None, skr.bundles.first().map(|b| b.inception).unwrap_or(OffsetDateTime::UNIX_EPOCH));
    let secs = start.elapsed().as_secs_f64();
    let attempts = crate::dnssec::verify::verification_attempts() - before;
    if kr.passed() || sr.passed() {
        return Err(BenchError::Other("the KeyTrap input passed its checks".into()));
    }
    let detail = format!(
        "KSR {} bytes + SKR {} bytes, {bundles} bundles x {keys} keys sharing key tag {} x {sigs} junk RSASHA256 signatures: refused after {attempts} verification attempts",
        ksr_text.len(),
        skr_text.len(),
        ksr.bundles.first().and_then(|b| b.keys.first()).map(|k| k.key_tag).unwrap_or(0)
    );
    let name = if format == Format::Iana { "keytrap" } else { "keytrap-text" };
    Ok(ScenarioResult::new(name, secs, attempts, detail))
}
