//! Making RRSIGs with a [`Signer`], each verified in software before use: a
//! signature that does not verify (a faulty token, a wrong key) is an error
//! and is never returned.

use super::name::{rrsig_label_count, Name};
use super::rdata::Rrsig;
use super::record::RrSet;
use super::verify::verify_rrsig;
use super::DnssecError;
use crate::backends::Signer;

/// Signs `rrset` with `signer`, signer name `signer_name`, validity
/// `[inception, expiration]` (seconds since the epoch, RFC 4034 §3.1.5), and
/// the RRset's TTL as original TTL. The result is verified before it is returned.
pub fn sign_rrset(
    signer: &dyn Signer,
    rrset: &RrSet,
    signer_name: &Name,
    inception: u32,
    expiration: u32,
) -> Result<Rrsig, DnssecError> {
    let key = signer.dnskey();
    let mut sig = Rrsig {
        type_covered: rrset.rtype,
        algorithm: key.algorithm,
        labels: rrsig_label_count(&rrset.name),
        original_ttl: rrset.ttl,
        expiration,
        inception,
        key_tag: key.key_tag(),
        signer_name: signer_name.to_lowercase(),
        signature: Vec::new(),
    };
    let data = rrset.signing_input(&sig);
    sig.signature = signer.sign(&data).map_err(|e| DnssecError::Signing(format!("{}: {e}", signer.describe())))?;
    verify_rrsig(rrset, &sig, key).map_err(|e| {
        DnssecError::Signing(format!("{} produced a signature that does not verify, refusing to use it: {e}", signer.describe()))
    })?;
    Ok(sig)
}
