//! The text KSR/SKR format shared by Knot DNS and BIND 9.20. (in progress)

use super::FormatError;
use crate::ksr::Ksr;
use crate::skr::Skr;

pub fn parse_ksr(_text: &str) -> Result<Ksr, FormatError> {
    Err(FormatError::text(0, "the text format is not implemented yet"))
}
pub fn parse_skr(_text: &str) -> Result<Skr, FormatError> {
    Err(FormatError::text(0, "the text format is not implemented yet"))
}
pub fn write_ksr(_k: &Ksr) -> String {
    String::new()
}
pub fn write_skr(_s: &Skr) -> String {
    String::new()
}
