//! Checking a bundle from scratch (`verify_bundle`), as `cista verify-election` does: each
//! check is named and explained, so a failure says what does not hold.

use super::{
    BUNDLE_FORMAT, BUNDLE_FORMAT_1, Bundle, RESULTS_EXTENSION, RESULTS_FORMAT, ballot_list_sha256,
    leaves, results_sha256,
};
use crate::products::voting::definition::BallotDefinition;
use crate::products::voting::tally::tally;
use cista_crypto::CryptoError;
use cista_crypto::Digest32;
use cista_crypto::merkle::{self, verify_inclusion};
use cista_crypto::note::{Checkpoint, NoteVerifier};
use serde::Serialize;
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
    if bundle.format != BUNDLE_FORMAT && bundle.format != BUNDLE_FORMAT_1 {
        v.push(
            "format",
            false,
            format!(
                "expected {BUNDLE_FORMAT} or {BUNDLE_FORMAT_1}, found {}",
                bundle.format
            ),
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

    check_results_signed(&mut v, bundle, checkpoint.as_ref());
    match definition {
        Err(e) => v.push("recount", false, e.to_string()),
        Ok(definition) => {
            check_results_fields(&mut v, bundle, &definition, checkpoint.as_ref());
            check_recount(&mut v, bundle, &definition);
        }
    }
    v
}

/// The results are the ones the checkpoint signs (its `results-sha256` line), so the
/// turnout, quorum and outcome the recount is compared with are the server's own.
fn check_results_signed(v: &mut Verification, bundle: &Bundle, checkpoint: Option<&Checkpoint>) {
    let published = results_sha256(&bundle.results).unwrap_or_default();
    let signed = checkpoint.and_then(|cp| cp.extension(RESULTS_EXTENSION));
    let (ok, detail) = match signed {
        Some(signed) if signed == published => (
            true,
            format!("the checkpoint signs these results (SHA-256 {published})"),
        ),
        Some(_) => (
            false,
            "the results are NOT the ones the checkpoint signs".to_owned(),
        ),
        None if checkpoint.is_none() => (false, "no checkpoint to compare with".to_owned()),
        None => (
            false,
            "the checkpoint does not sign the results (a ballot closed before Cista signed \
             them): its turnout and outcome cannot be checked"
                .to_owned(),
        ),
    };
    v.push("results signature", ok, detail);
}

/// What the bundle says besides its results agrees with them, with the checkpoint and with
/// the definition: ballot, definition hash, format, tree size and root, turnout, title.
fn check_results_fields(
    v: &mut Verification,
    bundle: &Bundle,
    definition: &BallotDefinition,
    checkpoint: Option<&Checkpoint>,
) {
    let r = &bundle.results;
    let mut differ = Vec::new();
    for (field, same) in [
        ("format", r.format == RESULTS_FORMAT),
        ("ballot", r.ballot == bundle.ballot),
        (
            "definition",
            r.definition_sha256 == bundle.definition_sha256,
        ),
        ("turnout", r.tally.turnout == bundle.turnout),
        ("title", bundle.title == definition.title),
        (
            "tree size",
            checkpoint.is_none_or(|cp| cp.size == r.tree_size),
        ),
        (
            "root",
            checkpoint.is_none_or(|cp| cp.root.to_hex() == r.root_sha256),
        ),
    ] {
        if !same {
            differ.push(field);
        }
    }
    v.push(
        "results fields",
        differ.is_empty(),
        if differ.is_empty() {
            "ballot, definition, turnout, title, tree size and root agree".to_owned()
        } else {
            format!("these do NOT agree: {}", differ.join(", "))
        },
    );
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
                if origin_ok {
                    format!("signed; origin {}", cp.origin)
                } else {
                    format!(
                        "signed, but for origin {}, NOT ballot {}",
                        cp.origin, bundle.ballot
                    )
                },
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
    let root = merkle::root_on_threads(&leaves, crate::products::voting::opening::cores());
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

    // Format 2 carries no proofs: the root recomputed above proves every ballot's inclusion.
    if bundle.format != BUNDLE_FORMAT_1 && bundle.proofs.is_empty() {
        return;
    }
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
    match tally(definition, bundle.turnout, &bundle.ballots) {
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
