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

/// What one SKR bundle publishes and signs with (a rollover plan decides
/// this per bundle; without one every KSK is published and signs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleKsks {
    /// KSKs in the DNSKEY RRset: index into the `ksks` slice and the DNSKEY
    /// flags to publish (257, or 385 with the RFC 5011 REVOKE bit).
    pub publish: Vec<(usize, u16)>,
    /// KSKs whose RRSIGs cover the DNSKEY, CDS and CDNSKEY RRsets (indexes).
    pub sign: Vec<usize>,
    pub cds: BundleCds,
}

/// The CDS/CDNSKEY of one bundle: none, the records of some KSKs (RFC 7344),
/// or the RFC 8078 delete records; never a mix of delete and normal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleCds {
    None,
    Keys { keys: Vec<usize>, digests: Vec<DigestType> },
    Delete,
}

/// The same KSKs in every bundle: all published with their own flags, all
/// signing, CDS/CDNSKEY as `opts.cds` says.
pub fn every_ksk(ksks: &[Ksk<'_>], cds: &CdsMode) -> BundleKsks {
    let all: Vec<usize> = (0..ksks.len()).collect();
    BundleKsks {
        publish: ksks.iter().enumerate().map(|(i, k)| (i, k.signer.dnskey().flags)).collect(),
        sign: all,
        cds: match cds {
            CdsMode::None => BundleCds::None,
            CdsMode::Delete => BundleCds::Delete,
            CdsMode::Publish(d) => BundleCds::Keys {
                keys: ksks.iter().enumerate().filter(|(_, k)| !k.signer.dnskey().is_revoked()).map(|(i, _)| i).collect(),
                digests: d.clone(),
            },
        },
    }
}

/// A signer that publishes its key with other DNSKEY flags (the REVOKE bit
/// changes the key tag, and a revoked key self-signs under the new tag,
/// RFC 5011 §2.1).
struct AsPublished<'a> {
    inner: &'a dyn Signer,
    dnskey: Dnskey,
}

impl Signer for AsPublished<'_> {
    fn dnskey(&self) -> &Dnskey {
        &self.dnskey
    }
    fn algorithm(&self) -> crate::dnssec::Algorithm {
        self.inner.algorithm()
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, crate::backends::BackendError> {
        self.inner.sign(data)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Signs every bundle of `ksr` with every KSK. `progress` is called after
/// each signature with (done, total). The KSR must already have passed the
/// checks (see [`crate::ksr::checks`]).
pub fn sign_ksr(ksr: &Ksr, ksks: &[Ksk<'_>], opts: &SignOptions, progress: &mut dyn FnMut(usize, usize)) -> Result<Skr, SignError> {
    let every = every_ksk(ksks, &opts.cds);
    sign_ksr_planned(ksr, ksks, opts, &|_| Ok(every.clone()), progress)
}

/// Signs every bundle of `ksr`, with the KSKs, flags and CDS/CDNSKEY that
/// `plan` gives for each SKR bundle (a rollover plan; see
/// [`crate::rollover`]). Exactly one signing operation per (bundle, RRset,
/// signing KSK), each verified before it is kept.
pub fn sign_ksr_planned(
    ksr: &Ksr,
    ksks: &[Ksk<'_>],
    opts: &SignOptions,
    plan: &dyn Fn(&PlannedBundle) -> Result<BundleKsks, SignError>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Skr, SignError> {
    if ksks.is_empty() {
        return Err(SignError::Invalid("no KSK given".into()));
    }
    for k in ksks {
        let key = k.signer.dnskey();
        if !key.is_sep() || !key.is_zone_key() {
            return Err(SignError::Invalid(format!("{} has DNSKEY flags {}, not a KSK (257)", k.signer.describe(), key.flags)));
        }
    }
    let planned = plan_bundles(ksr, opts)?;
    let mut per_bundle = Vec::with_capacity(planned.len());
    for p in &planned {
        let b = plan(p)?;
        let bad = |i: &usize| *i >= ksks.len();
        let bad_cds = matches!(&b.cds, BundleCds::Keys { keys, .. } if keys.iter().any(bad));
        if b.publish.iter().any(|(i, _)| bad(i)) || b.sign.iter().any(bad) || bad_cds {
            return Err(SignError::Invalid(format!("bundle {}: the plan names a KSK that was not opened", p.id)));
        }
        if b.sign.is_empty() {
            return Err(SignError::Invalid(format!("bundle {}: the plan has no KSK signing it", p.id)));
        }
        if let Some(i) = b.sign.iter().find(|i| !b.publish.iter().any(|(j, _)| j == *i)) {
            return Err(SignError::Invalid(format!("bundle {}: KSK {} signs but is not in the DNSKEY RRset", p.id, ksks[*i].identifier)));
        }
        per_bundle.push(b);
    }
    let total: usize = per_bundle.iter().map(|b| b.sign.len() * if b.cds == BundleCds::None { 1 } else { 3 }).sum();
    let mut done = 0usize;
    let mut bundles = Vec::with_capacity(planned.len());
    for (p, b) in planned.iter().zip(&per_bundle) {
        let req = &ksr.bundles[p.request_index];
        let berr = |error| SignError::Bundle { bundle: p.id.clone(), error };
        let ttl = req.keys.first().map(|k| k.ttl).ok_or_else(|| SignError::Invalid(format!("bundle {} has no keys", req.id)))?;
        // Every KSK as this bundle publishes it (flags may carry REVOKE).
        let published: Vec<AsPublished<'_>> = ksks
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let mut dnskey = k.signer.dnskey().clone();
                if let Some((_, flags)) = b.publish.iter().find(|(j, _)| *j == i) {
                    dnskey.flags = *flags;
                }
                AsPublished { inner: k.signer, dnskey }
            })
            .collect();
        let mut keys: Vec<BundleKey> = req.keys.clone();
        for (i, _) in &b.publish {
            let dk = published[*i].dnskey.clone();
            if keys.iter().any(|k| k.dnskey.public_key == dk.public_key && k.dnskey.algorithm == dk.algorithm) {
                return Err(SignError::Invalid(format!("KSK {} is already in bundle {}", dk.key_tag(), req.id)));
            }
            keys.push(BundleKey { key_identifier: ksks[*i].identifier.clone(), key_tag: dk.key_tag(), ttl, dnskey: dk });
        }
        let rrset = RrSet::new(ksr.domain.clone(), ttl, keys.iter().map(|k| RData::Dnskey(k.dnskey.clone())).collect()).map_err(berr)?;
        let (inc, exp) = (to_rrsig_time(p.sig_inception), to_rrsig_time(p.sig_expiration));
        let mut signatures = Vec::new();
        for i in &b.sign {
            let sig = sign_rrset(&published[*i], &rrset, &ksr.domain, inc, exp).map_err(berr)?;
            signatures.push(BundleSignature { key_identifier: Some(ksks[*i].identifier.clone()), ttl, rrsig: sig });
            done += 1;
            progress(done, total);
        }
        let (cds, cdnskey) = match &b.cds {
            BundleCds::None => (vec![], vec![]),
            BundleCds::Delete => cds_records(&ksr.domain, &[], &CdsMode::Delete),
            BundleCds::Keys { keys: idx, digests } => {
                let chosen: Vec<Ksk<'_>> = idx.iter().map(|i| Ksk { signer: &published[*i], identifier: ksks[*i].identifier.clone() }).collect();
                cds_records(&ksr.domain, &chosen, &CdsMode::Publish(digests.clone()))
            }
        };
        if !cds.is_empty() {
            let sets = [
                RrSet::new(ksr.domain.clone(), opts.cds_ttl, cds.iter().cloned().map(RData::Cds).collect()).map_err(berr)?,
                RrSet::new(ksr.domain.clone(), opts.cds_ttl, cdnskey.iter().cloned().map(RData::Cdnskey).collect()).map_err(berr)?,
            ];
            for set in &sets {
                for i in &b.sign {
                    let sig = sign_rrset(&published[*i], set, &ksr.domain, inc, exp).map_err(berr)?;
                    signatures.push(BundleSignature { key_identifier: Some(ksks[*i].identifier.clone()), ttl: opts.cds_ttl, rrsig: sig });
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
        layout: ksr.layout,
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
