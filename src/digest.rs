//! File digests as root KSK ceremonies read them aloud: SHA-256 in hex and
//! in the PGP word list (two lists alternating by byte position, so a
//! swapped or dropped word is heard), via the `pgp-words` crate.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest(pub [u8; 32]);

impl FileDigest {
    pub fn of(data: &[u8]) -> Self {
        FileDigest(Sha256::digest(data).into())
    }

    /// Uppercase hex.
    pub fn hex(&self) -> String {
        data_encoding::HEXUPPER.encode(&self.0)
    }

    /// The PGP words, one per byte.
    pub fn words(&self) -> Vec<String> {
        pgp_words::to_words(&self.0).into_iter().map(str::to_string).collect()
    }

    /// PGP words in lines of eight, each line prefixed by its byte offset in
    /// hex, for reading aloud and writing down.
    pub fn words_grouped(&self) -> String {
        self.words()
            .chunks(8)
            .enumerate()
            .map(|(i, c)| format!("{:02X}: {}", i * 8, c.join(" ")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgp_words_known_answer() {
        // The PGP word list's published example: E5 82 94 F2 ...
        let w = pgp_words::to_words(&[0xE5, 0x82, 0x94, 0xF2]);
        assert_eq!(w, vec!["topmost", "istanbul", "pluto", "vagabond"]);
    }

    #[test]
    fn sha256_known_answer() {
        assert_eq!(FileDigest::of(b"abc").hex(), "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");
        assert_eq!(FileDigest::of(b"abc").words().len(), 32);
    }
}
