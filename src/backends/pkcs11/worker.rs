//! The worker thread that owns the PKCS#11 session. Every token call is sent
//! to it and awaited with a timeout, so a hung module (a pcscd that stops
//! answering without crashing) gives an error instead of a hang. After a
//! timeout the worker is marked hung and every later call fails at once;
//! the stuck thread is left behind and dies with the process.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::Session;

use super::Pkcs11Error;

/// What the worker thread owns.
pub(crate) struct State {
    pub module: PathBuf,
    pub ctx: Option<Pkcs11>,
    pub session: Option<Session>,
    /// Whether this worker logged the user in (and so must log out).
    pub logged_in_by_us: bool,
    /// The module's own C_Sign, loaded when a key needs a context-specific
    /// login before each signature.
    pub raw: Option<super::raw::RawSign>,
}

impl State {
    pub fn ctx(&self) -> Result<&Pkcs11, Pkcs11Error> {
        self.ctx.as_ref().ok_or_else(|| Pkcs11Error::Other("PKCS#11 module is not loaded".into()))
    }
    pub fn session(&self) -> Result<&Session, Pkcs11Error> {
        self.session.as_ref().ok_or_else(|| Pkcs11Error::Other("no open session on the token".into()))
    }

    /// Logs out (if we logged in), closes the session and releases the module.
    fn cleanup(&mut self) {
        if let Some(s) = self.session.take() {
            if self.logged_in_by_us {
                let _ = s.logout();
                self.logged_in_by_us = false;
            }
            let _ = s.close();
        }
        self.raw = None;
        if self.ctx.take().is_some() {
            release_module(&self.module);
        }
    }
}

type Job = Box<dyn FnOnce(&mut State) + Send>;

pub(crate) struct Inner {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    hung: AtomicBool,
    pub module: PathBuf,
    /// "slot N" once the slot is known, for timeout messages.
    pub slot: Mutex<Option<u64>>,
    pub timeout: Duration,
}

/// Handle to a worker thread; dropping it logs out, closes the session and
/// releases the module (bounded by the timeout).
pub(crate) struct Worker {
    inner: Arc<Inner>,
}

/// Workers alive in this process, for the interrupt handler.
static LIVE: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());

impl Worker {
    /// Starts a worker and loads `module` on it (C_Initialize under the timeout).
    pub fn start(module: &Path, timeout: Duration) -> Result<Worker, Pkcs11Error> {
        if !module.is_file() {
            return Err(Pkcs11Error::ModuleNotFound(module.to_path_buf()));
        }
        let w = Worker::spawn(module, timeout)?;
        w.call("loading the module", |st| {
            let ctx = acquire_module(&st.module)?;
            st.ctx = Some(ctx);
            Ok(())
        })?;
        Ok(w)
    }

    /// Starts the thread without loading anything.
    fn spawn(module: &Path, timeout: Duration) -> Result<Worker, Pkcs11Error> {
        let (tx, rx) = mpsc::channel::<Job>();
        let path = module.to_path_buf();
        std::thread::Builder::new()
            .name("kskit-pkcs11".into())
            .spawn(move || {
                let mut st = State { module: path, ctx: None, session: None, logged_in_by_us: false, raw: None };
                while let Ok(job) = rx.recv() {
                    job(&mut st);
                }
                st.cleanup();
            })
            .map_err(|e| Pkcs11Error::Other(format!("cannot start the PKCS#11 worker thread: {e}")))?;
        let inner = Arc::new(Inner {
            tx: Mutex::new(Some(tx)),
            hung: AtomicBool::new(false),
            module: module.to_path_buf(),
            slot: Mutex::new(None),
            timeout,
        });
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|w| w.strong_count() > 0);
            live.push(Arc::downgrade(&inner));
        }
        Ok(Worker { inner })
    }

    pub fn set_slot(&self, slot: u64) {
        if let Ok(mut s) = self.inner.slot.lock() {
            *s = Some(slot);
        }
    }

    /// Runs `f` on the worker thread and waits at most the timeout for it.
    pub fn call<R, F>(&self, what: &str, f: F) -> Result<R, Pkcs11Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut State) -> Result<R, Pkcs11Error> + Send + 'static,
    {
        self.inner.call(what, self.inner.timeout, f)
    }

    /// Like [`Worker::call`] with its own timeout (for slow operations such
    /// as RSA key generation on a card).
    pub fn call_with_timeout<R, F>(&self, what: &str, timeout: Duration, f: F) -> Result<R, Pkcs11Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut State) -> Result<R, Pkcs11Error> + Send + 'static,
    {
        self.inner.call(what, timeout, f)
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }
}

impl Inner {
    fn call<R, F>(&self, what: &str, timeout: Duration, f: F) -> Result<R, Pkcs11Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut State) -> Result<R, Pkcs11Error> + Send + 'static,
    {
        if self.hung.load(Ordering::SeqCst) {
            return Err(Pkcs11Error::Hung { module: self.module.clone() });
        }
        let (rtx, rrx) = mpsc::channel();
        let job: Job = Box::new(move |st| {
            let _ = rtx.send(f(st));
        });
        {
            let guard = self.tx.lock().map_err(|_| Pkcs11Error::Other("PKCS#11 worker lock poisoned".into()))?;
            let tx = guard.as_ref().ok_or_else(|| Pkcs11Error::Other("PKCS#11 worker is closed".into()))?;
            tx.send(job).map_err(|_| Pkcs11Error::Other("PKCS#11 worker thread has stopped".into()))?;
        }
        match rrx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => {
                self.hung.store(true, Ordering::SeqCst);
                let slot = self.slot.lock().ok().and_then(|s| *s);
                Err(Pkcs11Error::Timeout {
                    module: self.module.clone(),
                    slot,
                    secs: timeout.as_secs(),
                    what: what.to_string(),
                })
            }
            Err(RecvTimeoutError::Disconnected) => {
                Err(Pkcs11Error::Other(format!("the PKCS#11 worker died while {what} (module {})", self.module.display())))
            }
        }
    }

    /// Logs out, closes the session and releases the module, waiting at most
    /// the timeout; then stops the thread. A hung worker is left alone.
    fn shutdown(&self) {
        if !self.hung.load(Ordering::SeqCst) {
            let _ = self.call("closing the session", self.timeout, |st| {
                st.cleanup();
                Ok(())
            });
        }
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.inner.shutdown();
    }
}

/// Logs out and closes every PKCS#11 session of this process (each bounded by
/// its timeout). Called by the interrupt handler before exiting.
pub fn cleanup_all() {
    let live: Vec<Arc<Inner>> = match LIVE.lock() {
        Ok(l) => l.iter().filter_map(|w| w.upgrade()).collect(),
        Err(_) => return,
    };
    for w in live {
        w.shutdown();
    }
}

/// Loaded modules and how many workers use each: C_Initialize once per
/// module, C_Finalize when the last user is gone (PKCS#11 keeps one library
/// state per process).
static MODULES: Mutex<Vec<(PathBuf, Pkcs11, usize)>> = Mutex::new(Vec::new());

fn acquire_module(path: &Path) -> Result<Pkcs11, Pkcs11Error> {
    let mut mods = MODULES.lock().map_err(|_| Pkcs11Error::Other("module table lock poisoned".into()))?;
    if let Some(entry) = mods.iter_mut().find(|(p, _, _)| p == path) {
        entry.2 += 1;
        return Ok(entry.1.clone());
    }
    let ctx = Pkcs11::new(path).map_err(|e| Pkcs11Error::ModuleLoad { module: path.to_path_buf(), msg: e.to_string() })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(Pkcs11Error::ModuleLoad { module: path.to_path_buf(), msg: format!("C_Initialize: {e}") }),
    }
    mods.push((path.to_path_buf(), ctx.clone(), 1));
    Ok(ctx)
}

fn release_module(path: &Path) {
    let Ok(mut mods) = MODULES.lock() else { return };
    let Some(i) = mods.iter().position(|(p, _, _)| p == path) else { return };
    let last = match mods.get_mut(i) {
        Some(e) => {
            e.2 -= 1;
            e.2 == 0
        }
        None => false,
    };
    if last {
        let (_, ctx, _) = mods.remove(i);
        let _ = ctx.finalize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token call that never returns gives a timeout error naming module
    /// and slot, and every later call fails at once instead of queueing.
    #[test]
    fn hung_call_times_out_and_poisons_the_worker() {
        let w = Worker::spawn(Path::new("/opt/hsm/module.so"), Duration::from_secs(1)).unwrap();
        w.set_slot(3);
        let (block_tx, block_rx) = mpsc::channel::<()>();
        let e = w
            .call("signing", move |_st| {
                let _ = block_rx.recv(); // blocks until the test drops block_tx
                Ok(())
            })
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "token in slot 3 of /opt/hsm/module.so did not answer within 1 s (signing); is pcscd hung? (restart it: systemctl restart pcscd)"
        );
        let e = w.call("signing", |_st| Ok(())).unwrap_err();
        assert!(matches!(e, Pkcs11Error::Hung { .. }), "{e}");
        drop(block_tx);
        drop(w); // must not hang
    }

    #[test]
    fn answered_calls_return_their_result() {
        let w = Worker::spawn(Path::new("/opt/hsm/module.so"), Duration::from_secs(30)).unwrap();
        assert_eq!(w.call("x", |_st| Ok(41 + 1)).unwrap(), 42);
        let e = w.call("x", |st| st.session().map(|_| ())).unwrap_err();
        assert!(e.to_string().contains("no open session"), "{e}");
    }
}
