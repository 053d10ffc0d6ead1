//! Fuzzes `formats::text::parse_skr`, then runs `skr::checks::check_skr` on
//! what parses, with a trust anchor pinning every DNSKEY in the SKR and with
//! one pinning nothing: neither may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > kskit::formats::MAX_INPUT {
        return;
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(skr) = kskit::formats::text::parse_skr(s) {
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        let all = kskit::skr::checks::TrustAnchor {
            ds: Vec::new(),
            dnskeys: skr.bundles.iter().flat_map(|b| b.keys.iter().map(|k| k.dnskey.clone())).collect(),
            domain: skr.domain.clone(),
        };
        let none = kskit::skr::checks::TrustAnchor { ds: Vec::new(), dnskeys: Vec::new(), domain: skr.domain.clone() };
        let _ = kskit::skr::checks::check_skr(&skr, &all, None, now);
        let _ = kskit::skr::checks::check_skr(&skr, &none, None, now);
        let _ = kskit::formats::text::write_skr(&skr);
    }
});
