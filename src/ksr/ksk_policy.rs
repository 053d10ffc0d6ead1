//! The KSK operator's acceptance policy for incoming KSRs (what kskm calls the
//! "request policy" of its configuration), read from TOML.
//!
//! The KSK side's bounds are binding: the KSR's own request policy is a
//! claim, checked against them (`KSR-REQUEST-POLICY`), never a bound. The
//! CLI takes the policy from `--policy`, else from the KSK side's kskit.toml
//! ([`KskPolicy::from_config`]), else [`KskPolicy::default`]. Every bound
//! is optional; a bound left unset takes a default that depends on the
//! format of the KSR it is applied to (see [`KskPolicy::effective`]):
//!
//! * IANA XML KSRs: the root zone's practice (root DPS §5.1.4 / §6.5 and
//!   the defaults of the IANA `kskm` tools): 9 bundles, a cycle of 79–81
//!   days, inceptions 9–11 days apart, 1–2 keys per bundle, at most 3
//!   distinct keys, signature validity exactly 21 days, overlap 9–12 days,
//!   publish and retire safety 10 days, no signature expiring more than 180
//!   days ahead.
//! * Text-format KSRs (Knot DNS, BIND 9.20) carry no policy, no bundle
//!   expiration and bundles at key-state changes rather than at a fixed
//!   rhythm; the defaults accept what Knot (`zsk-lifetime 30d`,
//!   `rrsig-lifetime 14d`, `dnskey-ttl 3600`) and BIND 9.20 (`dnssec-ksr`
//!   with its default `dnssec-policy` timings) produce: at least one bundle,
//!   1–2 keys per bundle, no cycle or interval bounds, publish/retire safety
//!   of the DNSKEY TTL (RFC 7583 §3.3.1), and a horizon of 366 days.
//!
//! Unset `accepted_domains` means the root only.
//!
//! Algorithms default to those RFC 8624 §3.1 recommends for signing:
//! RSASHA256 and RSASHA512 (2048–4096 bits, exponent 65537),
//! ECDSAP256SHA256, ECDSAP384SHA384 and ED25519.

use std::path::Path;

use serde::{Deserialize, Deserializer};
use time::Duration;

use crate::dnssec::{parse_name, Algorithm, Name};
use crate::ksr::model::{Format, Ksr};
use crate::timeutil::{format_iso_duration, parse_duration};

/// Errors loading a KSK policy file.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read KSK policy {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("bad KSK policy {path}: {msg}")]
    Parse { path: String, msg: String },
    #[error("bad KSK policy {path}: {msg}")]
    Invalid { path: String, msg: String },
}

/// One algorithm the KSK operator accepts for ZSKs, with its parameters.
/// For RSA, `rsa_sizes` and `rsa_exponents` restrict the modulus size and
/// public exponent (empty: 2048, 3072, 4096 bits and exponent 65537). For
/// ECDSA and EdDSA the curve is fixed by the algorithm (P-256, P-384,
/// Ed25519, RFC 6605 / RFC 8080).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovedAlgorithm {
    pub algorithm: Algorithm,
    #[serde(default)]
    pub rsa_sizes: Vec<u32>,
    #[serde(default)]
    pub rsa_exponents: Vec<u64>,
}

impl ApprovedAlgorithm {
    pub fn new(algorithm: Algorithm) -> Self {
        ApprovedAlgorithm {
            algorithm,
            rsa_sizes: Vec::new(),
            rsa_exponents: Vec::new(),
        }
    }

    /// The approved parameters of a configured key algorithm: for RSA the
    /// configured size (default 2048) with exponent 65537.
    pub fn for_key(algorithm: Algorithm, bits: Option<u32>) -> Self {
        let mut a = ApprovedAlgorithm::new(algorithm);
        if algorithm.is_rsa() {
            a.rsa_sizes = vec![bits.unwrap_or(algorithm.default_bits())];
            a.rsa_exponents = vec![65537];
        }
        a
    }

    /// The RSA sizes accepted (the explicit list or 2048/3072/4096).
    pub fn accepted_rsa_sizes(&self) -> Vec<u32> {
        if self.rsa_sizes.is_empty() {
            self.algorithm.allowed_new_bits().to_vec()
        } else {
            self.rsa_sizes.clone()
        }
    }

    /// The RSA exponents accepted (the explicit list or 65537).
    pub fn accepted_rsa_exponents(&self) -> Vec<u64> {
        if self.rsa_exponents.is_empty() {
            vec![65537]
        } else {
            self.rsa_exponents.clone()
        }
    }
}

/// The KSK operator's policy for accepting a KSR. See the module docs for
/// the defaults of unset fields, and docs/checks.md for which check uses
/// which field. Durations are ISO 8601 (`P21D`) or short (`21d`, `12h`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KskPolicy {
    /// Domains whose KSRs are accepted (`KSR-DOMAIN`). Unset: the root only.
    pub accepted_domains: Option<Vec<String>>,
    /// Bounds on the number of bundles (`KSR-BUNDLE-COUNT`).
    pub min_bundles: Option<usize>,
    pub max_bundles: Option<usize>,
    /// Bounds on first-to-last bundle inception (`KSR-CYCLE-DURATION`).
    #[serde(deserialize_with = "de_opt_duration")]
    pub min_cycle_duration: Option<Duration>,
    #[serde(deserialize_with = "de_opt_duration")]
    pub max_cycle_duration: Option<Duration>,
    /// Bounds on keys per bundle (`KSR-KEYS-PER-BUNDLE`).
    pub min_keys_per_bundle: Option<usize>,
    pub max_keys_per_bundle: Option<usize>,
    /// Upper bound on distinct keys over all bundles (`KSR-DISTINCT-KEYS`).
    pub max_distinct_keys: Option<usize>,
    /// Accepted ZSK algorithms (`KSR-ALGORITHM`).
    pub algorithms: Option<Vec<ApprovedAlgorithm>>,
    /// Bounds on bundle validity, expiration − inception (`KSR-SIG-VALIDITY`);
    /// the KSR's request policy is checked against them (`KSR-REQUEST-POLICY`).
    #[serde(deserialize_with = "de_opt_duration")]
    pub min_signature_validity: Option<Duration>,
    #[serde(deserialize_with = "de_opt_duration")]
    pub max_signature_validity: Option<Duration>,
    /// Bounds on the overlap of consecutive bundles (`KSR-BUNDLE-OVERLAP`,
    /// `KSR-CHAIN-OVERLAP`); the request policy is checked against them.
    #[serde(deserialize_with = "de_opt_duration")]
    pub min_overlap: Option<Duration>,
    #[serde(deserialize_with = "de_opt_duration")]
    pub max_overlap: Option<Duration>,
    /// Bounds on the time between consecutive inceptions (`KSR-INCEPTION-INTERVAL`).
    #[serde(deserialize_with = "de_opt_duration")]
    pub min_inception_interval: Option<Duration>,
    #[serde(deserialize_with = "de_opt_duration")]
    pub max_inception_interval: Option<Duration>,
    /// How long a ZSK must have been published before the KSR's first bundle
    /// (`KSR-CHAIN-PUBLISH-SAFETY`) and stay published after it
    /// (`KSR-CHAIN-RETIRE-SAFETY`). Unset: 10 days (IANA), the DNSKEY TTL (text).
    #[serde(deserialize_with = "de_opt_duration")]
    pub publish_safety: Option<Duration>,
    #[serde(deserialize_with = "de_opt_duration")]
    pub retire_safety: Option<Duration>,
    /// No bundle may expire further than this beyond `now` (`KSR-HORIZON`).
    #[serde(deserialize_with = "de_opt_duration")]
    pub horizon: Option<Duration>,
    /// Fail `KSR-POP` for KSRs that carry no proof of possession (the text
    /// format) instead of reporting it as not applicable. Unset: false.
    pub require_proof_of_possession: Option<bool>,
    /// Verification limits (`KSR-VERIFY-LIMITS`, docs/security.md, KeyTrap
    /// CVE-2023-50387): keys of a bundle sharing one key tag and algorithm,
    /// signatures per bundle, failed verifications per bundle and per KSR.
    /// Unset: [`crate::dnssec::verify::VerifyLimits::default`].
    pub max_keys_sharing_tag: Option<usize>,
    pub max_signatures_per_bundle: Option<usize>,
    pub max_failed_verifications_per_bundle: Option<usize>,
    pub max_failed_verifications: Option<usize>,
    /// The ZSK side's key-tag partition (`KSR-KEYTAG-PARTITION`; docs/checks.md
    /// "Key-tag partitions"): Knot's form `"R/M"` (tag % M == R) and/or
    /// BIND's form `[MIN, MAX]`. Unset: any tag. From kskit.toml: the `zsk`
    /// table's `keytag_modulo` / `tag_range`.
    pub zsk_keytag_modulo: Option<crate::keys::tag_partition::KeytagModulo>,
    pub zsk_tag_range: Option<crate::keys::tag_partition::TagRange>,
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => parse_duration(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A lower and upper bound with where each comes from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound<T> {
    pub min: Option<T>,
    pub max: Option<T>,
    /// `kskit policy`, `default for IANA KSRs (root practice)`, ...
    pub source: String,
}

impl<T> Bound<T> {
    fn new(min: Option<T>, max: Option<T>, source: impl Into<String>) -> Self {
        Bound {
            min,
            max,
            source: source.into(),
        }
    }
    pub fn is_unbounded(&self) -> bool {
        self.min.is_none() && self.max.is_none()
    }
}

impl Bound<Duration> {
    /// A problem description when `v` is out of bounds.
    pub fn violation(&self, v: Duration) -> Option<String> {
        if let Some(min) = self.min {
            if v < min {
                return Some(format!(
                    "{} < minimum {} ({})",
                    fmt_dur(v),
                    fmt_dur(min),
                    self.source
                ));
            }
        }
        if let Some(max) = self.max {
            if v > max {
                return Some(format!(
                    "{} > maximum {} ({})",
                    fmt_dur(v),
                    fmt_dur(max),
                    self.source
                ));
            }
        }
        None
    }
    pub fn describe(&self) -> String {
        format!(
            "[{}, {}] ({})",
            self.min.map(fmt_dur).unwrap_or("-".into()),
            self.max.map(fmt_dur).unwrap_or("-".into()),
            self.source
        )
    }
}

impl Bound<usize> {
    pub fn violation(&self, v: usize) -> Option<String> {
        if let Some(min) = self.min {
            if v < min {
                return Some(format!("{v} < minimum {min} ({})", self.source));
            }
        }
        if let Some(max) = self.max {
            if v > max {
                return Some(format!("{v} > maximum {max} ({})", self.source));
            }
        }
        None
    }
    pub fn describe(&self) -> String {
        format!(
            "[{}, {}] ({})",
            self.min.map(|v| v.to_string()).unwrap_or("-".into()),
            self.max.map(|v| v.to_string()).unwrap_or("-".into()),
            self.source
        )
    }
}

/// Formats a duration as ISO 8601 (`P21D`).
pub fn fmt_dur(d: Duration) -> String {
    format_iso_duration(d)
}

/// The bounds that apply to one KSR: the policy's explicit values, the
/// KSR's request policy, and the format's defaults, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectivePolicy {
    /// Accepted domains as written (parsed by `KSR-DOMAIN`, which reports bad ones).
    pub accepted_domains: Vec<String>,
    pub bundles: Bound<usize>,
    pub cycle_duration: Bound<Duration>,
    pub keys_per_bundle: Bound<usize>,
    pub distinct_keys: Bound<usize>,
    pub algorithms: Vec<ApprovedAlgorithm>,
    /// The KSK side's validity bound (one entry; never the request policy's).
    pub signature_validity: Vec<Bound<Duration>>,
    pub overlap: Vec<Bound<Duration>>,
    pub inception_interval: Bound<Duration>,
    pub publish_safety: Bound<Duration>,
    pub retire_safety: Bound<Duration>,
    pub horizon: Option<Duration>,
    pub require_proof_of_possession: bool,
}

const KSK: &str = "KSK policy";

impl KskPolicy {
    /// The root zone's practice, explicitly (root DPS, IANA kskm defaults):
    /// domain `.`, exactly 9 bundles, 79–81 day cycle, 9–11 days between
    /// inceptions, 1–2 keys per bundle, at most 3 distinct keys, RSASHA256
    /// 2048-bit with exponent 65537 only, signature validity exactly 21 days,
    /// overlap 9–12 days, publish and retire safety 10 days, horizon 180 days.
    pub fn root() -> Self {
        KskPolicy {
            accepted_domains: Some(vec![".".into()]),
            min_bundles: Some(9),
            max_bundles: Some(9),
            min_cycle_duration: Some(Duration::days(79)),
            max_cycle_duration: Some(Duration::days(81)),
            min_keys_per_bundle: Some(1),
            max_keys_per_bundle: Some(2),
            max_distinct_keys: Some(3),
            algorithms: Some(vec![ApprovedAlgorithm {
                algorithm: Algorithm::RsaSha256,
                rsa_sizes: vec![2048],
                rsa_exponents: vec![65537],
            }]),
            min_signature_validity: Some(Duration::days(21)),
            max_signature_validity: Some(Duration::days(21)),
            min_overlap: Some(Duration::days(9)),
            max_overlap: Some(Duration::days(12)),
            min_inception_interval: Some(Duration::days(9)),
            max_inception_interval: Some(Duration::days(11)),
            publish_safety: Some(Duration::days(10)),
            retire_safety: Some(Duration::days(10)),
            horizon: Some(Duration::days(180)),
            require_proof_of_possession: Some(true),
            ..KskPolicy::default()
        }
    }

    /// A preset for a small registry (a TLD or enterprise zone) holding a
    /// KSK ceremony a few times a year, with KSRs from Knot, BIND or kskit in
    /// either format. `accepted_domains` is left empty on purpose: set it to
    /// your zones, or `KSR-DOMAIN` fails. Bounds: 1–200 bundles; a cycle of
    /// at most 400 days; at most 3 keys per bundle (room for an algorithm
    /// rollover) and 6 distinct keys; the default algorithm set; bundle
    /// signature validity (IANA format) 7–31 days with 1–14 days overlap;
    /// at most 92 days between inceptions; publish and retire safety of one
    /// hour; horizon 400 days; proof of possession not required (the text
    /// format has none).
    pub fn small_registry() -> Self {
        KskPolicy {
            accepted_domains: Some(Vec::new()),
            min_bundles: Some(1),
            max_bundles: Some(200),
            min_cycle_duration: None,
            max_cycle_duration: Some(Duration::days(400)),
            min_keys_per_bundle: Some(1),
            max_keys_per_bundle: Some(3),
            max_distinct_keys: Some(6),
            algorithms: None,
            min_signature_validity: Some(Duration::days(7)),
            max_signature_validity: Some(Duration::days(31)),
            min_overlap: Some(Duration::days(1)),
            max_overlap: Some(Duration::days(14)),
            min_inception_interval: None,
            max_inception_interval: Some(Duration::days(92)),
            publish_safety: Some(Duration::hours(1)),
            retire_safety: Some(Duration::hours(1)),
            horizon: Some(Duration::days(400)),
            require_proof_of_possession: Some(false),
            ..KskPolicy::default()
        }
    }

    /// The KSK side's bounds derived from its own kskit.toml (used when no
    /// `--policy` file is given): the configured zones only (the root only
    /// when it is configured); ZSKs of the configured ZSK algorithm (RSA:
    /// the configured size, exponent 65537) and of `algorithm_rollover_to`;
    /// bundle signature validity between `bundle_interval` and
    /// `signature_validity`, overlap at most `signature_validity −
    /// bundle_interval`; inceptions at most `bundle_interval` apart (IANA
    /// format: the text format's bundles follow key events); at most 1–2
    /// keys per bundle (3 during an algorithm rollover); the horizon
    /// `ksr_horizon` and as many bundles as fit in it; publish and retire
    /// safety as configured.
    pub fn from_config(cfg: &crate::config::Config) -> Self {
        let p = &cfg.policy;
        let mut algorithms = vec![ApprovedAlgorithm::for_key(p.zsk.algorithm, p.zsk.bits)];
        if let Some(to) = p.algorithm_rollover_to {
            if to != p.zsk.algorithm {
                algorithms.push(ApprovedAlgorithm::for_key(to, p.ksk.bits.or(p.zsk.bits)));
            }
        }
        let rolling = algorithms.len() > 1;
        let validity = p.signature_validity.0;
        let interval = p.bundle_interval.0;
        let horizon = p.ksr_horizon.0;
        let per = |d: Duration| -> usize {
            if d <= Duration::ZERO {
                return 1;
            }
            usize::try_from(horizon.whole_seconds() / d.whole_seconds().max(1)).unwrap_or(usize::MAX).saturating_add(1)
        };
        let lifetime = p.zsk.lifetime.0;
        let distinct = if lifetime > Duration::ZERO { per(lifetime).saturating_add(2) } else { 3 };
        KskPolicy {
            accepted_domains: Some(cfg.zones.clone()),
            min_bundles: Some(1),
            max_bundles: Some(per(interval)),
            min_cycle_duration: None,
            max_cycle_duration: Some(horizon),
            min_keys_per_bundle: Some(1),
            max_keys_per_bundle: Some(if rolling { 3 } else { 2 }),
            max_distinct_keys: Some(if rolling { distinct.saturating_mul(2) } else { distinct }),
            algorithms: Some(algorithms),
            min_signature_validity: Some(interval.min(validity)),
            max_signature_validity: Some(validity),
            min_overlap: Some(Duration::ZERO),
            max_overlap: Some((validity - interval).max(Duration::ZERO)),
            min_inception_interval: None,
            // kskit's IANA KSRs start a bundle every bundle_interval; Knot's
            // and BIND's text KSRs at key events, at most a ZSK lifetime apart.
            max_inception_interval: Some(interval.max(lifetime)),
            publish_safety: Some(p.publish_safety.0),
            retire_safety: Some(p.retire_safety.0),
            horizon: Some(horizon),
            require_proof_of_possession: None,
            zsk_keytag_modulo: p.zsk.keytag_modulo,
            zsk_tag_range: p.zsk.tag_range,
            ..KskPolicy::default()
        }
    }

    /// The default algorithm set (RFC 8624 §3.1 signing recommendations).
    pub fn default_algorithms() -> Vec<ApprovedAlgorithm> {
        [
            Algorithm::RsaSha256,
            Algorithm::RsaSha512,
            Algorithm::EcdsaP256Sha256,
            Algorithm::EcdsaP384Sha384,
            Algorithm::Ed25519,
        ]
        .into_iter()
        .map(ApprovedAlgorithm::new)
        .collect()
    }

    /// Parses a policy from TOML text and validates it.
    pub fn from_toml(text: &str, origin: &str) -> Result<KskPolicy, PolicyError> {
        let p: KskPolicy = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: origin.into(),
            msg: e.to_string(),
        })?;
        p.validate().map_err(|msg| PolicyError::Invalid {
            path: origin.into(),
            msg,
        })?;
        Ok(p)
    }

    /// Checks the policy is coherent: domains parse, min ≤ max, algorithms can sign.
    pub fn validate(&self) -> Result<(), String> {
        for d in self.accepted_domains.iter().flatten() {
            parse_name(d).map_err(|e| format!("accepted_domains: {e}"))?;
        }
        let pairs_u = [
            ("bundles", self.min_bundles, self.max_bundles),
            (
                "keys_per_bundle",
                self.min_keys_per_bundle,
                self.max_keys_per_bundle,
            ),
        ];
        for (n, a, b) in pairs_u {
            if let (Some(a), Some(b)) = (a, b) {
                if a > b {
                    return Err(format!("min_{n} {a} > max_{n} {b}"));
                }
            }
        }
        let pairs_d = [
            (
                "cycle_duration",
                self.min_cycle_duration,
                self.max_cycle_duration,
            ),
            (
                "signature_validity",
                self.min_signature_validity,
                self.max_signature_validity,
            ),
            ("overlap", self.min_overlap, self.max_overlap),
            (
                "inception_interval",
                self.min_inception_interval,
                self.max_inception_interval,
            ),
        ];
        for (n, a, b) in pairs_d {
            if let (Some(a), Some(b)) = (a, b) {
                if a > b {
                    return Err(format!("min_{n} {} > max_{n} {}", fmt_dur(a), fmt_dur(b)));
                }
            }
            if a.is_some_and(|v| v.is_negative()) || b.is_some_and(|v| v.is_negative()) {
                return Err(format!("{n} bounds must not be negative"));
            }
        }
        self.zsk_tag_partition().validate("zsk_keytag_modulo/zsk_tag_range")?;
        for a in self.algorithms.iter().flatten() {
            if !a.algorithm.can_sign() {
                return Err(format!(
                    "algorithm {} must not be approved for new signatures (RFC 8624 §3.1)",
                    a.algorithm
                ));
            }
            if !a.algorithm.is_rsa() && (!a.rsa_sizes.is_empty() || !a.rsa_exponents.is_empty()) {
                return Err(format!(
                    "rsa_sizes/rsa_exponents given for non-RSA algorithm {}",
                    a.algorithm
                ));
            }
        }
        Ok(())
    }

    /// The ZSK side's key-tag partition (unset: every tag).
    pub fn zsk_tag_partition(&self) -> crate::keys::tag_partition::TagPartition {
        crate::keys::tag_partition::TagPartition::new(self.zsk_keytag_modulo, self.zsk_tag_range)
    }

    /// Resolves the bounds that apply to `ksr` (see the module docs).
    pub fn effective(&self, ksr: &Ksr) -> EffectivePolicy {
        let iana = ksr.format == Format::Iana;
        let root = "default for IANA KSRs (root practice)";
        let text = "default for text KSRs";
        let fmt_src = if iana { root } else { text };

        let pick_u =
            |min: Option<usize>, max: Option<usize>, dmin: Option<usize>, dmax: Option<usize>| {
                if min.is_some() || max.is_some() {
                    Bound::new(min, max, KSK)
                } else {
                    Bound::new(dmin, dmax, fmt_src)
                }
            };
        let pick_d = |min: Option<Duration>,
                      max: Option<Duration>,
                      dmin: Option<Duration>,
                      dmax: Option<Duration>| {
            if min.is_some() || max.is_some() {
                Bound::new(min, max, KSK)
            } else {
                Bound::new(dmin, dmax, fmt_src)
            }
        };

        let bundles = if iana {
            pick_u(self.min_bundles, self.max_bundles, Some(9), Some(9))
        } else {
            pick_u(self.min_bundles, self.max_bundles, Some(1), None)
        };
        let cycle_duration = if iana {
            pick_d(
                self.min_cycle_duration,
                self.max_cycle_duration,
                Some(Duration::days(79)),
                Some(Duration::days(81)),
            )
        } else {
            pick_d(self.min_cycle_duration, self.max_cycle_duration, None, None)
        };
        let keys_per_bundle = pick_u(
            self.min_keys_per_bundle,
            self.max_keys_per_bundle,
            Some(1),
            Some(2),
        );
        let distinct_keys = match self.max_distinct_keys {
            Some(m) => Bound::new(Some(1), Some(m), KSK),
            None if iana => Bound::new(Some(1), Some(3), root),
            None => Bound::new(Some(1), None, text),
        };
        let inception_interval = if iana {
            pick_d(
                self.min_inception_interval,
                self.max_inception_interval,
                Some(Duration::days(9)),
                Some(Duration::days(11)),
            )
        } else {
            pick_d(
                self.min_inception_interval,
                self.max_inception_interval,
                None,
                None,
            )
        };

        // The bounds are the KSK side's own: the KSR's request policy is a
        // claim, checked against them by KSR-REQUEST-POLICY, never a bound
        // (issue 14: the requester must not set its own limits).
        let signature_validity = vec![if self.min_signature_validity.is_some() || self.max_signature_validity.is_some() {
            Bound::new(self.min_signature_validity, self.max_signature_validity, KSK)
        } else if iana {
            Bound::new(Some(Duration::days(21)), Some(Duration::days(21)), root)
        } else {
            Bound::new(None, None, text)
        }];
        let overlap = vec![if self.min_overlap.is_some() || self.max_overlap.is_some() {
            Bound::new(self.min_overlap, self.max_overlap, KSK)
        } else if iana {
            Bound::new(Some(Duration::days(9)), Some(Duration::days(12)), root)
        } else {
            // Without a bound, consecutive periods must at least not leave a gap.
            Bound::new(Some(Duration::ZERO), None, format!("{fmt_src}: no gap"))
        }];
        let ttl = ksr
            .bundles
            .iter()
            .flat_map(|b| b.keys.iter())
            .map(|k| k.ttl)
            .max()
            .unwrap_or(0);
        let safety = |knob: Option<Duration>| match knob {
            Some(k) => Bound::new(Some(k), None, KSK),
            None if iana => Bound::new(Some(Duration::days(10)), None, root),
            None => Bound::new(
                Some(Duration::seconds(ttl as i64)),
                None,
                format!("{text}: the DNSKEY TTL, RFC 7583 §3.3.1"),
            ),
        };
        let publish_safety = safety(self.publish_safety);
        let retire_safety = safety(self.retire_safety);

        EffectivePolicy {
            accepted_domains: self
                .accepted_domains
                .clone()
                .unwrap_or_else(|| vec![".".into()]),
            bundles,
            cycle_duration,
            keys_per_bundle,
            distinct_keys,
            algorithms: self
                .algorithms
                .clone()
                .unwrap_or_else(KskPolicy::default_algorithms),
            signature_validity,
            overlap,
            inception_interval,
            publish_safety,
            retire_safety,
            horizon: Some(self.horizon.unwrap_or(if iana {
                Duration::days(180)
            } else {
                Duration::days(366)
            })),
            require_proof_of_possession: self.require_proof_of_possession.unwrap_or(false),
        }
    }

    /// The verification limits (`KSR-VERIFY-LIMITS`, `KSR-POP`): the knobs
    /// given, else [`VerifyLimits::default`].
    pub fn verify_limits(&self) -> crate::dnssec::verify::VerifyLimits {
        let d = crate::dnssec::verify::VerifyLimits::default();
        crate::dnssec::verify::VerifyLimits {
            max_keys_per_bundle: d.max_keys_per_bundle,
            max_signatures_per_bundle: self.max_signatures_per_bundle.unwrap_or(d.max_signatures_per_bundle),
            max_keys_sharing_tag: self.max_keys_sharing_tag.unwrap_or(d.max_keys_sharing_tag),
            max_failed_per_bundle: self.max_failed_verifications_per_bundle.unwrap_or(d.max_failed_per_bundle),
            max_failed_total: self.max_failed_verifications.unwrap_or(d.max_failed_total),
        }
    }

    /// The accepted domains parsed, or the first bad one.
    pub fn accepted_names(&self) -> Result<Vec<Name>, String> {
        self.accepted_domains
            .clone()
            .unwrap_or_else(|| vec![".".into()])
            .iter()
            .map(|d| parse_name(d).map_err(|e| e.to_string()))
            .collect()
    }
}

/// Reads and validates a KSK policy file (TOML).
pub fn load(path: &Path) -> Result<KskPolicy, PolicyError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
        path: p.clone(),
        source,
    })?;
    KskPolicy::from_toml(&text, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round() {
        let p = KskPolicy::from_toml(
            r#"
accepted_domains = ["example.com."]
max_bundles = 20
max_signature_validity = "P21D"
min_overlap = "1d"
horizon = "P200D"

[[algorithms]]
algorithm = "RSASHA256"
rsa_sizes = [2048]

[[algorithms]]
algorithm = "ECDSAP256SHA256"
"#,
            "test.toml",
        )
        .unwrap();
        assert_eq!(p.max_bundles, Some(20));
        assert_eq!(p.max_signature_validity, Some(Duration::days(21)));
        assert_eq!(p.min_overlap, Some(Duration::days(1)));
        assert_eq!(
            p.algorithms.as_ref().unwrap()[0].accepted_rsa_exponents(),
            vec![65537]
        );
        assert_eq!(
            p.algorithms.as_ref().unwrap()[1].algorithm,
            Algorithm::EcdsaP256Sha256
        );
        assert_eq!(p.accepted_names().unwrap().len(), 1);
    }

    #[test]
    fn bad_policies_are_rejected() {
        assert!(
            KskPolicy::from_toml("max_bundle = 3", "t").is_err(),
            "unknown key"
        );
        assert!(KskPolicy::from_toml("horizon = \"soon\"", "t").is_err());
        assert!(KskPolicy::from_toml("min_bundles = 5\nmax_bundles = 2", "t").is_err());
        assert!(KskPolicy::from_toml("[[algorithms]]\nalgorithm = \"RSASHA1\"", "t").is_err());
        assert!(KskPolicy::from_toml(
            "[[algorithms]]\nalgorithm = \"ECDSAP256SHA256\"\nrsa_sizes = [2048]",
            "t"
        )
        .is_err());
        assert!(KskPolicy::from_toml("accepted_domains = [\"a..b\"]", "t").is_err());
        let e = load(Path::new("/nonexistent/kskit-policy.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/kskit-policy.toml"));
    }

    #[test]
    fn presets_validate() {
        KskPolicy::root().validate().unwrap();
        KskPolicy::small_registry().validate().unwrap();
        KskPolicy::default().validate().unwrap();
        assert!(KskPolicy::small_registry()
            .accepted_names()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bounds_report_violations() {
        let b = Bound::new(Some(Duration::days(9)), Some(Duration::days(12)), "x");
        assert!(b.violation(Duration::days(10)).is_none());
        assert!(b
            .violation(Duration::days(8))
            .unwrap()
            .contains("< minimum P9D"));
        assert!(b
            .violation(Duration::days(13))
            .unwrap()
            .contains("> maximum P12D"));
    }
}
