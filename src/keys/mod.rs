//! Keys: the one key-reference syntax (`keyref`), the keystore directory and
//! its metadata (`keystore`), and atomic file writes (`fsutil`).

pub mod fsutil;
pub mod keyref;
pub mod keystore;
pub mod open;
