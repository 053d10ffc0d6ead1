//! Key Signing Requests: the model, the checks the KSK side applies before a
//! ceremony signs (`checks`), and building a KSR on the ZSK side (`generate`).

pub mod checks;
pub mod generate;
pub mod ksk_policy;
pub mod ksk_schedule;
pub mod model;
pub mod previous;

pub use model::{AlgorithmParams, AlgorithmPolicy, BundleKey, BundleSignature, Format, Ksr, RequestBundle, SignaturePolicy, TextLayout};
