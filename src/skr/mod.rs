//! Signed Key Responses: the model, signing a KSR into an SKR (`sign`), and
//! the checks the ZSK side applies before import (`checks`).

pub mod checks;
pub mod keyset;
pub mod model;
pub mod sign;

pub use model::{ResponseBundle, Skr};
