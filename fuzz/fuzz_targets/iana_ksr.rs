//! Fuzzes `formats::iana::parse_ksr`, then runs every KSR check on what parses
//! (with the root and the small-registry policies): neither may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > kskit::formats::MAX_INPUT {
        return;
    }
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(ksr) = kskit::formats::iana::parse_ksr(s) {
        let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        for policy in [kskit::ksr::ksk_policy::KskPolicy::root(), kskit::ksr::ksk_policy::KskPolicy::small_registry()] {
            let _ = kskit::ksr::checks::check_ksr(&ksr, &policy, None, now);
        }
        // What parses must also write out without panicking.
        let _ = kskit::formats::iana::write_ksr(&ksr);
    }
});
