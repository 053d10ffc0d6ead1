//! Signed Key Responses: the model, signing a KSR into an SKR (`sign`), and
//! the checks the ZSK side applies before import (`checks`, and
//! `scheduled` against its own ZSK schedule), and the timeline of imported
//! SKRs (`timeline`).

pub mod checks;
pub mod keyset;
pub mod model;
pub mod scheduled;
pub mod sign;
pub mod timeline;

pub use model::{ResponseBundle, Skr};
