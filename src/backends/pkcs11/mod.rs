//! PKCS#11 backend: KSKs on HSMs and smartcards (docs/hsm.md, docs/smartcard.md).
//!
//! * Every token call runs on a dedicated worker thread and is awaited with a
//!   timeout (default 30 s, `timeout=` in the URI), so a hung pcscd gives an
//!   error naming the module and slot instead of a hang ([`worker`]).
//! * One session and at most one login attempt per token and run: keys on
//!   the same token share it ([`Token::open`]); a token that reports
//!   "final try" is not tried unless [`OpenOptions::allow_final_try`].
//!   Keys with CKA_ALWAYS_AUTHENTICATE get C_Login(CKU_CONTEXT_SPECIFIC)
//!   before each C_Sign with the PIN held (zeroizing) for the run (raw.rs).
//! * Signing uses the token's hash-and-sign mechanism when offered, else
//!   hashes on the host (CKM_RSA_PKCS with DigestInfo, CKM_RSA_X_509 with
//!   PKCS#1 v1.5 padding built here, CKM_ECDSA over the hash), for cards with
//!   a small mechanism set. Every signature is verified in software before
//!   it is returned.
//! * Sessions are logged out and closed on drop; [`install_interrupt_cleanup`]
//!   does the same on Ctrl-C.

pub mod caps;
pub mod encode;
pub mod helper;
mod raw;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki::types::AuthPin;

use self::encode::Curve;
use self::worker::{State, Worker};
use super::{BackendError, Signer};
use crate::dnssec::pubkey::rsa_encode;
use crate::dnssec::{Algorithm, Dnskey, FLAG_SEP, FLAG_ZONE};
use crate::keys::keyref::{KeyRefError, Pkcs11Uri, DEFAULT_TIMEOUT};
use crate::secrets::Secret;

pub use self::worker::cleanup_all;

/// Errors of the PKCS#11 backend. Each names the module, token or key involved.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error("PKCS#11 module {} does not exist (check module-path= in the URI or {})", .0.display(), crate::keys::keyref::ENV_MODULE)]
    ModuleNotFound(PathBuf),
    #[error("cannot load PKCS#11 module {}: {msg}", module.display())]
    ModuleLoad { module: PathBuf, msg: String },
    #[error("{}", timeout_message(module, *slot, *secs, what))]
    Timeout { module: PathBuf, slot: Option<u64>, secs: u64, what: String },
    #[error("an earlier call to PKCS#11 module {} never returned; restart kskit (and pcscd) before trying again", module.display())]
    Hung { module: PathBuf },
    #[error("no token {wanted} in {}; tokens present: {}", module.display(), list_or_none(available))]
    TokenNotFound { module: PathBuf, wanted: String, available: Vec<String> },
    #[error("{n} tokens match {wanted} in {}: {}; add token=, serial= or slot-id= to the URI", module.display(), list_or_none(matches))]
    TokenAmbiguous { module: PathBuf, wanted: String, n: usize, matches: Vec<String> },
    #[error("--pin logs in to one token, and {n} tokens match {wanted} in {}: {}; name one with --token LABEL, --serial SERIAL or a pkcs11: URI with serial= or slot-id=", module.display(), list_or_none(matches))]
    ListLoginAmbiguous { module: PathBuf, wanted: String, n: usize, matches: Vec<String> },
    #[error("wrong PIN for token {token:?}; {flags}")]
    WrongPin { token: String, flags: PinFlags },
    #[error("the user PIN of token {token:?} is locked; unblock it with the SO-PIN (e.g. pkcs11-tool --module MODULE --login --login-type so --init-pin)")]
    PinLocked { token: String },
    #[error("token {token:?} reports that the next wrong PIN locks it (final try); kskit does not try a login unless --allow-final-try is given")]
    FinalTry { token: String },
    #[error("wrong PIN for token {token:?} at the context-specific login key {key:?} needs before each signature (CKA_ALWAYS_AUTHENTICATE); the run stops after this one try; {flags}")]
    WrongContextPin { token: String, key: String, flags: PinFlags },
    #[error("a login to token {token:?} already failed in this run; kskit makes at most one login attempt per run")]
    SecondLogin { token: String },
    #[error("cannot read the PIN for token {token:?}: {msg}")]
    Pin { token: String, msg: String },
    #[error("no key with {what} on token {token:?}")]
    KeyNotFound { what: String, token: String },
    #[error("{n} keys have {what} on token {token:?}: use id= (ids: {})", ids.join(", "))]
    KeyAmbiguous { n: usize, what: String, token: String, ids: Vec<String> },
    #[error("the URI names no key: add object=LABEL or id=%XX (kskit hsm list shows the keys)")]
    NoKeySelector,
    #[error("a key with label {label:?} already exists on token {token:?}; choose another label")]
    LabelExists { label: String, token: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{op} failed on token {token:?} ({}): {source}", module.display())]
    Token { op: String, token: String, module: PathBuf, source: CkError },
    #[error("token signature does not verify, refusing it: {0}")]
    BadSignature(String),
    #[error(transparent)]
    KeyRef(#[from] KeyRefError),
    #[error("{0}")]
    Other(String),
}

fn timeout_message(module: &Path, slot: Option<u64>, secs: u64, what: &str) -> String {
    match slot {
        Some(s) => format!(
            "token in slot {s} of {} did not answer within {secs} s ({what}); is pcscd hung? (restart it: systemctl restart pcscd)",
            module.display()
        ),
        None => format!(
            "PKCS#11 module {} did not answer within {secs} s ({what}); is pcscd hung? (restart it: systemctl restart pcscd)",
            module.display()
        ),
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

impl From<Pkcs11Error> for BackendError {
    fn from(e: Pkcs11Error) -> Self {
        BackendError::Message(e.to_string())
    }
}

/// The PIN-related flags of a token (PKCS#11 CK_TOKEN_INFO flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PinFlags {
    pub count_low: bool,
    pub final_try: bool,
    pub locked: bool,
    pub to_be_changed: bool,
}

impl PinFlags {
    fn of(info: &TokenInfo) -> Self {
        PinFlags {
            count_low: info.user_pin_count_low(),
            final_try: info.user_pin_final_try(),
            locked: info.user_pin_locked(),
            to_be_changed: info.user_pin_to_be_changed(),
        }
    }
}

impl std::fmt::Display for PinFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = Vec::new();
        if self.count_low {
            v.push("count low (a wrong PIN was entered before)");
        }
        if self.final_try {
            v.push("FINAL TRY (the next wrong PIN locks the token)");
        }
        if self.locked {
            v.push("LOCKED");
        }
        if self.to_be_changed {
            v.push("to be changed");
        }
        if v.is_empty() {
            write!(f, "token PIN flags: none reported")
        } else {
            write!(f, "token PIN flags: {}", v.join(", "))
        }
    }
}

/// Options for opening a token.
#[derive(Default)]
pub struct OpenOptions {
    /// Try a login even when the token reports "final try".
    pub allow_final_try: bool,
    /// Per-call timeout; overrides the URI's `timeout=`; default 30 s.
    pub timeout: Option<Duration>,
    /// The user PIN; when `None` it is resolved from the URI
    /// ([`Pkcs11Uri::resolve_pin`]).
    pub pin: Option<Secret>,
}

impl OpenOptions {
    fn timeout_for(&self, uri: &Pkcs11Uri) -> Duration {
        self.timeout.unwrap_or_else(|| uri.timeout())
    }
}

/// The signing method used with a key: a token hash-and-sign mechanism, or
/// a raw mechanism over a hash made on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SignMechanism {
    /// CKM_SHA256_RSA_PKCS (token hashes).
    Sha256RsaPkcs,
    /// CKM_SHA512_RSA_PKCS (token hashes).
    Sha512RsaPkcs,
    /// CKM_RSA_PKCS over a DigestInfo made on the host.
    RsaPkcs,
    /// CKM_RSA_X_509 over PKCS#1 v1.5 padding made on the host.
    RsaX509,
    /// CKM_ECDSA_SHA256 (token hashes).
    EcdsaSha256,
    /// CKM_ECDSA_SHA384 (token hashes).
    EcdsaSha384,
    /// CKM_ECDSA over a hash made on the host.
    Ecdsa,
    /// CKM_EDDSA (pure Ed25519).
    Eddsa,
}

impl SignMechanism {
    /// The PKCS#11 name, e.g. `CKM_RSA_PKCS`.
    pub fn name(self) -> &'static str {
        match self {
            SignMechanism::Sha256RsaPkcs => "CKM_SHA256_RSA_PKCS",
            SignMechanism::Sha512RsaPkcs => "CKM_SHA512_RSA_PKCS",
            SignMechanism::RsaPkcs => "CKM_RSA_PKCS",
            SignMechanism::RsaX509 => "CKM_RSA_X_509",
            SignMechanism::EcdsaSha256 => "CKM_ECDSA_SHA256",
            SignMechanism::EcdsaSha384 => "CKM_ECDSA_SHA384",
            SignMechanism::Ecdsa => "CKM_ECDSA",
            SignMechanism::Eddsa => "CKM_EDDSA",
        }
    }

    fn mechanism_type(self) -> MechanismType {
        match self {
            SignMechanism::Sha256RsaPkcs => MechanismType::SHA256_RSA_PKCS,
            SignMechanism::Sha512RsaPkcs => MechanismType::SHA512_RSA_PKCS,
            SignMechanism::RsaPkcs => MechanismType::RSA_PKCS,
            SignMechanism::RsaX509 => MechanismType::RSA_X_509,
            SignMechanism::EcdsaSha256 => MechanismType::ECDSA_SHA256,
            SignMechanism::EcdsaSha384 => MechanismType::ECDSA_SHA384,
            SignMechanism::Ecdsa => MechanismType::ECDSA,
            SignMechanism::Eddsa => MechanismType::EDDSA,
        }
    }

    /// Whether the token does the hashing (hash-and-sign mechanism).
    pub fn token_hashes(self) -> bool {
        matches!(
            self,
            SignMechanism::Sha256RsaPkcs
                | SignMechanism::Sha512RsaPkcs
                | SignMechanism::EcdsaSha256
                | SignMechanism::EcdsaSha384
                | SignMechanism::Eddsa
        )
    }

    /// Candidates for `alg`, best first.
    fn candidates(alg: Algorithm) -> &'static [SignMechanism] {
        match alg {
            Algorithm::RsaSha256 => &[SignMechanism::Sha256RsaPkcs, SignMechanism::RsaPkcs, SignMechanism::RsaX509],
            Algorithm::RsaSha512 => &[SignMechanism::Sha512RsaPkcs, SignMechanism::RsaPkcs, SignMechanism::RsaX509],
            Algorithm::EcdsaP256Sha256 => &[SignMechanism::EcdsaSha256, SignMechanism::Ecdsa],
            Algorithm::EcdsaP384Sha384 => &[SignMechanism::EcdsaSha384, SignMechanism::Ecdsa],
            Algorithm::Ed25519 => &[SignMechanism::Eddsa],
            _ => &[],
        }
    }
}

/// The kind of a key on a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa { bits: u32 },
    Ec(Curve),
}

impl KeyKind {
    /// Whether a key of this kind can sign with DNSSEC algorithm `alg`.
    pub fn fits(self, alg: Algorithm) -> bool {
        match self {
            KeyKind::Rsa { .. } => matches!(alg, Algorithm::RsaSha256 | Algorithm::RsaSha512),
            KeyKind::Ec(c) => c.algorithm() == alg,
        }
    }
    /// DNSSEC algorithms this key could sign with.
    pub fn algorithms(self) -> Vec<Algorithm> {
        match self {
            KeyKind::Rsa { .. } => vec![Algorithm::RsaSha256, Algorithm::RsaSha512],
            KeyKind::Ec(c) => vec![c.algorithm()],
        }
    }
    pub fn describe(self) -> String {
        match self {
            KeyKind::Rsa { bits } => format!("RSA-{bits}"),
            KeyKind::Ec(c) => format!("EC {}", c.name()),
        }
    }
    pub fn bits(self) -> u32 {
        match self {
            KeyKind::Rsa { bits } => bits,
            KeyKind::Ec(c) => c.bits(),
        }
    }
}

/// A key found or made on a token.
#[derive(Debug, Clone)]
pub struct TokenKey {
    /// Token and key, without PIN: the keystore `locator`.
    pub uri: Pkcs11Uri,
    pub label: String,
    pub id: Vec<u8>,
    pub kind: KeyKind,
    /// The DNSKEY public key field (RFC 3110 / RFC 6605 / RFC 8080 form).
    pub public_key: Vec<u8>,
}

impl TokenKey {
    /// The DNSKEY of this key for `alg` with `flags` (257 for a KSK).
    pub fn dnskey(&self, alg: Algorithm, flags: u16) -> Dnskey {
        Dnskey::new(flags, alg, self.public_key.clone())
    }
    pub fn id_hex(&self) -> String {
        data_encoding::HEXLOWER.encode(&self.id)
    }
}

fn ck(op: &str, token: &str, module: &Path) -> impl FnOnce(CkError) -> Pkcs11Error {
    let (op, token, module) = (op.to_string(), token.to_string(), module.to_path_buf());
    move |source| Pkcs11Error::Token { op, token, module, source }
}

/// Logins that failed in this process, by (module, token serial).
static FAILED_LOGINS: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

/// An open session on one token, on its worker thread. One per token and
/// process ([`Token::open`] hands out the same one to every key on the
/// token), so the token sees one session and one C_Login per run.
pub(crate) struct Token {
    worker: Worker,
    pub slot_id: u64,
    pub label: String,
    pub serial: String,
    pub module: PathBuf,
    /// Mechanisms the token offers (C_GetMechanismList).
    pub mechanisms: Vec<MechanismType>,
    uri: Pkcs11Uri,
    /// The user is logged in on this token's session (by us or before us).
    logged_in: Mutex<bool>,
    /// The PIN of the successful login, kept (zeroizing) for keys that
    /// need a context-specific login before each signature
    /// (CKA_ALWAYS_AUTHENTICATE); `None` until such a key is used.
    pin: Mutex<Option<Secret>>,
}

/// Tokens open in this process, by module and slot: a second key on a token
/// reuses its session and login.
static OPEN_TOKENS: Mutex<Vec<std::sync::Weak<Token>>> = Mutex::new(Vec::new());

/// Whether a token matches the URI's token attributes (labels compared with
/// the blank padding removed, RFC 7512 §2.3).
pub(crate) fn token_matches(uri: &Pkcs11Uri, slot: Slot, info: &TokenInfo) -> bool {
    let eq = |want: &Option<String>, have: &str| want.as_ref().is_none_or(|w| w.trim_end_matches(' ') == have.trim_end_matches(' '));
    eq(&uri.token, info.label())
        && eq(&uri.serial, info.serial_number())
        && eq(&uri.manufacturer, info.manufacturer_id())
        && eq(&uri.model, info.model())
        && uri.slot_id.is_none_or(|s| s == slot.id())
}

fn describe_token(slot: Slot, info: &TokenInfo) -> String {
    format!("{:?} (serial {}, slot {})", info.label().trim_end_matches(' '), info.serial_number().trim_end_matches(' '), slot.id())
}

impl Token {
    /// Finds the one token named by `uri` in its module and returns its open
    /// read-write session: the session already open in this process for
    /// that token if there is one (with its login), else a new one. Does
    /// not log in.
    pub fn open(uri: &Pkcs11Uri, opts: &OpenOptions) -> Result<std::sync::Arc<Token>, Pkcs11Error> {
        let module = uri.module()?;
        let worker = Worker::start(&module, opts.timeout_for(uri))?;
        let u = uri.clone();
        let m = module.clone();
        let (slot_id, label, serial) = worker.call("finding the token", move |st: &mut State| {
            let ctx = st.ctx()?;
            let slots = ctx.get_slots_with_token().map_err(ck("C_GetSlotList", "", &m))?;
            let mut found = Vec::new();
            let mut available = Vec::new();
            for slot in slots {
                let Ok(info) = ctx.get_token_info(slot) else { continue };
                available.push(describe_token(slot, &info));
                if token_matches(&u, slot, &info) {
                    found.push((slot, info));
                }
            }
            let wanted = describe_wanted(&u);
            let (slot, info) = match found.len() {
                0 => return Err(Pkcs11Error::TokenNotFound { module: m, wanted, available }),
                1 => found.remove(0),
                n => {
                    let matches = found.iter().map(|(s, i)| describe_token(*s, i)).collect();
                    return Err(Pkcs11Error::TokenAmbiguous { module: m, wanted, n, matches });
                }
            };
            Ok((slot.id(), info.label().to_string(), info.serial_number().to_string()))
        })?;
        let mut open = OPEN_TOKENS.lock().map_err(|_| Pkcs11Error::Other("token table lock poisoned".into()))?;
        open.retain(|t| t.strong_count() > 0);
        if let Some(t) = open.iter().filter_map(|t| t.upgrade()).find(|t| t.module == module && t.slot_id == slot_id) {
            // The same token, already open: its session and login serve this key too.
            return Ok(t);
        }
        worker.set_slot(slot_id);
        let (l, m) = (label.clone(), module.clone());
        let mechanisms = worker.call("opening a session", move |st: &mut State| {
            let ctx = st.ctx()?;
            let slot = Slot::try_from(slot_id).map_err(|e| Pkcs11Error::Other(e.to_string()))?;
            let mechanisms = ctx.get_mechanism_list(slot).map_err(ck("C_GetMechanismList", &l, &m))?;
            let session = ctx.open_rw_session(slot).or_else(|_| ctx.open_ro_session(slot)).map_err(ck("C_OpenSession", &l, &m))?;
            st.session = Some(session);
            Ok(mechanisms)
        })?;
        let token = std::sync::Arc::new(Token {
            worker,
            slot_id,
            label,
            serial,
            module,
            mechanisms,
            uri: uri.clone(),
            logged_in: Mutex::new(false),
            pin: Mutex::new(None),
        });
        open.push(std::sync::Arc::downgrade(&token));
        Ok(token)
    }

    /// Logs the user in: at most one attempt per token and run, and none
    /// when this token's session is already logged in (a second key on the
    /// token); refuses when the token is locked, or reports final try unless
    /// `allow_final_try`.
    pub fn login(&self, opts: &OpenOptions) -> Result<(), Pkcs11Error> {
        let mut logged_in = self.logged_in.lock().map_err(|_| Pkcs11Error::Other("token login lock poisoned".into()))?;
        if *logged_in {
            return Ok(());
        }
        let key = (self.module.clone(), format!("{}/{}", self.serial, self.label));
        if FAILED_LOGINS.lock().map(|l| l.contains(&key)).unwrap_or(false) {
            return Err(Pkcs11Error::SecondLogin { token: self.label.clone() });
        }
        let (login_required, flags) = self.info_flags()?;
        if flags.locked {
            return Err(Pkcs11Error::PinLocked { token: self.label.clone() });
        }
        if !login_required {
            return Ok(());
        }
        if flags.final_try && !opts.allow_final_try {
            return Err(Pkcs11Error::FinalTry { token: self.label.clone() });
        }
        let pin = match &opts.pin {
            Some(p) => p.clone(),
            None => self.uri.resolve_pin().map_err(|e| Pkcs11Error::Pin { token: self.label.clone(), msg: e.to_string() })?,
        };
        let (label, module) = (self.label.clone(), self.module.clone());
        let sent = pin.clone();
        let result = self.worker.call("logging in", move |st: &mut State| {
            let auth = AuthPin::from(sent.as_str());
            match st.session()?.login(UserType::User, Some(&auth)) {
                Ok(()) => {
                    st.logged_in_by_us = true;
                    Ok(Ok(()))
                }
                Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(Ok(())),
                Err(CkError::Pkcs11(rv @ (RvError::PinIncorrect | RvError::PinLocked | RvError::PinLenRange | RvError::PinInvalid), _)) => Ok(Err(rv)),
                Err(e) => Err(ck("C_Login", &label, &module)(e)),
            }
        })?;
        match result {
            Ok(()) => {
                *logged_in = true;
                if let Ok(mut p) = self.pin.lock() {
                    *p = Some(pin);
                }
                Ok(())
            }
            Err(rv) => {
                if let Ok(mut l) = FAILED_LOGINS.lock() {
                    l.push(key);
                }
                let flags = self.info_flags().map(|f| f.1).unwrap_or_default();
                if rv == RvError::PinLocked || flags.locked {
                    Err(Pkcs11Error::PinLocked { token: self.label.clone() })
                } else {
                    Err(Pkcs11Error::WrongPin { token: self.label.clone(), flags })
                }
            }
        }
    }

    /// Whether the private key `handle` has CKA_ALWAYS_AUTHENTICATE set (a
    /// token that does not know the attribute: no).
    fn always_authenticate(&self, handle: ObjectHandle) -> Result<bool, Pkcs11Error> {
        self.worker.call("reading CKA_ALWAYS_AUTHENTICATE", move |st: &mut State| {
            let attrs = st.session()?.get_attributes(handle, &[AttributeType::AlwaysAuthenticate]).unwrap_or_default();
            Ok(attrs.iter().any(|a| matches!(a, Attribute::AlwaysAuthenticate(true))))
        })
    }

    fn failed_key(&self) -> (PathBuf, String) {
        (self.module.clone(), format!("{}/{}", self.serial, self.label))
    }

    /// The PIN for context-specific logins: the one of this run's user
    /// login, else resolved once now (a token that needed no user login)
    /// and kept, zeroizing, for the run.
    fn context_pin(&self, opts: &OpenOptions) -> Result<Secret, Pkcs11Error> {
        let mut held = self.pin.lock().map_err(|_| Pkcs11Error::Other("token PIN lock poisoned".into()))?;
        if let Some(p) = held.as_ref() {
            return Ok(p.clone());
        }
        let pin = match &opts.pin {
            Some(p) => p.clone(),
            None => self.uri.resolve_pin().map_err(|e| Pkcs11Error::Pin { token: self.label.clone(), msg: e.to_string() })?,
        };
        *held = Some(pin.clone());
        Ok(pin)
    }

    /// The held PIN for the next context-specific login; refused once such
    /// a login (or the user login) failed in this run.
    fn context_pin_for_signing(&self) -> Result<Secret, Pkcs11Error> {
        if FAILED_LOGINS.lock().map(|l| l.contains(&self.failed_key())).unwrap_or(false) {
            return Err(Pkcs11Error::SecondLogin { token: self.label.clone() });
        }
        let held = self.pin.lock().map_err(|_| Pkcs11Error::Other("token PIN lock poisoned".into()))?;
        held.clone().ok_or_else(|| Pkcs11Error::Other(format!("no PIN held for the context-specific login on token {:?}", self.label)))
    }

    /// Records a failed context-specific login: no further PIN attempt on
    /// this token in this run, and the held PIN is dropped (wiped).
    fn context_login_failed(&self) {
        if let Ok(mut l) = FAILED_LOGINS.lock() {
            l.push(self.failed_key());
        }
        if let Ok(mut p) = self.pin.lock() {
            *p = None;
        }
    }

    fn info_flags(&self) -> Result<(bool, PinFlags), Pkcs11Error> {
        let (slot_id, label, module) = (self.slot_id, self.label.clone(), self.module.clone());
        self.worker.call("reading token flags", move |st: &mut State| {
            let slot = Slot::try_from(slot_id).map_err(|e| Pkcs11Error::Other(e.to_string()))?;
            let info = st.ctx()?.get_token_info(slot).map_err(ck("C_GetTokenInfo", &label, &module))?;
            Ok((info.login_required(), PinFlags::of(&info)))
        })
    }

    fn has(&self, m: MechanismType) -> bool {
        self.mechanisms.contains(&m)
    }

    /// C_GetMechanismInfo of `m`, if the token offers it.
    fn mechanism_facts(&self, m: MechanismType) -> Result<Option<caps::MechFacts>, Pkcs11Error> {
        if !self.has(m) {
            return Ok(None);
        }
        let slot_id = self.slot_id;
        self.worker.call("reading mechanism info", move |st: &mut State| {
            let slot = Slot::try_from(slot_id).map_err(|e| Pkcs11Error::Other(e.to_string()))?;
            Ok(st.ctx()?.get_mechanism_info(slot, m).ok().map(|mi| mech_facts(m, &mi)))
        })
    }

    /// C_GetMechanismInfo of every mechanism the token offers.
    fn mechanism_facts_all(&self) -> Result<Vec<caps::MechFacts>, Pkcs11Error> {
        let (slot_id, mechs) = (self.slot_id, self.mechanisms.clone());
        self.worker.call("reading mechanism info", move |st: &mut State| {
            let slot = Slot::try_from(slot_id).map_err(|e| Pkcs11Error::Other(e.to_string()))?;
            let ctx = st.ctx()?;
            Ok(mechs.into_iter().filter_map(|m| ctx.get_mechanism_info(slot, m).ok().map(|mi| mech_facts(m, &mi))).collect())
        })
    }

    /// Finds the one private key named by the URI's `object`/`id`.
    pub fn find_key(&self, uri: &Pkcs11Uri) -> Result<(ObjectHandle, TokenKey), Pkcs11Error> {
        if uri.object.is_none() && uri.id.is_none() {
            return Err(Pkcs11Error::NoKeySelector);
        }
        let (label, id) = (uri.object.clone(), uri.id.clone());
        let (tlabel, module) = (self.label.clone(), self.module.clone());
        let base = self.uri.token_only();
        self.worker.call("finding the key", move |st: &mut State| {
            let s = st.session()?;
            let mut tpl = vec![Attribute::Class(ObjectClass::PRIVATE_KEY)];
            if let Some(l) = &label {
                tpl.push(Attribute::Label(l.as_bytes().to_vec()));
            }
            if let Some(i) = &id {
                tpl.push(Attribute::Id(i.clone()));
            }
            let found = s.find_objects(&tpl).map_err(ck("C_FindObjects", &tlabel, &module))?;
            let what = match (&label, &id) {
                (Some(l), Some(i)) => format!("label {l:?} and id {}", data_encoding::HEXLOWER.encode(i)),
                (Some(l), None) => format!("label {l:?}"),
                (None, Some(i)) => format!("id {}", data_encoding::HEXLOWER.encode(i)),
                (None, None) => String::new(),
            };
            let handle = match found.as_slice() {
                [] => return Err(Pkcs11Error::KeyNotFound { what, token: tlabel }),
                [h] => *h,
                many => {
                    let mut ids = Vec::new();
                    for h in many {
                        let id = read_bytes(s, *h, AttributeType::Id).unwrap_or_default();
                        ids.push(data_encoding::HEXLOWER.encode(&id));
                    }
                    return Err(Pkcs11Error::KeyAmbiguous { n: many.len(), what, token: tlabel, ids });
                }
            };
            let key = read_key(s, handle, &tlabel, &module, &base)?;
            Ok((handle, key))
        })
    }
}

fn describe_wanted(u: &Pkcs11Uri) -> String {
    let mut v = Vec::new();
    if let Some(t) = &u.token {
        v.push(format!("label {t:?}"));
    }
    if let Some(s) = &u.serial {
        v.push(format!("serial {s:?}"));
    }
    if let Some(s) = &u.manufacturer {
        v.push(format!("manufacturer {s:?}"));
    }
    if let Some(s) = &u.model {
        v.push(format!("model {s:?}"));
    }
    if let Some(s) = u.slot_id {
        v.push(format!("slot-id {s}"));
    }
    if v.is_empty() {
        "(any token)".to_string()
    } else {
        format!("with {}", v.join(", "))
    }
}

fn read_bytes(s: &Session, h: ObjectHandle, t: AttributeType) -> Option<Vec<u8>> {
    let attrs = s.get_attributes(h, &[t]).ok()?;
    attrs.into_iter().find_map(|a| match a {
        Attribute::Id(v) | Attribute::Label(v) | Attribute::Modulus(v) | Attribute::PublicExponent(v) | Attribute::EcParams(v) | Attribute::EcPoint(v) => Some(v),
        _ => None,
    })
}

fn read_key_type(s: &Session, h: ObjectHandle) -> Option<KeyType> {
    s.get_attributes(h, &[AttributeType::KeyType]).ok()?.into_iter().find_map(|a| match a {
        Attribute::KeyType(k) => Some(k),
        _ => None,
    })
}

/// Reads a key's label, id, type and public key. The public part comes from
/// the private key object where the token exposes it (RSA modulus and
/// exponent), else from the public key object with the same id.
fn read_key(s: &Session, h: ObjectHandle, token: &str, module: &Path, base: &Pkcs11Uri) -> Result<TokenKey, Pkcs11Error> {
    let label = read_bytes(s, h, AttributeType::Label).map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
    let id = read_bytes(s, h, AttributeType::Id).unwrap_or_default();
    let kt = read_key_type(s, h).ok_or_else(|| Pkcs11Error::Other(format!("key {label:?} on token {token:?} has no readable CKA_KEY_TYPE")))?;
    let public_object = || -> Option<ObjectHandle> {
        let mut tpl = vec![Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(id.clone())];
        if id.is_empty() {
            tpl = vec![Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Label(label.as_bytes().to_vec())];
        }
        s.find_objects(&tpl).ok()?.first().copied()
    };
    let unsupported = |what: &str| Pkcs11Error::Unsupported(format!("key {label:?} on token {token:?} is {what}; kskit signs with RSA, EC P-256, EC P-384 and Ed25519 keys"));
    let (kind, public_key) = if kt == KeyType::RSA {
        let (n, e) = match (read_bytes(s, h, AttributeType::Modulus), read_bytes(s, h, AttributeType::PublicExponent)) {
            (Some(n), Some(e)) if !n.is_empty() && !e.is_empty() => (n, e),
            _ => {
                let p = public_object().ok_or_else(|| Pkcs11Error::Other(format!("RSA key {label:?} on token {token:?}: no modulus readable and no public key object with its id")))?;
                let n = read_bytes(s, p, AttributeType::Modulus).unwrap_or_default();
                let e = read_bytes(s, p, AttributeType::PublicExponent).unwrap_or_default();
                (n, e)
            }
        };
        let key = rsa_encode(&e, &n);
        let bits = Dnskey::new(FLAG_ZONE | FLAG_SEP, Algorithm::RsaSha256, key.clone()).key_bits().unwrap_or(0);
        (KeyKind::Rsa { bits }, key)
    } else if kt == KeyType::EC || kt == KeyType::EC_EDWARDS {
        let params = read_bytes(s, h, AttributeType::EcParams)
            .or_else(|| public_object().and_then(|p| read_bytes(s, p, AttributeType::EcParams)))
            .unwrap_or_default();
        let curve = Curve::from_params(&params).ok_or_else(|| unsupported("on an EC curve kskit does not know"))?;
        let p = public_object().ok_or_else(|| {
            Pkcs11Error::Other(format!(
                "EC key {label:?} on token {token:?} has no public key object with the same id; kskit needs it for the DNSKEY"
            ))
        })?;
        let point = read_bytes(s, p, AttributeType::EcPoint).unwrap_or_default();
        let key = encode::ec_point_to_dnskey(&point, curve).ok_or_else(|| {
            Pkcs11Error::Other(format!("EC key {label:?} on token {token:?}: cannot decode CKA_EC_POINT ({} bytes)", point.len()))
        })?;
        (KeyKind::Ec(curve), key)
    } else {
        return Err(unsupported(&format!("a {kt} key")));
    };
    let _ = module;
    let mut uri = base.clone();
    uri.object = (!label.is_empty()).then(|| label.clone());
    uri.id = (!id.is_empty()).then(|| id.clone());
    uri.set_pin_value(None);
    Ok(TokenKey { uri, label, id, kind, public_key })
}

/// A KSK (or any DNSSEC key) on a PKCS#11 token.
pub struct Pkcs11Signer {
    token: std::sync::Arc<Token>,
    handle: ObjectHandle,
    key: TokenKey,
    algorithm: Algorithm,
    dnskey: Dnskey,
    mechanism: SignMechanism,
    modulus_len: usize,
    count: AtomicU64,
    described: String,
    /// The key has CKA_ALWAYS_AUTHENTICATE: C_Login(CKU_CONTEXT_SPECIFIC)
    /// with the token's PIN between C_SignInit and each C_Sign.
    always_authenticate: bool,
}

impl std::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Signer({}, {}, {})", self.described, self.algorithm, self.mechanism.name())
    }
}

impl Pkcs11Signer {
    /// Opens the token named by `uri`, logs in, finds the key and picks the
    /// signing mechanism for `algorithm`. `flags` are the DNSKEY flags (257 for a KSK).
    pub fn open(uri: &Pkcs11Uri, algorithm: Algorithm, flags: u16, opts: &OpenOptions) -> Result<Pkcs11Signer, Pkcs11Error> {
        if !algorithm.can_sign() {
            return Err(Pkcs11Error::Unsupported(format!("algorithm {algorithm} is verify-only (RFC 8624); kskit does not sign with it")));
        }
        let token = Token::open(uri, opts)?;
        token.login(opts)?;
        let (handle, key) = token.find_key(uri)?;
        if !key.kind.fits(algorithm) {
            return Err(Pkcs11Error::Unsupported(format!(
                "key {:?} on token {:?} is an {} key; it cannot sign {algorithm} (it fits {})",
                key.label,
                token.label,
                key.kind.describe(),
                key.kind.algorithms().iter().map(|a| a.mnemonic()).collect::<Vec<_>>().join(", ")
            )));
        }
        let mechanism = SignMechanism::candidates(algorithm).iter().copied().find(|m| token.has(m.mechanism_type())).ok_or_else(|| {
            Pkcs11Error::Unsupported(format!(
                "token {:?} offers no mechanism to sign {algorithm} (needs one of {})",
                token.label,
                SignMechanism::candidates(algorithm).iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let dnskey = key.dnskey(algorithm, flags);
        let modulus_len = match key.kind {
            KeyKind::Rsa { bits } => (bits as usize).div_ceil(8),
            KeyKind::Ec(_) => 0,
        };
        let described = key.uri.to_string();
        let always_authenticate = token.always_authenticate(handle)?;
        if always_authenticate {
            // Ask for the PIN now (once, before signing starts), not at the first signature.
            token.context_pin(opts)?;
        }
        Ok(Pkcs11Signer {
            token,
            handle,
            key,
            algorithm,
            dnskey,
            mechanism,
            modulus_len,
            count: AtomicU64::new(0),
            described,
            always_authenticate,
        })
    }

    /// The mechanism used for signing (e.g. `CKM_RSA_PKCS` on a card without hash-and-sign).
    pub fn mechanism(&self) -> SignMechanism {
        self.mechanism
    }

    /// Signing operations sent to the token so far.
    pub fn sign_count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The key as found on the token.
    pub fn key(&self) -> &TokenKey {
        &self.key
    }

    /// Whether the key asks for a login before each signature (CKA_ALWAYS_AUTHENTICATE).
    pub fn always_authenticate(&self) -> bool {
        self.always_authenticate
    }

    /// The token's label.
    pub fn token_label(&self) -> &str {
        &self.token.label
    }

    fn sign_inner(&self, data: &[u8]) -> Result<Vec<u8>, Pkcs11Error> {
        let alg = self.algorithm;
        let input: Vec<u8> = match self.mechanism {
            m if m.token_hashes() => data.to_vec(),
            SignMechanism::RsaPkcs => encode::digest_info(alg, data).ok_or_else(|| Pkcs11Error::Other("no DigestInfo for algorithm".into()))?,
            SignMechanism::RsaX509 => {
                let di = encode::digest_info(alg, data).ok_or_else(|| Pkcs11Error::Other("no DigestInfo for algorithm".into()))?;
                encode::pkcs1_v15_pad(&di, self.modulus_len)
                    .ok_or_else(|| Pkcs11Error::Unsupported(format!("RSA modulus of {} bytes is too short for {alg}", self.modulus_len)))?
            }
            _ => encode::host_hash(alg, data).ok_or_else(|| Pkcs11Error::Other("no host hash for algorithm".into()))?,
        };
        let (mech, handle) = (self.mechanism, self.handle);
        let (label, module) = (self.token.label.clone(), self.token.module.clone());
        self.count.fetch_add(1, Ordering::SeqCst);
        let context_pin = if self.always_authenticate { Some(self.token.context_pin_for_signing()?) } else { None };
        let key_label = self.key.label.clone();
        let raw = self.token.worker.call("signing", move |st: &mut State| {
            if st.raw.is_none() && context_pin.is_some() {
                let raw = raw::RawSign::load(&st.module).map_err(|e| Pkcs11Error::Other(format!("cannot find C_Sign in {}: {e}", st.module.display())))?;
                st.raw = Some(raw);
            }
            let s = st.session()?;
            let eddsa = EddsaParams::new(EddsaSignatureScheme::Pure);
            let m = match mech {
                SignMechanism::Sha256RsaPkcs => Mechanism::Sha256RsaPkcs,
                SignMechanism::Sha512RsaPkcs => Mechanism::Sha512RsaPkcs,
                SignMechanism::RsaPkcs => Mechanism::RsaPkcs,
                SignMechanism::RsaX509 => Mechanism::RsaX509,
                SignMechanism::EcdsaSha256 => Mechanism::EcdsaSha256,
                SignMechanism::EcdsaSha384 => Mechanism::EcdsaSha384,
                SignMechanism::Ecdsa => Mechanism::Ecdsa,
                SignMechanism::Eddsa => Mechanism::Eddsa(eddsa),
            };
            let Some(pin) = context_pin else {
                return Ok(s.sign(&m, handle, &input).map_err(ck(&format!("C_Sign with {}", mech.name()), &label, &module)));
            };
            // C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Sign (PKCS#11 3.0 §5.2).
            s.sign_init(&m, handle).map_err(ck(&format!("C_SignInit with {}", mech.name()), &label, &module))?;
            let auth = AuthPin::from(pin.as_str());
            match s.login(UserType::ContextSpecific, Some(&auth)) {
                Ok(()) => {}
                Err(CkError::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange | RvError::PinLocked, _)) => {
                    return Ok(Err(Pkcs11Error::WrongContextPin { token: label, key: key_label, flags: PinFlags::default() }));
                }
                Err(e) => return Err(ck("C_Login (context-specific)", &label, &module)(e)),
            }
            let raw = st.raw.as_ref().ok_or_else(|| Pkcs11Error::Other("C_Sign not loaded".into()))?;
            Ok(raw.sign(s.handle(), &input).map_err(ck(&format!("C_Sign with {}", mech.name()), &label, &module)))
        })?;
        let raw = match raw {
            Ok(r) => r,
            Err(Pkcs11Error::WrongContextPin { token, key, .. }) => {
                self.token.context_login_failed();
                let flags = self.token.info_flags().map(|f| f.1).unwrap_or_default();
                return Err(Pkcs11Error::WrongContextPin { token, key, flags });
            }
            Err(e) => return Err(e),
        };
        let sig = match self.key.kind {
            KeyKind::Rsa { .. } => encode::left_pad(&raw, self.modulus_len),
            KeyKind::Ec(Curve::Ed25519) => (raw.len() == 64).then_some(raw),
            KeyKind::Ec(c) => encode::ecdsa_to_fixed(&raw, c.field_len()),
        }
        .ok_or_else(|| Pkcs11Error::BadSignature(format!("token returned a signature of unexpected form for {alg}")))?;
        crate::dnssec::verify::verify_raw(&self.dnskey, data, &sig).map_err(|e| {
            Pkcs11Error::BadSignature(format!("{e} (key {:?} on token {:?}, {})", self.key.label, self.token.label, self.mechanism.name()))
        })?;
        Ok(sig)
    }
}

impl Signer for Pkcs11Signer {
    fn dnskey(&self) -> &Dnskey {
        &self.dnskey
    }
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, BackendError> {
        Ok(self.sign_inner(data)?)
    }
    fn describe(&self) -> String {
        self.described.clone()
    }
}

/// The least time kskit waits for C_GenerateKeyPair.
pub const KEYGEN_MIN_TIMEOUT: Duration = Duration::from_secs(300);

fn mech_facts(mt: MechanismType, mi: &cryptoki::mechanism::MechanismInfo) -> caps::MechFacts {
    caps::MechFacts {
        mechanism: mt,
        min_key_size: mi.min_key_size() as u64,
        max_key_size: mi.max_key_size() as u64,
        sign: mi.sign(),
        generate_key_pair: mi.generate_key_pair(),
    }
}

fn ensure_label_free(token: &Token, label: &str) -> Result<(), Pkcs11Error> {
    let (l, tl, m) = (label.to_string(), token.label.clone(), token.module.clone());
    token.worker.call("checking the label", move |st: &mut State| {
        let found = st.session()?.find_objects(&[Attribute::Label(l.as_bytes().to_vec())]).map_err(ck("C_FindObjects", &tl, &m))?;
        if found.is_empty() {
            Ok(())
        } else {
            Err(Pkcs11Error::LabelExists { label: l, token: tl })
        }
    })
}

/// Destroys every object labelled `label` on the token named by `uri`
/// (logging in), through the token's worker thread and its timeouts;
/// returns how many were destroyed. Callers guard which labels they may
/// remove (the benchmark removes only its own `kskit-bench-` keys).
pub fn delete_objects(uri: &Pkcs11Uri, label: &str, opts: &OpenOptions) -> Result<usize, Pkcs11Error> {
    if label.is_empty() {
        return Err(Pkcs11Error::Other("a key label is required".into()));
    }
    let token = Token::open(uri, opts)?;
    token.login(opts)?;
    let (l, tl, m) = (label.to_string(), token.label.clone(), token.module.clone());
    token.worker.call("removing objects", move |st: &mut State| {
        let s = st.session()?;
        let found = s.find_objects(&[Attribute::Label(l.as_bytes().to_vec())]).map_err(ck("C_FindObjects", &tl, &m))?;
        let n = found.len();
        for o in found {
            s.destroy_object(o).map_err(ck("C_DestroyObject", &tl, &m))?;
        }
        Ok(n)
    })
}

/// Generates a key pair on the token named by `uri` (logging in): private key
/// CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE, CKA_SIGN true, CKA_EXTRACTABLE
/// false, with a random 16-byte CKA_ID and `label`. Refuses when an object
/// with `label` exists. `bits` is checked per algorithm (RSA 2048/3072/4096).
pub fn keygen(uri: &Pkcs11Uri, alg: Algorithm, bits: Option<u32>, label: &str, opts: &OpenOptions) -> Result<TokenKey, Pkcs11Error> {
    keygen_with(uri, alg, bits, label, opts, false)
}

/// [`keygen`], and with `always_authenticate` the private key gets
/// CKA_ALWAYS_AUTHENTICATE (a login before each signature, as PIV cards
/// require for their signing key).
pub fn keygen_with(
    uri: &Pkcs11Uri,
    alg: Algorithm,
    bits: Option<u32>,
    label: &str,
    opts: &OpenOptions,
    always_authenticate: bool,
) -> Result<TokenKey, Pkcs11Error> {
    keygen_accepting(uri, alg, bits, label, opts, always_authenticate, 1, &mut |_| true)
}

/// [`keygen_with`], retried while `accept` refuses the key made (a key tag
/// another key of the zone has): the refused key pair is destroyed on the
/// token, in the same session and login, and another is made, up to
/// `tries` key pairs. Fails naming the tries when none is accepted; then
/// no object with `label` is left on the token.
#[allow(clippy::too_many_arguments)]
pub fn keygen_accepting(
    uri: &Pkcs11Uri,
    alg: Algorithm,
    bits: Option<u32>,
    label: &str,
    opts: &OpenOptions,
    always_authenticate: bool,
    tries: usize,
    accept: &mut dyn FnMut(&TokenKey) -> bool,
) -> Result<TokenKey, Pkcs11Error> {
    let bits = alg.check_new_bits(bits).map_err(|e| Pkcs11Error::Unsupported(e.to_string()))?;
    if label.is_empty() {
        return Err(Pkcs11Error::Other("a key label is required".into()));
    }
    let token = Token::open(uri, opts)?;
    let mech = caps::keygen_mechanism(alg).ok_or_else(|| Pkcs11Error::Unsupported(format!("kskit cannot make {alg} keys")))?;
    if !token.has(mech) {
        return Err(Pkcs11Error::Unsupported(format!("token {:?} does not offer {mech}: it cannot make {alg} keys", token.label)));
    }
    // The key size the token states it can make (a TPM: RSA up to 3072 bits).
    if let Some(facts) = token.mechanism_facts(mech)? {
        if !caps::size_allowed(alg, &facts, bits) {
            return Err(Pkcs11Error::Unsupported(caps::size_refusal(&token.label, alg, &facts, bits)));
        }
    }
    // A signing mechanism must exist before a key is made that could not sign.
    if caps::sign_mechanism(alg, &token.mechanism_facts_all()?).is_none() {
        return Err(Pkcs11Error::Unsupported(format!(
            "token {:?} offers no mechanism to sign {alg} (needs one of {}); no key was made",
            token.label,
            SignMechanism::candidates(alg).iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
        )));
    }
    token.login(opts)?;
    ensure_label_free(&token, label)?;
    for _ in 0..tries.max(1) {
        let key = keygen_once(&token, uri, alg, bits, label, always_authenticate)?;
        if accept(&key) {
            return Ok(key);
        }
        let (l, tl, m) = (label.to_string(), token.label.clone(), token.module.clone());
        token.worker.call("removing the refused key pair", move |st: &mut State| {
            let s = st.session()?;
            for o in s.find_objects(&[Attribute::Label(l.as_bytes().to_vec())]).map_err(ck("C_FindObjects", &tl, &m))? {
                s.destroy_object(o).map_err(ck("C_DestroyObject", &tl, &m))?;
            }
            Ok(())
        })?;
    }
    Err(Pkcs11Error::Other(format!("no key pair with a key tag the zone accepts (free, and in this side's key-tag partition when one is set) after {} tries (every one was removed from the token again)", tries.max(1))))
}

/// One key pair generated on an open, logged-in token.
fn keygen_once(token: &Token, uri: &Pkcs11Uri, alg: Algorithm, bits: u32, label: &str, always_authenticate: bool) -> Result<TokenKey, Pkcs11Error> {
    let id: [u8; 16] = rand::random();
    let id = id.to_vec();
    let (l, i, tl, m) = (label.to_string(), id.clone(), token.label.clone(), token.module.clone());
    // Key generation on a smartcard can take minutes (RSA-4096); allow at least 5.
    let gen_timeout = token.worker.timeout().max(KEYGEN_MIN_TIMEOUT);
    token.worker.call_with_timeout("generating the key pair", gen_timeout, move |st: &mut State| {
        let s = st.session()?;
        let common_pub = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Label(l.as_bytes().to_vec()),
            Attribute::Id(i.clone()),
        ];
        let private = vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(l.as_bytes().to_vec()),
            Attribute::Id(i.clone()),
        ];
        let mut private = private;
        if always_authenticate {
            private.push(Attribute::AlwaysAuthenticate(true));
        }
        let gen = |m: Mechanism, extra: Vec<Attribute>| {
            let mut p = common_pub.clone();
            p.extend(extra);
            s.generate_key_pair(&m, &p, &private)
        };
        let r = match alg {
            Algorithm::RsaSha256 | Algorithm::RsaSha512 => gen(
                Mechanism::RsaPkcsKeyPairGen,
                vec![Attribute::ModulusBits((bits as u64).into()), Attribute::PublicExponent(vec![0x01, 0x00, 0x01])],
            ),
            Algorithm::EcdsaP256Sha256 => gen(Mechanism::EccKeyPairGen, vec![Attribute::EcParams(encode::OID_P256.to_vec())]),
            Algorithm::EcdsaP384Sha384 => gen(Mechanism::EccKeyPairGen, vec![Attribute::EcParams(encode::OID_P384.to_vec())]),
            _ => gen(Mechanism::EccEdwardsKeyPairGen, vec![Attribute::EcParams(encode::OID_ED25519.to_vec())]).or_else(|_| {
                gen(Mechanism::EccEdwardsKeyPairGen, vec![Attribute::EcParams(encode::NAME_ED25519.to_vec())])
            }),
        };
        r.map(|_| ()).map_err(ck("C_GenerateKeyPair", &tl, &m))
    })?;
    let mut key_uri = uri.token_only();
    key_uri.object = Some(label.to_string());
    key_uri.id = Some(id);
    key_uri.set_pin_value(None);
    let (_, key) = token.find_key(&key_uri)?;
    Ok(key)
}

/// Puts a software key on the token named by `uri` (logging in) as a
/// sensitive, non-extractable private key object plus a public key object,
/// with `label` and a random CKA_ID. The key is read back and its public key
/// compared with the software key's.
pub fn import_key(uri: &Pkcs11Uri, key: &super::soft::SoftKey, label: &str, opts: &OpenOptions) -> Result<TokenKey, Pkcs11Error> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    use zeroize::Zeroizing;
    if label.is_empty() {
        return Err(Pkcs11Error::Other("a key label is required".into()));
    }
    let alg = key.algorithm();
    let public = key.dnskey().public_key.clone();
    let token = Token::open(uri, opts)?;
    token.login(opts)?;
    ensure_label_free(&token, label)?;
    let id: [u8; 16] = rand::random();
    let id = id.to_vec();
    let bad = |what: &str| Pkcs11Error::Other(format!("cannot read the software key's PKCS#8: {what}"));
    // Private and public templates (CKA_LABEL/CKA_ID and flags added below).
    let (kt, private_parts, public_parts): (KeyType, Vec<Attribute>, Vec<Attribute>) = match alg {
        Algorithm::RsaSha256 | Algorithm::RsaSha512 => {
            let mut k = rsa::RsaPrivateKey::from_pkcs8_der(key.pkcs8()).map_err(|e| bad(&e.to_string()))?;
            k.precompute().map_err(|e| bad(&e.to_string()))?;
            let primes = k.primes();
            let (Some(p), Some(q)) = (primes.first(), primes.get(1)) else { return Err(bad("RSA key without two primes")) };
            let dp = k.dp().ok_or_else(|| bad("no CRT exponent dp"))?;
            let dq = k.dq().ok_or_else(|| bad("no CRT exponent dq"))?;
            let qinv = k.crt_coefficient().ok_or_else(|| bad("no CRT coefficient"))?;
            let n = k.n().to_bytes_be();
            let e = k.e().to_bytes_be();
            (
                KeyType::RSA,
                vec![
                    Attribute::Modulus(n.clone()),
                    Attribute::PublicExponent(e.clone()),
                    Attribute::PrivateExponent(k.d().to_bytes_be()),
                    Attribute::Prime1(p.to_bytes_be()),
                    Attribute::Prime2(q.to_bytes_be()),
                    Attribute::Exponent1(dp.to_bytes_be()),
                    Attribute::Exponent2(dq.to_bytes_be()),
                    Attribute::Coefficient(qinv.to_bytes_be()),
                ],
                vec![Attribute::Modulus(n), Attribute::PublicExponent(e)],
            )
        }
        Algorithm::EcdsaP256Sha256 | Algorithm::EcdsaP384Sha384 | Algorithm::Ed25519 => {
            let info = rsa::pkcs8::PrivateKeyInfo::try_from(key.pkcs8()).map_err(|e| bad(&e.to_string()))?;
            let (curve, kt) = match alg {
                Algorithm::EcdsaP256Sha256 => (Curve::P256, KeyType::EC),
                Algorithm::EcdsaP384Sha384 => (Curve::P384, KeyType::EC),
                _ => (Curve::Ed25519, KeyType::EC_EDWARDS),
            };
            let value = if curve == Curve::Ed25519 {
                encode::ed25519_seed(info.private_key).ok_or_else(|| bad("no Ed25519 seed"))?
            } else {
                encode::ec_private_scalar(info.private_key).ok_or_else(|| bad("no EC private scalar"))?
            };
            let value = Zeroizing::new(value.to_vec());
            (
                kt,
                vec![Attribute::EcParams(curve.params().to_vec()), Attribute::Value(value.to_vec())],
                vec![Attribute::EcParams(curve.params().to_vec()), Attribute::EcPoint(encode::dnskey_to_ec_point(&public, curve))],
            )
        }
        _ => return Err(Pkcs11Error::Unsupported(format!("kskit does not import {alg} keys"))),
    };
    let (l, i, tl, m) = (label.to_string(), id.clone(), token.label.clone(), token.module.clone());
    token.worker.call("importing the key", move |st: &mut State| {
        let s = st.session()?;
        let mut priv_tpl = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(kt),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Label(l.as_bytes().to_vec()),
            Attribute::Id(i.clone()),
        ];
        priv_tpl.extend(private_parts);
        let mut pub_tpl = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(kt),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Label(l.as_bytes().to_vec()),
            Attribute::Id(i),
        ];
        pub_tpl.extend(public_parts);
        let r = s.create_object(&priv_tpl).map_err(ck("C_CreateObject (private key)", &tl, &m));
        // Wipe the private values in the template as soon as the token has them.
        for a in priv_tpl.iter_mut() {
            match a {
                Attribute::PrivateExponent(v)
                | Attribute::Prime1(v)
                | Attribute::Prime2(v)
                | Attribute::Exponent1(v)
                | Attribute::Exponent2(v)
                | Attribute::Coefficient(v)
                | Attribute::Value(v) => zeroize::Zeroize::zeroize(v),
                _ => {}
            }
        }
        let ph = r?;
        if let Err(e) = s.create_object(&pub_tpl) {
            let _ = s.destroy_object(ph);
            return Err(ck("C_CreateObject (public key)", &tl, &m)(e));
        }
        Ok(())
    })?;
    let mut key_uri = uri.token_only();
    key_uri.object = Some(label.to_string());
    key_uri.id = Some(id);
    key_uri.set_pin_value(None);
    let (_, tk) = token.find_key(&key_uri)?;
    if tk.public_key != public {
        return Err(Pkcs11Error::Other(format!(
            "the key imported to token {:?} reads back with a different public key; it was left there with label {label:?}: remove it",
            token.label
        )));
    }
    Ok(tk)
}

/// What `kskit hsm list` shows for a module.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModuleInventory {
    pub module: String,
    pub library_manufacturer: String,
    pub library_description: String,
    pub library_version: String,
    pub cryptoki_version: String,
    pub slots: Vec<SlotInventory>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SlotInventory {
    pub slot_id: u64,
    pub description: String,
    pub token: Option<TokenInventory>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenFlags {
    pub token_initialized: bool,
    pub login_required: bool,
    pub user_pin_initialized: bool,
    pub pin_count_low: bool,
    pub pin_final_try: bool,
    pub pin_locked: bool,
    pub pin_to_be_changed: bool,
    pub protected_authentication_path: bool,
    pub write_protected: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInventory {
    /// The exact label (blank padding removed).
    pub label: String,
    pub serial: String,
    pub manufacturer: String,
    pub model: String,
    pub flags: TokenFlags,
    /// A URI naming this token (without PIN).
    pub uri: String,
    pub sign_mechanisms: Vec<String>,
    pub keygen_mechanisms: Vec<String>,
    /// Per DNSSEC algorithm: the signing mechanism kskit would use, the key
    /// sizes the token can make, and what is missing ([`caps`]).
    pub algorithms: Vec<caps::AlgorithmSupport>,
    /// Whether private objects were listed (after a login).
    pub logged_in: bool,
    /// Why a requested login did not happen, if it did not.
    pub login_error: Option<String>,
    pub keys: Vec<KeyInventory>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInventory {
    pub label: String,
    pub id: String,
    /// "RSA", "EC" or "EC_EDWARDS".
    pub key_type: String,
    pub bits: Option<u32>,
    pub curve: Option<String>,
    pub has_public: bool,
    /// `None` when not logged in (private objects are not visible).
    pub has_private: Option<bool>,
    /// The key tag this key would have as a KSK (flags 257), per algorithm it fits.
    pub ksk_key_tags: Vec<AlgorithmKeyTag>,
    pub uri: String,
    /// Why the public key could not be read, if so.
    pub note: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AlgorithmKeyTag {
    pub algorithm: String,
    pub number: u8,
    pub key_tag: u16,
}

/// Options for [`list`].
#[derive(Default)]
pub struct ListOptions {
    /// Log in with this PIN to list private objects: only to the one token
    /// `filter` selects (or the module's only token); several candidates
    /// are refused before any login.
    pub pin: Option<Secret>,
    /// Only list the keys of tokens matching this URI's token attributes.
    pub filter: Option<Pkcs11Uri>,
    pub timeout: Option<Duration>,
    pub allow_final_try: bool,
}

/// A token seen by [`list`], before its keys are read.
struct ListedToken {
    slot_id: u64,
    label: String,
    described: String,
    final_try: bool,
    login_required: bool,
    initialized: bool,
    /// Whether it matches the `--token` filter (true without a filter).
    wanted: bool,
}

/// Lists every slot and token of `module`: exact labels, serials, flags,
/// signing and key-generation mechanisms, and keys with their would-be KSK
/// key tags. Without a PIN only public objects are seen; with one, only the
/// single token the filter selects is logged into (more than one candidate
/// is refused: a PIN tried on another token costs that token a retry).
pub fn list(module: &Path, opts: &ListOptions) -> Result<ModuleInventory, Pkcs11Error> {
    let worker = Worker::start(module, opts.timeout.unwrap_or(DEFAULT_TIMEOUT))?;
    let m = module.to_path_buf();
    let filter = opts.filter.clone();
    let (mut inv, tokens) = worker.call("reading the slot list", move |st: &mut State| {
        let ctx = st.ctx()?;
        let info = ctx.get_library_info().map_err(ck("C_GetInfo", "", &m))?;
        let slots = ctx.get_all_slots().map_err(ck("C_GetSlotList", "", &m))?;
        let mut out = Vec::new();
        let mut tokens = Vec::new();
        for slot in slots {
            let desc = ctx.get_slot_info(slot).map(|i| i.slot_description().to_string()).unwrap_or_default();
            let token = match ctx.get_token_info(slot) {
                Ok(t) => t,
                Err(_) => {
                    out.push(SlotInventory { slot_id: slot.id(), description: desc, token: None });
                    continue;
                }
            };
            let mut sign = Vec::new();
            let mut gen = Vec::new();
            let mut facts = Vec::new();
            for mt in ctx.get_mechanism_list(slot).unwrap_or_default() {
                if let Ok(mi) = ctx.get_mechanism_info(slot, mt) {
                    if mi.sign() {
                        sign.push(mt.to_string());
                    }
                    if mi.generate_key_pair() {
                        gen.push(mt.to_string());
                    }
                    facts.push(mech_facts(mt, &mi));
                }
            }
            let mut turi = Pkcs11Uri::for_token(token.label());
            turi.serial = Some(token.serial_number().to_string());
            turi.module_path = Some(m.clone());
            let wanted = filter.as_ref().is_none_or(|f| token_matches(f, slot, &token));
            tokens.push(ListedToken {
                slot_id: slot.id(),
                label: token.label().to_string(),
                described: describe_token(slot, &token),
                final_try: token.user_pin_final_try(),
                login_required: token.login_required(),
                initialized: token.token_initialized(),
                wanted,
            });
            out.push(SlotInventory {
                slot_id: slot.id(),
                description: desc,
                token: Some(TokenInventory {
                    label: token.label().to_string(),
                    serial: token.serial_number().to_string(),
                    manufacturer: token.manufacturer_id().to_string(),
                    model: token.model().to_string(),
                    flags: TokenFlags {
                        token_initialized: token.token_initialized(),
                        login_required: token.login_required(),
                        user_pin_initialized: token.user_pin_initialized(),
                        pin_count_low: token.user_pin_count_low(),
                        pin_final_try: token.user_pin_final_try(),
                        pin_locked: token.user_pin_locked(),
                        pin_to_be_changed: token.user_pin_to_be_changed(),
                        protected_authentication_path: token.protected_authentication_path(),
                        write_protected: token.write_protected(),
                    },
                    uri: turi.to_string(),
                    sign_mechanisms: sign,
                    keygen_mechanisms: gen,
                    algorithms: caps::algorithm_support(&facts),
                    logged_in: false,
                    login_error: None,
                    keys: Vec::new(),
                }),
            });
        }
        let inv = ModuleInventory {
            module: m.display().to_string(),
            library_manufacturer: info.manufacturer_id().to_string(),
            library_description: info.library_description().to_string(),
            library_version: info.library_version().to_string(),
            cryptoki_version: info.cryptoki_version().to_string(),
            slots: out,
        };
        Ok((inv, tokens))
    })?;
    // The tokens to list keys of: those the filter names (all without one).
    // A PIN goes to exactly one of them, never tried on another token.
    let selected: Vec<&ListedToken> = tokens.iter().filter(|t| t.initialized && t.wanted).collect();
    let wanted = opts.filter.as_ref().map(describe_wanted).unwrap_or_else(|| "(any token)".to_string());
    if opts.filter.is_some() && selected.is_empty() {
        let available = tokens.iter().filter(|t| t.initialized).map(|t| t.described.clone()).collect();
        return Err(Pkcs11Error::TokenNotFound { module: module.to_path_buf(), wanted, available });
    }
    let login_slot = match (&opts.pin, selected.as_slice()) {
        (None, _) => None,
        (Some(_), []) => return Err(Pkcs11Error::TokenNotFound { module: module.to_path_buf(), wanted, available: Vec::new() }),
        (Some(_), [one]) => Some(one.slot_id),
        (Some(_), many) => {
            return Err(Pkcs11Error::ListLoginAmbiguous {
                module: module.to_path_buf(),
                wanted,
                n: many.len(),
                matches: many.iter().map(|t| t.described.clone()).collect(),
            })
        }
    };
    for t in tokens.iter().filter(|t| t.initialized && t.wanted) {
        let (slot_id, label, final_try, login_required) = (t.slot_id, t.label.clone(), t.final_try, t.login_required);
        let Some(entry) = inv.slots.iter_mut().find(|s| s.slot_id == slot_id).and_then(|s| s.token.as_mut()) else { continue };
        worker.set_slot(slot_id);
        let want_login = login_slot == Some(slot_id) && login_required;
        let login_error = if !want_login {
            None
        } else if entry.flags.pin_locked {
            Some(Pkcs11Error::PinLocked { token: label.clone() }.to_string())
        } else if final_try && !opts.allow_final_try {
            Some(Pkcs11Error::FinalTry { token: label.clone() }.to_string())
        } else {
            None
        };
        let failed_key = (module.to_path_buf(), format!("{}/{}", entry.serial, label));
        let login_error = login_error.or_else(|| {
            let failed_before = want_login && FAILED_LOGINS.lock().map(|l| l.contains(&failed_key)).unwrap_or(false);
            failed_before.then(|| Pkcs11Error::SecondLogin { token: label.clone() }.to_string())
        });
        let pin = if want_login && login_error.is_none() { opts.pin.clone() } else { None };
        let (m, l) = (module.to_path_buf(), label.clone());
        let base = {
            let mut u = Pkcs11Uri::for_token(&label);
            u.serial = Some(entry.serial.clone());
            u.module_path = Some(module.to_path_buf());
            u
        };
        let (logged_in, err, keys) = worker.call("listing the keys", move |st: &mut State| {
            let slot = Slot::try_from(slot_id).map_err(|e| Pkcs11Error::Other(e.to_string()))?;
            let session = match st.ctx()?.open_ro_session(slot) {
                Ok(s) => s,
                Err(e) => return Ok((false, Some(ck("C_OpenSession", &l, &m)(e).to_string()), Vec::new())),
            };
            let mut logged_in = false;
            let mut err = None;
            if let Some(pin) = pin {
                let auth = AuthPin::from(pin.as_str());
                match session.login(UserType::User, Some(&auth)) {
                    Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => logged_in = true,
                    Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                        let flags = st
                            .ctx()
                            .ok()
                            .and_then(|c| c.get_token_info(slot).ok())
                            .map(|i| PinFlags::of(&i))
                            .unwrap_or_default();
                        err = Some(Pkcs11Error::WrongPin { token: l.clone(), flags }.to_string());
                    }
                    Err(e) => err = Some(format!("C_Login failed: {e}")),
                }
            }
            let keys = list_keys(&session, logged_in, &base);
            if logged_in {
                let _ = session.logout();
            }
            drop(session);
            Ok((logged_in, err, keys))
        })?;
        if err.is_some() {
            if let Ok(mut l) = FAILED_LOGINS.lock() {
                l.push(failed_key);
            }
        }
        entry.logged_in = logged_in;
        entry.login_error = login_error.or(err);
        entry.keys = keys;
    }
    Ok(inv)
}

/// Lists key pairs on a session, merged by CKA_ID (and label when ids are empty).
fn list_keys(s: &Session, logged_in: bool, base: &Pkcs11Uri) -> Vec<KeyInventory> {
    let mut out: Vec<KeyInventory> = Vec::new();
    let mut classes = vec![(ObjectClass::PUBLIC_KEY, false)];
    if logged_in {
        classes.push((ObjectClass::PRIVATE_KEY, true));
    }
    for (class, private) in classes {
        let Ok(handles) = s.find_objects(&[Attribute::Class(class)]) else { continue };
        for h in handles {
            let label = read_bytes(s, h, AttributeType::Label).map(|v| String::from_utf8_lossy(&v).into_owned()).unwrap_or_default();
            let id = read_bytes(s, h, AttributeType::Id).unwrap_or_default();
            let id_hex = data_encoding::HEXLOWER.encode(&id);
            if let Some(e) = out.iter_mut().find(|k| k.id == id_hex && (!id.is_empty() || k.label == label)) {
                if private {
                    e.has_private = Some(true);
                }
                continue;
            }
            let kt = read_key_type(s, h);
            let key_type = match kt {
                Some(k) if k == KeyType::RSA => "RSA".to_string(),
                Some(k) if k == KeyType::EC => "EC".to_string(),
                Some(k) if k == KeyType::EC_EDWARDS => "EC_EDWARDS".to_string(),
                Some(k) => k.to_string(),
                None => "unknown".to_string(),
            };
            let mut uri = base.clone();
            uri.object = (!label.is_empty()).then(|| label.clone());
            uri.id = (!id.is_empty()).then(|| id.clone());
            let mut entry = KeyInventory {
                label: label.clone(),
                id: id_hex,
                key_type,
                bits: None,
                curve: None,
                has_public: !private,
                has_private: if private { Some(true) } else if logged_in { Some(false) } else { None },
                ksk_key_tags: Vec::new(),
                uri: uri.to_string(),
                note: None,
            };
            match public_of(s, h, kt) {
                Ok((kind, pk)) => {
                    entry.bits = Some(kind.bits());
                    if let KeyKind::Ec(c) = kind {
                        entry.curve = Some(c.name().to_string());
                    }
                    entry.ksk_key_tags = kind
                        .algorithms()
                        .into_iter()
                        .map(|a| AlgorithmKeyTag {
                            algorithm: a.mnemonic().to_string(),
                            number: a.number(),
                            key_tag: Dnskey::new(FLAG_ZONE | FLAG_SEP, a, pk.clone()).key_tag(),
                        })
                        .collect();
                }
                Err(note) => entry.note = Some(note),
            }
            out.push(entry);
        }
    }
    out
}

/// The public key of a key object: RSA modulus/exponent, or EC point from the
/// object itself or its public twin.
fn public_of(s: &Session, h: ObjectHandle, kt: Option<KeyType>) -> Result<(KeyKind, Vec<u8>), String> {
    match kt {
        Some(k) if k == KeyType::RSA => {
            let n = read_bytes(s, h, AttributeType::Modulus).unwrap_or_default();
            let e = read_bytes(s, h, AttributeType::PublicExponent).unwrap_or_default();
            if n.is_empty() || e.is_empty() {
                return Err("modulus or exponent not readable".into());
            }
            let pk = rsa_encode(&e, &n);
            let bits = Dnskey::new(257, Algorithm::RsaSha256, pk.clone()).key_bits().unwrap_or(0);
            Ok((KeyKind::Rsa { bits }, pk))
        }
        Some(k) if k == KeyType::EC || k == KeyType::EC_EDWARDS => {
            let params = read_bytes(s, h, AttributeType::EcParams).unwrap_or_default();
            let curve = Curve::from_params(&params).ok_or("curve not known to kskit")?;
            let point = read_bytes(s, h, AttributeType::EcPoint)
                .or_else(|| {
                    let id = read_bytes(s, h, AttributeType::Id)?;
                    let p = s.find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(id)]).ok()?.first().copied()?;
                    read_bytes(s, p, AttributeType::EcPoint)
                })
                .ok_or("no public point readable")?;
            let pk = encode::ec_point_to_dnskey(&point, curve).ok_or("cannot decode CKA_EC_POINT")?;
            Ok((KeyKind::Ec(curve), pk))
        }
        _ => Err("not a key type kskit signs with".into()),
    }
}

/// Installs a Ctrl-C (SIGINT/SIGTERM) handler that logs out and closes every
/// open PKCS#11 session (each bounded by its timeout), then exits with 130.
/// Call once, early in the CLI. Errors if a handler is already installed.
pub fn install_interrupt_cleanup() -> Result<(), Pkcs11Error> {
    ctrlc::set_handler(|| {
        eprintln!("kskit: interrupted; logging out of PKCS#11 tokens");
        cleanup_all();
        std::process::exit(130);
    })
    .map_err(|e| Pkcs11Error::Other(format!("cannot install the Ctrl-C handler: {e}")))
}
