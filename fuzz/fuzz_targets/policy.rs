//! Fuzzes the two policy files: `config::Config::parse` (kskit.toml) and
//! `ksr::ksk_policy::KskPolicy::from_toml` (the KSK operator's policy), and
//! the accessors used on what parses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(c) = kskit::config::Config::parse(s, std::path::Path::new("/fuzz/kskit.toml")) {
        let _ = c.zone();
        let _ = c.keystore_dir();
    }
    if let Ok(p) = kskit::ksr::ksk_policy::KskPolicy::from_toml(s, "fuzz") {
        let _ = p.accepted_names();
        for a in p.algorithms.iter().flatten() {
            let _ = a.accepted_rsa_sizes();
            let _ = a.accepted_rsa_exponents();
        }
    }
});
