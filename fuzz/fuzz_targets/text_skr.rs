//! Fuzzes `formats::text::parse_skr`, then runs `skr::checks::check_skr` on
//! what parses, with a trust anchor pinning every DNSKEY in the SKR and with
//! one pinning nothing, and writes it out again: none may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "shared.rs"]
mod shared;

fuzz_target!(|data: &[u8]| shared::skr(data, kskit::formats::text::parse_skr, kskit::formats::text::write_skr));
