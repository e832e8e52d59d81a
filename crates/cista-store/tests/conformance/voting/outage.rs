//! A key provider that stops answering (a network HSM or KMS that is down): every step that
//! needs the organization's data key refuses with `key_provider_unavailable`, a retryable
//! error, and leaves nothing half done. A cast writes no participation row and no box entry,
//! the worker's close leaves the ballot open for its next pass, and a record file is refused
//! before its export is audited (the key is unwrapped while planning, so a download never
//! starts and then breaks). Once the provider answers again, each succeeds.

use super::*;
use async_trait::async_trait;
use cista_crypto::{
    DataKey, KekId, KeyProvider, KeyProviderError, LocalKeyFile, ProviderInfo, WrappedKey,
};
use cista_types::Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The harness key file behind a switch: while `down`, every call fails as an unreachable
/// provider's does.
#[derive(Debug)]
struct Switched {
    inner: Arc<LocalKeyFile>,
    down: AtomicBool,
}

impl Switched {
    fn check(&self) -> Result<(), KeyProviderError> {
        if self.down.load(Ordering::SeqCst) {
            Err(KeyProviderError::Unavailable {
                provider: "the test HSM".to_owned(),
                problem: "no answer".to_owned(),
            })
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl KeyProvider for Switched {
    async fn info(&self) -> Result<ProviderInfo, KeyProviderError> {
        self.check()?;
        self.inner.info().await
    }

    async fn wrap(&self, key: &DataKey, aad: &[u8]) -> Result<WrappedKey, KeyProviderError> {
        self.check()?;
        self.inner.wrap(key, aad).await
    }

    async fn unwrap(&self, wrapped: &WrappedKey, aad: &[u8]) -> Result<DataKey, KeyProviderError> {
        self.check()?;
        self.inner.unwrap(wrapped, aad).await
    }

    async fn rotate(&self, rng: &dyn Rng, now: Timestamp) -> Result<KekId, KeyProviderError> {
        self.check()?;
        self.inner.rotate(rng, now).await
    }

    async fn remove_retired(&self, kek: &KekId) -> Result<(), KeyProviderError> {
        self.check()?;
        self.inner.remove_retired(kek).await
    }
}

pub async fn a_key_provider_outage_refuses_retryably_and_leaves_nothing_half_done(h: &Harness) {
    let keys = Arc::new(Switched {
        inner: h.key_file(),
        down: AtomicBool::new(false),
    });
    let (cista, _) =
        Cista::open_or_initialize(h.deps_with_provider(keys.clone()), &operator(), None)
            .await
            .unwrap();
    let a = association(h, &cista, "outage").await;
    let ballot = open_ballot(h, &cista, &a, Secrecy::Recorded, Weighting::PerUnit).await;
    let hash = hash_of(&cista, ballot).await;
    let cast = |label: &'static str| {
        let (cista, actor) = (&cista, a.voter(label));
        let request = request(ballot, a.unit(label), &hash, &[("c1", "yes"), ("c2", "1")]);
        async move { cista.cast_vote(&actor, request).await }
    };
    cast("101").await.unwrap();
    let set_down = |down: bool| keys.down.store(down, Ordering::SeqCst);

    // A cast while the provider is down: refused, retryable, nothing written or refused.
    set_down(true);
    let refused = cast("102").await.unwrap_err();
    assert_eq!(refused.code(), "key_provider_unavailable", "{refused:?}");
    assert_eq!(counts(h, ballot).await, (1, 1, 0));
    set_down(false);
    cast("102").await.unwrap();
    assert_eq!(counts(h, ballot).await, (2, 2, 0));

    // The close after the window: the pass fails for this ballot and leaves it open; the
    // next pass, with the provider back, closes it.
    past_closing_time(h, &cista, ballot).await;
    set_down(true);
    let pass = cista.run_voting_work(&Actor::System).await.unwrap();
    assert_eq!(pass.closed, 0);
    let still = stored_ballot(&cista, ballot).await;
    assert_eq!(still.status, BallotStatus::Published);
    set_down(false);
    assert_eq!(
        cista.run_voting_work(&Actor::System).await.unwrap().closed,
        1
    );

    // A record file: refused while planning, before its export is audited.
    set_down(true);
    let audited = audit_kinds(&cista).await.len();
    for file in [RecordFile::RecordedVotes, RecordFile::AnonymousBallots] {
        let e = cista
            .plan_record(&operator(), a.org, ballot, file)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "key_provider_unavailable", "{file:?}: {e:?}");
    }
    assert_eq!(audit_kinds(&cista).await.len(), audited, "nothing audited");
    set_down(false);
    let votes = cista
        .export_record(&operator(), a.org, ballot, RecordFile::RecordedVotes)
        .await
        .unwrap();
    let votes = String::from_utf8(votes).unwrap();
    let units: Vec<&str> = votes
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(units, ["101", "102"], "{votes}");
}
