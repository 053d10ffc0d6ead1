//! Fuzzes the zone-file presentation parser `dnssec::presentation::parse_records`
//! (with and without an origin and default TTL), and formats what parses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = kskit::dnssec::presentation::parse_records(s, None, None);
    let origin = kskit::dnssec::parse_name("example.com.").ok();
    if let Ok(records) = kskit::dnssec::presentation::parse_records(s, origin.as_ref(), Some(3600)) {
        for r in &records {
            let _ = kskit::dnssec::presentation::format_record(r);
            let _ = kskit::dnssec::presentation::format_record_multiline(r);
        }
    }
    for line in s.lines().take(8) {
        let _ = kskit::dnssec::presentation::parse_record(line);
    }
});
