//! The audit log: entries commit with their change, the head and signed checkpoints agree with
//! the RFC 6962 tree, and `verify` names the first bad entry after any direct tampering.

use crate::Harness;
use cista_core::platform::audit::{AuditKind, NewAuditEntry, leaf_data};
use cista_core::{Actor, Cista, Store as _};
use cista_crypto::merkle::{self, CompactRange};
use cista_types::{Clock as _, OrgName, OrgSlug};
use sea_orm::sea_query::{Expr, ExprTrait as _, Query};

use std::sync::Arc;

fn operator() -> Actor {
    Actor::operator("test")
}

fn entry(h: &Harness, n: u64) -> NewAuditEntry {
    NewAuditEntry::new(
        h.clock.now(),
        &Actor::System,
        None,
        AuditKind::KeysRewrapped,
        serde_json::json!({ "n": n }),
    )
}

/// An instance with `n` extra entries and a signed checkpoint covering all of them.
async fn log_with(h: &Harness, n: u64) -> Cista {
    let cista = h.cista().await;
    for i in 0..n {
        h.store.append_audit(entry(h, i)).await.unwrap();
    }
    cista.sign_checkpoint(&Actor::System).await.unwrap();
    cista
}

pub async fn each_change_writes_exactly_one_audit_entry_in_its_transaction(h: &Harness) {
    let cista = h.cista().await;
    // Initialization and each of the three instance-level keys it creates are audited.
    let base = h.store.audit_head().await.unwrap().size;
    assert_eq!(base, 4, "initialization is audited");
    let org = cista
        .create_organization(
            &operator(),
            OrgName::parse("Palm Court").unwrap(),
            OrgSlug::parse("palm-court").unwrap(),
        )
        .await
        .unwrap();
    let entries = h.store.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries.len() as u64, base + 1);
    let last = entries.last().unwrap();
    assert_eq!(last.kind, "organization.created");
    assert_eq!(last.actor, "operator:test");
    assert_eq!(last.org, Some(org.id));
    assert_eq!(last.at, h.clock.now());
    assert!(last.details.contains("palm-court"));
    assert_eq!(entries[0].kind, "instance.initialized");
}

pub async fn the_head_and_signed_checkpoints_match_the_rfc6962_tree(h: &Harness) {
    let cista = log_with(h, 9).await;
    let entries = h.store.audit_entries(0, 1000).await.unwrap();
    let size = entries.len();
    assert_eq!(
        size,
        4 + 9,
        "initialization, three instance keys and nine entries"
    );
    let leaves: Vec<_> = entries.iter().map(|e| e.leaf_hash).collect();
    let head = h.store.audit_head().await.unwrap();
    assert_eq!(head.size, size as u64);
    assert_eq!(head.root, merkle::root(&leaves));

    let checkpoint = h.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!((checkpoint.size, checkpoint.root), (head.size, head.root));
    // The verifier key (it names the key id) is shown to staff, not to anonymous visitors.
    let public = cista.trust_report(&Actor::Anonymous).await.unwrap();
    assert_eq!(public.audit.verifier_key, None);
    let report = cista.trust_report(&Actor::operator("test")).await.unwrap();
    let verifier = cista_crypto::note::NoteVerifier::new(
        &cista.instance().audit_origin,
        &cista.instance().audit_public_key,
    )
    .unwrap();
    assert_eq!(Some(verifier.to_verifier_key()), report.audit.verifier_key);
    let signed = verifier.verify(&checkpoint.note).unwrap();
    assert_eq!(signed.root, head.root);

    // Any entry's inclusion, and the growth from an older checkpoint, prove against it.
    for (i, leaf) in leaves.iter().enumerate() {
        let path = merkle::inclusion_proof(&leaves, i).unwrap();
        merkle::verify_inclusion(leaf, i as u64, head.size, &path, &signed.root).unwrap();
    }
    h.store.append_audit(entry(h, 99)).await.unwrap();
    cista
        .sign_checkpoint(&Actor::System)
        .await
        .unwrap()
        .unwrap();
    let all: Vec<_> = h
        .store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.leaf_hash)
        .collect();
    let newer = h.store.latest_checkpoint().await.unwrap().unwrap();
    let proof = merkle::consistency_proof(&all, size).unwrap();
    merkle::verify_consistency(
        size as u64,
        size as u64 + 1,
        &checkpoint.root,
        &newer.root,
        &proof,
    )
    .unwrap();
}

pub async fn concurrent_appends_keep_the_log_contiguous(h: &Harness) {
    let cista = h.cista().await;
    let base = h.store.audit_head().await.unwrap().size as usize;
    let mut tasks = Vec::new();
    for i in 0..40u64 {
        let store = h.store.clone();
        let e = entry(h, i);
        tasks.push(tokio::spawn(async move { store.append_audit(e).await }));
    }
    for t in tasks {
        t.await
            .unwrap()
            .unwrap_or_else(|e| panic!("append: {}", e.chain()));
    }
    let entries = h.store.audit_entries(0, 1000).await.unwrap();
    assert_eq!(entries.len(), base + 40);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
    }
    let mut details: Vec<&str> = entries
        .iter()
        .skip(base)
        .map(|e| e.details.as_str())
        .collect();
    details.sort_unstable();
    details.dedup();
    assert_eq!(details.len(), 40, "every append landed exactly once");
    cista.sign_checkpoint(&Actor::System).await.unwrap();
    let report = cista.verify_audit(&operator()).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
}

pub async fn checkpoints_are_signed_once_per_size(h: &Harness) {
    let cista = log_with(h, 2).await;
    assert!(
        cista
            .sign_checkpoint(&Actor::System)
            .await
            .unwrap()
            .is_none()
    );
    let latest = h.store.latest_checkpoint().await.unwrap().unwrap();
    assert!(
        !h.store.add_checkpoint(&latest).await.unwrap(),
        "same size twice"
    );
    assert_eq!(h.store.checkpoints().await.unwrap().len(), 1);
    let err = cista.sign_checkpoint(&Actor::Anonymous).await.unwrap_err();
    assert_eq!(err.code(), "forbidden");
}

pub async fn verify_passes_on_an_untouched_log(h: &Harness) {
    let cista = log_with(h, 5).await;
    h.store.append_audit(entry(h, 50)).await.unwrap();
    let report = cista.verify_audit(&operator()).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.entries_checked, 4 + 6);
    assert_eq!(report.checkpoints_checked, 1);
    assert_eq!(report.head_size, 4 + 6);
}

async fn first_bad(cista: &Cista) -> (Option<u64>, String) {
    let report = cista.verify_audit(&operator()).await.unwrap();
    let problem = report.problem.expect("verification should fail");
    (problem.first_bad_entry, problem.message)
}

pub async fn verify_names_an_edited_entry(h: &Harness) {
    let cista = log_with(h, 6).await;
    h.tamper(r#"UPDATE audit_entries SET details = '{"n":999}' WHERE seq = 3"#)
        .await;
    let (first, message) = first_bad(&cista).await;
    assert_eq!(first, Some(3), "{message}");
    assert!(message.contains("entry 3"), "{message}");
}

pub async fn verify_names_a_deleted_entry(h: &Harness) {
    let cista = log_with(h, 6).await;
    h.tamper("DELETE FROM audit_entries WHERE seq = 4").await;
    let (first, message) = first_bad(&cista).await;
    assert_eq!(first, Some(4), "{message}");
    assert!(message.contains("missing"), "{message}");
}

pub async fn verify_catches_reordered_entries(h: &Harness) {
    let cista = log_with(h, 6).await;
    h.tamper("UPDATE audit_entries SET seq = -1 WHERE seq = 2")
        .await;
    h.tamper("UPDATE audit_entries SET seq = 2 WHERE seq = 5")
        .await;
    h.tamper("UPDATE audit_entries SET seq = 5 WHERE seq = -1")
        .await;
    let (first, message) = first_bad(&cista).await;
    assert_eq!(first, Some(2), "{message}");
}

pub async fn verify_catches_a_rewrite_with_recomputed_hashes(h: &Harness) {
    // An attacker who knows the format rewrites an entry, its leaf hash and the head: only
    // the signed checkpoint (whose key they lack) still tells.
    let cista = log_with(h, 6).await;
    let kept = cista
        .verify_audit(&operator())
        .await
        .unwrap()
        .newest_checkpoint_note
        .expect("the report gives the newest checkpoint to keep");
    let victim = h.store.audit_entries(3, 1).await.unwrap().remove(0);
    let forged_details = r#"{"n":12345}"#;
    let forged_leaf = merkle::leaf_hash(&leaf_data(
        victim.seq,
        &victim.at,
        &victim.actor,
        victim.org,
        &victim.kind,
        forged_details,
    ));
    let backend = h.store.connection().get_database_backend();
    h.exec(
        backend.build(
            Query::update()
                .table("audit_entries")
                .value("details", forged_details)
                .value("leaf_hash", forged_leaf.as_bytes().to_vec())
                .and_where(Expr::col("seq").eq(3)),
        ),
    )
    .await;
    let mut leaves: Vec<_> = h
        .store
        .audit_entries(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.leaf_hash)
        .collect();
    leaves[3] = forged_leaf;
    let mut range = CompactRange::new();
    for leaf in &leaves {
        range.append(*leaf);
    }
    h.exec(
        backend.build(
            Query::update()
                .table("audit_head")
                .value("frontier", range.to_bytes())
                .and_where(Expr::col("slot").eq(1)),
        ),
    )
    .await;
    let (first, message) = first_bad(&cista).await;
    assert!(message.contains("signed checkpoint"), "{message}");
    assert!(first.is_some_and(|f| f <= 3), "{first:?}: {message}");
    // With the checkpoints deleted too, the database alone no longer tells; the checkpoint
    // kept outside it does.
    h.tamper("DELETE FROM audit_checkpoints").await;
    assert!(cista.verify_audit(&operator()).await.unwrap().is_ok());
    let report = cista
        .verify_audit_against(&operator(), std::slice::from_ref(&kept))
        .await
        .unwrap();
    let problem = report
        .problem
        .expect("the kept checkpoint catches the rewrite");
    assert!(problem.message.contains("signed checkpoint"), "{problem:?}");
    assert!(
        problem.first_bad_entry.is_some_and(|f| f <= 3),
        "{problem:?}"
    );
    // A note that this instance did not sign is refused as a witness.
    let impostor = cista_crypto::note::NoteSigner::new(&cista.instance().audit_origin, [7; 32])
        .unwrap()
        .sign(&cista_crypto::note::Checkpoint {
            origin: cista.instance().audit_origin.clone(),
            size: 1,
            root: leaves[0],
            extensions: Vec::new(),
        });
    let report = cista
        .verify_audit_against(&operator(), &[impostor])
        .await
        .unwrap();
    let problem = report.problem.expect("a foreign note is refused");
    assert!(
        problem.message.contains("not signed by this instance"),
        "{problem:?}"
    );
}

pub async fn verify_catches_deletion_of_the_newest_entries(h: &Harness) {
    let cista = log_with(h, 6).await;
    h.tamper("DELETE FROM audit_entries WHERE seq >= 5").await;
    h.tamper("UPDATE audit_head SET size = 5").await;
    let (first, message) = first_bad(&cista).await;
    assert_eq!(first, Some(5), "{message}");
    assert!(message.contains("deleted"), "{message}");
}

pub async fn verify_catches_a_forged_checkpoint(h: &Harness) {
    let cista = log_with(h, 3).await;
    // A checkpoint signed by some other key is not accepted, even if its numbers are right.
    let latest = h.store.latest_checkpoint().await.unwrap().unwrap();
    let impostor =
        cista_crypto::note::NoteSigner::new(&cista.instance().audit_origin, [7; 32]).unwrap();
    let forged_note = impostor.sign(&cista_crypto::note::Checkpoint {
        origin: cista.instance().audit_origin.clone(),
        size: latest.size,
        root: latest.root,
        extensions: Vec::new(),
    });
    let backend = h.store.connection().get_database_backend();
    h.exec(
        backend.build(
            Query::update()
                .table("audit_checkpoints")
                .value("note", forged_note)
                .and_where(Expr::col("tree_size").eq(latest.size as i64)),
        ),
    )
    .await;
    let report = cista.verify_audit(&operator()).await.unwrap();
    let problem = report.problem.unwrap();
    assert!(
        problem.message.contains("not validly signed"),
        "{}",
        problem.message
    );
    let _ = Arc::new(());
}
