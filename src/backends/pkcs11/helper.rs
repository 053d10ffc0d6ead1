//! Module isolation (issue 17.4): the PKCS#11 module runs in a separate
//! kskit process (`kskit pkcs11-helper`, hidden), and the main process only
//! talks to it over a pipe; it never loads the module. A module that
//! segfaults, aborts, hangs or writes to stdout takes down or corrupts the
//! helper only: the main process sees the helper die, stop answering within
//! the token timeout, or send bytes that are not a frame, kills and reaps
//! it, and reports a clear error (docs/hsm.md "Module isolation").
//!
//! The helper does only what KSK signing needs: open the token, log in, find
//! the key, read its public key, sign. The protocol is small: each message is
//! a frame `KSKP` + a 4-byte big-endian length + a JSON body (at most
//! [`MAX_FRAME`] bytes); requests go to the helper's stdin, answers come
//! from its stdout, and the helper's stderr is the operator's.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::{Zeroize, Zeroizing};

use super::{OpenOptions, Pkcs11Error, Pkcs11Signer};
use crate::backends::{BackendError, Signer};
use crate::dnssec::{Algorithm, Dnskey};
use crate::keys::keyref::Pkcs11Uri;
use crate::secrets::Secret;

/// The hidden subcommand that runs the helper.
pub const HELPER_SUBCOMMAND: &str = "pkcs11-helper";
/// The first bytes of every frame.
pub const MAGIC: &[u8; 4] = b"KSKP";
/// The largest frame body accepted (a signing input is a few KB).
pub const MAX_FRAME: usize = 1 << 20;

/// What the main process asks of the helper.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    /// Load the module, find the token, log in (with `pin` when given),
    /// find the key and pick the mechanism for `algorithm`.
    Open { uri: String, algorithm: u8, flags: u16, pin: Option<String>, timeout_secs: u64, allow_final_try: bool },
    /// Sign the RFC 4034 signing input.
    Sign { data: Vec<u8> },
}

/// What the helper answers.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
enum Response {
    Opened { public_key: Vec<u8>, label: String, token: String, mechanism: String, described: String },
    Signature { signature: Vec<u8> },
    Error { message: String },
}

/// Writes one frame.
fn write_frame(w: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("frame too large"))?;
    let mut frame = Zeroizing::new(Vec::with_capacity(body.len() + 8));
    frame.extend_from_slice(MAGIC);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    w.write_all(&frame)?;
    w.flush()
}

/// What reading a frame gave.
enum Frame {
    Body(Zeroizing<Vec<u8>>),
    Eof,
    /// Bytes that are not a frame (the first few, for the message).
    Garbage(Vec<u8>),
}

fn read_frame(r: &mut impl Read) -> std::io::Result<Frame> {
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..])? {
            0 if got == 0 => return Ok(Frame::Eof),
            0 => return Ok(Frame::Garbage(head[..got].to_vec())),
            n => got += n,
        }
        if got >= 4 && &head[..4] != MAGIC {
            return Ok(Frame::Garbage(head[..got].to_vec()));
        }
    }
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if len > MAX_FRAME {
        return Ok(Frame::Garbage(head.to_vec()));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut body)?;
    Ok(Frame::Body(body))
}

/// The helper process: serves requests on stdin/stdout until stdin closes.
/// Returns the exit code.
pub fn serve() -> i32 {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout();
    let mut signer: Option<Pkcs11Signer> = None;
    loop {
        let body = match read_frame(&mut input) {
            Ok(Frame::Body(b)) => b,
            Ok(Frame::Eof) => return 0,
            Ok(Frame::Garbage(_)) | Err(_) => {
                eprintln!("kskit pkcs11-helper: malformed request; stopping");
                return 2;
            }
        };
        let answer = match serde_json::from_slice::<Request>(&body) {
            Err(e) => Response::Error { message: format!("malformed request: {e}") },
            Ok(Request::Open { uri, algorithm, flags, mut pin, timeout_secs, allow_final_try }) => {
                let pin: Option<Secret> = pin.as_mut().map(|p| Secret::new(std::mem::take(p)));
                match open(&uri, algorithm, flags, pin, timeout_secs, allow_final_try) {
                    Ok(s) => {
                        let r = Response::Opened {
                            public_key: s.dnskey().public_key.clone(),
                            label: s.key().label.clone(),
                            token: s.token_label().to_string(),
                            mechanism: s.mechanism().name().to_string(),
                            described: s.describe(),
                        };
                        signer = Some(s);
                        r
                    }
                    Err(e) => Response::Error { message: e.to_string() },
                }
            }
            Ok(Request::Sign { data }) => match &signer {
                None => Response::Error { message: "no key opened in the helper".into() },
                Some(s) => match s.sign_inner(&data) {
                    Ok(signature) => Response::Signature { signature },
                    Err(e) => Response::Error { message: e.to_string() },
                },
            },
        };
        let Ok(json) = serde_json::to_vec(&answer) else { return 2 };
        if write_frame(&mut output, &json).is_err() {
            return 2;
        }
    }
}

fn open(uri: &str, algorithm: u8, flags: u16, pin: Option<Secret>, timeout_secs: u64, allow_final_try: bool) -> Result<Pkcs11Signer, Pkcs11Error> {
    let uri: Pkcs11Uri = uri.parse().map_err(|e| Pkcs11Error::Other(format!("bad URI in the helper: {e}")))?;
    let alg = Algorithm::from_number(algorithm).map_err(|e| Pkcs11Error::Other(e.to_string()))?;
    let opts = OpenOptions { allow_final_try, timeout: Some(Duration::from_secs(timeout_secs)), pin };
    Pkcs11Signer::open(&uri, alg, flags, &opts)
}

/// The main process's side: a key on a token opened in a helper process.
pub struct IsolatedSigner {
    child: Mutex<Option<Child>>,
    stdin: Mutex<Option<ChildStdin>>,
    answers: Mutex<Receiver<Frame>>,
    module: PathBuf,
    timeout: Duration,
    algorithm: Algorithm,
    dnskey: Dnskey,
    described: String,
    mechanism: String,
    label: String,
    token: String,
    count: AtomicU64,
}

impl std::fmt::Debug for IsolatedSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IsolatedSigner({}, {}, {})", self.described, self.algorithm, self.mechanism)
    }
}

impl IsolatedSigner {
    /// Starts `kskit pkcs11-helper` (this executable) and opens the key
    /// there. The PIN is resolved here (URI, KSKIT_PIN or a prompt on this
    /// terminal) and sent over the pipe, never on the helper's argv.
    pub fn open(uri: &Pkcs11Uri, algorithm: Algorithm, flags: u16, opts: &OpenOptions) -> Result<IsolatedSigner, Pkcs11Error> {
        if !algorithm.can_sign() {
            return Err(Pkcs11Error::Unsupported(format!("algorithm {algorithm} is verify-only (RFC 8624); kskit does not sign with it")));
        }
        let module = uri.module()?;
        if !module.is_file() {
            return Err(Pkcs11Error::ModuleNotFound(module));
        }
        let timeout = opts.timeout_for(uri);
        let pin = match &opts.pin {
            Some(p) => p.clone(),
            None => uri.resolve_pin().map_err(|e| Pkcs11Error::Pin { token: uri.token.clone().unwrap_or_default(), msg: e.to_string() })?,
        };
        let exe = std::env::current_exe().map_err(|e| Pkcs11Error::Other(format!("cannot find the kskit executable for the PKCS#11 helper: {e}")))?;
        let mut child = Command::new(exe)
            .arg(HELPER_SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Pkcs11Error::Other(format!("cannot start the PKCS#11 helper process: {e}")))?;
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().ok_or_else(|| Pkcs11Error::Other("the helper has no stdout pipe".into()))?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("kskit-pkcs11-helper-reader".into())
            .spawn(move || loop {
                let f = read_frame(&mut stdout).unwrap_or(Frame::Eof);
                let last = !matches!(f, Frame::Body(_));
                if tx.send(f).is_err() || last {
                    break;
                }
            })
            .map_err(|e| Pkcs11Error::Other(format!("cannot start the helper reader thread: {e}")))?;
        let mut s = IsolatedSigner {
            child: Mutex::new(Some(child)),
            stdin: Mutex::new(stdin),
            answers: Mutex::new(rx),
            module,
            timeout,
            algorithm,
            dnskey: Dnskey::new(flags, algorithm, Vec::new()),
            described: String::new(),
            mechanism: String::new(),
            label: String::new(),
            token: String::new(),
            count: AtomicU64::new(0),
        };
        let mut clean = uri.clone();
        clean.set_pin_value(None);
        let mut pin_text = (*pin).clone();
        let req = Request::Open {
            uri: clean.to_string(),
            algorithm: algorithm.number(),
            flags,
            pin: Some(std::mem::take(&mut pin_text)),
            timeout_secs: timeout.as_secs().max(1),
            allow_final_try: opts.allow_final_try,
        };
        let answer = s.call(&req, "opening the key (load, login, find)");
        if let Request::Open { pin: Some(mut p), .. } = req {
            p.zeroize();
        }
        pin_text.zeroize();
        match answer? {
            Response::Opened { public_key, label, token, mechanism, described } => {
                s.dnskey = Dnskey::new(flags, algorithm, public_key);
                s.label = label;
                s.token = token;
                s.mechanism = mechanism;
                s.described = described;
                Ok(s)
            }
            Response::Error { message } => Err(Pkcs11Error::Other(message)),
            Response::Signature { .. } => Err(s.fail("opening the key", "answered out of turn".into())),
        }
    }

    /// The mechanism the helper signs with (e.g. `CKM_ECDSA_SHA256`).
    pub fn mechanism(&self) -> &str {
        &self.mechanism
    }
    /// Signing operations sent to the helper so far.
    pub fn sign_count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }
    /// The key's label on the token.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// The token's label.
    pub fn token_label(&self) -> &str {
        &self.token
    }

    /// Kills and reaps the helper (after `grace` for one that is already
    /// dying: its pipe closes before its exit status is ready); says how it ended.
    fn stop(&self, grace: Duration) -> String {
        let Ok(mut guard) = self.child.lock() else { return "unknown".into() };
        let Some(mut child) = guard.take() else { return "already stopped".into() };
        if let Ok(mut i) = self.stdin.lock() {
            i.take();
        }
        let deadline = Instant::now() + grace;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    break None;
                }
            }
        };
        let status = status.or_else(|| child.wait().ok());
        describe_status(status)
    }

    fn fail(&self, what: &str, why: String) -> Pkcs11Error {
        let how = self.stop(Duration::from_secs(1));
        Pkcs11Error::Other(format!(
            "PKCS#11 module {} failed in kskit's helper process while {what}: {why} (helper {how}); the helper was stopped, nothing was written",
            self.module.display()
        ))
    }

    fn call(&self, req: &Request, what: &str) -> Result<Response, Pkcs11Error> {
        let body = Zeroizing::new(serde_json::to_vec(req).map_err(|e| Pkcs11Error::Other(format!("cannot encode a helper request: {e}")))?);
        {
            let mut stdin = self.stdin.lock().map_err(|_| Pkcs11Error::Other("helper pipe lock poisoned".into()))?;
            let Some(w) = stdin.as_mut() else {
                return Err(Pkcs11Error::Hung { module: self.module.clone() });
            };
            if let Err(e) = write_frame(w, &body) {
                drop(stdin);
                return Err(self.fail(what, format!("the helper stopped reading ({e})")));
            }
        }
        let rx = self.answers.lock().map_err(|_| Pkcs11Error::Other("helper answer lock poisoned".into()))?;
        let started = Instant::now();
        let got = rx.recv_timeout(self.timeout);
        drop(rx);
        match got {
            Ok(Frame::Body(b)) => serde_json::from_slice::<Response>(&b).map_err(|e| self.fail(what, format!("unreadable answer ({e})"))),
            Ok(Frame::Garbage(bytes)) => Err(self.fail(
                what,
                format!("the module wrote to stdout ({:?}...), which would corrupt kskit's output", String::from_utf8_lossy(&bytes)),
            )),
            Ok(Frame::Eof) | Err(RecvTimeoutError::Disconnected) => Err(self.fail(what, "the helper process died".into())),
            Err(RecvTimeoutError::Timeout) => {
                let how = self.stop(Duration::ZERO);
                Err(Pkcs11Error::Other(format!(
                    "PKCS#11 module {} did not answer within {} s in kskit's helper process ({what}); the helper was killed ({how}), nothing was written",
                    self.module.display(),
                    started.elapsed().as_secs().max(self.timeout.as_secs())
                )))
            }
        }
    }
}

fn describe_status(status: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        None => "not reaped".into(),
        Some(s) => match (s.code(), s.signal()) {
            (_, Some(sig)) => format!("killed by signal {sig} ({})", signal_name(sig)),
            (Some(c), None) => format!("exited with status {c}"),
            (None, None) => "ended".into(),
        },
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV, the module crashed",
        libc::SIGABRT => "SIGABRT, the module aborted",
        libc::SIGBUS => "SIGBUS, the module crashed",
        libc::SIGILL => "SIGILL, the module crashed",
        libc::SIGFPE => "SIGFPE, the module crashed",
        libc::SIGKILL => "SIGKILL, killed by kskit",
        libc::SIGPIPE => "SIGPIPE, kskit closed the pipe",
        _ => "a signal",
    }
}

impl Signer for IsolatedSigner {
    fn dnskey(&self) -> &Dnskey {
        &self.dnskey
    }
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
    fn sign(&self, data: &[u8]) -> Result<Vec<u8>, BackendError> {
        self.count.fetch_add(1, Ordering::SeqCst);
        match self.call(&Request::Sign { data: data.to_vec() }, "signing")? {
            Response::Signature { signature } => {
                // The helper verified it; the main process checks again.
                crate::dnssec::verify::verify_raw(&self.dnskey, data, &signature)
                    .map_err(|e| Pkcs11Error::BadSignature(format!("{e} (from the helper process, {})", self.described)))?;
                Ok(signature)
            }
            Response::Error { message } => Err(Pkcs11Error::Other(message).into()),
            Response::Opened { .. } => Err(self.fail("signing", "answered out of turn".into()).into()),
        }
    }
    fn describe(&self) -> String {
        self.described.clone()
    }
}

impl Drop for IsolatedSigner {
    /// Closes the pipe (the helper logs out and exits), waits up to the
    /// timeout, then kills; the helper is always reaped.
    fn drop(&mut self) {
        if let Ok(mut i) = self.stdin.lock() {
            i.take();
        }
        let Ok(mut guard) = self.child.lock() else { return };
        let Some(mut child) = guard.take() else { return };
        let deadline = Instant::now() + self.timeout;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => break,
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_noise_is_not_a_frame() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"{\"answer\":\"error\",\"message\":\"x\"}").unwrap();
        assert!(matches!(read_frame(&mut buf.as_slice()).unwrap(), Frame::Body(b) if b.as_slice() == b"{\"answer\":\"error\",\"message\":\"x\"}"));
        assert!(matches!(read_frame(&mut &b""[..]).unwrap(), Frame::Eof));
        let mut noisy = b"hello from the module\n".to_vec();
        noisy.extend_from_slice(&buf);
        assert!(matches!(read_frame(&mut noisy.as_slice()).unwrap(), Frame::Garbage(g) if g.starts_with(b"hell")));
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(read_frame(&mut huge.as_slice()).unwrap(), Frame::Garbage(_)));
    }
}
