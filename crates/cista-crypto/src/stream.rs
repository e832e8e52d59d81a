//! Streaming encryption of large values (attachments) under a `DataKey`, never holding the whole
//! value: the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015, "Online
//! Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance") over AES-256-GCM, from
//! RustCrypto's `aead-stream` (`StreamBE32`: a 7-byte random nonce prefix, a 32-bit chunk
//! counter and a last-chunk flag in each nonce). Reordered, dropped, duplicated or truncated
//! chunks fail to open, as does a stream sealed under other associated data.
//!
//! Layout: `CSB1`, the 7-byte nonce prefix, then chunks of `CHUNK` plaintext bytes (the last
//! one shorter, possibly empty), each followed by its 16-byte tag.

use crate::{CryptoError, DataKey};
use aead_stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{KeyInit, Payload};
use cista_types::Rng;

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// The tag each sealed chunk carries.
const TAG: usize = 16;
const MAGIC: &[u8; 4] = b"CSB1";
const PREFIX: usize = 7;
/// Bytes before the first chunk.
pub const HEADER: usize = MAGIC.len() + PREFIX;

/// Seals a stream: `push` plaintext as it arrives and write out what it returns; `finish`
/// returns the rest. A chunk is sealed only once the next byte (or the end) is known, so the
/// last chunk is always marked as last.
pub struct StreamSealer {
    encryptor: Option<EncryptorBE32<Aes256Gcm>>,
    aad: Vec<u8>,
    pending: Vec<u8>,
    header: Option<Vec<u8>>,
}

impl std::fmt::Debug for StreamSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamSealer(pending={})", self.pending.len())
    }
}

fn cipher(key: &DataKey) -> Result<Aes256Gcm, CryptoError> {
    Aes256Gcm::new_from_slice(key.expose()).map_err(|_| CryptoError::Malformed("key length"))
}

impl StreamSealer {
    /// A sealer under `key`, bound to `aad` (which names what is sealed: its organization and
    /// id), with a fresh random nonce prefix.
    pub fn new(key: &DataKey, rng: &dyn Rng, aad: &[u8]) -> Result<Self, CryptoError> {
        let mut prefix = [0u8; PREFIX];
        rng.fill(&mut prefix);
        let encryptor = EncryptorBE32::from_aead(cipher(key)?, (&prefix).into());
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&prefix);
        Ok(Self {
            encryptor: Some(encryptor),
            aad: aad.to_vec(),
            pending: Vec::with_capacity(CHUNK),
            header: Some(header),
        })
    }

    /// Takes more plaintext; returns the sealed bytes that are ready (possibly none).
    pub fn push(&mut self, mut plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut out = self.header.take().unwrap_or_default();
        while !plaintext.is_empty() {
            if self.pending.len() == CHUNK {
                // More follows, so the full chunk is not the last one.
                let encryptor = self.encryptor.as_mut().ok_or(CryptoError::Decrypt)?;
                let sealed = encryptor
                    .encrypt_next(Payload {
                        msg: &self.pending,
                        aad: &self.aad,
                    })
                    .map_err(|_| CryptoError::Malformed("stream too long"))?;
                out.extend_from_slice(&sealed);
                self.pending.clear();
            }
            let room = CHUNK - self.pending.len();
            let (now, rest) = plaintext.split_at(room.min(plaintext.len()));
            self.pending.extend_from_slice(now);
            plaintext = rest;
        }
        Ok(out)
    }

    /// Seals what is left as the last chunk.
    pub fn finish(mut self) -> Result<Vec<u8>, CryptoError> {
        let mut out = self.header.take().unwrap_or_default();
        let encryptor = self.encryptor.take().ok_or(CryptoError::Decrypt)?;
        let sealed = encryptor
            .encrypt_last(Payload {
                msg: &self.pending,
                aad: &self.aad,
            })
            .map_err(|_| CryptoError::Malformed("stream"))?;
        out.extend_from_slice(&sealed);
        Ok(out)
    }
}

/// Opens a sealed stream: `push` sealed bytes as they arrive and use the plaintext it
/// returns; `finish` checks that the last chunk came and returns its plaintext. Until
/// `finish` succeeds, what was returned is authentic but possibly incomplete.
pub struct StreamOpener {
    key: DataKey,
    decryptor: Option<DecryptorBE32<Aes256Gcm>>,
    aad: Vec<u8>,
    pending: Vec<u8>,
}

impl std::fmt::Debug for StreamOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamOpener(pending={})", self.pending.len())
    }
}

impl StreamOpener {
    pub fn new(key: &DataKey, aad: &[u8]) -> Self {
        Self {
            key: DataKey::from_bytes(*key.expose()),
            decryptor: None,
            aad: aad.to_vec(),
            pending: Vec::new(),
        }
    }

    /// Takes more sealed bytes; returns the plaintext of every chunk that is complete and
    /// known not to be the last.
    pub fn push(&mut self, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.pending.extend_from_slice(sealed);
        if self.decryptor.is_none() {
            if self.pending.len() < HEADER {
                return Ok(Vec::new());
            }
            if self.pending.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
                return Err(CryptoError::Malformed("not a sealed stream"));
            }
            let prefix: [u8; PREFIX] = self
                .pending
                .get(MAGIC.len()..HEADER)
                .and_then(|p| p.try_into().ok())
                .ok_or(CryptoError::Malformed("nonce prefix"))?;
            self.decryptor = Some(DecryptorBE32::from_aead(
                cipher(&self.key)?,
                (&prefix).into(),
            ));
            self.pending.drain(..HEADER);
        }
        let mut out = Vec::new();
        // A full chunk is opened only when more bytes follow it: otherwise it may be the last.
        while self.pending.len() > CHUNK + TAG {
            let decryptor = self.decryptor.as_mut().ok_or(CryptoError::Decrypt)?;
            let chunk = self
                .pending
                .get(..CHUNK + TAG)
                .ok_or(CryptoError::Malformed("chunk"))?;
            let plain = decryptor
                .decrypt_next(Payload {
                    msg: chunk,
                    aad: &self.aad,
                })
                .map_err(|_| CryptoError::Decrypt)?;
            out.extend_from_slice(&plain);
            self.pending.drain(..CHUNK + TAG);
        }
        Ok(out)
    }

    /// Opens the last chunk; fails if the stream was cut short or altered.
    pub fn finish(mut self) -> Result<Vec<u8>, CryptoError> {
        let decryptor = self
            .decryptor
            .take()
            .ok_or(CryptoError::Malformed("sealed stream too short"))?;
        if self.pending.len() < TAG {
            return Err(CryptoError::Malformed("sealed stream cut short"));
        }
        decryptor
            .decrypt_last(Payload {
                msg: &self.pending,
                aad: &self.aad,
            })
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// The sealed size of `plaintext_len` bytes.
pub fn sealed_len(plaintext_len: u64) -> u64 {
    let chunks = plaintext_len.div_ceil(CHUNK as u64).max(1);
    HEADER as u64 + plaintext_len + chunks * TAG as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use cista_types::OsRng;

    fn seal_in_pieces(key: &DataKey, aad: &[u8], data: &[u8], piece: usize) -> Vec<u8> {
        let mut sealer = StreamSealer::new(key, &OsRng, aad).unwrap();
        let mut out = Vec::new();
        for part in data.chunks(piece.max(1)) {
            out.extend(sealer.push(part).unwrap());
        }
        out.extend(sealer.finish().unwrap());
        out
    }

    fn open_in_pieces(
        key: &DataKey,
        aad: &[u8],
        sealed: &[u8],
        piece: usize,
    ) -> Result<Vec<u8>, CryptoError> {
        let mut opener = StreamOpener::new(key, aad);
        let mut out = Vec::new();
        for part in sealed.chunks(piece.max(1)) {
            out.extend(opener.push(part)?);
        }
        out.extend(opener.finish()?);
        Ok(out)
    }

    #[test]
    fn every_length_round_trips_in_any_pieces() {
        let key = DataKey::generate(&OsRng);
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for piece in [1000, CHUNK, 7 * CHUNK] {
                let sealed = seal_in_pieces(&key, b"org|1", &data, piece);
                assert_eq!(sealed.len() as u64, sealed_len(len as u64), "{len}");
                for open_piece in [999, CHUNK + TAG, sealed.len()] {
                    let opened = open_in_pieces(&key, b"org|1", &sealed, open_piece).unwrap();
                    assert_eq!(opened, data, "{len} {piece} {open_piece}");
                }
            }
        }
    }

    #[test]
    fn altered_truncated_reordered_or_misplaced_streams_fail() {
        let key = DataKey::generate(&OsRng);
        let data: Vec<u8> = (0..3 * CHUNK + 5).map(|i| (i % 7) as u8).collect();
        let sealed = seal_in_pieces(&key, b"org|1", &data, CHUNK);
        let mut flipped = sealed.clone();
        flipped[HEADER + 10] ^= 1;
        assert!(open_in_pieces(&key, b"org|1", &flipped, 4096).is_err());
        // Cut at a chunk boundary: the chunk before is not marked last.
        let cut = &sealed[..HEADER + 2 * (CHUNK + TAG)];
        assert!(open_in_pieces(&key, b"org|1", cut, 4096).is_err());
        assert!(open_in_pieces(&key, b"org|1", &sealed[..sealed.len() - 1], 4096).is_err());
        // Two chunks swapped.
        let mut swapped = sealed[..HEADER].to_vec();
        swapped.extend_from_slice(&sealed[HEADER + CHUNK + TAG..HEADER + 2 * (CHUNK + TAG)]);
        swapped.extend_from_slice(&sealed[HEADER..HEADER + CHUNK + TAG]);
        swapped.extend_from_slice(&sealed[HEADER + 2 * (CHUNK + TAG)..]);
        assert!(open_in_pieces(&key, b"org|1", &swapped, 4096).is_err());
        assert!(open_in_pieces(&key, b"org|2", &sealed, 4096).is_err());
        let other = DataKey::generate(&OsRng);
        assert!(open_in_pieces(&other, b"org|1", &sealed, 4096).is_err());
        assert!(open_in_pieces(&key, b"org|1", b"CSB", 4096).is_err());
        assert!(open_in_pieces(&key, b"org|1", b"XXXX1234567rest-of-it", 4096).is_err());
    }

    #[test]
    fn two_seals_of_the_same_data_differ() {
        let key = DataKey::generate(&OsRng);
        let a = seal_in_pieces(&key, b"x", b"same", 10);
        let b = seal_in_pieces(&key, b"x", b"same", 10);
        assert_ne!(a, b, "a fresh nonce prefix each time");
    }
}
