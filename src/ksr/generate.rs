//! Building a KSR on the ZSK side from the pre-generated ZSKs and the
//! policy's bundle timing. Pure: keys and signers come in as arguments.

use time::{Duration, OffsetDateTime};

use crate::backends::Signer;
use crate::dnssec::sign::sign_rrset;
use crate::dnssec::{Dnskey, DnssecError, Name, RData, RrSet};
use crate::ksr::model::{BundleKey, BundleSignature, Format, Ksr, RequestBundle, SignaturePolicy};
use crate::timeutil::{format_rfc3339, to_rrsig_time};

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("no ZSK is published at {0}: pre-generate ZSKs further (`kskit zsk pregenerate --until ...`)")]
    NoKeys(String),
    #[error("the IANA format needs proof of possession, but the private key of ZSK {0} is not available")]
    NoSigner(u16),
    #[error("bad KSR period: {0}")]
    Period(String),
    #[error("bundle at {at}: {source}")]
    Sign { at: String, source: DnssecError },
}

/// A ZSK that may appear in the KSR: its DNSKEY and when it is in the DNSKEY
/// RRset (RFC 7583 §3.3: from its publish time until its remove time).
pub struct ZskInput<'a> {
    pub identifier: String,
    pub dnskey: Dnskey,
    pub publish: OffsetDateTime,
    pub remove: Option<OffsetDateTime>,
    /// Needed for the IANA format's proof of possession.
    pub signer: Option<&'a dyn Signer>,
}

/// Whether a ZSK published at `publish` and removed at `remove` is in the
/// DNSKEY RRset of a bundle starting at `t` (RFC 7583 §3.3: from its
/// publish time until its remove time). The one rule for which ZSKs a
/// bundle holds: `ksr generate` builds bundles with it, `skr import` checks
/// an SKR's ZSKs with it (`crate::skr::scheduled`).
pub fn published_at(publish: OffsetDateTime, remove: Option<OffsetDateTime>, t: OffsetDateTime) -> bool {
    publish <= t && remove.is_none_or(|r| r > t)
}

impl ZskInput<'_> {
    /// Published throughout a bundle starting at `t`.
    fn published_at(&self, t: OffsetDateTime) -> bool {
        published_at(self.publish, self.remove, t)
    }
}

pub struct GenerateParams {
    pub domain: Name,
    pub from: OffsetDateTime,
    pub until: OffsetDateTime,
    pub format: Format,
    pub bundle_interval: Duration,
    pub signature_validity: Duration,
    pub dnskey_ttl: u32,
    /// IANA: the request policy written into the KSR.
    pub request_policy: Option<SignaturePolicy>,
}

/// The bundle start times: IANA, one every `bundle_interval` from `from`
/// while before `until` (the root's practice); text, `from` and every later
/// time before `until` at which the ZSK set changes (as Knot and BIND do).
pub fn bundle_starts(p: &GenerateParams, zsks: &[ZskInput<'_>]) -> Result<Vec<OffsetDateTime>, GenerateError> {
    if p.until <= p.from {
        return Err(GenerateError::Period(format!("--until {} is not after --from {}", format_rfc3339(p.until), format_rfc3339(p.from))));
    }
    if p.bundle_interval <= Duration::ZERO || p.signature_validity <= p.bundle_interval {
        return Err(GenerateError::Period(format!(
            "signature validity {} must exceed the bundle interval {}",
            p.signature_validity, p.bundle_interval
        )));
    }
    let mut starts = Vec::new();
    match p.format {
        Format::Iana => {
            let mut t = p.from;
            while t < p.until {
                starts.push(t);
                t += p.bundle_interval;
            }
        }
        Format::Text => {
            starts.push(p.from);
            let mut changes: Vec<OffsetDateTime> = zsks
                .iter()
                .flat_map(|z| [Some(z.publish), z.remove])
                .flatten()
                .filter(|t| *t > p.from && *t < p.until)
                .collect();
            changes.sort();
            changes.dedup();
            starts.extend(changes);
        }
    }
    Ok(starts)
}

/// Builds the KSR. In the IANA format each bundle carries a signature over
/// its DNSKEY RRset by every ZSK in it (proof of possession).
pub fn generate_ksr(p: &GenerateParams, zsks: &[ZskInput<'_>]) -> Result<Ksr, GenerateError> {
    let starts = bundle_starts(p, zsks)?;
    let mut bundles = Vec::with_capacity(starts.len());
    for (i, &t) in starts.iter().enumerate() {
        let in_bundle: Vec<&ZskInput<'_>> = zsks.iter().filter(|z| z.published_at(t)).collect();
        if in_bundle.is_empty() {
            return Err(GenerateError::NoKeys(format_rfc3339(t)));
        }
        let keys: Vec<BundleKey> = in_bundle
            .iter()
            .map(|z| BundleKey {
                key_identifier: match p.format {
                    Format::Iana => z.identifier.clone(),
                    Format::Text => z.dnskey.key_tag().to_string(),
                },
                key_tag: z.dnskey.key_tag(),
                ttl: p.dnskey_ttl,
                dnskey: z.dnskey.clone(),
            })
            .collect();
        let (id, expiration, signatures) = match p.format {
            Format::Text => (t.unix_timestamp().to_string(), None, vec![]),
            Format::Iana => {
                let exp = t + p.signature_validity;
                let rrset = RrSet::new(p.domain.clone(), p.dnskey_ttl, keys.iter().map(|k| RData::Dnskey(k.dnskey.clone())).collect())
                    .map_err(|source| GenerateError::Sign { at: format_rfc3339(t), source })?;
                let mut sigs = Vec::new();
                for z in &in_bundle {
                    let signer = z.signer.ok_or(GenerateError::NoSigner(z.dnskey.key_tag()))?;
                    let rrsig = sign_rrset(signer, &rrset, &p.domain, to_rrsig_time(t), to_rrsig_time(exp))
                        .map_err(|source| GenerateError::Sign { at: format_rfc3339(t), source })?;
                    sigs.push(BundleSignature { key_identifier: Some(z.identifier.clone()), ttl: p.dnskey_ttl, rrsig });
                }
                (uuid::Uuid::new_v4().to_string(), Some(exp), sigs)
            }
        };
        let _ = i;
        bundles.push(RequestBundle { id, inception: t, expiration, keys, signatures });
    }
    Ok(Ksr {
        format: p.format,
        id: match p.format {
            Format::Iana => uuid::Uuid::new_v4().to_string(),
            Format::Text => String::new(),
        },
        domain: p.domain.clone(),
        serial: match p.format {
            Format::Iana => Some(1),
            Format::Text => None,
        },
        request_policy: match p.format {
            Format::Iana => p.request_policy.clone(),
            Format::Text => None,
        },
        bundles,
        generated: None,
        layout: crate::ksr::TextLayout::Knot,
    })
}
