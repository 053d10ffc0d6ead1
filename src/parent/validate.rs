//! Optional DNSSEC validation of a parent server's DS answer (RFC 4035 §5),
//! from a configured trust anchor for the parent zone: the parent's DNSKEY
//! RRset (asked of the same server) must carry a valid RRSIG by a key the
//! trust anchor pins, and the DS RRset a valid RRSIG by a key of that
//! validated DNSKEY RRset, signed in the name of the parent zone. Pure: the
//! answers and the time come in as data; the queries are in
//! [`super::query`].
//!
//! The trust anchor is for the parent zone itself (its DS or DNSKEY
//! records, the format of `skr::checks::parse_trust_anchor`), not the root:
//! kskit does not walk the chain from the root, and does not check denial
//! of existence (NSEC/NSEC3), so a validated poll cannot confirm an RFC 8078
//! delete (the CLI refuses that combination).

use crate::dnssec::name::{same_name, to_presentation};
use crate::dnssec::record::rtype;
use crate::dnssec::verify::{rrsig_valid_at, verify_rrsig};
use crate::dnssec::{Dnskey, Name, RData, RrSet, Rrsig};
use crate::skr::checks::TrustAnchor;

use super::{rcode_name, DsAnswer, Verdict, RCODE_NOERROR};

/// The parent zone's reply to `PARENT. IN DNSKEY` (asked with DO set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysAnswer {
    pub rcode: u16,
    pub authoritative: bool,
    /// DNSKEY records owned by the parent zone in the answer section.
    pub dnskeys: Vec<Dnskey>,
    /// RRSIGs over that DNSKEY RRset in the answer section.
    pub rrsigs: Vec<Rrsig>,
}

/// What validation needs: the parent zone's trust anchor and the time
/// (seconds since the epoch) at which signatures must be valid.
#[derive(Debug, Clone)]
pub struct Validation {
    pub anchor: TrustAnchor,
    pub at: u64,
}

impl Validation {
    /// The parent zone (the trust anchor's owner).
    pub fn parent(&self) -> &Name {
        &self.anchor.domain
    }
}

/// Whether the trust anchor pins `k`: a DS of the anchor matches it (RFC
/// 4034 §5.1.4) or the anchor lists this DNSKEY.
fn pinned(anchor: &TrustAnchor, k: &Dnskey) -> bool {
    anchor.ds.iter().any(|d| d.matches(&anchor.domain, k))
        || anchor.dnskeys.iter().any(|a| a.algorithm == k.algorithm && a.public_key == k.public_key && a.flags == k.flags)
}

/// A signature that may validate `rrset`: signed in the parent zone's name,
/// covering the RRset's type, valid at `at` (RFC 4035 §5.3.1).
fn usable_sig(sig: &Rrsig, rrset: &RrSet, parent: &Name, at: u64) -> bool {
    sig.type_covered == rrset.rtype && same_name(&sig.signer_name, parent) && rrsig_valid_at(sig, at)
}

/// PARENT-DNSKEY-VALID: the parent's DNSKEY RRset has a valid RRSIG by a
/// non-revoked key the trust anchor pins (RFC 4035 §5.2, §5.3; RFC 5011 §3
/// for revoked keys). Returns the RRset's usable zone keys.
pub fn check_parent_keys(v: &Validation, keys: &KeysAnswer) -> Result<Vec<Dnskey>, String> {
    let parent = to_presentation(v.parent());
    if keys.rcode != RCODE_NOERROR || !keys.authoritative {
        return Err(format!(
            "the DNSKEY query for {parent} gave rcode {}{}",
            rcode_name(keys.rcode),
            if keys.authoritative { "" } else { " without the AA bit" }
        ));
    }
    if keys.dnskeys.is_empty() {
        return Err(format!("{parent} has no DNSKEY RRset at this server (an unsigned parent zone?)"));
    }
    let rrset = RrSet::new(v.parent().clone(), 0, keys.dnskeys.iter().cloned().map(RData::Dnskey).collect()).map_err(|e| e.to_string())?;
    let usable: Vec<Dnskey> = keys.dnskeys.iter().filter(|k| k.is_zone_key() && !k.is_revoked()).cloned().collect();
    let anchored: Vec<&Dnskey> = usable.iter().filter(|k| pinned(&v.anchor, k)).collect();
    if anchored.is_empty() {
        return Err(format!("no key of {parent}'s DNSKEY RRset matches the parent trust anchor"));
    }
    let ok = keys
        .rrsigs
        .iter()
        .filter(|s| usable_sig(s, &rrset, v.parent(), v.at))
        .any(|s| anchored.iter().any(|k| verify_rrsig(&rrset, s, k).is_ok()));
    if ok {
        Ok(usable)
    } else {
        Err(format!("{parent}'s DNSKEY RRset has no valid RRSIG by a trust-anchored key ({} RRSIG(s) received)", keys.rrsigs.len()))
    }
}

/// PARENT-DS-VALID: the DS RRset the server gave carries a valid RRSIG,
/// signed in the parent zone's name, by a key of the parent's DNSKEY RRset
/// that [`check_parent_keys`] validated (RFC 4035 §5.3). A DS answer that
/// does not validate is "not seen", whatever it holds.
pub fn check_ds_validated(zone: &Name, v: &Validation, a: &DsAnswer) -> Result<(), Verdict> {
    let no = |why: String| Verdict { seen: false, reason: format!("DS RRset not validated: {why}") };
    let keys = match &a.parent_keys {
        None => return Err(no(format!("the DNSKEY RRset of {} was not fetched", to_presentation(v.parent())))),
        Some(Err(e)) => return Err(no(format!("the DNSKEY query for {} failed: {e}", to_presentation(v.parent())))),
        Some(Ok(k)) => k,
    };
    let valid_keys = check_parent_keys(v, keys).map_err(no)?;
    if a.ds.is_empty() {
        return Err(no("no DS RRset (denial of existence is not validated)".into()));
    }
    let rrset = RrSet::new(zone.clone(), 0, a.ds.iter().cloned().map(RData::Ds).collect()).map_err(|e| no(e.to_string()))?;
    if a.rrsigs.is_empty() {
        return Err(no("no RRSIG over it (is the parent zone signed? was DO honoured?)".into()));
    }
    let ok = a.rrsigs.iter().filter(|s| usable_sig(s, &rrset, v.parent(), v.at)).any(|s| valid_keys.iter().any(|k| verify_rrsig(&rrset, s, k).is_ok()));
    if ok {
        Ok(())
    } else {
        Err(no(format!(
            "none of its {} RRSIG(s) verifies with a validated {} key at this time",
            a.rrsigs.len(),
            rtype::name(rtype::DNSKEY)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::soft::{self, SoftKey};
    use crate::backends::Signer;
    use crate::dnssec::sign::sign_rrset;
    use crate::dnssec::{parse_name, Algorithm, DigestType, Ds};

    const AT: u64 = 1_800_000_000;

    struct Parent {
        name: Name,
        ksk: SoftKey,
        zsk: SoftKey,
        keys: KeysAnswer,
    }

    fn key(flags: u16) -> SoftKey {
        soft::generate(Algorithm::EcdsaP256Sha256, None, flags).unwrap()
    }

    fn sign(k: &SoftKey, set: &RrSet, signer: &Name, from: u64, to: u64) -> Rrsig {
        sign_rrset(k, set, signer, from as u32, to as u32).unwrap()
    }

    fn parent() -> Parent {
        let name = parse_name("example.").unwrap();
        let (ksk, zsk) = (key(257), key(256));
        let dnskeys = vec![ksk.dnskey().clone(), zsk.dnskey().clone()];
        let set = RrSet::new(name.clone(), 3600, dnskeys.iter().cloned().map(RData::Dnskey).collect()).unwrap();
        let rrsigs = vec![sign(&ksk, &set, &name, AT - 100, AT + 100)];
        Parent { name, ksk, zsk, keys: KeysAnswer { rcode: 0, authoritative: true, dnskeys, rrsigs } }
    }

    fn anchor(p: &Parent, k: &SoftKey) -> Validation {
        Validation { anchor: TrustAnchor { domain: p.name.clone(), ds: vec![k.dnskey().ds(&p.name, DigestType::Sha256)], dnskeys: vec![] }, at: AT }
    }

    fn ds_answer(p: &Parent, by: &SoftKey, signer: &Name) -> (Name, DsAnswer) {
        let zone = parse_name("child.example.").unwrap();
        let ds: Vec<Ds> = vec![key(257).dnskey().ds(&zone, DigestType::Sha256)];
        let set = RrSet::new(zone.clone(), 3600, ds.iter().cloned().map(RData::Ds).collect()).unwrap();
        let rrsigs = vec![sign(by, &set, signer, AT - 100, AT + 100)];
        (zone, DsAnswer { rcode: 0, authoritative: true, ds, ttl: None, rrsigs, parent_keys: Some(Ok(p.keys.clone())) })
    }

    #[test]
    fn a_signed_ds_validates_from_the_parent_anchor() {
        let p = parent();
        let (zone, a) = ds_answer(&p, &p.zsk, &p.name.clone());
        check_ds_validated(&zone, &anchor(&p, &p.ksk), &a).unwrap();
        // A DNSKEY trust anchor works as well as a DS.
        let v = Validation { anchor: TrustAnchor { domain: p.name.clone(), ds: vec![], dnskeys: vec![p.ksk.dnskey().clone()] }, at: AT };
        check_ds_validated(&zone, &v, &a).unwrap();
    }

    #[test]
    fn anything_that_does_not_validate_is_not_seen() {
        let p = parent();
        let name = p.name.clone();
        let (zone, good) = ds_answer(&p, &p.zsk, &name);
        let reason = |v: &Validation, a: &DsAnswer| check_ds_validated(&zone, v, a).expect_err("must not validate").reason;
        // Another trust anchor: the parent's keys are not pinned.
        assert!(reason(&anchor(&p, &key(257)), &good).contains("matches the parent trust anchor"));
        // The validation time outside the signatures' validity.
        let late = Validation { at: AT + 1000, ..anchor(&p, &p.ksk) };
        assert!(reason(&late, &good).contains("no valid RRSIG"));
        // DS signed by a key that is not in the parent's DNSKEY RRset.
        let (_, forged) = ds_answer(&p, &key(256), &name);
        assert!(reason(&anchor(&p, &p.ksk), &forged).contains("verifies"));
        // DS signed in another zone's name.
        let (_, other) = ds_answer(&p, &p.zsk, &parse_name("other.").unwrap());
        assert!(reason(&anchor(&p, &p.ksk), &other).contains("verifies"));
        // No RRSIG at all (an unsigned parent, or DO ignored).
        let unsigned = DsAnswer { rrsigs: vec![], ..good.clone() };
        assert!(reason(&anchor(&p, &p.ksk), &unsigned).contains("no RRSIG"));
        // The parent's DNSKEY RRset without its RRSIG, or not fetched.
        let bare = DsAnswer { parent_keys: Some(Ok(KeysAnswer { rrsigs: vec![], ..p.keys.clone() })), ..good.clone() };
        assert!(reason(&anchor(&p, &p.ksk), &bare).contains("DNSKEY RRset has no valid RRSIG"));
        let missing = DsAnswer { parent_keys: Some(Err("timeout".into())), ..good.clone() };
        assert!(reason(&anchor(&p, &p.ksk), &missing).contains("timeout"));
        // A changed DS record breaks the signature.
        let mut changed = good.clone();
        changed.ds[0].digest[0] ^= 1;
        assert!(reason(&anchor(&p, &p.ksk), &changed).contains("verifies"));
        // The good answer still validates (the cases above changed copies).
        check_ds_validated(&zone, &anchor(&p, &p.ksk), &good).unwrap();
    }
}
