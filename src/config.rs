//! `kskit.toml`: the zone, the keystore location and the signing policy.
//! Every field has a default; `kskit init` writes the commented template
//! [`TEMPLATE`]. Timing sanity is checked by [`crate::policy`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::dnssec::{Algorithm, DigestType};
use crate::keys::tag_partition::{KeytagModulo, TagPartition, TagRange};
use crate::timeutil::parse_duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {msg}")]
    Invalid { path: PathBuf, msg: String },
}

/// A duration written as `21d`, `12h`, `P21D`…, kept as text for round trips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Dur(pub Duration);

impl TryFrom<String> for Dur {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_duration(&s).map(Dur).map_err(|e| e.to_string())
    }
}
impl From<Dur> for String {
    fn from(d: Dur) -> String {
        short_duration(d.0)
    }
}

/// A duration in the short form kskit.toml uses: `21d`, `12h`, else seconds.
pub fn short_duration(d: Duration) -> String {
    let s = d.whole_seconds();
    if s % 86400 == 0 {
        format!("{}d", s / 86400)
    } else if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else {
        format!("{s}s")
    }
}
fn d(days: i64) -> Dur {
    Dur(Duration::days(days))
}
fn h(hours: i64) -> Dur {
    Dur(Duration::hours(hours))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The zones this configuration signs (the first is the default).
    pub zones: Vec<String>,
    /// Keystore directory, relative to the configuration file.
    #[serde(default = "default_keystore")]
    pub keystore: PathBuf,
    #[serde(default)]
    pub policy: Policy,
    /// PKCS#11 settings (`[pkcs11]`).
    #[serde(default, skip_serializing_if = "Pkcs11Settings::is_default")]
    pub pkcs11: Pkcs11Settings,
    /// Where this configuration was read from (not in the file).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// `[pkcs11]` in kskit.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Pkcs11Settings {
    /// Run PKCS#11 modules in a separate kskit helper process when signing
    /// (`ksr sign`, `ksr sign-batch`), as `--isolate-module` does
    /// (docs/hsm.md "Module isolation").
    pub isolate_module: bool,
}

impl Pkcs11Settings {
    fn is_default(&self) -> bool {
        *self == Pkcs11Settings::default()
    }
}

fn default_keystore() -> PathBuf {
    PathBuf::from("keystore")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeyPolicy {
    pub algorithm: Algorithm,
    pub bits: Option<u32>,
    /// Key lifetime; `0d` means unlimited (rolled by hand).
    pub lifetime: Dur,
    /// Key-tag partition of this role's keys, Knot's form: `"R/M"`, a tag
    /// `t` with `t % M == R` (docs/checks.md "Key-tag partitions").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keytag_modulo: Option<KeytagModulo>,
    /// Key-tag partition, BIND's form: `[MIN, MAX]`, inclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_range: Option<TagRange>,
}

impl Policy {
    /// The key-tag partition of keys made in `role` (a CSK takes the KSK's).
    pub fn tag_partition(&self, role: crate::keys::keystore::Role) -> TagPartition {
        match role {
            crate::keys::keystore::Role::Zsk => self.zsk.tag_partition(),
            _ => self.ksk.tag_partition(),
        }
    }
}

impl KeyPolicy {
    /// The key tags this role's keys may have (both forms when both are set).
    pub fn tag_partition(&self) -> TagPartition {
        TagPartition::new(self.keytag_modulo, self.tag_range)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CdsPublish {
    /// Never publish CDS/CDNSKEY.
    None,
    /// Only while a KSK rollover is waiting for the parent.
    Rollover,
    /// Always publish the current KSKs.
    Always,
    /// Publish the RFC 8078 delete records (go insecure).
    Delete,
}

/// How a KSK is rolled (RFC 7583 §3.3.2, §3.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum KskRollover {
    /// Publish the new KSK first, then swap the DS (RFC 7583 §3.3.2).
    #[default]
    DoubleKsk,
    /// Add the new DS first, then swap the DNSKEY (RFC 7583 §3.3.3).
    DoubleDs,
}

/// Whether the standby KSK's DS is at the parent (docs/rollover.md
/// "Standby KSK and emergency rollover").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StandbyDs {
    /// Its DS is asked for from the start (the CDS names it): an emergency
    /// needs no parent action before the switch.
    #[default]
    Published,
    /// Its DS stays away from the parent (a stolen standby is harmless
    /// until then): an emergency first waits for the parent.
    Withheld,
}

/// An instant written in RFC 3339 (`2027-07-01T00:00:00Z`), kept as text for round trips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct At(pub time::OffsetDateTime);

impl TryFrom<String> for At {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        crate::timeutil::parse_instant(&s).map(At).ok_or_else(|| format!("{s:?} is not an RFC 3339 time such as 2027-07-01T00:00:00Z"))
    }
}
impl From<At> for String {
    fn from(a: At) -> String {
        crate::timeutil::format_rfc3339(a.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    pub ksk: KeyPolicy,
    pub zsk: KeyPolicy,
    pub dnskey_ttl: Dur,
    pub ds_ttl: Dur,
    pub max_zone_ttl: Dur,
    pub zone_propagation_delay: Dur,
    pub parent_propagation_delay: Dur,
    /// Validity of the DNSKEY/CDS/CDNSKEY signatures of one bundle.
    pub signature_validity: Dur,
    /// How far before a bundle's start its signatures' inception lies.
    pub inception_offset: Dur,
    /// Signatures of the zone's other RRsets are refreshed this long before expiry.
    pub signature_refresh: Dur,
    /// A new bundle starts every `bundle_interval`; overlap = validity - interval.
    pub bundle_interval: Dur,
    /// `kskit check` warns that the next ceremony is due this long before
    /// the imported SKRs' coverage ends (docs/handoff.md).
    pub ceremony_lead: Dur,
    pub publish_safety: Dur,
    pub retire_safety: Dur,
    /// KSK side: no KSR bundle may end further than this beyond now
    /// (`KSR-HORIZON`); the bundle count and cycle bounds derive from it.
    pub ksr_horizon: Dur,
    pub cds_publish: CdsPublish,
    pub cds_digests: Vec<DigestType>,
    /// Parent authoritative servers (`ADDR[:PORT]`); empty = discover from the parent's NS.
    pub parent_servers: Vec<String>,
    pub parent_poll_interval: Dur,
    pub parent_confirmations: u32,
    /// The registry's acceptance delay: from publishing a CDS (or asking for
    /// a DS) to the new DS being expected at every parent server
    /// (docs/rollover.md "Slow parents"). Part of the plan's Dreg.
    pub parent_hold: Dur,
    /// DS or DNSKEY records of the parent zone (a file, relative to
    /// kskit.toml): when set, a parent's DS answer counts only when it
    /// validates from them (RFC 4035 §5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_trust_anchor: Option<PathBuf>,
    /// The zone's KSK is configured as a trust anchor somewhere (RFC 5011 revocation on rollover).
    pub rfc5011: bool,
    /// KSK rollover method: double-ksk (default) or double-ds.
    pub ksk_rollover: KskRollover,
    /// A standby KSK: published and self-signing in every bundle, ready for
    /// `kskit rollover emergency` (docs/rollover.md).
    pub standby_ksk: bool,
    /// The standby KSK's DS at the parent from the start (`published`) or not (`withheld`).
    pub standby_ds: StandbyDs,
    /// Planned algorithm rollover (RFC 6781 §4.1.4): the new algorithm of both KSK and ZSK...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm_rollover_to: Option<Algorithm>,
    /// ...and when it starts (absent: at the start of the plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm_rollover_start: Option<At>,
    /// Command run with `sh -c` on every rollover state change (environment:
    /// KSKIT_ZONE, KSKIT_KEY, KSKIT_OLD_STATE, KSKIT_NEW_STATE, KSKIT_EVENT,
    /// KSKIT_DS; docs/rollover.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// Size budget in bytes of a bundle's DNSKEY response with RRSIGs (DO
    /// set), checked (as a warning) at `ksr generate` and `ksr sign`.
    pub dnskey_response_budget: u32,
    /// `sign-zone`: authenticated denial of existence, NSEC or NSEC3.
    pub denial: DenialKind,
    /// `sign-zone` with NSEC3: extra hash iterations (RFC 9276: 0).
    pub nsec3_iterations: u16,
    /// `sign-zone` with NSEC3: salt in hex, `-` for none (RFC 9276: none).
    pub nsec3_salt: String,
    /// `sign-zone` with NSEC3: leave delegations without DS out of the
    /// chain (RFC 5155 §6 opt-out).
    pub nsec3_opt_out: bool,
}

/// Authenticated denial of existence for `sign-zone`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DenialKind {
    /// NSEC (RFC 4034 §4).
    #[default]
    Nsec,
    /// NSEC3 (RFC 5155).
    Nsec3,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy { algorithm: Algorithm::EcdsaP256Sha256, bits: None, lifetime: d(0), keytag_modulo: None, tag_range: None }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            ksk: KeyPolicy { lifetime: d(0), ..KeyPolicy::default() },
            zsk: KeyPolicy { lifetime: d(90), ..KeyPolicy::default() },
            dnskey_ttl: h(1),
            ds_ttl: d(1),
            max_zone_ttl: d(1),
            zone_propagation_delay: h(1),
            parent_propagation_delay: h(1),
            signature_validity: d(21),
            inception_offset: h(1),
            signature_refresh: d(7),
            bundle_interval: d(10),
            ceremony_lead: d(30),
            publish_safety: h(1),
            retire_safety: h(1),
            ksr_horizon: d(400),
            cds_publish: CdsPublish::Always,
            cds_digests: vec![DigestType::Sha256],
            parent_servers: vec![],
            parent_poll_interval: h(1),
            parent_confirmations: 3,
            parent_hold: d(3),
            parent_trust_anchor: None,
            rfc5011: false,
            ksk_rollover: KskRollover::DoubleKsk,
            standby_ksk: false,
            standby_ds: StandbyDs::Published,
            algorithm_rollover_to: None,
            algorithm_rollover_start: None,
            hook: None,
            dnskey_response_budget: crate::skr::keyset::DEFAULT_DNSKEY_RESPONSE_BUDGET,
            denial: DenialKind::Nsec,
            nsec3_iterations: 0,
            nsec3_salt: "-".into(),
            nsec3_opt_out: false,
        }
    }
}

/// The commented default configuration `kskit init` writes (`@ZONE@` replaced).
pub const TEMPLATE: &str = r#"# kskit configuration. Durations: 90d, 12h, 30m, 45s, 2w or ISO 8601 (P21D).
# Every policy value below is the default; change what your zone needs.

# The zones this configuration signs; the first is the default.
zones = ["@ZONE@"]

# Keystore directory (key metadata, age-encrypted software keys, imported SKRs),
# relative to this file.
keystore = "keystore"

[policy]
# Signing algorithms: RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519.
# bits: 2048, 3072 or 4096 for RSA; ignored for the others.
# lifetime: how long a key is active before it is rolled; 0d = never (roll by hand).
ksk = { algorithm = "ECDSAP256SHA256", lifetime = "0d" }
zsk = { algorithm = "ECDSAP256SHA256", lifetime = "90d" }
# Key-tag partitions (docs/checks.md "Key-tag partitions"): each side makes only keys with a tag in
# its own partition, and each side refuses a KSR/SKR whose other-side keys
# fall outside the other's. Knot's form, keytag_modulo = "R/M" (tag % M == R),
# and/or BIND's form, tag_range = [MIN, MAX], in the ksk and zsk tables, e.g.:
# ksk = { algorithm = "ECDSAP256SHA256", lifetime = "0d", keytag_modulo = "1/2" }
# zsk = { algorithm = "ECDSAP256SHA256", lifetime = "90d", keytag_modulo = "0/2" }

# TTLs: of the DNSKEY RRset, of the DS RRset at the parent, the largest in the zone.
dnskey_ttl = "1h"
ds_ttl = "1d"
max_zone_ttl = "1d"
# How long a change takes to reach every server of the zone, and of the parent.
zone_propagation_delay = "1h"
parent_propagation_delay = "1h"

# KSR bundles: a new bundle starts every bundle_interval; its DNSKEY, CDS and
# CDNSKEY signatures are valid for signature_validity (so consecutive bundles
# overlap by validity - interval), starting inception_offset before the bundle.
signature_validity = "21d"
bundle_interval = "10d"
inception_offset = "1h"
# Online signer: refresh other signatures this long before they expire.
signature_refresh = "7d"
# `kskit check` warns that the next KSR ceremony is due this long before the
# imported SKRs stop covering the zone.
ceremony_lead = "30d"

# RFC 7583 safety margins around key publication and retirement.
publish_safety = "1h"
retire_safety = "1h"

# KSK side: without --policy, `ksr verify|sign|sign-batch` accept KSRs only
# within this file's bounds (zones, ZSK algorithm, signature_validity,
# bundle_interval, safety margins) and no bundle ending beyond ksr_horizon.
ksr_horizon = "400d"

# CDS/CDNSKEY (RFC 7344, RFC 8078): none, rollover, always, delete.
cds_publish = "always"
cds_digests = ["sha256"]

# Parent DS polling: servers as ADDR[:PORT]; empty = discover from the parent's NS.
parent_servers = []
parent_poll_interval = "1h"
# Consecutive polls that must all see the new DS at every server.
parent_confirmations = 3
# The registry's acceptance delay: from the CDS (or the DS request) to the new
# DS at every parent server (.CH/.LI hold a CDS 3 days; .CZ 7 days when
# bootstrapping; some act on working days only). The plan waits this plus the
# polls; pre-signed bundles that withdraw a KSK wait for the real parent.
parent_hold = "3d"
# DNSSEC-validate the parent's DS answers from this file of the parent
# zone's DS or DNSKEY records (path relative to this file), e.g.:
# parent_trust_anchor = "parent-anchor.ds"

# Set when the zone's KSK is a configured trust anchor (RFC 5011 revocation).
rfc5011 = false

# Rollovers (`kskit rollover plan|status|step`, docs/rollover.md).
# KSK rollover method: double-ksk (new KSK first) or double-ds (new DS first).
ksk_rollover = "double-ksk"
# A standby KSK (generate it with `key generate --role ksk --standby` or
# `hsm keygen --role ksk --standby`): its DNSKEY is published and
# self-signed in every bundle, for `kskit rollover emergency`. Its DS is
# "published" at the parent from the start, or "withheld" (an emergency then
# waits for the parent).
standby_ksk = false
standby_ds = "published"
# Algorithm rollover of KSK and ZSK (RFC 6781 §4.1.4), e.g.:
# algorithm_rollover_to = "ECDSAP256SHA256"
# algorithm_rollover_start = "2027-07-01T00:00:00Z"
# Command run (sh -c) on every rollover state change and parent event
# (ds-needed, ds-seen, ds-gone), with KSKIT_ZONE, KSKIT_KEY, KSKIT_OLD_STATE,
# KSKIT_NEW_STATE, KSKIT_EVENT and KSKIT_DS in its environment:
# hook = "/usr/local/bin/kskit-hook"

# Warn when a bundle's DNSKEY response (with RRSIGs, DO set) exceeds this
# many bytes (checked at `ksr generate` and `ksr sign`; 1232 = the EDNS
# buffer size of DNS Flag Day 2020).
dnskey_response_budget = 1232

# `kskit sign-zone`: authenticated denial of existence, "nsec" or "nsec3"
# (RFC 5155). NSEC3 parameters follow RFC 9276: no extra iterations, no salt
# (`-`; or hex). nsec3_opt_out leaves delegations without DS out of the chain
# (RFC 5155 §6), as delegation-heavy zones (TLDs) do.
denial = "nsec"
nsec3_iterations = 0
nsec3_salt = "-"
nsec3_opt_out = false

# PKCS#11 (docs/hsm.md "Module isolation"): run the token's module in a
# separate kskit helper process when signing, as --isolate-module does.
# [pkcs11]
# isolate_module = true
"#;

impl Config {
    /// The configuration `kskit init DIR --zone Z` writes.
    pub fn template(zone: &str) -> String {
        TEMPLATE.replace("@ZONE@", zone)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut c: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), msg: e.to_string() })?;
        if c.zones.is_empty() {
            return Err(ConfigError::Invalid { path: path.to_path_buf(), msg: "`zones` must name at least one zone".into() });
        }
        for z in &c.zones {
            crate::dnssec::parse_name(z).map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), msg: e.to_string() })?;
        }
        let p = &c.policy;
        let wait = i64::from(p.parent_confirmations).checked_mul(p.parent_poll_interval.0.whole_seconds());
        if wait.is_none_or(|w| w > crate::timeutil::MAX_DURATION_SECS) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                msg: format!(
                    "parent_poll_interval × parent_confirmations ({} × {}) is out of range: at most 100 years",
                    short_duration(p.parent_poll_interval.0),
                    p.parent_confirmations
                ),
            });
        }
        if p.parent_hold.0 < time::Duration::ZERO || p.parent_hold.0.whole_seconds() > crate::timeutil::MAX_DURATION_SECS {
            return Err(ConfigError::Invalid { path: path.to_path_buf(), msg: format!("parent_hold {} is out of range: 0 to 100 years", short_duration(p.parent_hold.0)) });
        }
        let invalid = |msg: String| ConfigError::Invalid { path: path.to_path_buf(), msg };
        let (kp, zp) = (p.ksk.tag_partition(), p.zsk.tag_partition());
        kp.validate("ksk").map_err(invalid)?;
        zp.validate("zsk").map_err(invalid)?;
        if kp.is_set() && zp.is_set() && !kp.disjoint(&zp) {
            return Err(invalid(format!("the ksk key-tag partition ({kp}) and the zsk partition ({zp}) overlap: they must share no key tag")));
        }
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(&text, path)
    }

    /// The keystore directory, resolved against the configuration file's directory.
    pub fn keystore_dir(&self) -> PathBuf {
        match self.path.as_ref().and_then(|p| p.parent()) {
            Some(base) if self.keystore.is_relative() => base.join(&self.keystore),
            _ => self.keystore.clone(),
        }
    }

    /// A path from kskit.toml, resolved against the configuration file's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        match self.path.as_ref().and_then(|c| c.parent()) {
            Some(base) if p.is_relative() => base.join(p),
            _ => p.to_path_buf(),
        }
    }

    /// The default zone (the first).
    pub fn zone(&self) -> Result<crate::dnssec::Name, crate::dnssec::DnssecError> {
        crate::dnssec::parse_name(self.zones.first().map(String::as_str).unwrap_or("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_to_defaults() {
        let c = Config::parse(&Config::template("example.com."), Path::new("/x/kskit.toml")).unwrap();
        assert_eq!(c.policy, Policy::default());
        assert_eq!(c.keystore_dir(), PathBuf::from("/x/keystore"));
        assert_eq!(c.zone().unwrap().to_ascii(), "example.com.");
    }

    #[test]
    fn bad_values_are_named() {
        let e = Config::parse("zones=[\"a.\"]\n[policy]\nbundle_interval=\"ten days\"\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("bundle_interval") || e.to_string().contains("ten days"), "{e}");
        let e = Config::parse("zones=[]\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("zones"));
        let e = Config::parse("zones=[\"a.\"]\nfoo=1\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("foo"), "{e}");
    }

    #[test]
    fn key_tag_partitions_in_both_forms() {
        let c = Config::parse(
            "zones=[\"a.\"]\n[policy]\nksk={algorithm=\"ECDSAP256SHA256\",keytag_modulo=\"1/2\"}\nzsk={algorithm=\"ECDSAP256SHA256\",tag_range=[0,32767],keytag_modulo=\"0/2\"}\n",
            Path::new("k.toml"),
        )
        .unwrap();
        assert!(c.policy.ksk.tag_partition().contains(32769) && !c.policy.ksk.tag_partition().contains(2));
        assert!(c.policy.zsk.tag_partition().contains(2) && !c.policy.zsk.tag_partition().contains(32770));
        // overlapping partitions, bad syntax and empty partitions are refused, naming the key
        let e = Config::parse("zones=[\"a.\"]\n[policy]\nksk={tag_range=[0,40000]}\nzsk={tag_range=[0,32767]}\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("overlap"), "{e}");
        let e = Config::parse("zones=[\"a.\"]\n[policy]\nzsk={keytag_modulo=\"2/2\"}\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("keytag_modulo"), "{e}");
        let e = Config::parse("zones=[\"a.\"]\n[policy]\nzsk={tag_range=[9,3]}\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("tag_range"), "{e}");
        let e = Config::parse("zones=[\"a.\"]\n[policy]\nzsk={tag_range=[0,100]}\n", Path::new("k.toml")).unwrap_err();
        assert!(e.to_string().contains("zsk: the key-tag partition"), "{e}");
    }
}
