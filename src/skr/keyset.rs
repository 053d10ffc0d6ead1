//! Checks on the DNSKEY set both sides publish together: key tags that
//! collide across the two sides, and the size of the DNSKEY response a
//! resolver receives. Pure: models in, check results out. The rules and
//! the decisions (a size over budget is a warning) are in docs/checks.md.

use std::collections::BTreeMap;

use crate::checks::CheckResult;
use crate::keys::tag_partition::TagPartition;
use crate::markup::terminal_safe;
use crate::dnssec::{Algorithm, Dnskey, Name, FLAG_REVOKE};
use crate::ksr::model::Ksr;
use crate::skr::model::Skr;

/// KSR-KEYTAG-DISTINCT: no ZSK of the KSR shares a key tag with a KSK of the KSK side (or another ZSK).
pub const KSR_KEYTAG_DISTINCT: &str = "KSR-KEYTAG-DISTINCT";
/// SKR-KEYTAG-DISTINCT: no two distinct keys of an SKR share a key tag.
pub const SKR_KEYTAG_DISTINCT: &str = "SKR-KEYTAG-DISTINCT";
/// DNSKEY-RESPONSE-SIZE: a bundle's DNSKEY response fits the size budget (a warning).
pub const DNSKEY_RESPONSE_SIZE: &str = "DNSKEY-RESPONSE-SIZE";
/// KSR-KEYTAG-PARTITION: every ZSK of the KSR has a key tag in the ZSK side's partition.
pub const KSR_KEYTAG_PARTITION: &str = "KSR-KEYTAG-PARTITION";
/// SKR-KEYTAG-PARTITION: every KSK of the SKR has a key tag in the KSK side's partition.
pub const SKR_KEYTAG_PARTITION: &str = "SKR-KEYTAG-PARTITION";

/// KSR-KSK-KEYTAG-PARTITION: every KSK the KSK side signs with has a key tag in its own partition.
pub const KSR_KSK_KEYTAG_PARTITION: &str = "KSR-KSK-KEYTAG-PARTITION";

/// Every check id of this module.
pub const ALL: &[&str] = &[KSR_KEYTAG_DISTINCT, SKR_KEYTAG_DISTINCT, DNSKEY_RESPONSE_SIZE, KSR_KEYTAG_PARTITION, SKR_KEYTAG_PARTITION, KSR_KSK_KEYTAG_PARTITION];

/// The default budget: the DNS Flag Day 2020 EDNS buffer size, above which
/// a UDP response may fragment or be truncated (then retried over TCP).
pub const DEFAULT_DNSKEY_RESPONSE_BUDGET: u32 = 1232;

/// A key's identity for the tag rules: flags, algorithm and public key (a
/// revoked KSK is another DNSKEY with another tag, RFC 5011 §3).
fn ident(k: &Dnskey) -> (u16, u8, &[u8]) {
    (k.flags, k.algorithm, k.public_key.as_slice())
}

/// The tags used by more than one distinct key among `keys` (each `(label, key)`).
fn collisions<'a>(keys: impl Iterator<Item = (String, &'a Dnskey)>) -> Vec<String> {
    let mut by_tag: BTreeMap<u16, Vec<(String, &Dnskey)>> = BTreeMap::new();
    for (label, k) in keys {
        let v = by_tag.entry(k.key_tag()).or_default();
        if !v.iter().any(|(_, x)| ident(x) == ident(k)) {
            v.push((label, k));
        }
    }
    by_tag
        .into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(tag, v)| format!("key tag {tag} is shared by {}", v.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join(" and ")))
        .collect()
}

/// KSR-KEYTAG-DISTINCT: every distinct key the two sides will publish
/// together — the KSR's ZSKs and the KSK side's KSKs, each KSK also in its
/// RFC 5011 revoked form — has a key tag of its own. Validators pick the
/// keys to try by tag (RFC 4034 §5.2, Appendix B) and since KeyTrap
/// (CVE-2023-50387) limit how many keys with one tag they try, so a
/// collision can make the zone fail to validate; the ZSK side cannot see
/// the KSKs when it generates its keys, so the KSK side checks before it
/// signs. No knob.
pub fn check_ksr_keytags(ksr: &Ksr, ksks: &[Dnskey]) -> CheckResult {
    let revoked: Vec<Dnskey> = ksks
        .iter()
        .map(|k| {
            let mut r = k.clone();
            r.flags |= FLAG_REVOKE;
            r
        })
        .collect();
    let zsks = ksr.bundles.iter().flat_map(|b| b.keys.iter().map(move |k| (format!("ZSK {} (bundle {})", k.dnskey.key_tag(), b.id), &k.dnskey)));
    let ksk = ksks.iter().map(|k| (format!("KSK {}", k.key_tag()), k));
    let rev = revoked.iter().map(|k| (format!("the revoked form of a KSK ({})", k.key_tag()), k));
    let problems = collisions(zsks.chain(ksk).chain(rev));
    CheckResult::from_problems(KSR_KEYTAG_DISTINCT, problems, format!("the KSR's ZSKs and the {} KSK(s) have distinct key tags", ksks.len()))
}

/// SKR-KEYTAG-DISTINCT: no two distinct keys anywhere in the SKR — the ZSK
/// side's ZSKs and the KSK side's KSKs, across all bundles — share a key tag
/// (RFC 4034 Appendix B; KeyTrap, CVE-2023-50387, see
/// [`check_ksr_keytags`]). No knob.
pub fn check_skr_keytags(skr: &Skr) -> CheckResult {
    let keys = skr.bundles.iter().flat_map(|b| {
        b.keys.iter().map(move |k| (format!("{} {} (bundle {})", if k.dnskey.is_sep() { "KSK" } else { "ZSK" }, k.dnskey.key_tag(), b.id), &k.dnskey))
    });
    CheckResult::from_problems(SKR_KEYTAG_DISTINCT, collisions(keys), "no two distinct keys of the SKR share a key tag")
}

/// KSR-KEYTAG-PARTITION (KSK side): every ZSK in every bundle of the KSR
/// has a key tag in `zsk` (the ZSK partition the KSK side's policy sets:
/// kskit.toml `zsk.keytag_modulo` / `zsk.tag_range`, or `zsk_keytag_modulo`
/// / `zsk_tag_range` in a `--policy` file). The two sides agreed to make
/// keys in disjoint partitions (Knot's keytag-modulo, BIND's tag-range) so
/// that keys made apart cannot share a tag (RFC 4034 Appendix B; KeyTrap,
/// CVE-2023-50387); a ZSK outside its partition breaks that agreement, and
/// the next KSK the KSK side makes could collide with it. A revoked key is
/// judged by its unrevoked tag. Not applicable when no ZSK partition is set.
pub fn check_ksr_keytag_partition(ksr: &Ksr, zsk: &TagPartition) -> CheckResult {
    if !zsk.is_set() {
        return CheckResult::not_applicable(KSR_KEYTAG_PARTITION, "no ZSK key-tag partition is set (zsk keytag_modulo / tag_range)");
    }
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for b in &ksr.bundles {
        for k in &b.keys {
            let tag = TagPartition::judged_tag(&k.dnskey);
            if !zsk.contains(tag) && seen.insert(tag) {
                problems.push(format!("ZSK {tag} (first in bundle {}) is outside the ZSK partition", terminal_safe(&b.id)));
            }
        }
    }
    let n = problems.len();
    let mut r = CheckResult::from_problems(KSR_KEYTAG_PARTITION, problems, format!("every ZSK has a key tag in the ZSK partition ({zsk})"));
    if n > 0 {
        r.message = format!("{}; the ZSK partition is {zsk}", r.message);
    }
    r
}

/// KSR-KSK-KEYTAG-PARTITION (KSK side, `ksr sign` before the first
/// signature): every KSK opened to sign (and publish) the SKR has a key tag
/// in `ksk`, the KSK partition of this side's own kskit.toml
/// (`ksk.keytag_modulo` / `ksk.tag_range`). `key generate` and `hsm keygen`
/// make KSKs only in the partition, but a key made before the partition was
/// set, imported, or made by another tool may lie outside it; the ZSK side
/// would then refuse the SKR (SKR-KEYTAG-PARTITION) after the ceremony, and
/// the two sides' agreement that keys made apart cannot share a tag (RFC
/// 4034 Appendix B; KeyTrap, CVE-2023-50387) would no longer hold. A revoked
/// KSK is judged by its unrevoked tag. Not applicable when no KSK partition
/// is set.
pub fn check_ksk_keytag_partition(ksks: &[Dnskey], ksk: &TagPartition) -> CheckResult {
    if !ksk.is_set() {
        return CheckResult::not_applicable(KSR_KSK_KEYTAG_PARTITION, "no KSK key-tag partition is set (ksk keytag_modulo / tag_range)");
    }
    let mut seen = std::collections::BTreeSet::new();
    let problems: Vec<String> = ksks
        .iter()
        .map(TagPartition::judged_tag)
        .filter(|t| !ksk.contains(*t) && seen.insert(*t))
        .map(|t| format!("KSK {t} is outside this side's KSK partition ({ksk})"))
        .collect();
    CheckResult::from_problems(KSR_KSK_KEYTAG_PARTITION, problems, format!("every KSK signing has a key tag in the KSK partition ({ksk})"))
}

/// The KSK side's keys in an SKR bundle: keys with the SEP flag, and keys
/// that sign the bundle's DNSKEY RRset (by key tag and algorithm).
fn ksk_side_keys(b: &crate::skr::model::ResponseBundle) -> impl Iterator<Item = &Dnskey> {
    let signers: Vec<(u16, u8)> = b
        .signatures
        .iter()
        .filter(|s| s.rrsig.type_covered == crate::dnssec::record::rtype::DNSKEY)
        .map(|s| (s.rrsig.key_tag, s.rrsig.algorithm))
        .collect();
    b.keys.iter().map(|k| &k.dnskey).filter(move |d| d.is_sep() || signers.contains(&(d.key_tag(), d.algorithm)))
}

/// SKR-KEYTAG-PARTITION (ZSK side): every KSK of the SKR — every key with
/// the SEP flag and every key signing a DNSKEY RRset, in every bundle — has
/// a key tag in `ksk` (the KSK partition the ZSK side's kskit.toml sets:
/// `ksk.keytag_modulo` / `ksk.tag_range`). The counterpart of
/// [`check_ksr_keytag_partition`] (same reason: RFC 4034 Appendix B,
/// CVE-2023-50387); run by `skr verify` and `skr import`. A revoked KSK is
/// judged by its unrevoked tag. Not applicable when no KSK partition is set.
pub fn check_skr_keytag_partition(skr: &Skr, ksk: &TagPartition) -> CheckResult {
    if !ksk.is_set() {
        return CheckResult::not_applicable(SKR_KEYTAG_PARTITION, "no KSK key-tag partition is set (ksk keytag_modulo / tag_range)");
    }
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for b in &skr.bundles {
        for d in ksk_side_keys(b) {
            let tag = TagPartition::judged_tag(d);
            if !ksk.contains(tag) && seen.insert(tag) {
                problems.push(format!("KSK {tag} (first in bundle {}) is outside the KSK partition", terminal_safe(&b.id)));
            }
        }
    }
    let n = problems.len();
    let mut r = CheckResult::from_problems(SKR_KEYTAG_PARTITION, problems, format!("every KSK has a key tag in the KSK partition ({ksk})"));
    if n > 0 {
        r.message = format!("{}; the KSK partition is {ksk}", r.message);
    }
    r
}

/// The length of `name` in wire form (RFC 1035 §3.1).
fn name_len(name: &Name) -> usize {
    name.iter().map(|l| l.len() + 1).sum::<usize>() + 1
}

/// The signature length of an RRSIG by `key` (RFC 3110 §3: the RSA modulus
/// length; RFC 6605 §4: 64 or 96 bytes; RFC 8080 §4: 64 bytes for Ed25519), or
/// `None` for an unknown algorithm.
pub fn signature_len(key: &Dnskey) -> Option<usize> {
    match Algorithm::from_number(key.algorithm).ok()? {
        a if a.is_rsa() => key.key_bits().map(|b| b.div_ceil(8) as usize),
        Algorithm::EcdsaP384Sha384 => Some(96),
        _ => Some(64),
    }
}

/// The size in bytes of the DNS response to `zone. IN DNSKEY` with DO set:
/// header (12), question (name + 4), one DNSKEY RR per key and one RRSIG RR
/// per signature length in `sigs` — each RR's owner compressed to a 2-byte
/// pointer to the question, plus type, class, TTL and length (10) — the
/// RRSIG RDATA being 18 fixed bytes, the uncompressed signer name (RFC 4034
/// §3.1.7) and the signature; and the OPT record (11, RFC 6891 §6.1.2).
pub fn dnskey_response_size(zone: &Name, keys: &[Dnskey], sigs: &[usize]) -> usize {
    let n = name_len(zone);
    let header = 12 + n + 4;
    let dnskeys: usize = keys.iter().map(|k| 2 + 10 + 4 + k.public_key.len()).sum();
    let rrsigs: usize = sigs.iter().map(|s| 2 + 10 + 18 + n + s).sum();
    header + dnskeys + rrsigs + 11
}

/// DNSKEY-RESPONSE-SIZE over an SKR (exact: its DNSKEY RRsets and DNSKEY
/// RRSIGs): every bundle's DNSKEY response is at most `budget` bytes. A
/// larger response is served, but over UDP it may fragment (lost behind
/// some firewalls) or be truncated and retried over TCP (RFC 7766), so this
/// is a warning for the operator, not a refusal: a KSK rollover with RSA
/// keys legitimately exceeds 1232 bytes (the root's did).
pub fn check_skr_dnskey_size(skr: &Skr, budget: u32) -> CheckResult {
    let mut problems = Vec::new();
    let mut largest = 0;
    for b in &skr.bundles {
        let keys: Vec<Dnskey> = b.keys.iter().map(|k| k.dnskey.clone()).collect();
        let sigs: Vec<usize> = b.signatures.iter().filter(|s| s.rrsig.type_covered == crate::dnssec::record::rtype::DNSKEY).map(|s| s.rrsig.signature.len()).collect();
        let size = dnskey_response_size(&skr.domain, &keys, &sigs);
        largest = largest.max(size);
        if size > budget as usize {
            problems.push(format!("bundle {}: {size} bytes ({} DNSKEY, {} RRSIG) > {budget}", b.id, keys.len(), sigs.len()));
        }
    }
    CheckResult::from_problems(DNSKEY_RESPONSE_SIZE, problems, format!("every DNSKEY response fits {budget} bytes (largest {largest})"))
}

/// DNSKEY-RESPONSE-SIZE estimated at `ksr generate` (the ZSK side does not
/// know the KSKs): each KSR bundle's ZSKs plus one KSK of each of
/// `ksk_keys` (the policy's KSK algorithms and sizes, as sample keys), each
/// KSK signing once. The estimate is exact for ECDSA and Ed25519 and for an
/// RSA KSK of the given size; a KSK rollover adds a KSK and a signature.
pub fn check_ksr_dnskey_size(ksr: &Ksr, ksk_keys: &[Dnskey], budget: u32) -> CheckResult {
    let mut problems = Vec::new();
    let mut largest = 0;
    for b in &ksr.bundles {
        let mut keys: Vec<Dnskey> = b.keys.iter().map(|k| k.dnskey.clone()).collect();
        keys.extend(ksk_keys.iter().cloned());
        let sigs: Vec<usize> = ksk_keys.iter().filter_map(signature_len).collect();
        let size = dnskey_response_size(&ksr.domain, &keys, &sigs);
        largest = largest.max(size);
        if size > budget as usize {
            problems.push(format!("bundle {}: about {size} bytes with {} ZSK(s) and {} KSK(s) > {budget}", b.id, b.keys.len(), ksk_keys.len()));
        }
    }
    CheckResult::from_problems(DNSKEY_RESPONSE_SIZE, problems, format!("every DNSKEY response should fit {budget} bytes (largest about {largest})"))
}

/// A stand-in KSK DNSKEY of `alg` (RSA: `bits`) with a public key of the
/// real length, for estimating sizes before the KSKs are known.
pub fn sample_ksk(alg: Algorithm, bits: Option<u32>) -> Dnskey {
    let public_key = if alg.is_rsa() {
        // RFC 3110 §2: exponent length, exponent 65537, modulus with its top bit set.
        let n = bits.unwrap_or(2048).div_ceil(8) as usize;
        let mut k = vec![3, 1, 0, 1, 0x80];
        k.resize(4 + n.max(1), 0);
        k
    } else {
        vec![0; match alg { Algorithm::EcdsaP384Sha384 => 96, Algorithm::Ed25519 => 32, _ => 64 }]
    };
    Dnskey::new(257, alg, public_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::parse_name;

    #[test]
    fn the_signing_ksks_outside_the_ksk_partition_are_named_by_tag() {
        use crate::keys::tag_partition::KeytagModulo;
        let a = Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![1; 64]);
        let b = Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![2; 64]);
        let part = |r: u16| TagPartition::new(Some(KeytagModulo { remainder: r, modulus: 2 }), None);
        assert!(!check_ksk_keytag_partition(std::slice::from_ref(&a), &TagPartition::new(None, None)).applicable);
        let ra = part(a.key_tag() % 2);
        assert!(check_ksk_keytag_partition(std::slice::from_ref(&a), &ra).passed);
        let r = check_ksk_keytag_partition(std::slice::from_ref(&a), &part((a.key_tag() + 1) % 2));
        assert!(r.is_failure() && r.message.contains(&format!("KSK {} ", a.key_tag())), "{r}");
        // Judged by the unrevoked tag: the revoked form of a key in the partition passes.
        let mut rev = a.clone();
        rev.flags |= crate::dnssec::FLAG_REVOKE;
        assert!(check_ksk_keytag_partition(&[rev], &ra).passed);
        if b.key_tag() % 2 != a.key_tag() % 2 {
            let r = check_ksk_keytag_partition(&[a, b.clone()], &ra);
            assert!(r.is_failure() && r.message.contains(&format!("KSK {} ", b.key_tag())), "{r}");
        }
    }

    #[test]
    fn response_size_matches_a_hand_count() {
        // example.com. (13 bytes): header 12 + question 17; an ECDSA KSK and
        // ZSK (4 + 64 RDATA each, 12 RR overhead); one RRSIG (18 + 13 + 64,
        // 12 overhead); OPT 11.
        let z = parse_name("example.com.").unwrap();
        let k = Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![1; 64]);
        let zsk = Dnskey::new(256, Algorithm::EcdsaP256Sha256, vec![2; 64]);
        assert_eq!(dnskey_response_size(&z, &[k.clone(), zsk], &[64]), 12 + 17 + 2 * (12 + 68) + (12 + 18 + 13 + 64) + 11);
        assert_eq!(signature_len(&k), Some(64));
        let rsa = sample_ksk(Algorithm::RsaSha256, Some(2048));
        assert_eq!(rsa.key_bits(), Some(2048));
        assert_eq!(signature_len(&rsa), Some(256));
    }

    #[test]
    fn colliding_tags_are_named_and_the_same_key_twice_is_not_a_collision() {
        let a = Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![1; 64]);
        // Find a ZSK whose tag equals the KSK's (tags are 16 bits: search a little).
        let mut b = Dnskey::new(256, Algorithm::EcdsaP256Sha256, vec![0; 64]);
        'outer: for i in 0..=255u8 {
            for j in 0..=255u8 {
                let mut pk = vec![0; 64];
                pk[0] = i;
                pk[1] = j;
                b = Dnskey::new(256, Algorithm::EcdsaP256Sha256, pk);
                if b.key_tag() == a.key_tag() {
                    break 'outer;
                }
            }
        }
        assert_eq!(b.key_tag(), a.key_tag());
        let c = collisions([("KSK".to_string(), &a), ("ZSK".to_string(), &b)].into_iter());
        assert_eq!(c.len(), 1);
        assert!(c[0].contains(&format!("key tag {}", a.key_tag())) && c[0].contains("KSK") && c[0].contains("ZSK"), "{c:?}");
        assert!(collisions([("x".to_string(), &a), ("y".to_string(), &a)].into_iter()).is_empty());
    }

    #[test]
    fn an_skr_over_the_budget_is_named_per_bundle() {
        use crate::ksr::model::{BundleKey, Format};
        use crate::skr::model::ResponseBundle;
        let z = parse_name("example.com.").unwrap();
        let k = Dnskey::new(257, Algorithm::EcdsaP256Sha256, vec![1; 64]);
        let b = ResponseBundle {
            id: "b1".into(),
            inception: time::OffsetDateTime::UNIX_EPOCH,
            expiration: None,
            keys: vec![BundleKey { key_identifier: "k".into(), key_tag: k.key_tag(), ttl: 3600, dnskey: k.clone() }],
            cds: vec![],
            cds_ttl: 0,
            cdnskey: vec![],
            cdnskey_ttl: 0,
            signatures: vec![],
        };
        let skr = Skr { format: Format::Text, id: String::new(), domain: z.clone(), serial: None, ksk_policy: None, zsk_policy: None, bundles: vec![b], generated: None, layout: Default::default() };
        let size = dnskey_response_size(&z, &[k], &[]);
        assert!(check_skr_dnskey_size(&skr, size as u32).passed);
        let r = check_skr_dnskey_size(&skr, size as u32 - 1);
        assert!(r.is_failure() && r.message.contains("bundle b1") && r.message.contains(&format!("{size} bytes")), "{r}");
    }
}
