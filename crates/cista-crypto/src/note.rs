//! Signed audit checkpoints in the C2SP formats: a `tlog-checkpoint` body (origin, tree size,
//! base64 root) signed as a `signed-note` with Ed25519. Anyone holding the instance's verifier
//! key can check a checkpoint with standard tooling (e.g. golang.org/x/mod/sumdb/note).

use crate::{CryptoError, Digest32};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use std::fmt;
use zeroize::Zeroize as _;

/// Algorithm byte for Ed25519 in signed-note key hashes and verifier keys.
const ALG_ED25519: u8 = 0x01;
/// Every signature line starts with an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// A tree head: the log's origin line, its size and its root hash, then any extension lines
/// (C2SP `tlog-checkpoint`: non-empty lines after the root, which a verifier that does not
/// know them ignores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Digest32,
    /// Extension lines, without their newlines; each must be non-empty and hold no newline.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note body: origin, size and root, then each extension line, each line ending in
    /// a newline.
    pub fn body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root.as_bytes())
        );
        for line in &self.extensions {
            body.push_str(line);
            body.push('\n');
        }
        body
    }

    /// The value of the extension line `KEY VALUE`, if the checkpoint has one.
    pub fn extension(&self, key: &str) -> Option<&str> {
        self.extensions
            .iter()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(' '))
    }

    fn parse_body(body: &str) -> Result<Self, CryptoError> {
        let mut lines = body.lines();
        let bad = |what: &str| CryptoError::BadSignature(format!("malformed checkpoint: {what}"));
        let origin = lines
            .next()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| bad("no origin"))?;
        let size = lines
            .next()
            .and_then(|l| l.parse::<u64>().ok())
            .ok_or_else(|| bad("no tree size"))?;
        let root = lines
            .next()
            .and_then(|l| BASE64.decode(l).ok())
            .and_then(|b| Digest32::from_slice(&b))
            .ok_or_else(|| bad("no root hash"))?;
        let extensions = lines.map(str::to_owned).collect::<Vec<_>>();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("an empty extension line"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// The 4-byte key hash that names a key in signature lines.
fn key_hash(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let digest = Digest32::sha256(&[name.as_bytes(), b"\n", &[ALG_ED25519], public.as_bytes()]);
    let b = digest.as_bytes();
    [b[0], b[1], b[2], b[3]]
}

/// The instance's checkpoint signer: an Ed25519 key and the name it signs under.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({}, <redacted>)", self.name)
    }
}

impl NoteSigner {
    /// `name` must be a single token without spaces or `+` (the signed-note rules).
    pub fn new(name: &str, mut secret: [u8; 32]) -> Result<Self, CryptoError> {
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('+') {
            secret.zeroize();
            return Err(CryptoError::Malformed(
                "a signer name must be non-empty, without spaces or '+'",
            ));
        }
        let key = SigningKey::from_bytes(&secret);
        secret.zeroize();
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs a checkpoint, returning the complete signed note.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        self.sign_text(&checkpoint.body())
    }

    /// Signs any note body (lines, each ending in a newline, no blank line), returning the
    /// complete signed note. Receipts use this; their first line keeps them from ever parsing
    /// as a checkpoint.
    pub fn sign_text(&self, body: &str) -> String {
        let signature = self.key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&key_hash(&self.name, &self.key.verifying_key()));
        blob.extend_from_slice(&signature.to_bytes());
        format!(
            "{body}\n{SIG_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(blob)
        )
    }
}

/// The public half: checks notes signed by one named key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    pub fn new(name: &str, public: &[u8]) -> Result<Self, CryptoError> {
        let bytes: [u8; 32] = public
            .try_into()
            .map_err(|_| CryptoError::Malformed("an Ed25519 public key is 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| CryptoError::Malformed("not an Ed25519 public key"))?;
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key hash as 8 hex digits, the short form shown to people.
    pub fn key_id(&self) -> String {
        hex::encode(key_hash(&self.name, &self.key))
    }

    /// Reads a verifier key in signed-note text form (`name+hash+base64(alg || key)`), checking
    /// that the hash matches the name and key.
    pub fn from_verifier_key(text: &str) -> Result<Self, CryptoError> {
        let bad = || CryptoError::Malformed("not a signed-note verifier key (name+hash+key)");
        let mut parts = text.trim().splitn(3, '+');
        let (name, hash, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(n), Some(h), Some(k)) => (n, h, k),
            _ => return Err(bad()),
        };
        let blob = BASE64.decode(key).map_err(|_| bad())?;
        let (alg, public) = blob.split_first().ok_or_else(bad)?;
        if *alg != ALG_ED25519 {
            return Err(bad());
        }
        let verifier = Self::new(name, public)?;
        if verifier.key_id() != hash {
            return Err(CryptoError::Malformed(
                "the verifier key's hash does not match its name and key",
            ));
        }
        Ok(verifier)
    }

    /// The verifier key in signed-note text form: `name+hash+base64(alg || key)`.
    pub fn to_verifier_key(&self) -> String {
        let mut blob = vec![ALG_ED25519];
        blob.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, self.key_id(), BASE64.encode(blob))
    }

    /// Checks a signed checkpoint note and returns the checkpoint it carries.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, CryptoError> {
        Checkpoint::parse_body(&self.verify_text(note)?)
    }

    /// Checks any signed note and returns its body.
    pub fn verify_text(&self, note: &str) -> Result<String, CryptoError> {
        let (body, signatures) = note
            .rsplit_once("\n\n")
            .map(|(b, s)| (format!("{b}\n"), s))
            .ok_or_else(|| CryptoError::BadSignature("no signature block".to_owned()))?;
        let expected_hash = key_hash(&self.name, &self.key);
        for line in signatures.lines() {
            let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
                return Err(CryptoError::BadSignature(
                    "malformed signature line".to_owned(),
                ));
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                continue;
            };
            if name != self.name {
                continue;
            }
            let blob = BASE64
                .decode(b64)
                .map_err(|_| CryptoError::BadSignature("signature is not base64".to_owned()))?;
            let Some((hash, sig)) = blob.split_first_chunk::<4>() else {
                continue;
            };
            if *hash != expected_hash {
                continue;
            }
            let sig: [u8; 64] = sig
                .try_into()
                .map_err(|_| CryptoError::BadSignature("signature length".to_owned()))?;
            self.key
                .verify_strict(body.as_bytes(), &Signature::from_bytes(&sig))
                .map_err(|_| {
                    CryptoError::BadSignature(format!("the signature by {} is invalid", self.name))
                })?;
            return Ok(body);
        }
        Err(CryptoError::BadSignature(format!(
            "no signature by key {} ({})",
            self.name,
            self.key_id()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.org/cista/audit".to_owned(),
            size: 8,
            root: merkle::leaf_hash(b"x"),
            extensions: Vec::new(),
        }
    }

    #[test]
    fn a_signed_checkpoint_has_the_c2sp_shape_and_verifies() {
        let signer = NoteSigner::new("example.org/cista/audit", [9; 32]).unwrap();
        let note = signer.sign(&checkpoint());
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(lines[0], "example.org/cista/audit");
        assert_eq!(lines[1], "8");
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("\u{2014} example.org/cista/audit "));
        assert_eq!(signer.verifier().verify(&note).unwrap(), checkpoint());
        assert!(
            signer
                .verifier()
                .to_verifier_key()
                .starts_with("example.org/cista/audit+")
        );
    }

    /// Extension lines follow the root, are signed with it, and come back in order.
    #[test]
    fn extension_lines_are_signed_and_read_back() {
        let signer = NoteSigner::new("log", [9; 32]).unwrap();
        let mut extended = checkpoint();
        extended.extensions = vec!["results-sha256 ab12".to_owned(), "other x y".to_owned()];
        let note = signer.sign(&extended);
        assert!(
            note.contains("\nresults-sha256 ab12\nother x y\n\n"),
            "{note}"
        );
        let read = signer.verifier().verify(&note).unwrap();
        assert_eq!(read, extended);
        assert_eq!(read.extension("results-sha256"), Some("ab12"));
        assert_eq!(read.extension("results"), None);
        let altered = note.replacen("ab12", "ab13", 1);
        assert!(signer.verifier().verify(&altered).is_err());
    }

    #[test]
    fn an_altered_or_foreign_checkpoint_is_refused() {
        let signer = NoteSigner::new("log", [9; 32]).unwrap();
        let note = signer.sign(&checkpoint());
        let altered = note.replacen("\n8\n", "\n9\n", 1);
        assert!(signer.verifier().verify(&altered).is_err());

        let other = NoteSigner::new("log", [10; 32]).unwrap();
        assert!(other.verifier().verify(&note).is_err());
        assert!(signer.verifier().verify("no signatures here").is_err());
    }

    #[test]
    fn any_text_can_be_signed_and_a_receipt_never_passes_for_a_checkpoint() {
        let signer = NoteSigner::new("log", [9; 32]).unwrap();
        let note = signer.sign_text("Cista ballot receipt\ntracker ABCD\n");
        let verifier = signer.verifier();
        assert_eq!(
            verifier.verify_text(&note).unwrap(),
            "Cista ballot receipt\ntracker ABCD\n"
        );
        assert!(verifier.verify(&note).is_err());
        assert!(verifier.verify_text(&note.replace("ABCD", "ABCE")).is_err());
        let round = NoteVerifier::from_verifier_key(&verifier.to_verifier_key()).unwrap();
        assert_eq!(round, verifier);
        let forged = verifier.to_verifier_key().replacen("log+", "lag+", 1);
        assert!(NoteVerifier::from_verifier_key(&forged).is_err());
    }

    #[test]
    fn names_with_spaces_or_plus_are_refused() {
        assert!(NoteSigner::new("two words", [1; 32]).is_err());
        assert!(NoteSigner::new("a+b", [1; 32]).is_err());
        assert!(NoteSigner::new("", [1; 32]).is_err());
    }
}
