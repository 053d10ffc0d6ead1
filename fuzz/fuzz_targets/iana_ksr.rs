//! Fuzzes `formats::iana::parse_ksr`, then runs every KSR check on what parses
//! (with the root and the small-registry policies) and writes it out again: none may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "shared.rs"]
mod shared;

fuzz_target!(|data: &[u8]| shared::ksr(data, kskit::formats::iana::parse_ksr, kskit::formats::iana::write_ksr));
