//! What a closed ballot publishes and how anyone checks it, without trusting the server: the
//! ballot list (tracker, weight, choices) in tracker order, the RFC 6962 Merkle tree over it,
//! the checkpoint signed with the instance's key, an inclusion proof per tracker, and the
//! results. `verify_bundle` recomputes every one of these from the bundle alone, and the
//! results by recounting; `cista verify-election` runs it.

use super::definition::{BallotDefinition, Choices};
use super::tally::{CountedBallot, Tally, Turnout, tally};
use crate::{Error, Result};
use cista_crypto::CryptoError;
use cista_crypto::Digest32;
use cista_crypto::merkle::{self, all_inclusion_proofs, verify_inclusion};
use cista_crypto::note::{Checkpoint, NoteVerifier};
use cista_types::{Timestamp, Tracker, Weight};
use serde::{Deserialize, Serialize};

pub const BUNDLE_FORMAT: &str = "cista-election-bundle/1";
pub const RESULTS_FORMAT: &str = "cista-results/1";

/// One ballot as published after the close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedBallot {
    pub tracker: Tracker,
    pub weight: Weight,
    pub choices: Choices,
}

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
    pub ballots: Vec<PublishedBallot>,
    pub turnout: Turnout,
    pub results: BallotResults,
    pub proofs: Vec<TrackerProof>,
}

/// The origin line of a ballot's checkpoint.
pub fn checkpoint_origin(audit_origin: &str, ballot: &str) -> String {
    format!("{audit_origin}/ballot/{ballot}")
}

/// The bytes hashed into the tree for one ballot: the ballot id and definition hash bind it
/// to exactly this ballot.
pub fn leaf_data(ballot: &str, definition_sha256: &str, b: &PublishedBallot) -> Result<Vec<u8>> {
    let choices = serde_json::to_value(&b.choices).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(serde_json::json!([
        "cista-ballot/1",
        ballot,
        definition_sha256,
        b.tracker.to_string(),
        b.weight.to_string(),
        choices
    ])
    .to_string()
    .into_bytes())
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

/// The published ballot list's canonical bytes and their hash.
pub fn ballot_list_sha256(list: &[PublishedBallot]) -> Result<String> {
    let json = serde_json::to_string(list).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Digest32::sha256(&[json.as_bytes()]).to_hex())
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

/// One check of a verification, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub checks: Vec<Check>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.ok)
    }

    fn push(&mut self, name: &str, ok: bool, detail: impl Into<String>) {
        self.checks.push(Check {
            name: name.to_owned(),
            ok,
            detail: detail.into(),
        });
    }
}

/// Checks a bundle from scratch: definition hash, verifier key (against `pinned_key` if
/// given), checkpoint signature and origin, tracker order, the tree root and size, every
/// inclusion proof, the ballot list hash, and the results by recounting.
pub fn verify_bundle(bundle: &Bundle, pinned_key: Option<&str>) -> Verification {
    let mut v = Verification { checks: Vec::new() };
    if bundle.format != BUNDLE_FORMAT {
        v.push(
            "format",
            false,
            format!("expected {BUNDLE_FORMAT}, found {}", bundle.format),
        );
        return v;
    }

    let definition_hash = BallotDefinition::hash_of(&bundle.definition_json).to_hex();
    let definition = BallotDefinition::from_json(&bundle.definition_json);
    v.push(
        "definition",
        definition_hash == bundle.definition_sha256 && definition.is_ok(),
        format!("SHA-256 {definition_hash}"),
    );

    let verifier = NoteVerifier::from_verifier_key(&bundle.verifier_key);
    check_verifier_key(&mut v, &verifier, pinned_key);
    let checkpoint = check_checkpoint(&mut v, bundle, verifier.as_ref().ok());
    check_tracker_order(&mut v, bundle);
    check_tree(&mut v, bundle, checkpoint.as_ref());

    let list_hash = ballot_list_sha256(&bundle.ballots).unwrap_or_default();
    v.push(
        "ballot list hash",
        list_hash == bundle.results.ballot_list_sha256,
        format!("SHA-256 {list_hash}"),
    );

    match definition {
        Err(e) => v.push("recount", false, e.to_string()),
        Ok(definition) => check_recount(&mut v, bundle, &definition),
    }
    v
}

/// The verifier key: readable, and the pinned one when a key is pinned.
fn check_verifier_key(
    v: &mut Verification,
    verifier: &std::result::Result<NoteVerifier, CryptoError>,
    pinned_key: Option<&str>,
) {
    match (verifier, pinned_key) {
        (Err(e), _) => v.push("verifier key", false, e.to_string()),
        (Ok(k), Some(pinned)) => v.push(
            "verifier key",
            k.to_verifier_key() == pinned.trim(),
            format!(
                "bundle key {} {} the pinned key",
                k.key_id(),
                if k.to_verifier_key() == pinned.trim() {
                    "is"
                } else {
                    "is NOT"
                }
            ),
        ),
        (Ok(k), None) => v.push(
            "verifier key",
            true,
            format!(
                "key id {} (compare it with the key id on the certified results, or pass --key)",
                k.key_id()
            ),
        ),
    }
}

/// The checkpoint: signed by the verifier key, for this ballot. Returns it when signed.
fn check_checkpoint(
    v: &mut Verification,
    bundle: &Bundle,
    verifier: Option<&NoteVerifier>,
) -> Option<Checkpoint> {
    match verifier.map(|k| k.verify(&bundle.checkpoint)) {
        Some(Ok(cp)) => {
            let origin_ok = cp.origin.ends_with(&format!("/ballot/{}", bundle.ballot));
            v.push(
                "checkpoint signature",
                origin_ok,
                format!("signed; origin {}", cp.origin),
            );
            Some(cp)
        }
        Some(Err(e)) => {
            v.push("checkpoint signature", false, e.to_string());
            None
        }
        None => {
            v.push("checkpoint signature", false, "no usable verifier key");
            None
        }
    }
}

/// The ballot list is in strictly ascending tracker order.
fn check_tracker_order(v: &mut Verification, bundle: &Bundle) {
    let ordered = bundle
        .ballots
        .windows(2)
        .all(|w| matches!(w, [a, b] if a.tracker < b.tracker));
    v.push(
        "tracker order",
        ordered,
        if ordered {
            format!(
                "{} ballots, trackers ascending and distinct",
                bundle.ballots.len()
            )
        } else {
            "trackers are not strictly ascending".to_owned()
        },
    );
}

/// The tree recomputed from the ballot list: its root and size against the checkpoint, and
/// every inclusion proof.
fn check_tree(v: &mut Verification, bundle: &Bundle, checkpoint: Option<&Checkpoint>) {
    let leaves = match leaves(&bundle.ballot, &bundle.definition_sha256, &bundle.ballots) {
        Err(e) => {
            v.push("tree", false, e.to_string());
            return;
        }
        Ok(leaves) => leaves,
    };
    let root = merkle::root(&leaves);
    let size = leaves.len() as u64;
    let (root_ok, detail) = match checkpoint {
        Some(cp) => (
            cp.root == root && cp.size == size,
            format!(
                "recomputed root {} over {size} ballots {} the checkpoint",
                root.to_hex(),
                if cp.root == root && cp.size == size {
                    "matches"
                } else {
                    "does NOT match"
                }
            ),
        ),
        None => (false, "no checkpoint to compare with".to_owned()),
    };
    v.push("tree root", root_ok, detail);

    let bad = failed_proofs(bundle, &leaves, checkpoint);
    v.push(
        "inclusion proofs",
        bad.is_empty(),
        if bad.is_empty() {
            format!(
                "{} of {} verified against the checkpoint",
                bundle.proofs.len(),
                leaves.len()
            )
        } else {
            format!("failed: {}", bad.join(", "))
        },
    );
}

/// What is wrong with the inclusion proofs: a count that is not one per ballot, each proof
/// that does not hold against the checkpoint, or no checkpoint at all.
fn failed_proofs(
    bundle: &Bundle,
    leaves: &[Digest32],
    checkpoint: Option<&Checkpoint>,
) -> Vec<String> {
    let mut bad = Vec::new();
    if bundle.proofs.len() != leaves.len() {
        bad.push(format!(
            "{} proofs for {} ballots",
            bundle.proofs.len(),
            leaves.len()
        ));
    }
    let Some(cp) = checkpoint else {
        bad.push("no checkpoint".to_owned());
        return bad;
    };
    for proof in &bundle.proofs {
        let leaf = usize::try_from(proof.index)
            .ok()
            .and_then(|i| leaves.get(i).zip(bundle.ballots.get(i)));
        let path: Option<Vec<Digest32>> =
            proof.path.iter().map(|h| Digest32::from_hex(h)).collect();
        let ok = match (leaf, path) {
            (Some((leaf, b)), Some(path)) => {
                b.tracker == proof.tracker
                    && verify_inclusion(leaf, proof.index, cp.size, &path, &cp.root).is_ok()
            }
            _ => false,
        };
        if !ok {
            bad.push(format!("tracker {}", proof.tracker));
        }
    }
    bad
}

/// Recounts the ballot list and compares it with the published results.
fn check_recount(v: &mut Verification, bundle: &Bundle, definition: &BallotDefinition) {
    let counted: Vec<CountedBallot> = bundle
        .ballots
        .iter()
        .map(|b| CountedBallot {
            tracker: b.tracker,
            weight: b.weight,
            choices: b.choices.clone(),
        })
        .collect();
    match tally(definition, bundle.turnout, &counted) {
        Ok(recount) => v.push(
            "recount",
            recount == bundle.results.tally,
            if recount == bundle.results.tally {
                "recounting the ballot list gives the published results".to_owned()
            } else {
                "recounting the ballot list gives DIFFERENT results".to_owned()
            },
        ),
        Err(e) => v.push("recount", false, e.to_string()),
    }
}

/// Where a tracker is in a bundle, and whether its proof holds.
pub fn find_tracker(bundle: &Bundle, tracker: Tracker) -> Option<(u64, &PublishedBallot, bool)> {
    let index = bundle
        .ballots
        .binary_search_by(|b| b.tracker.cmp(&tracker))
        .ok()?;
    let ballot = bundle.ballots.get(index)?;
    let proven = (|| {
        let verifier = NoteVerifier::from_verifier_key(&bundle.verifier_key).ok()?;
        let cp = verifier.verify(&bundle.checkpoint).ok()?;
        let proof = bundle.proofs.get(index)?;
        let path: Vec<Digest32> = proof
            .path
            .iter()
            .map(|h| Digest32::from_hex(h))
            .collect::<Option<_>>()?;
        let leaf =
            merkle::leaf_hash(&leaf_data(&bundle.ballot, &bundle.definition_sha256, ballot).ok()?);
        Some(verify_inclusion(&leaf, index as u64, cp.size, &path, &cp.root).is_ok())
    })()
    .unwrap_or(false);
    Some((index as u64, ballot, proven))
}
