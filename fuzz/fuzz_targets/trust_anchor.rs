//! Fuzzes the trust-anchor parser `skr::checks::parse_trust_anchor` and the
//! pinning test on what parses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(ta) = kskit::skr::checks::parse_trust_anchor(s) {
        for k in &ta.dnskeys {
            let _ = ta.pins(k);
        }
    }
});
