//! Opening a signing key from a key reference, whatever backend holds it:
//! the one place where a `KeyRef` becomes a [`Signer`].

use std::time::Duration;

use crate::backends::pkcs11::helper::IsolatedSigner;
use crate::backends::pkcs11::{OpenOptions, Pkcs11Error, Pkcs11Signer};
use crate::backends::soft::{self, KeyDecryption, SoftKey};
use crate::backends::{BackendError, Signer};
use crate::dnssec::Algorithm;
use crate::keys::keyref::{KeyRef, Pkcs11Uri};
use crate::keys::keystore::{KeyMeta, Keystore, KeystoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Keystore(#[from] KeystoreError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Pkcs11(#[from] Pkcs11Error),
    #[error("{0}")]
    KeyRef(#[from] crate::keys::keyref::KeyRefError),
    #[error("{0}")]
    Other(String),
}

/// An opened key: software or on a token.
pub enum OpenedKey {
    Soft(Box<SoftKey>),
    Pkcs11(Box<Pkcs11Signer>),
    /// A token key whose module runs in a helper process (module isolation).
    Isolated(Box<IsolatedSigner>),
}

impl OpenedKey {
    pub fn signer(&self) -> &dyn Signer {
        match self {
            OpenedKey::Soft(k) => k.as_ref(),
            OpenedKey::Pkcs11(k) => k.as_ref(),
            OpenedKey::Isolated(k) => k.as_ref(),
        }
    }
    /// Signing operations sent to a token (0 for software keys).
    pub fn token_sign_count(&self) -> u64 {
        match self {
            OpenedKey::Soft(_) => 0,
            OpenedKey::Pkcs11(k) => k.sign_count(),
            OpenedKey::Isolated(k) => k.sign_count(),
        }
    }
}

/// What the caller knows about the key beyond its reference.
pub struct OpenHints {
    /// The DNSSEC algorithm, needed for a token key that is not in the keystore.
    pub algorithm: Option<Algorithm>,
    /// DNSKEY flags for a token key that is not in the keystore (257 for a KSK).
    pub flags: u16,
    pub allow_final_try: bool,
    pub timeout: Option<Duration>,
    /// Open token keys in a helper process that loads the module
    /// (`--isolate-module`, `[pkcs11] isolate_module`).
    pub isolate: bool,
}

/// Opens a token key in this process or, with `isolate`, in a helper process.
fn open_token_key(uri: &Pkcs11Uri, alg: Algorithm, flags: u16, opts: &OpenOptions, isolate: bool) -> Result<OpenedKey, OpenError> {
    Ok(if isolate {
        OpenedKey::Isolated(Box::new(IsolatedSigner::open(uri, alg, flags, opts)?))
    } else {
        OpenedKey::Pkcs11(Box::new(Pkcs11Signer::open(uri, alg, flags, opts)?))
    })
}

/// Opens `r`. Software keys are decrypted with `decryption()` (asked only
/// when a software key is opened); token keys log in with the URI's PIN
/// source, `KSKIT_PIN` or a prompt. Returns the key and an identifier for
/// SKR files (the keystore id, the token object label, or the file name).
pub fn open_key(
    r: &KeyRef,
    ks: Option<&Keystore>,
    decryption: &mut dyn FnMut() -> Result<KeyDecryption, OpenError>,
    hints: &OpenHints,
) -> Result<(OpenedKey, String), OpenError> {
    match r {
        KeyRef::File(path) => {
            let key = soft::decrypt_key_file(path, &decryption()?)?;
            let ident = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
            Ok((OpenedKey::Soft(Box::new(key)), ident))
        }
        KeyRef::Keystore(reference) => {
            let ks = ks.ok_or_else(|| OpenError::Other(format!("key {reference:?} names a keystore key, but no keystore is configured")))?;
            let meta = ks.find(reference)?;
            open_meta(meta, ks, decryption, hints)
        }
        KeyRef::Pkcs11(uri) => {
            // A token key recorded in the keystore carries its algorithm and
            // flags: use the one record the URI names (attributes it leaves
            // out match anything), never guess among several.
            let matching: Vec<&KeyMeta> = ks.map(|ks| ks.keys().iter().filter(|m| same_token_key(&m.locator, uri)).collect()).unwrap_or_default();
            if matching.len() > 1 {
                return Err(OpenError::Other(format!(
                    "{uri} matches {} keystore keys ({}): add object= or id= to the URI",
                    matching.len(),
                    matching.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            let known = matching.first().copied();
            let (alg, flags) = match (known, hints.algorithm) {
                (Some(m), _) => (m.algorithm, m.flags),
                (None, Some(a)) => (a, hints.flags),
                (None, None) => {
                    return Err(OpenError::Other(format!(
                        "{uri}: this token key is not in the keystore, so its DNSSEC algorithm must be given (e.g. --ksk-algorithm RSASHA256)"
                    )))
                }
            };
            let ident = known.map(|m| m.id.clone()).or_else(|| uri.object.clone()).unwrap_or_else(|| uri.to_string());
            let opts = OpenOptions { allow_final_try: hints.allow_final_try, timeout: hints.timeout, pin: None };
            let opened = open_token_key(uri, alg, flags, &opts, hints.isolate)?;
            let signer = opened.signer();
            if let Some(m) = known {
                if signer.dnskey().public_key != m.dnskey()?.public_key {
                    return Err(OpenError::Other(format!(
                        "{uri}: the key on the token is not the key keystore entry {} records (key tag {} expected, {} found)",
                        m.id,
                        m.key_tag,
                        signer.dnskey().key_tag()
                    )));
                }
            }
            Ok((opened, ident))
        }
    }
}

fn open_meta(
    meta: &KeyMeta,
    ks: &Keystore,
    decryption: &mut dyn FnMut() -> Result<KeyDecryption, OpenError>,
    hints: &OpenHints,
) -> Result<(OpenedKey, String), OpenError> {
    if meta.is_soft() {
        let key = ks.load_soft_key(meta, &decryption()?)?;
        return Ok((OpenedKey::Soft(Box::new(key)), meta.id.clone()));
    }
    let uri: Pkcs11Uri = meta.locator.parse().map_err(|e| OpenError::Other(format!("key {}: bad locator {:?}: {e}", meta.id, meta.locator)))?;
    let opts = OpenOptions { allow_final_try: hints.allow_final_try, timeout: hints.timeout, pin: None };
    let opened = open_token_key(&uri, meta.algorithm, meta.flags, &opts, hints.isolate)?;
    let signer = opened.signer();
    let want = meta.dnskey()?;
    if signer.dnskey().public_key != want.public_key {
        return Err(OpenError::Other(format!(
            "key {} on the token is not the key the keystore records (key tag {} expected, {} found)",
            meta.id,
            want.key_tag(),
            signer.dnskey().key_tag()
        )));
    }
    Ok((opened, meta.id.clone()))
}

/// Whether a keystore locator names the token object `uri` selects: every
/// token and object attribute the URI gives must equal the locator's
/// (attributes the URI leaves out match anything; PIN and module query
/// attributes are ignored). The URI must name an object (label or id).
fn same_token_key(locator: &str, uri: &Pkcs11Uri) -> bool {
    let Ok(l) = locator.parse::<Pkcs11Uri>() else { return false };
    if uri.object.is_none() && uri.id.is_none() {
        return false;
    }
    fn eq<T: PartialEq>(want: &Option<T>, have: &Option<T>) -> bool {
        want.is_none() || want == have
    }
    eq(&uri.token, &l.token) && eq(&uri.object, &l.object) && eq(&uri.id, &l.id) && eq(&uri.serial, &l.serial)
}

#[cfg(test)]
mod tests {
    use super::same_token_key;

    #[test]
    fn uri_attributes_left_out_match_anything() {
        let loc = "pkcs11:token=KSK;object=ksk-2026;id=%01%02";
        let u = |s: &str| s.parse().unwrap();
        assert!(same_token_key(loc, &u("pkcs11:token=KSK;object=ksk-2026?module-path=/x.so&pin-value=1")));
        assert!(same_token_key(loc, &u("pkcs11:object=ksk-2026")));
        assert!(same_token_key(loc, &u("pkcs11:token=KSK;id=%01%02")));
        assert!(!same_token_key(loc, &u("pkcs11:token=KSK;object=other")));
        assert!(!same_token_key(loc, &u("pkcs11:token=Other;object=ksk-2026")));
        assert!(!same_token_key(loc, &u("pkcs11:token=KSK")));
    }
}
