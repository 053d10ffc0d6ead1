//! The one key-reference syntax used by every command (docs/checks.md "Key-tag partitions"):
//!
//! * a keystore id, key tag or unique id prefix (`ab12cd`, `20326`), resolved
//!   by the keystore;
//! * `file:PATH`, an age-encrypted software key file;
//! * a PKCS#11 URI (RFC 7512), e.g.
//!   `pkcs11:token=SmartCard-HSM%20(UserPIN);object=ksk-2026?module-path=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so`.
//!
//! Parsing is pure; PIN resolution ([`Pkcs11Uri::resolve_pin`]) is the only
//! part that reads files, the environment or the terminal.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::secrets::Secret;

/// Environment variable holding the default PKCS#11 module path.
pub const ENV_MODULE: &str = "KSKIT_PKCS11_MODULE";
/// Environment variable holding the token PIN (after `pin-value` and `pin-source`).
pub const ENV_PIN: &str = "KSKIT_PIN";
/// Default time a single token call may take before kskit gives up on it.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Errors of key references.
#[derive(Debug, thiserror::Error)]
pub enum KeyRefError {
    #[error("empty key reference (use a keystore id or key tag, file:PATH, or a pkcs11: URI)")]
    Empty,
    #[error("key reference {}: `file:` needs a path, e.g. file:/secure/ksk.age", crate::quote::Q(.0))]
    EmptyFile(String),
    #[error("PKCS#11 URI: unknown path attribute {} (RFC 7512 knows token, object, id, serial, manufacturer, model, slot-id, slot-description, slot-manufacturer, type, library-manufacturer, library-description, library-version; vendor attributes start with x-)", crate::quote::Q(.0))]
    UnknownAttribute(String),
    #[error("PKCS#11 URI: attribute {} is given twice", crate::quote::Q(.0))]
    Duplicate(String),
    #[error("PKCS#11 URI: attribute {} has an invalid value {}: {why}", crate::quote::Q(.name), crate::quote::Q(.value))]
    BadValue { name: String, value: String, why: String },
    #[error("PKCS#11 URI: malformed component {} (expected name=value)", crate::quote::Q(.0))]
    Malformed(String),
    #[error("PKCS#11 URI: bad percent-encoding in {} (use %XX with two hex digits)", crate::quote::Q(.0))]
    BadPercent(String),
    #[error("no PKCS#11 module given: add module-path=/path/to/module.so to the URI or set {ENV_MODULE}")]
    NoModule,
    #[error("cannot read the PIN: {0}")]
    Pin(String),
}

/// Where a key lives.
// A handful of these exist per run; keeping the URI inline keeps matching simple.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A keystore id, key tag or unique prefix, resolved by the keystore.
    Keystore(String),
    /// `file:PATH`: an age-encrypted software key file.
    File(PathBuf),
    /// A key on a PKCS#11 token.
    Pkcs11(Pkcs11Uri),
}

impl FromStr for KeyRef {
    type Err = KeyRefError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() {
            return Err(KeyRefError::Empty);
        }
        if has_scheme(t, "pkcs11:") {
            return Ok(KeyRef::Pkcs11(t.parse()?));
        }
        if has_scheme(t, "file:") {
            let rest = &t[5..];
            // Accept file:///abs/path as well as file:PATH.
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            if rest.is_empty() {
                return Err(KeyRefError::EmptyFile(t.to_string()));
            }
            return Ok(KeyRef::File(PathBuf::from(rest)));
        }
        Ok(KeyRef::Keystore(t.to_string()))
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Keystore(s) => f.write_str(s),
            // A path starting with `//` is written `file://` + path: the
            // parser drops one leading `//` (file:///abs), so `file:` + path
            // would read back as another file (fuzzing found it).
            KeyRef::File(p) if p.to_string_lossy().starts_with("//") => write!(f, "file://{}", p.display()),
            KeyRef::File(p) => write!(f, "file:{}", p.display()),
            KeyRef::Pkcs11(u) => u.fmt(f),
        }
    }
}

fn has_scheme(s: &str, scheme: &str) -> bool {
    s.len() >= scheme.len() && s.is_char_boundary(scheme.len()) && s[..scheme.len()].eq_ignore_ascii_case(scheme)
}

/// RFC 7512 `type` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectType {
    Public,
    Private,
    Cert,
    SecretKey,
    Data,
}

impl ObjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Public => "public",
            ObjectType::Private => "private",
            ObjectType::Cert => "cert",
            ObjectType::SecretKey => "secret-key",
            ObjectType::Data => "data",
        }
    }
}

/// A PKCS#11 URI (RFC 7512) naming a token and optionally a key on it.
///
/// `Display` prints it back in canonical attribute order and never includes
/// `pin-value`, so the printed form can be stored in keystore metadata.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    /// Token label (`token=`), blank padding removed.
    pub token: Option<String>,
    /// Token manufacturer (`manufacturer=`).
    pub manufacturer: Option<String>,
    /// Token model (`model=`).
    pub model: Option<String>,
    /// Token serial number (`serial=`).
    pub serial: Option<String>,
    /// Object label (`object=`, CKA_LABEL).
    pub object: Option<String>,
    /// Object id (`id=`, CKA_ID bytes).
    pub id: Option<Vec<u8>>,
    /// Object type (`type=`).
    pub object_type: Option<ObjectType>,
    /// Slot id (`slot-id=`).
    pub slot_id: Option<u64>,
    pub slot_description: Option<String>,
    pub slot_manufacturer: Option<String>,
    pub library_manufacturer: Option<String>,
    pub library_description: Option<String>,
    pub library_version: Option<String>,
    /// `module-path=`: the PKCS#11 module file.
    pub module_path: Option<PathBuf>,
    /// `module-name=`: kept and printed, but kskit needs `module-path`.
    pub module_name: Option<String>,
    /// `pin-source=`: a file holding the PIN (`file:` URI or path).
    pub pin_source: Option<PathBuf>,
    /// `timeout=` (kskit extension): seconds each token call may take.
    pub timeout_secs: Option<u64>,
    /// `pin-value=`: only for tests and scripts; never printed.
    pin_value: Option<Secret>,
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pkcs11Uri({self}")?;
        if self.pin_value.is_some() {
            f.write_str(" +pin-value")?;
        }
        f.write_str(")")
    }
}

impl Pkcs11Uri {
    /// A URI naming only a token by label.
    pub fn for_token(label: &str) -> Self {
        Pkcs11Uri { token: Some(label.to_string()), ..Default::default() }
    }

    /// Whether a `pin-value` attribute was given.
    pub fn has_pin_value(&self) -> bool {
        self.pin_value.is_some()
    }

    /// Sets (or clears) the `pin-value` attribute.
    pub fn set_pin_value(&mut self, pin: Option<Secret>) {
        self.pin_value = pin;
    }

    /// This URI without the object attributes (`object`, `id`, `type`): the token only.
    pub fn token_only(&self) -> Self {
        Pkcs11Uri { object: None, id: None, object_type: None, ..self.clone() }
    }

    /// The module to load: `module-path`, else env `KSKIT_PKCS11_MODULE`.
    pub fn module(&self) -> Result<PathBuf, KeyRefError> {
        if let Some(p) = &self.module_path {
            return Ok(p.clone());
        }
        match std::env::var_os(ENV_MODULE) {
            Some(v) if !v.is_empty() => Ok(PathBuf::from(v)),
            _ => Err(KeyRefError::NoModule),
        }
    }

    /// Time each token call may take: `timeout=` or 30 s.
    pub fn timeout(&self) -> Duration {
        self.timeout_secs.map(Duration::from_secs).unwrap_or(DEFAULT_TIMEOUT)
    }

    /// A short description of the token for messages: its label, else serial, else slot.
    pub fn token_description(&self) -> String {
        match (&self.token, &self.serial, self.slot_id) {
            (Some(t), _, _) => format!("{t:?}"),
            (None, Some(s), _) => format!("with serial {s:?}"),
            (None, None, Some(id)) => format!("in slot {id}"),
            _ => "(any)".to_string(),
        }
    }

    /// The user PIN: `pin-value` (with a warning on stderr), else the
    /// `pin-source` file, else env `KSKIT_PIN`, else a terminal prompt.
    pub fn resolve_pin(&self) -> Result<Secret, KeyRefError> {
        if let Some(p) = &self.pin_value {
            eprintln!("warning: using the PIN from the URI's pin-value attribute; use pin-source=file:PATH or {ENV_PIN} outside tests and scripts");
            return Ok(p.clone());
        }
        if let Some(path) = &self.pin_source {
            return crate::secrets::read_secret_file(path)
                .map_err(|e| KeyRefError::Pin(format!("pin-source {}: {e}", path.display())));
        }
        if let Ok(v) = std::env::var(ENV_PIN) {
            return Ok(Secret::new(v));
        }
        crate::secrets::prompt_secret(&format!("User PIN for token {}: ", self.token_description()))
            .map_err(|e| KeyRefError::Pin(e.to_string()))
    }
}

const PATH_ATTRS: &[&str] = &[
    "token",
    "manufacturer",
    "serial",
    "model",
    "library-manufacturer",
    "library-description",
    "library-version",
    "object",
    "type",
    "id",
    "slot-manufacturer",
    "slot-description",
    "slot-id",
];

impl FromStr for Pkcs11Uri {
    type Err = KeyRefError;
    /// Parses an RFC 7512 URI: `pkcs11:` path attributes separated by `;`,
    /// then optionally `?` and query attributes separated by `&`. Values are
    /// percent-decoded. Unknown path attributes are rejected; vendor (`x-`)
    /// attributes are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if !has_scheme(s, "pkcs11:") {
            return Err(KeyRefError::Malformed(hide_pin_value(s)));
        }
        let rest = &s[7..];
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut uri = Pkcs11Uri::default();
        for comp in path.split(';').filter(|c| !c.is_empty()) {
            let (name, raw) = comp.split_once('=').ok_or_else(|| KeyRefError::Malformed(comp.to_string()))?;
            let name = name.to_ascii_lowercase();
            if name.starts_with("x-") {
                continue;
            }
            if !PATH_ATTRS.contains(&name.as_str()) {
                return Err(KeyRefError::UnknownAttribute(name));
            }
            let bytes = percent_decode(raw)?;
            uri.set_path_attr(&name, raw, bytes)?;
        }
        if let Some(q) = query {
            // A `pin-value` is never echoed, not even in part: an `&` in an
            // unencoded PIN splits it, so a malformed component right after
            // `pin-value=` may be the rest of the PIN.
            let mut after_pin = false;
            for comp in q.split('&').filter(|c| !c.is_empty()) {
                let Some((name, raw)) = comp.split_once('=') else {
                    return Err(KeyRefError::Malformed(if after_pin {
                        "(after pin-value: hidden; percent-encode `&` in a PIN as %26)".to_string()
                    } else {
                        comp.to_string()
                    }));
                };
                let name = name.to_ascii_lowercase();
                after_pin = name == "pin-value";
                let bytes = if after_pin {
                    percent_decode(raw).map_err(|_| KeyRefError::BadValue {
                        name: "pin-value".into(),
                        value: "(hidden)".into(),
                        why: "bad percent-encoding (use %XX with two hex digits)".into(),
                    })?
                } else {
                    percent_decode(raw)?
                };
                uri.set_query_attr(&name, raw, bytes)?;
            }
        }
        Ok(uri)
    }
}

fn utf8(name: &str, raw: &str, bytes: Vec<u8>) -> Result<String, KeyRefError> {
    String::from_utf8(bytes).map_err(|_| KeyRefError::BadValue {
        name: name.to_string(),
        value: raw.to_string(),
        why: "not UTF-8 after percent-decoding".into(),
    })
}

fn set_once<T>(slot: &mut Option<T>, name: &str, v: T) -> Result<(), KeyRefError> {
    if slot.is_some() {
        return Err(KeyRefError::Duplicate(name.to_string()));
    }
    *slot = Some(v);
    Ok(())
}

impl Pkcs11Uri {
    fn set_path_attr(&mut self, name: &str, raw: &str, bytes: Vec<u8>) -> Result<(), KeyRefError> {
        if name == "id" {
            return set_once(&mut self.id, name, bytes);
        }
        let v = utf8(name, raw, bytes)?;
        let bad = |why: &str| KeyRefError::BadValue { name: name.to_string(), value: raw.to_string(), why: why.to_string() };
        match name {
            "token" => set_once(&mut self.token, name, v),
            "manufacturer" => set_once(&mut self.manufacturer, name, v),
            "serial" => set_once(&mut self.serial, name, v),
            "model" => set_once(&mut self.model, name, v),
            "library-manufacturer" => set_once(&mut self.library_manufacturer, name, v),
            "library-description" => set_once(&mut self.library_description, name, v),
            "library-version" => set_once(&mut self.library_version, name, v),
            "object" => set_once(&mut self.object, name, v),
            "slot-manufacturer" => set_once(&mut self.slot_manufacturer, name, v),
            "slot-description" => set_once(&mut self.slot_description, name, v),
            "slot-id" => {
                let n = v.parse::<u64>().map_err(|_| bad("slot-id is a decimal number"))?;
                set_once(&mut self.slot_id, name, n)
            }
            "type" => {
                let t = match v.as_str() {
                    "public" => ObjectType::Public,
                    "private" => ObjectType::Private,
                    "cert" => ObjectType::Cert,
                    "secret-key" => ObjectType::SecretKey,
                    "data" => ObjectType::Data,
                    _ => return Err(bad("type is one of public, private, cert, secret-key, data")),
                };
                set_once(&mut self.object_type, name, t)
            }
            other => Err(KeyRefError::UnknownAttribute(other.to_string())),
        }
    }

    fn set_query_attr(&mut self, name: &str, raw: &str, bytes: Vec<u8>) -> Result<(), KeyRefError> {
        if name == "pin-value" {
            let pin = Secret::new(utf8(name, "(hidden)", bytes)?);
            return set_once(&mut self.pin_value, name, pin);
        }
        let v = utf8(name, raw, bytes)?;
        let bad = |why: &str| KeyRefError::BadValue { name: name.to_string(), value: raw.to_string(), why: why.to_string() };
        match name {
            "module-path" => {
                if v.is_empty() {
                    return Err(bad("module-path needs a file path"));
                }
                set_once(&mut self.module_path, name, PathBuf::from(v))
            }
            "module-name" => set_once(&mut self.module_name, name, v),
            "pin-source" => {
                let p = v.strip_prefix("file://").or_else(|| v.strip_prefix("file:")).unwrap_or(&v);
                if p.is_empty() {
                    return Err(bad("pin-source needs a file, e.g. pin-source=file:/run/kskit/pin"));
                }
                set_once(&mut self.pin_source, name, PathBuf::from(p))
            }
            "timeout" => {
                let n = v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| bad("timeout is a positive number of seconds"))?;
                set_once(&mut self.timeout_secs, name, n)
            }
            // RFC 7512 §2.3: unknown query attributes may be ignored; vendor ones are.
            _ => Ok(()),
        }
    }
}

/// `s` with the value of every `pin-value=` attribute replaced by
/// `(hidden)`, up to the next `&` or the end, for error messages quoting a
/// key reference. Matches the attribute name in any case.
pub fn hide_pin_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.to_ascii_lowercase().find("pin-value=") {
        let start = i + "pin-value=".len();
        out.push_str(&rest[..start]);
        out.push_str("(hidden)");
        rest = &rest[start..];
        rest = rest.find('&').map_or("", |j| &rest[j..]);
    }
    out.push_str(rest);
    out
}

/// Decodes `%XX` escapes (RFC 3986 §2.1).
pub fn percent_decode(s: &str) -> Result<Vec<u8>, KeyRefError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or_else(|| KeyRefError::BadPercent(s.to_string()))?;
            let txt = std::str::from_utf8(hex).map_err(|_| KeyRefError::BadPercent(s.to_string()))?;
            let v = u8::from_str_radix(txt, 16).map_err(|_| KeyRefError::BadPercent(s.to_string()))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Percent-encodes `v`, leaving RFC 3986 unreserved characters and `extra` as they are.
fn percent_encode(v: &[u8], extra: &[u8]) -> String {
    let mut s = String::with_capacity(v.len());
    for &c in v {
        if c.is_ascii_alphanumeric() || b"-._~".contains(&c) || extra.contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

/// Characters RFC 7512 allows unescaped in path values (p-res-avail minus `&`, kept simple).
const PATH_EXTRA: &[u8] = b":[]@!$'()*+,";
/// Characters RFC 7512 allows unescaped in query values (q-res-avail).
const QUERY_EXTRA: &[u8] = b":[]@!$'()*+,/?|";

impl fmt::Display for Pkcs11Uri {
    /// The URI in canonical order, without `pin-value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path: Vec<String> = Vec::new();
        let mut p = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                path.push(format!("{name}={}", percent_encode(v.as_bytes(), PATH_EXTRA)));
            }
        };
        p("library-manufacturer", &self.library_manufacturer);
        p("library-description", &self.library_description);
        p("library-version", &self.library_version);
        p("slot-manufacturer", &self.slot_manufacturer);
        p("slot-description", &self.slot_description);
        p("manufacturer", &self.manufacturer);
        p("model", &self.model);
        p("serial", &self.serial);
        p("token", &self.token);
        p("object", &self.object);
        if let Some(id) = self.slot_id {
            path.push(format!("slot-id={id}"));
        }
        if let Some(id) = &self.id {
            // every byte encoded, as RFC 7512 §2.3 recommends for ids
            path.push(format!("id={}", id.iter().map(|b| format!("%{b:02X}")).collect::<String>()));
        }
        if let Some(t) = self.object_type {
            path.push(format!("type={}", t.as_str()));
        }
        write!(f, "pkcs11:{}", path.join(";"))?;
        let mut query: Vec<String> = Vec::new();
        if let Some(m) = &self.module_name {
            query.push(format!("module-name={}", percent_encode(m.as_bytes(), QUERY_EXTRA)));
        }
        if let Some(m) = &self.module_path {
            query.push(format!("module-path={}", percent_encode(m.to_string_lossy().as_bytes(), QUERY_EXTRA)));
        }
        if let Some(m) = &self.pin_source {
            // `file://` + a path starting with `//`: the parser drops a leading
            // `file://`, so `file:` + `//run/pin` would read back as `run/pin`.
            let scheme = if m.to_string_lossy().starts_with("//") { "file://" } else { "file:" };
            query.push(format!("pin-source={scheme}{}", percent_encode(m.to_string_lossy().as_bytes(), QUERY_EXTRA)));
        }
        if let Some(t) = self.timeout_secs {
            query.push(format!("timeout={t}"));
        }
        if !query.is_empty() {
            write!(f, "?{}", query.join("&"))?;
        }
        Ok(())
    }
}

/// Whether `p` names an existing file; used for clear "module not found" errors.
pub fn module_exists(p: &Path) -> bool {
    p.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (fuzz target `keyref`): a file path starting with `//`
    /// printed as `file://srv/k.age`, which reads back as the relative path
    /// `srv/k.age`; and `file:////` printed as `file://`, which did not parse.
    #[test]
    fn file_paths_starting_with_two_slashes_print_and_read_back() {
        for input in ["file:////srv/k.age", "file:////\t", "file:////", "file:///abs/k.age", "file:rel/k.age", "file://x"] {
            let r: KeyRef = input.parse().unwrap();
            let printed = r.to_string();
            assert_eq!(printed.parse::<KeyRef>().unwrap(), r, "{input:?} printed as {printed:?}");
        }
        assert_eq!("file:////srv/k.age".parse::<KeyRef>().unwrap(), KeyRef::File(PathBuf::from("//srv/k.age")));
    }

    /// Regression (fuzz target `keyref`): the same for `pin-source`:
    /// `pin-source=//` printed as `pin-source=file://`, which did not parse,
    /// and `pin-source=file:////run/pin` read back as `run/pin`.
    #[test]
    fn pin_source_paths_starting_with_two_slashes_print_and_read_back() {
        for q in ["//", "file:////run/pin", "file:///run/pin", "/run/pin", "file:pin"] {
            let input = format!("pkcs11:token=t;object=k?pin-source={q}");
            let r: KeyRef = input.parse().unwrap();
            let printed = r.to_string();
            assert_eq!(printed.parse::<KeyRef>().unwrap(), r, "{input:?} printed as {printed:?}");
        }
    }

    #[test]
    fn keystore_and_file_forms() {
        assert_eq!("ab12cd".parse::<KeyRef>().unwrap(), KeyRef::Keystore("ab12cd".into()));
        assert_eq!("20326".parse::<KeyRef>().unwrap(), KeyRef::Keystore("20326".into()));
        assert_eq!("file:/k/ksk.age".parse::<KeyRef>().unwrap(), KeyRef::File("/k/ksk.age".into()));
        assert_eq!("file:rel/ksk.age".parse::<KeyRef>().unwrap(), KeyRef::File("rel/ksk.age".into()));
        assert_eq!("file:///k/ksk.age".parse::<KeyRef>().unwrap(), KeyRef::File("/k/ksk.age".into()));
        assert!(matches!("".parse::<KeyRef>(), Err(KeyRefError::Empty)));
        assert!(matches!("file:".parse::<KeyRef>(), Err(KeyRefError::EmptyFile(_))));
    }

    #[test]
    fn rfc7512_examples_parse() {
        let u: Pkcs11Uri = "pkcs11:token=SmartCard-HSM%20(UserPIN);object=ksk%202026;id=%01%a2;serial=DENK0100123;slot-id=3;type=private?module-path=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so&pin-source=file:/run/pin&timeout=5"
            .parse()
            .unwrap();
        assert_eq!(u.token.as_deref(), Some("SmartCard-HSM (UserPIN)"));
        assert_eq!(u.object.as_deref(), Some("ksk 2026"));
        assert_eq!(u.id.as_deref(), Some(&[0x01, 0xa2][..]));
        assert_eq!(u.serial.as_deref(), Some("DENK0100123"));
        assert_eq!(u.slot_id, Some(3));
        assert_eq!(u.object_type, Some(ObjectType::Private));
        assert_eq!(u.module_path.as_deref(), Some(Path::new("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")));
        assert_eq!(u.pin_source.as_deref(), Some(Path::new("/run/pin")));
        assert_eq!(u.timeout(), Duration::from_secs(5));
        // RFC 7512 §3 examples
        let e: Pkcs11Uri = "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=".parse().unwrap();
        assert_eq!(e.token.as_deref(), Some("The Software PKCS#11 Softtoken"));
        assert_eq!(e.manufacturer.as_deref(), Some("Snake Oil, Inc."));
        assert_eq!(e.id.as_ref().map(|v| v.len()), Some(8));
        assert!("pkcs11:".parse::<Pkcs11Uri>().unwrap().token.is_none());
    }

    #[test]
    fn display_round_trips_without_pin_value() {
        let s = "pkcs11:token=SmartCard-HSM%20(UserPIN);object=ksk;id=%00%FF?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=123456";
        let u: Pkcs11Uri = s.parse().unwrap();
        assert!(u.has_pin_value());
        let shown = u.to_string();
        assert!(!shown.contains("pin-value"), "{shown}");
        assert!(!shown.contains("123456"), "{shown}");
        assert!(!format!("{u:?}").contains("123456"));
        assert_eq!(
            shown,
            "pkcs11:token=SmartCard-HSM%20(UserPIN);object=ksk;id=%00%FF?module-path=/usr/lib/softhsm/libsofthsm2.so"
        );
        let back: Pkcs11Uri = shown.parse().unwrap();
        assert_eq!(back.token, u.token);
        assert_eq!(back.id, u.id);
        assert_eq!(back.module_path, u.module_path);
        assert!(!back.has_pin_value());
        // a label with ';' and '%' survives
        let odd = Pkcs11Uri { object: Some("a;b%c=d?".into()), ..Pkcs11Uri::for_token("x") };
        let back: Pkcs11Uri = odd.to_string().parse().unwrap();
        assert_eq!(back.object.as_deref(), Some("a;b%c=d?"));
    }

    #[test]
    fn bad_uris_are_rejected_with_reasons() {
        let e = "pkcs11:token=a;lable=ksk".parse::<Pkcs11Uri>().unwrap_err();
        assert!(e.to_string().contains("unknown path attribute \"lable\""), "{e}");
        assert!("pkcs11:token=a;x-vendor=1".parse::<Pkcs11Uri>().is_ok());
        assert!("pkcs11:token=a?x-foo=1".parse::<Pkcs11Uri>().is_ok());
        assert!(matches!("pkcs11:token=a%2".parse::<Pkcs11Uri>(), Err(KeyRefError::BadPercent(_))));
        assert!(matches!("pkcs11:token=a%zz".parse::<Pkcs11Uri>(), Err(KeyRefError::BadPercent(_))));
        assert!(matches!("pkcs11:token=a;token=b".parse::<Pkcs11Uri>(), Err(KeyRefError::Duplicate(_))));
        assert!(matches!("pkcs11:token".parse::<Pkcs11Uri>(), Err(KeyRefError::Malformed(_))));
        assert!(matches!("pkcs11:slot-id=x".parse::<Pkcs11Uri>(), Err(KeyRefError::BadValue { .. })));
        assert!(matches!("pkcs11:type=key".parse::<Pkcs11Uri>(), Err(KeyRefError::BadValue { .. })));
        assert!(matches!("pkcs11:token=a?timeout=0".parse::<Pkcs11Uri>(), Err(KeyRefError::BadValue { .. })));
        assert!(matches!("pkcs11:token=%FF".parse::<Pkcs11Uri>(), Err(KeyRefError::BadValue { .. })));
        // the scheme is case-insensitive, and KeyRef dispatches on it
        assert!(matches!("PKCS11:token=a".parse::<KeyRef>(), Ok(KeyRef::Pkcs11(_))));
    }

    /// No part of a `pin-value` ever reaches an error message or a Debug
    /// print: a malformed one, one split by an unencoded `&`, one in a URI
    /// with a mistyped scheme.
    #[test]
    fn no_part_of_a_pin_is_ever_echoed() {
        let pin = "98%7x6543";
        for uri in [
            format!("pkcs11:token=a?pin-value={pin}"),
            "pkcs11:token=a?pin-value=98%7".to_string(),
            "pkcs11:token=a?pin-value=9876&543210&module-path=/m.so".to_string(),
            "pkcs11:token=a?PIN-VALUE=98%7x6543".to_string(),
            "pkcs1l:token=a?pin-value=98%7x6543&module-path=/m.so".to_string(),
            "pkcs11:token=a?pin-value=98765432&pin-value=98765432".to_string(),
        ] {
            let e = uri.parse::<Pkcs11Uri>().unwrap_err();
            for shown in [e.to_string(), format!("{e:?}")] {
                for part in ["987", "543", "%7x"] {
                    assert!(!shown.contains(part), "{uri}: {shown:?} shows {part:?} of the PIN");
                }
            }
        }
        let e = "pkcs11:token=a?pin-value=98%7".parse::<Pkcs11Uri>().unwrap_err().to_string();
        assert!(e.contains("pin-value") && e.contains("hidden") && e.contains("percent-encoding"), "{e}");
        assert_eq!(hide_pin_value("x?a=1&pin-value=secret&b=2&Pin-Value=s2"), "x?a=1&pin-value=(hidden)&b=2&Pin-Value=(hidden)");
        // Debug of a parsed URI, and of a KeyRef holding it, redacts the PIN.
        let r: KeyRef = "pkcs11:token=a?pin-value=98765432".parse().unwrap();
        let KeyRef::Pkcs11(u) = &r else { panic!("not pkcs11") };
        assert!(u.has_pin_value());
        for shown in [format!("{r:?}"), format!("{u:?}"), format!("{r}"), format!("{u:#?}")] {
            assert!(!shown.contains("9876"), "{shown}");
        }
    }

    #[test]
    fn long_input_is_cut_in_errors() {
        let e = format!("pkcs11:token=a;{}=1", "x".repeat(5000)).parse::<Pkcs11Uri>().unwrap_err().to_string();
        assert!(e.len() < 400 && e.contains("bytes)"), "{} bytes: {}", e.len(), &e[..200.min(e.len())]);
        let e = format!("pkcs11:token=a%2{}", "x".repeat(5000)).parse::<Pkcs11Uri>().unwrap_err().to_string();
        assert!(e.len() < 400, "{} bytes", e.len());
    }

    #[test]
    fn module_path_needed() {
        let u: Pkcs11Uri = "pkcs11:token=a?module-path=/m.so".parse().unwrap();
        assert_eq!(u.module().unwrap(), PathBuf::from("/m.so"));
        assert_eq!(u.timeout(), DEFAULT_TIMEOUT);
    }
}
