//! Fuzzes the key-reference parser (`keys::keyref::KeyRef::from_str`, which
//! includes the RFC 7512 PKCS#11 URI parser): no panic, and what parses
//! prints to a string that parses again to the same reference.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(r) = s.parse::<kskit::keys::keyref::KeyRef>() {
        let printed = r.to_string();
        let again = printed.parse::<kskit::keys::keyref::KeyRef>();
        assert!(again.is_ok(), "{s:?} parsed, printed as {printed:?}, which does not parse: {again:?}");
    }
});
