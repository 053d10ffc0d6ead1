//! Keys: the one key-reference syntax (`keyref`), the keystore directory and
//! its metadata (`keystore`), its advisory lock (`lock`), the imported SKRs
//! (`skr_store`), and atomic file writes (`fsutil`).

pub mod fsutil;
pub mod keyref;
pub mod keystore;
pub mod lock;
pub mod open;
pub mod skr_store;
