//! Key-tag partitioning between the two sides (docs/checks.md "Key-tag
//! partitions"): the ZSK side makes only keys whose tag lies in the ZSK
//! partition, the KSK side only keys in the KSK partition, so that keys made
//! apart (and long before they meet in one DNSKEY RRset) cannot share a tag
//! (RFC 4034 Appendix B; KeyTrap, CVE-2023-50387).
//!
//! Two forms, as the two common signers write them, each optional and
//! combinable (a tag must then satisfy both):
//!
//! * `keytag_modulo = "R/M"`: Knot DNS's `keytag-modulo` (policy section,
//!   Knot 3.3 and later): `tag % M == R`, with `R < M <= 256`.
//! * `tag_range = [MIN, MAX]`: BIND 9's `tag-range MIN MAX` (`dnssec-policy`
//!   `keys`; `dnssec-keygen -M MIN:MAX`): `MIN <= tag <= MAX`.
//!
//! A KSK's RFC 5011 revoked form is judged by the tag of its unrevoked form
//! (the key the side generated); the revoked forms' collisions are
//! KSR-/SKR-KEYTAG-DISTINCT's job. Pure: no I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dnssec::{Dnskey, FLAG_REVOKE};

/// Knot's `keytag-modulo "R/M"`: a key tag `t` is in it when `t % M == R`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeytagModulo {
    pub remainder: u16,
    pub modulus: u16,
}

/// Knot's bound on the modulus (`R < M <= 256`).
pub const MAX_MODULUS: u16 = 256;

impl std::str::FromStr for KeytagModulo {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("keytag_modulo {} is not R/M with 0 <= R < M <= {MAX_MODULUS} (Knot's keytag-modulo, e.g. \"0/2\")", crate::quote::input(s));
        let (r, m) = s.trim().split_once('/').ok_or_else(bad)?;
        let (r, m): (u16, u16) = (r.trim().parse().map_err(|_| bad())?, m.trim().parse().map_err(|_| bad())?);
        if m == 0 || m > MAX_MODULUS || r >= m {
            return Err(bad());
        }
        Ok(KeytagModulo { remainder: r, modulus: m })
    }
}

impl TryFrom<String> for KeytagModulo {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<KeytagModulo> for String {
    fn from(m: KeytagModulo) -> String {
        format!("{}/{}", m.remainder, m.modulus)
    }
}

/// BIND's `tag-range MIN MAX`: a key tag `t` is in it when `MIN <= t <= MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "[u32; 2]", into = "[u32; 2]")]
pub struct TagRange {
    pub min: u16,
    pub max: u16,
}

impl TryFrom<[u32; 2]> for TagRange {
    type Error = String;
    fn try_from([min, max]: [u32; 2]) -> Result<Self, String> {
        match (u16::try_from(min), u16::try_from(max)) {
            (Ok(lo), Ok(hi)) if lo <= hi => Ok(TagRange { min: lo, max: hi }),
            _ => Err(format!("tag_range [{min}, {max}] is not [MIN, MAX] with 0 <= MIN <= MAX <= 65535 (BIND's tag-range)")),
        }
    }
}

impl From<TagRange> for [u32; 2] {
    fn from(r: TagRange) -> [u32; 2] {
        [u32::from(r.min), u32::from(r.max)]
    }
}

/// The key tags one side may give its keys: unset (every tag), or the tags
/// that satisfy every form set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TagPartition {
    pub modulo: Option<KeytagModulo>,
    pub range: Option<TagRange>,
}

/// A partition must hold at least this many tags (1/256 of them, as Knot's
/// largest modulus gives): generation tries about 65536 / size keys.
pub const MIN_PARTITION_SIZE: u32 = 256;

/// Keys made per expected key to find one in the partition (so the chance
/// of giving up is below e^-32).
const TRIES_PER_EXPECTED: usize = 32;

impl TagPartition {
    pub fn new(modulo: Option<KeytagModulo>, range: Option<TagRange>) -> Self {
        TagPartition { modulo, range }
    }

    /// Whether any form is set (an unset partition holds every tag).
    pub fn is_set(&self) -> bool {
        self.modulo.is_some() || self.range.is_some()
    }

    /// Whether `tag` is in the partition.
    pub fn contains(&self, tag: u16) -> bool {
        self.modulo.is_none_or(|m| tag % m.modulus == m.remainder) && self.range.is_none_or(|r| (r.min..=r.max).contains(&tag))
    }

    /// The key tag a key is judged by: its own, or for a revoked KSK the
    /// tag of its unrevoked form (the key its side generated).
    pub fn judged_tag(key: &Dnskey) -> u16 {
        if key.flags & FLAG_REVOKE == 0 {
            return key.key_tag();
        }
        let mut k = key.clone();
        k.flags &= !FLAG_REVOKE;
        k.key_tag()
    }

    /// Whether `key` (by [`Self::judged_tag`]) is in the partition.
    pub fn accepts(&self, key: &Dnskey) -> bool {
        !self.is_set() || self.contains(Self::judged_tag(key))
    }

    /// How many of the 65536 tags are in the partition.
    pub fn size(&self) -> u32 {
        if !self.is_set() {
            return 65536;
        }
        (0..=u16::MAX).filter(|t| self.contains(*t)).count() as u32
    }

    /// Whether the two partitions share no tag.
    pub fn disjoint(&self, other: &TagPartition) -> bool {
        (0..=u16::MAX).all(|t| !(self.contains(t) && other.contains(t)))
    }

    /// How many keys generation may make to find one in the partition:
    /// `tries_when_unset` (the tag-collision retries) when unset, else
    /// [`TRIES_PER_EXPECTED`] times the expected number (65536 / size),
    /// and never fewer than `tries_when_unset`.
    pub fn tries(&self, tries_when_unset: usize) -> usize {
        if !self.is_set() {
            return tries_when_unset;
        }
        let expected = 65536usize.div_ceil(self.size().max(1) as usize);
        (TRIES_PER_EXPECTED * expected).max(tries_when_unset)
    }

    /// Refuses an empty partition and one too small to generate into.
    pub fn validate(&self, role: &str) -> Result<(), String> {
        if !self.is_set() {
            return Ok(());
        }
        let n = self.size();
        if n == 0 {
            return Err(format!("{role}: the key-tag partition ({self}) holds no key tag"));
        }
        if n < MIN_PARTITION_SIZE {
            return Err(format!("{role}: the key-tag partition ({self}) holds {n} key tags, fewer than {MIN_PARTITION_SIZE}: key generation would need too many tries"));
        }
        Ok(())
    }
}

impl fmt::Display for TagPartition {
    /// `key tag % 2 == 0 (keytag_modulo "0/2")`, `0 <= key tag <= 32767
    /// (tag_range [0, 32767])`, both joined with "and", or `every key tag`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(m) = self.modulo {
            parts.push(format!("key tag % {} == {} (keytag_modulo \"{}/{}\")", m.modulus, m.remainder, m.remainder, m.modulus));
        }
        if let Some(r) = self.range {
            parts.push(format!("{} <= key tag <= {} (tag_range [{}, {}])", r.min, r.max, r.min, r.max));
        }
        if parts.is_empty() {
            return f.write_str("every key tag");
        }
        f.write_str(&parts.join(" and "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modulo(s: &str) -> TagPartition {
        TagPartition::new(Some(s.parse().unwrap()), None)
    }
    fn range(min: u32, max: u32) -> TagPartition {
        TagPartition::new(None, Some(TagRange::try_from([min, max]).unwrap()))
    }

    #[test]
    fn modulo_is_knots_remainder_rule() {
        let p = modulo("0/2");
        assert!(p.contains(0) && p.contains(20326));
        assert!(p.contains(19036) && !p.contains(19037) && !p.contains(65535));
        let q = modulo("1/2");
        assert!(q.contains(65535) && !q.contains(65534));
        assert_eq!(p.size(), 32768);
        assert!(p.disjoint(&q));
        let r = modulo("3/7");
        assert!(r.contains(3) && r.contains(10) && !r.contains(4));
        assert_eq!(r.size(), (0..=u16::MAX).filter(|t| t % 7 == 3).count() as u32);
    }

    #[test]
    fn modulo_syntax_is_knots() {
        assert_eq!("1/2".parse::<KeytagModulo>().unwrap(), KeytagModulo { remainder: 1, modulus: 2 });
        assert_eq!(String::from(" 5 / 256 ".parse::<KeytagModulo>().unwrap()), "5/256");
        for bad in ["2/2", "0/0", "0/257", "1", "a/b", "-1/2", "1/2/3", ""] {
            assert!(bad.parse::<KeytagModulo>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn range_is_binds_inclusive_bounds() {
        let zsk = range(0, 32767);
        let ksk = range(32768, 65535);
        assert!(zsk.contains(0) && zsk.contains(32767) && !zsk.contains(32768));
        assert!(ksk.contains(32768) && ksk.contains(65535) && !ksk.contains(32767));
        assert_eq!(zsk.size(), 32768);
        assert!(zsk.disjoint(&ksk));
        assert!(!zsk.disjoint(&range(32767, 40000)));
        assert!(TagRange::try_from([5, 4]).is_err());
        assert!(TagRange::try_from([0, 65536]).is_err());
        assert!(TagRange::try_from([7, 7]).is_ok());
    }

    #[test]
    fn both_forms_must_hold_and_the_size_bounds_generation() {
        let both = TagPartition::new(Some("1/4".parse().unwrap()), Some(TagRange::try_from([0, 1023]).unwrap()));
        assert!(both.contains(1) && both.contains(1021) && !both.contains(2) && !both.contains(1025));
        assert_eq!(both.size(), 256);
        assert!(both.validate("zsk").is_ok());
        assert_eq!(both.tries(32), 32 * 256);
        let unset = TagPartition::default();
        assert!(!unset.is_set() && unset.contains(12345) && unset.size() == 65536);
        assert_eq!(unset.tries(32), 32);
        assert_eq!(modulo("0/2").tries(32), 64);
        // empty and too small partitions are refused, naming the role
        let empty = TagPartition::new(Some("1/2".parse().unwrap()), Some(TagRange::try_from([4, 4]).unwrap()));
        assert!(empty.validate("ksk").unwrap_err().contains("ksk: the key-tag partition"));
        let small = range(100, 200);
        assert!(small.validate("zsk").unwrap_err().contains("101 key tags"));
    }

    #[test]
    fn a_revoked_ksk_is_judged_by_its_unrevoked_tag() {
        let k = crate::backends::soft::generate(crate::dnssec::Algorithm::EcdsaP256Sha256, None, 257).unwrap();
        use crate::backends::Signer as _;
        let d = k.dnskey().clone();
        let mut revoked = d.clone();
        revoked.flags |= FLAG_REVOKE;
        assert_ne!(revoked.key_tag(), d.key_tag());
        assert_eq!(TagPartition::judged_tag(&revoked), d.key_tag());
        let only = TagPartition::new(None, Some(TagRange { min: d.key_tag(), max: d.key_tag() }));
        assert!(only.accepts(&d) && only.accepts(&revoked));
        assert!(TagPartition::default().accepts(&revoked));
    }

    #[test]
    fn display_names_both_forms() {
        assert_eq!(modulo("0/2").to_string(), "key tag % 2 == 0 (keytag_modulo \"0/2\")");
        assert_eq!(range(0, 32767).to_string(), "0 <= key tag <= 32767 (tag_range [0, 32767])");
        assert_eq!(TagPartition::default().to_string(), "every key tag");
    }
}
