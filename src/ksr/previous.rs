//! The previous cycle's SKR, given to the KSR chain checks
//! (`ksr verify|sign --previous-skr`), is input like any other file: before
//! its keys and times are compared with the KSR's (`KSR-CHAIN-*`), its
//! signatures are checked against the KSK side's own keys. A previous SKR
//! that was edited, or signed by another KSK, would otherwise decide whether
//! the new KSR's ZSK rollover is safe.

use crate::checks::CheckResult;
use crate::dnssec::name::{same_name, to_presentation};
use crate::ksr::model::Ksr;
use crate::skr::checks::{check_dnskey_signed, check_sig_verify, check_trust_anchor, TrustAnchor};
use crate::skr::model::Skr;

/// Check id: the previous SKR is authentic.
pub const KSR_PREVIOUS_SKR_SIGNED: &str = "KSR-PREVIOUS-SKR-SIGNED";

/// KSR-PREVIOUS-SKR-SIGNED: the previous SKR is for the KSR's zone, every
/// RRSIG in it verifies (SKR-SIG-VERIFY), every signing key is one of the KSK
/// side's KSKs (SKR-TRUST-ANCHOR, with `ksks` as the anchor), and every
/// bundle's DNSKEY RRset is signed by one of them (SKR-DNSKEY-SIGNED).
/// Reason: the chain checks trust the previous SKR's ZSKs and times (kskm
/// validates SKR(n-1) before its chain checks; RFC 4035 §5: nothing unsigned
/// is believed). `ksks` holds the DNSKEYs or DS of the KSK side's KSKs: its
/// keystore's KSKs for the zone, or the anchor file the operator gave.
pub fn check_previous_skr_signed(previous: &Skr, ksr: &Ksr, ksks: &TrustAnchor) -> CheckResult {
    let id = KSR_PREVIOUS_SKR_SIGNED;
    if !same_name(&previous.domain, &ksr.domain) {
        return CheckResult::fail(
            id,
            format!("the previous SKR is for {}, the KSR for {}", to_presentation(&previous.domain), to_presentation(&ksr.domain)),
        );
    }
    if ksks.ds.is_empty() && ksks.dnskeys.is_empty() {
        return CheckResult::fail(id, "no KSK of the KSK side to check the previous SKR's signatures against");
    }
    let n: usize = previous.bundles.iter().map(|b| b.signatures.len()).sum();
    if n == 0 {
        return CheckResult::fail(id, "the previous SKR carries no signature");
    }
    let problems: Vec<String> = [check_sig_verify(previous), check_trust_anchor(previous, ksks), check_dnskey_signed(previous, ksks)]
        .into_iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{}: {}", r.id, r.message))
        .collect();
    CheckResult::from_problems(
        id,
        problems,
        format!("the previous SKR's {n} signatures in {} bundles verify and are by the KSK side's KSKs", previous.bundles.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ksr::checks::tests::{iana_fixture, previous_skr, TestKey};

    fn anchor(keys: &[&TestKey], ksr: &Ksr) -> TrustAnchor {
        TrustAnchor { domain: ksr.domain.clone(), ds: vec![], dnskeys: keys.iter().map(|k| k.dnskey().clone()).collect() }
    }

    #[test]
    fn previous_skr_by_our_ksk_passes_tampered_or_foreign_fails() {
        let f = iana_fixture();
        let ksk = TestKey::new(257);
        let prev = previous_skr(&f, &ksk);
        let ours = anchor(&[&ksk], &f.ksr);
        let r = check_previous_skr_signed(&prev, &f.ksr, &ours);
        assert!(r.passed, "{r}");
        // Signed by another KSK: refused.
        let other = TestKey::new(257);
        let r = check_previous_skr_signed(&prev, &f.ksr, &anchor(&[&other], &f.ksr));
        assert!(!r.passed && r.message.contains("SKR-TRUST-ANCHOR"), "{r}");
        // A ZSK added to the last bundle after signing: the signature breaks.
        let mut edited = prev.clone();
        let extra = f.b.bundle_key(3600);
        edited.bundles.last_mut().unwrap().keys.push(extra);
        let r = check_previous_skr_signed(&edited, &f.ksr, &ours);
        assert!(!r.passed && r.message.contains("SKR-SIG-VERIFY"), "{r}");
        // Signatures stripped: nothing to verify is no proof.
        let mut bare = prev.clone();
        for b in &mut bare.bundles {
            b.signatures.clear();
        }
        assert!(!check_previous_skr_signed(&bare, &f.ksr, &ours).passed);
        // No KSK to check against.
        assert!(!check_previous_skr_signed(&prev, &f.ksr, &anchor(&[], &f.ksr)).passed);
    }
}
