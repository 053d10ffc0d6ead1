//! Signing a checked KSR into an SKR (the KSK side of the ceremony). Pure:
//! the KSKs come in as [`Signer`]s; no file or terminal I/O here.
//!
//! Every bundle's DNSKEY RRset (the requested ZSKs plus the KSKs) is signed
//! once by each KSK; so are the CDS and CDNSKEY RRsets when asked for.
//! Exactly one signing operation per (bundle, RRset, KSK); each signature is
//! verified in software before it is kept (see [`crate::dnssec::sign`]).

use time::{Duration, OffsetDateTime};

use crate::backends::Signer;
use crate::dnssec::sign::sign_rrset;
use crate::dnssec::{DigestType, Dnskey, DnssecError, Ds, RData, RrSet};
use crate::ksr::model::{BundleKey, BundleSignature, Format, Ksr, SignaturePolicy};
use crate::skr::model::{ResponseBundle, Skr};
use crate::timeutil::to_rrsig_time;

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    // `error`, not `source`: its text is already in this message, and as a
    // source it was printed twice in the CLI's error chain.
    #[error("bundle {bundle}: {error}")]
    Bundle { bundle: String, error: DnssecError },
    #[error("{0}")]
    Invalid(String),
}

/// What the KSK side publishes besides the DNSKEY RRset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CdsMode {
    /// No CDS/CDNSKEY.
    None,
    /// CDS (with these digests) and CDNSKEY for every KSK that signs.
    Publish(Vec<DigestType>),
    /// The RFC 8078 §4 delete records (`CDS 0 0 0 00`, `CDNSKEY 0 3 0 AA==`).
    Delete,
}

/// Signing options of the KSK side.
#[derive(Debug, Clone)]
pub struct SignOptions {
    pub cds: CdsMode,
    /// TTL of the CDS and CDNSKEY RRsets (Knot uses 0).
    pub cds_ttl: u32,
    /// Text format only: a KSR bundle lasts until the next one; the SKR gets
    /// a bundle at its start and then every `refresh` (Knot's rrsig-refresh).
    pub text_refresh: Duration,
    /// Text format only: signature validity from each SKR bundle's start (Knot's rrsig-lifetime).
    pub text_validity: Duration,
    /// Text format only: signature inception this long before the bundle's start.
    pub text_inception_offset: Duration,
    /// IANA format: the KSK policy written into `<ResponsePolicy>`.
    pub ksk_policy: Option<SignaturePolicy>,
}

impl Default for SignOptions {
    fn default() -> Self {
        SignOptions {
            cds: CdsMode::None,
            cds_ttl: 0,
            text_refresh: Duration::days(7),
            text_validity: Duration::days(14),
            text_inception_offset: Duration::minutes(90),
            ksk_policy: None,
        }
    }
}

/// A KSK for signing: its signer and the identifier used in the SKR.
pub struct Ksk<'a> {
    pub signer: &'a dyn Signer,
    /// IANA `keyIdentifier` (e.g. the keystore id or token label).
    pub identifier: String,
}

/// One SKR bundle to produce: its times and the KSR bundle it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedBundle {
    pub request_index: usize,
    pub id: String,
    pub inception: OffsetDateTime,
    pub expiration: Option<OffsetDateTime>,
    pub sig_inception: OffsetDateTime,
    pub sig_expiration: OffsetDateTime,
}

/// The SKR bundles a KSR asks for, with their signature times. IANA: one per
/// request bundle, signatures valid exactly over the bundle (root practice).
/// Text: one at each request bundle's start and then every `text_refresh`
/// until the next request bundle starts (the last request bundle gets one).
pub fn plan_bundles(ksr: &Ksr, opts: &SignOptions) -> Result<Vec<PlannedBundle>, SignError> {
    let mut out = Vec::new();
    for (i, b) in ksr.bundles.iter().enumerate() {
        match ksr.format {
            Format::Iana => {
                let exp = b.expiration.ok_or_else(|| SignError::Invalid(format!("bundle {} has no expiration", b.id)))?;
                out.push(PlannedBundle {
                    request_index: i,
                    id: b.id.clone(),
                    inception: b.inception,
                    expiration: Some(exp),
                    sig_inception: b.inception,
                    sig_expiration: exp,
                });
            }
            Format::Text => {
                if opts.text_refresh <= Duration::ZERO || opts.text_validity <= opts.text_refresh {
                    return Err(SignError::Invalid(format!(
                        "signature validity ({}) must exceed the refresh interval ({})",
                        opts.text_validity, opts.text_refresh
                    )));
                }
                let end = ksr.bundles.get(i + 1).map(|n| n.inception);
                let mut t = b.inception;
                loop {
                    out.push(PlannedBundle {
                        request_index: i,
                        id: t.unix_timestamp().to_string(),
                        inception: t,
                        expiration: None,
                        sig_inception: t - opts.text_inception_offset,
                        sig_expiration: t + opts.text_validity,
                    });
                    t += opts.text_refresh;
                    match end {
                        Some(e) if t < e => continue,
                        _ => break,
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The number of signing operations [`sign_ksr`] will perform, for the
/// operator's estimate before a slow token starts.
pub fn count_signatures(ksr: &Ksr, ksks: usize, opts: &SignOptions) -> Result<usize, SignError> {
    let per_bundle = if opts.cds == CdsMode::None { 1 } else { 3 };
    Ok(plan_bundles(ksr, opts)?.len() * per_bundle * ksks)
}

/// Signs every bundle of `ksr` with every KSK. `progress` is called after
/// each signature with (done, total). The KSR must already have passed the
/// checks (see [`crate::ksr::checks`]).
pub fn sign_ksr(ksr: &Ksr, ksks: &[Ksk<'_>], opts: &SignOptions, progress: &mut dyn FnMut(usize, usize)) -> Result<Skr, SignError> {
    if ksks.is_empty() {
        return Err(SignError::Invalid("no KSK given".into()));
    }
    for k in ksks {
        let key = k.signer.dnskey();
        if !key.is_sep() || !key.is_zone_key() {
            return Err(SignError::Invalid(format!("{} has DNSKEY flags {}, not a KSK (257)", k.signer.describe(), key.flags)));
        }
    }
    let plan = plan_bundles(ksr, opts)?;
    let total = count_signatures(ksr, ksks.len(), opts)?;
    let mut done = 0usize;
    let mut bundles = Vec::with_capacity(plan.len());
    for p in &plan {
        let req = &ksr.bundles[p.request_index];
        let berr = |error| SignError::Bundle { bundle: p.id.clone(), error };
        let ttl = req.keys.first().map(|k| k.ttl).ok_or_else(|| SignError::Invalid(format!("bundle {} has no keys", req.id)))?;
        let mut keys: Vec<BundleKey> = req.keys.clone();
        for k in ksks {
            let dk = k.signer.dnskey().clone();
            if keys.iter().any(|b| b.dnskey == dk) {
                return Err(SignError::Invalid(format!("KSK {} is already in bundle {}", dk.key_tag(), req.id)));
            }
            keys.push(BundleKey { key_identifier: k.identifier.clone(), key_tag: dk.key_tag(), ttl, dnskey: dk });
        }
        let rrset = RrSet::new(ksr.domain.clone(), ttl, keys.iter().map(|k| RData::Dnskey(k.dnskey.clone())).collect()).map_err(berr)?;
        let (inc, exp) = (to_rrsig_time(p.sig_inception), to_rrsig_time(p.sig_expiration));
        let mut signatures = Vec::new();
        for k in ksks {
            let sig = sign_rrset(k.signer, &rrset, &ksr.domain, inc, exp).map_err(berr)?;
            signatures.push(BundleSignature { key_identifier: Some(k.identifier.clone()), ttl, rrsig: sig });
            done += 1;
            progress(done, total);
        }
        let (cds, cdnskey) = cds_records(&ksr.domain, ksks, &opts.cds);
        if !cds.is_empty() {
            let sets = [
                RrSet::new(ksr.domain.clone(), opts.cds_ttl, cds.iter().cloned().map(RData::Cds).collect()).map_err(berr)?,
                RrSet::new(ksr.domain.clone(), opts.cds_ttl, cdnskey.iter().cloned().map(RData::Cdnskey).collect()).map_err(berr)?,
            ];
            for set in &sets {
                for k in ksks {
                    let sig = sign_rrset(k.signer, set, &ksr.domain, inc, exp).map_err(berr)?;
                    signatures.push(BundleSignature { key_identifier: Some(k.identifier.clone()), ttl: opts.cds_ttl, rrsig: sig });
                    done += 1;
                    progress(done, total);
                }
            }
        }
        bundles.push(ResponseBundle {
            id: p.id.clone(),
            inception: p.inception,
            expiration: p.expiration,
            keys,
            cds,
            cds_ttl: opts.cds_ttl,
            cdnskey,
            cdnskey_ttl: opts.cds_ttl,
            signatures,
        });
    }
    Ok(Skr {
        format: ksr.format,
        id: ksr.id.clone(),
        domain: ksr.domain.clone(),
        serial: ksr.serial,
        ksk_policy: opts.ksk_policy.clone(),
        zsk_policy: ksr.request_policy.clone(),
        bundles,
        generated: None,
    })
}

/// The CDS and CDNSKEY RDATA for a bundle (RFC 7344 §4, RFC 8078 §4).
pub fn cds_records(domain: &crate::dnssec::Name, ksks: &[Ksk<'_>], mode: &CdsMode) -> (Vec<Ds>, Vec<Dnskey>) {
    match mode {
        CdsMode::None => (vec![], vec![]),
        CdsMode::Delete => (vec![Ds::delete()], vec![Dnskey { flags: 0, protocol: 3, algorithm: 0, public_key: vec![0] }]),
        CdsMode::Publish(digests) => {
            let keys: Vec<Dnskey> = ksks.iter().map(|k| k.signer.dnskey().clone()).filter(|k| !k.is_revoked()).collect();
            let cds = keys.iter().flat_map(|k| digests.iter().map(move |d| k.ds(domain, *d))).collect();
            (cds, keys)
        }
    }
}
