//! Keys: the one key-reference syntax (`keyref`), the keystore directory and
//! its metadata (`keystore`), its advisory lock (`lock`), the imported SKRs
//! (`skr_store`), the key-tag partitions of the two sides (`tag_partition`),
//! and atomic file writes (`fsutil`).

pub mod fsutil;
pub mod keyref;
pub mod keystore;
pub mod lock;
pub mod open;
pub mod skr_store;
pub mod tag_partition;

/// The key tags `zone`'s keys in `keys` use: each key's tag and, for a KSK,
/// the tag of its RFC 5011 revoked form too, so that a new key can be made
/// with a tag of its own (`backends::soft::generate_distinct`).
pub fn zone_key_tags(keys: &[keystore::KeyMeta], zone: &crate::dnssec::Name) -> Vec<u16> {
    let z = crate::dnssec::name::to_presentation(zone);
    let mut tags = Vec::new();
    for k in keys.iter().filter(|k| k.zone.eq_ignore_ascii_case(&z)) {
        tags.push(k.key_tag);
        if let (true, Ok(mut d)) = (k.flags & crate::dnssec::FLAG_SEP != 0, k.dnskey()) {
            d.flags |= crate::dnssec::FLAG_REVOKE;
            tags.push(d.key_tag());
        }
    }
    tags
}
