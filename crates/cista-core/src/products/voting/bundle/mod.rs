//! What a closed ballot publishes and how anyone checks it, without trusting the server: the
//! ballot list (tracker, weight, choices) in tracker order, the RFC 6962 Merkle tree over it,
//! the checkpoint signed with the instance's key, and the results. `verify_bundle` recomputes
//! every one of these from the bundle alone, and the results by recounting; `cista
//! verify-election` runs it. A tracker's inclusion proof follows from the list
//! (`find_tracker`); format 1 also carried one per ballot, which format 2 leaves out (at a
//! million ballots they were a gigabyte that told a verifier nothing the list does not).

use super::tally::{CountedBallot, Tally, Turnout};
use crate::{Error, Result};
use cista_crypto::merkle::{self, all_inclusion_proofs, verify_inclusion};
use cista_crypto::note::NoteVerifier;
use cista_crypto::{Digest32, Sha256Stream};
use cista_types::{Timestamp, Tracker};
use serde::{Deserialize, Serialize};

mod verify;
pub use verify::{Check, Verification, verify_bundle};

/// The bundle's format: the ballot list without per-ballot proofs.
pub const BUNDLE_FORMAT: &str = "cista-election-bundle/2";
/// The first format, still verified: as format 2 with an inclusion proof per ballot.
pub const BUNDLE_FORMAT_1: &str = "cista-election-bundle/1";
pub const RESULTS_FORMAT: &str = "cista-results/1";

/// One ballot as published after the close: what is counted, so a list is counted as it is.
pub type PublishedBallot = CountedBallot;

/// The results sealed at close, stored with the ballot and published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotResults {
    pub format: String,
    pub ballot: String,
    pub definition_sha256: String,
    pub closed_at: Timestamp,
    pub tally: Tally,
    /// SHA-256 of the ballot list exactly as published (`ballots` in the bundle, compact JSON).
    pub ballot_list_sha256: String,
    /// The Merkle tree over the ballot list, as signed in the checkpoint.
    pub tree_size: u64,
    pub root_sha256: String,
}

/// An inclusion proof for one tracker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerProof {
    pub tracker: Tracker,
    pub index: u64,
    /// Sibling hashes from the leaf up, hex.
    pub path: Vec<String>,
}

/// Everything needed to recount a closed ballot and check it was not altered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub organization: String,
    pub ballot: String,
    pub title: String,
    /// The definition exactly as stored and hashed.
    pub definition_json: String,
    pub definition_sha256: String,
    /// The instance's signed-note verifier key; compare its key id with the one printed on
    /// the certified results, or pin the key with `--key`.
    pub verifier_key: String,
    /// The signed checkpoint of the ballot list.
    pub checkpoint: String,
    pub turnout: Turnout,
    pub results: BallotResults,
    /// In tracker order; last, so a bundle streams with everything else ahead of it.
    pub ballots: Vec<PublishedBallot>,
    /// Format 1 only: an inclusion proof per ballot (checked when present).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proofs: Vec<TrackerProof>,
}

/// Everything of a bundle but its ballot list: what `Cista::bundle_head` returns and a
/// streamed bundle writes ahead of the list (`BundleHead::json_prefix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleHead {
    pub format: String,
    pub organization: String,
    pub ballot: String,
    pub title: String,
    pub definition_json: String,
    pub definition_sha256: String,
    pub verifier_key: String,
    pub checkpoint: String,
    pub turnout: Turnout,
    pub results: BallotResults,
}

impl BundleHead {
    /// The bundle's JSON up to its ballot list: `{"format":…,…,"results":{…},"ballots":[`.
    /// Each ballot follows as compact JSON, comma-separated, then `]}` ends the bundle.
    pub fn json_prefix(&self) -> Result<Vec<u8>> {
        let mut json = serde_json::to_vec(self).map_err(|e| Error::Internal(e.to_string()))?;
        // A serialized struct ends with its closing brace; the list goes in its place.
        if json.pop() != Some(b'}') {
            return Err(Error::Internal("a bundle head is not an object".to_owned()));
        }
        json.extend_from_slice(br#","ballots":["#);
        Ok(json)
    }

    /// The whole bundle in memory, with `ballots` (in tracker order).
    pub fn with_ballots(self, ballots: Vec<PublishedBallot>) -> Bundle {
        Bundle {
            format: self.format,
            organization: self.organization,
            ballot: self.ballot,
            title: self.title,
            definition_json: self.definition_json,
            definition_sha256: self.definition_sha256,
            verifier_key: self.verifier_key,
            checkpoint: self.checkpoint,
            turnout: self.turnout,
            results: self.results,
            ballots,
            proofs: Vec::new(),
        }
    }
}

/// The end of a streamed bundle, after its last ballot.
pub const JSON_SUFFIX: &[u8] = b"]}";

/// The checkpoint's extension line that signs the results: `results-sha256 HEX`, the SHA-256
/// of the results as compact JSON (`results_sha256`).
pub const RESULTS_EXTENSION: &str = "results-sha256";

/// SHA-256 (hex) of `results` as compact JSON, keys in declaration order: what a ballot's
/// checkpoint signs in its `results-sha256` line.
pub fn results_sha256(results: &BallotResults) -> Result<String> {
    let json = serde_json::to_vec(results).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Digest32::sha256(&[&json]).to_hex())
}

/// The origin line of a ballot's checkpoint.
pub fn checkpoint_origin(audit_origin: &str, ballot: &str) -> String {
    format!("{audit_origin}/ballot/{ballot}")
}

/// The bytes hashed into the tree for one ballot: the ballot id and definition hash bind it
/// to exactly this ballot. Compact JSON, `["cista-ballot/1", ballot, definition_sha256,
/// tracker, weight, choices]`, each choice's keys in declaration order (`contest` first):
/// written straight from the values, never through `serde_json::Value`, whose key order
/// would depend on a Cargo feature (`preserve_order`) that any crate in a build may turn on.
pub fn leaf_data(ballot: &str, definition_sha256: &str, b: &PublishedBallot) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(160);
    serde_json::to_writer(
        &mut out,
        &(
            "cista-ballot/1",
            ballot,
            definition_sha256,
            b.tracker.to_string(),
            b.weight.to_string(),
            &b.choices,
        ),
    )
    .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(out)
}

/// Leaves of the tree over a ballot list (which must be in tracker order).
pub fn leaves(
    ballot: &str,
    definition_sha256: &str,
    list: &[PublishedBallot],
) -> Result<Vec<Digest32>> {
    list.iter()
        .map(|b| Ok(merkle::leaf_hash(&leaf_data(ballot, definition_sha256, b)?)))
        .collect()
}

/// The hash of the published ballot list's canonical bytes (compact JSON), written into the
/// hash as they are made: a million ballots never sit in memory as one string.
pub fn ballot_list_sha256(list: &[PublishedBallot]) -> Result<String> {
    let mut hasher = BallotListHasher::new();
    for b in list {
        hasher.add(b)?;
    }
    Ok(hasher.finish())
}

/// `ballot_list_sha256` a ballot at a time, for a list read page by page: the same bytes as
/// the list serialized whole (`[`, the ballots' compact JSON separated by `,`, `]`).
pub struct BallotListHasher {
    hashing: HashingWriter,
    empty: bool,
}

impl std::fmt::Debug for BallotListHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BallotListHasher")
            .field("empty", &self.empty)
            .finish_non_exhaustive()
    }
}

impl BallotListHasher {
    pub fn new() -> Self {
        let mut hashing = HashingWriter(Sha256Stream::new());
        hashing.0.update(b"[");
        Self {
            hashing,
            empty: true,
        }
    }

    /// Adds the next ballot of the list (in tracker order).
    pub fn add(&mut self, b: &PublishedBallot) -> Result<()> {
        if !self.empty {
            self.hashing.0.update(b",");
        }
        self.empty = false;
        serde_json::to_writer(&mut self.hashing, b).map_err(|e| Error::Internal(e.to_string()))
    }

    /// Adds the next ballots of the list as their compact JSON joined by commas (what
    /// serializing them one by one with `add` hashes); nothing when `joined` is empty.
    pub fn add_json(&mut self, joined: &[u8]) {
        if joined.is_empty() {
            return;
        }
        if !self.empty {
            self.hashing.0.update(b",");
        }
        self.empty = false;
        self.hashing.0.update(joined);
    }

    /// The SHA-256 of the whole list, lowercase hex.
    pub fn finish(mut self) -> String {
        self.hashing.0.update(b"]");
        self.hashing.0.finish().to_hex()
    }
}

impl Default for BallotListHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// An `io::Write` that only hashes what is written.
struct HashingWriter(Sha256Stream);

impl std::io::Write for HashingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Inclusion proofs for every ballot of a list.
pub fn proofs(
    ballot: &str,
    definition_sha256: &str,
    list: &[PublishedBallot],
) -> Result<(Digest32, Vec<TrackerProof>)> {
    let leaves = leaves(ballot, definition_sha256, list)?;
    let (root, paths) = all_inclusion_proofs(&leaves);
    let proofs = list
        .iter()
        .zip(paths)
        .enumerate()
        .map(|(i, (b, path))| TrackerProof {
            tracker: b.tracker,
            index: i as u64,
            path: path.iter().map(Digest32::to_hex).collect(),
        })
        .collect();
    Ok((root, proofs))
}

/// Where a tracker is in a bundle, and whether its inclusion proof holds against the signed
/// checkpoint: the bundle's own proof (format 1) or one built from its list (format 2).
pub fn find_tracker(bundle: &Bundle, tracker: Tracker) -> Option<(u64, &PublishedBallot, bool)> {
    let index = bundle
        .ballots
        .binary_search_by(|b| b.tracker.cmp(&tracker))
        .ok()?;
    let ballot = bundle.ballots.get(index)?;
    let path: Option<Vec<Digest32>> = match bundle.proofs.get(index) {
        Some(proof) => proof.path.iter().map(|h| Digest32::from_hex(h)).collect(),
        None => leaves(&bundle.ballot, &bundle.definition_sha256, &bundle.ballots)
            .ok()
            .and_then(|leaves| merkle::inclusion_proof(&leaves, index).ok()),
    };
    let proven = path.is_some_and(|path| proof_holds(bundle, ballot, index as u64, &path));
    Some((index as u64, ballot, proven))
}

/// Whether `path` proves `ballot` at `index` under the bundle's signed checkpoint.
fn proof_holds(bundle: &Bundle, ballot: &PublishedBallot, index: u64, path: &[Digest32]) -> bool {
    let Ok(verifier) = NoteVerifier::from_verifier_key(&bundle.verifier_key) else {
        return false;
    };
    let Ok(cp) = verifier.verify(&bundle.checkpoint) else {
        return false;
    };
    let Ok(data) = leaf_data(&bundle.ballot, &bundle.definition_sha256, ballot) else {
        return false;
    };
    verify_inclusion(&merkle::leaf_hash(&data), index, cp.size, path, &cp.root).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::products::voting::definition::{Answer, Choice, Choices};
    use cista_types::Weight;

    /// The leaf bytes every published root was signed over: compact, keys in declaration
    /// order. Pinned as text, so a change of serializer or of Cargo features shows here.
    #[test]
    fn a_leaf_is_the_same_bytes_whatever_features_serde_json_has() {
        let b = PublishedBallot {
            tracker: Tracker::from_i64(0x0123_4567_89ab),
            weight: Weight::from_micros(1_500_000),
            choices: Choices(vec![
                Choice::Answer {
                    contest: 1,
                    answer: Answer::Yes,
                },
                Choice::Candidates {
                    contest: 2,
                    candidates: vec![1, 3],
                },
            ]),
        };
        let data = String::from_utf8(leaf_data("42", "ab", &b).unwrap()).unwrap();
        assert_eq!(
            data,
            format!(
                r#"["cista-ballot/1","42","ab","{}","{}",[{{"contest":1,"answer":"yes"}},{{"contest":2,"candidates":[1,3]}}]]"#,
                b.tracker, b.weight
            )
        );
    }

    /// The list's hash is the SHA-256 of the list serialized whole, whether the ballots are
    /// added one by one or as pages of joined JSON of any size (the close adds pages).
    #[test]
    fn the_list_hash_is_the_same_added_whole_one_by_one_or_by_pages() {
        let list: Vec<PublishedBallot> = (0..7)
            .map(|i| PublishedBallot {
                tracker: Tracker::from_i64(1_000 + i),
                weight: Weight::from_micros(1_000_000 + i),
                choices: Choices(vec![Choice::Answer {
                    contest: 1,
                    answer: if i % 2 == 0 { Answer::Yes } else { Answer::No },
                }]),
            })
            .collect();
        let whole = Digest32::sha256(&[&serde_json::to_vec(&list).unwrap()]);
        assert_eq!(ballot_list_sha256(&list).unwrap(), whole.to_hex());
        for page in [1, 3, 7, 10] {
            let mut hasher = BallotListHasher::new();
            hasher.add_json(b"");
            for chunk in list.chunks(page) {
                let joined: Vec<String> = chunk
                    .iter()
                    .map(|b| serde_json::to_string(b).unwrap())
                    .collect();
                hasher.add_json(joined.join(",").as_bytes());
            }
            assert_eq!(hasher.finish(), whole.to_hex(), "pages of {page}");
        }
        assert_eq!(
            BallotListHasher::new().finish(),
            ballot_list_sha256(&[]).unwrap()
        );
        let empty = Digest32::sha256(&[b"[]"]);
        assert_eq!(ballot_list_sha256(&[]).unwrap(), empty.to_hex());
    }
}
