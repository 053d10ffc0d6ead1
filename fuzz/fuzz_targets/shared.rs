//! What the format targets share (`#[path = "shared.rs"] mod shared;`):
//! parse a KSR or SKR, run every check on what parses, write it out again.
//! None of it may panic.

#![allow(dead_code)] // each target uses one of the two

use kskit::ksr::model::Ksr;
use kskit::skr::model::Skr;

fn text(data: &[u8]) -> Option<&str> {
    if data.len() > kskit::formats::MAX_INPUT {
        return None;
    }
    std::str::from_utf8(data).ok()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)
}

/// A KSR: every KSR check with the root and the small-registry policies.
pub fn ksr<E>(data: &[u8], parse: fn(&str) -> Result<Ksr, E>, write: fn(&Ksr) -> String) {
    let Some(s) = text(data) else { return };
    if let Ok(ksr) = parse(s) {
        for policy in [kskit::ksr::ksk_policy::KskPolicy::root(), kskit::ksr::ksk_policy::KskPolicy::small_registry()] {
            let _ = kskit::ksr::checks::check_ksr(&ksr, &policy, None, now());
        }
        let _ = write(&ksr);
    }
}

/// An SKR: every SKR check with a trust anchor pinning every DNSKEY in the
/// SKR and with one pinning nothing.
pub fn skr<E>(data: &[u8], parse: fn(&str) -> Result<Skr, E>, write: fn(&Skr) -> String) {
    let Some(s) = text(data) else { return };
    if let Ok(skr) = parse(s) {
        let all = kskit::skr::checks::TrustAnchor {
            ds: Vec::new(),
            dnskeys: skr.bundles.iter().flat_map(|b| b.keys.iter().map(|k| k.dnskey.clone())).collect(),
            domain: skr.domain.clone(),
        };
        let none = kskit::skr::checks::TrustAnchor { ds: Vec::new(), dnskeys: Vec::new(), domain: skr.domain.clone() };
        let _ = kskit::skr::checks::check_skr(&skr, &all, None, now());
        let _ = kskit::skr::checks::check_skr(&skr, &none, None, now());
        let _ = write(&skr);
    }
}
