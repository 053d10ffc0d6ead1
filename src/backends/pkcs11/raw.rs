//! The one PKCS#11 call cryptoki does not offer in the form kskit needs: a
//! single-part C_Sign after a separate C_SignInit. A key with
//! CKA_ALWAYS_AUTHENTICATE needs C_Login(CKU_CONTEXT_SPECIFIC) between the
//! two (PKCS#11 3.0 §5.2 "C_Login", §4.9 CKA_ALWAYS_AUTHENTICATE), and
//! cryptoki's `Session::sign` does both in one call. Multi-part signing
//! (`sign_update`/`sign_final`) is no substitute: the raw mechanisms PIV
//! cards offer (CKM_ECDSA, CKM_RSA_PKCS) are single-part only.
//!
//! The module is opened a second time with `dlopen` (the loader returns the
//! library already loaded by cryptoki) and its C_GetFunctionList gives the
//! same function table cryptoki uses.

use std::path::Path;

use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, Rv};
use cryptoki_sys::{CK_FUNCTION_LIST_PTR, CK_RV, CK_SESSION_HANDLE, CK_ULONG, CKR_OK};

/// The module's C_Sign, kept with the library handle that keeps it loaded.
pub(crate) struct RawSign {
    _lib: libloading::Library,
    sign: unsafe extern "C" fn(CK_SESSION_HANDLE, *mut u8, CK_ULONG, *mut u8, *mut CK_ULONG) -> CK_RV,
}

/// The longest signature kskit asks for: RSA-4096 is 512 bytes; a margin
/// for modules that overstate.
const MAX_SIGNATURE: usize = 2048;

impl RawSign {
    /// Finds C_Sign in the (already loaded) module at `path`.
    pub fn load(path: &Path) -> Result<RawSign, String> {
        // SAFETY: the module is already loaded and initialised by cryptoki;
        // dlopen returns the same library and runs no new initialisers.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
        // SAFETY: C_GetFunctionList has this signature in every PKCS#11 version.
        let gfl: libloading::Symbol<unsafe extern "C" fn(*mut CK_FUNCTION_LIST_PTR) -> CK_RV> =
            unsafe { lib.get(b"C_GetFunctionList\0") }.map_err(|e| e.to_string())?;
        let mut list: CK_FUNCTION_LIST_PTR = std::ptr::null_mut();
        // SAFETY: the out-pointer is valid; the module fills it with a static table.
        let rv = unsafe { gfl(&mut list) };
        if rv != CKR_OK || list.is_null() {
            return Err(format!("C_GetFunctionList returned {rv:#x}"));
        }
        // SAFETY: non-null, points at the module's function table, which lives as long as the library.
        let sign = unsafe { (*list).C_Sign }.ok_or("the module's function list has no C_Sign")?;
        Ok(RawSign { _lib: lib, sign })
    }

    /// C_Sign on `session` (C_SignInit and any context-specific login
    /// already done) into a buffer of [`MAX_SIGNATURE`] bytes.
    pub fn sign(&self, session: CK_SESSION_HANDLE, data: &[u8]) -> Result<Vec<u8>, CkError> {
        let mut out = vec![0u8; MAX_SIGNATURE];
        let mut len = out.len() as CK_ULONG;
        let data_len = CK_ULONG::try_from(data.len()).map_err(CkError::TryFromInt)?;
        // C_Sign takes a non-const pointer to the data but does not write to it.
        let mut input = data.to_vec();
        // SAFETY: both buffers are valid for the lengths given; `len` is in/out.
        let rv = unsafe { (self.sign)(session, input.as_mut_ptr(), data_len, out.as_mut_ptr(), &mut len) };
        Rv::from(rv).into_result(Function::Sign)?;
        let len = usize::try_from(len).map_err(CkError::TryFromInt)?;
        if len > out.len() {
            return Err(CkError::InvalidValue);
        }
        out.truncate(len);
        Ok(out)
    }
}
