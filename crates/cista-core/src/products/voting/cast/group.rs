//! Group commit for casts. Casts that arrive while another group is being written wait in a
//! queue; the next group writes all of them in one transaction with one durable flush (one
//! `fsync` of SQLite's WAL, one WAL flush of PostgreSQL) instead of one each. Each cast is still
//! answered only after the transaction that holds it has committed, the primary key on
//! (ballot, unit) still decides between two casts for one unit (also inside one group), and a
//! cast that cannot be written never takes the others down: refusals are decided per cast
//! without a database error, and should the group's transaction fail anyway, each of its
//! casts is written again in a transaction of its own.
//!
//! The writer is a task spawned when a cast finds nobody writing and ends when the queue is
//! empty, so no task outlives the work and a caller that goes away (a closed connection) does
//! not cancel the writes of the others. A writer that panics, or is dropped with its runtime,
//! stands down on its way out (`OnDuty`), so the next cast starts another.

use crate::platform::audit::NewAuditEntry;
use crate::ports::{BallotStatus, BoxEntry, Participation, Store};
use crate::{Error, Result};
use cista_types::{BallotId, Clock, Timestamp};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::oneshot;

/// The most casts one transaction writes; more wait for the next group.
const MAX_GROUP: usize = 256;

/// One cast, ready to write: every check that needs no lock has passed. `at` fields are set
/// when its group is written, to the time taken inside that transaction.
pub(crate) struct CastWrite {
    pub ballot: BallotId,
    pub participation: Participation,
    pub entry: BoxEntry,
    /// Whether the box entry keeps the unit and time (a recorded ballot).
    pub recorded: bool,
    pub audit: NewAuditEntry,
}

/// What became of one cast in its group.
#[derive(Debug)]
pub(crate) enum Written {
    /// Committed at this time.
    Cast(Timestamp),
    /// The unit took part first (this or an earlier group); nothing written.
    AlreadyVoted,
    /// The ballot was closed (or unpublished) when the group took its lock.
    BallotClosed,
}

struct Pending {
    cast: CastWrite,
    reply: oneshot::Sender<Result<Written>>,
}

/// The queue of casts waiting to be written, whether a writer is running, and how many groups
/// it has written.
#[derive(Default)]
pub(crate) struct CastCommitter {
    queue: std::sync::Mutex<Vec<Pending>>,
    writing: AtomicBool,
    /// Groups written, and the casts in them (each cast once, whatever became of it).
    groups: AtomicU64,
    grouped: AtomicU64,
}

/// How many groups of casts an instance has written since it opened, and how many casts they
/// held (their mean is how many casts share a transaction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommits {
    pub groups: u64,
    pub casts: u64,
}

impl GroupCommits {
    /// What was written between `earlier` (a reading of the same instance) and this reading.
    pub fn since(self, earlier: GroupCommits) -> GroupCommits {
        GroupCommits {
            groups: self.groups.saturating_sub(earlier.groups),
            casts: self.casts.saturating_sub(earlier.casts),
        }
    }
}

impl std::fmt::Debug for CastCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CastCommitter")
    }
}

impl CastCommitter {
    /// The groups written so far and the casts they held.
    pub(crate) fn written(&self) -> GroupCommits {
        GroupCommits {
            groups: self.groups.load(Ordering::Relaxed),
            casts: self.grouped.load(Ordering::Relaxed),
        }
    }

    /// Queues `cast` and waits until the group holding it has committed (or failed).
    pub(crate) async fn write(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        clock: &Arc<dyn Clock>,
        cast: CastWrite,
    ) -> Result<Written> {
        let (reply, answer) = oneshot::channel();
        self.lock_queue().push(Pending { cast, reply });
        if !self.writing.swap(true, Ordering::AcqRel) {
            tokio::spawn(self.clone().drain(store.clone(), clock.clone()));
        }
        answer.await.map_err(|_| {
            // The writer ended without an answer (the runtime is shutting down): whether the
            // cast committed is not known, so the voter is told to retry, which is safe.
            Error::store_unavailable(std::io::Error::other(
                "the cast's write group ended without an answer",
            ))
        })?
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        lock_queue(&self.queue)
    }

    fn take_group(&self) -> Vec<Pending> {
        let mut queue = self.lock_queue();
        let take = queue.len().min(MAX_GROUP);
        queue.drain(..take).collect()
    }

    /// Writes groups until the queue is empty, then stands down; a cast queued just as it
    /// stood down starts a writer itself, or finds this one back at work.
    async fn drain(self: Arc<Self>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) {
        let mut on_duty = OnDuty {
            queue: &self.queue,
            writing: &self.writing,
            armed: true,
        };
        loop {
            let group = self.take_group();
            if group.is_empty() {
                on_duty.armed = false;
                self.writing.store(false, Ordering::Release);
                let more = !self.lock_queue().is_empty();
                if more && !self.writing.swap(true, Ordering::AcqRel) {
                    on_duty.armed = true;
                    continue;
                }
                return;
            }
            self.groups.fetch_add(1, Ordering::Relaxed);
            self.grouped
                .fetch_add(group.len() as u64, Ordering::Relaxed);
            write_group(store.as_ref(), clock.as_ref(), group).await;
        }
    }
}

/// Stands a writer down should it end while on duty: by a panic (a task's panic is caught by
/// the runtime, and the server goes on), or dropped with its runtime. Without it the flag
/// would say a writer is at work for ever, and every cast after would wait for an answer that
/// never comes. The casts still queued are dropped, so their callers are told to retry
/// (nothing of theirs was written), and the next cast starts a writer of its own.
struct OnDuty<'a, T> {
    queue: &'a std::sync::Mutex<Vec<T>>,
    writing: &'a AtomicBool,
    armed: bool,
}

impl<T> Drop for OnDuty<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            // The flag is cleared while the queue is held: a cast queued after this sees no
            // writer and starts one. Cleared after the queue was let go, a cast queued in
            // between would find the flag still set, start nobody, and wait for the next
            // cast to start a writer.
            let mut queue = lock_queue(self.queue);
            drop(std::mem::take(&mut *queue));
            self.writing.store(false, Ordering::Release);
        }
    }
}

/// The queue of casts locked. A panic while holding it leaves a plain Vec behind: still
/// usable.
fn lock_queue<T>(queue: &std::sync::Mutex<Vec<T>>) -> std::sync::MutexGuard<'_, Vec<T>> {
    queue.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes a group and answers each of its casts. Should the group's transaction fail, each
/// cast is written again alone, so one cast's fault is that cast's answer only.
async fn write_group(store: &dyn Store, clock: &dyn Clock, group: Vec<Pending>) {
    let casts: Vec<&CastWrite> = group.iter().map(|p| &p.cast).collect();
    match write_together(store, clock, &casts).await {
        Ok(outcomes) => {
            for (pending, outcome) in group.into_iter().zip(outcomes) {
                let _ = pending.reply.send(Ok(outcome));
            }
        }
        Err(e) if group.len() == 1 => {
            if let Some(pending) = group.into_iter().next() {
                let _ = pending.reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(code = e.code(), casts = group.len(), cause = %e.chain(), "a group of casts failed; writing each alone");
            for pending in group {
                let alone = write_together(store, clock, &[&pending.cast]).await;
                let answer = alone.and_then(|mut outcomes| {
                    outcomes
                        .pop()
                        .ok_or_else(|| Error::Internal("a cast's write gave no outcome".to_owned()))
                });
                let _ = pending.reply.send(answer);
            }
        }
    }
}

/// One transaction for `casts`: each ballot locked (shared) once and checked open, the casts'
/// participation rows and box entries in a statement each, then every written cast's audit
/// entry at commit.
async fn write_together(
    store: &dyn Store,
    clock: &dyn Clock,
    casts: &[&CastWrite],
) -> Result<Vec<Written>> {
    let mut tx = store.begin().await?;
    let now = clock.now();
    let mut open = BTreeMap::new();
    for cast in casts {
        if let std::collections::btree_map::Entry::Vacant(slot) = open.entry(cast.ballot) {
            let live = tx
                .voting()
                .lock_ballot(cast.ballot, false)
                .await?
                .is_some_and(|b| b.status == BallotStatus::Published && now < b.closes_at);
            slot.insert(live);
        }
    }
    // The casts whose ballot is open, written in two statements: their participation rows
    // (the primary key keeps the first of each unit), then the box entries of those written.
    let live: Vec<&CastWrite> = casts
        .iter()
        .copied()
        .filter(|cast| open.get(&cast.ballot).copied().unwrap_or(false))
        .collect();
    let participations: Vec<Participation> = live
        .iter()
        .map(|cast| Participation {
            at: now,
            ..cast.participation.clone()
        })
        .collect();
    let written = tx
        .voting()
        .insert_participations_if_free(&participations)
        .await?;
    let entries: Vec<BoxEntry> = live
        .iter()
        .zip(&written)
        .filter(|(_, written)| **written)
        .map(|(cast, _)| BoxEntry {
            cast_at: cast.recorded.then_some(now),
            ..cast.entry.clone()
        })
        .collect();
    if !tx.voting().insert_box_entries_if_free(&entries).await? {
        // Participation rows are never deleted (a trigger refuses it), so the group is undone
        // and its casts written again one by one; alone, the cast whose tracker is taken fails
        // with the conflict and its caller draws another tracker.
        return Err(Error::Conflict("this tracker is taken".to_owned()));
    }
    let mut written = written.into_iter();
    let mut outcomes = Vec::with_capacity(casts.len());
    let mut audit = Vec::with_capacity(entries.len());
    for cast in casts {
        if !open.get(&cast.ballot).copied().unwrap_or(false) {
            outcomes.push(Written::BallotClosed);
        } else if written.next() == Some(true) {
            audit.push(NewAuditEntry {
                at: now,
                ..cast.audit.clone()
            });
            outcomes.push(Written::Cast(now));
        } else {
            outcomes.push(Written::AlreadyVoted);
        }
    }
    tx.commit_all(audit).await?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// A writer that panics, or is dropped with its runtime, while on duty stands down: the
    /// flag is cleared for the next cast to start a writer, and the casts still queued get an
    /// answer (a closed channel, which `write` turns into "retry") instead of waiting for ever.
    /// One that stood down itself (disarmed) leaves the flag and queue to whoever is on duty.
    #[test]
    fn a_writer_that_ends_while_on_duty_stands_down() {
        let queue = std::sync::Mutex::new(Vec::new());
        let writing = AtomicBool::new(true);
        let (queued, mut answer) = oneshot::channel::<()>();
        queue.lock().unwrap().push(queued);
        let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _on_duty = OnDuty {
                queue: &queue,
                writing: &writing,
                armed: true,
            };
            panic!("a writer's panic");
        }));
        assert!(ended.is_err());
        assert!(!writing.load(Ordering::Acquire), "stood down");
        assert!(queue.lock().unwrap().is_empty());
        assert_eq!(answer.try_recv(), Err(oneshot::error::TryRecvError::Closed));

        // Dropped with its runtime while waiting on the store.
        writing.store(true, Ordering::Release);
        let (queued, mut answer) = oneshot::channel::<()>();
        queue.lock().unwrap().push(queued);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (queue, writing) = (Arc::new(queue), Arc::new(writing));
        let (q, w) = (queue.clone(), writing.clone());
        runtime.block_on(async move {
            tokio::spawn(async move {
                let _on_duty = OnDuty {
                    queue: &*q,
                    writing: &w,
                    armed: true,
                };
                std::future::pending::<()>().await;
            });
            tokio::task::yield_now().await;
        });
        assert!(writing.load(Ordering::Acquire), "still on duty");
        drop(runtime);
        assert!(
            !writing.load(Ordering::Acquire),
            "stood down with its runtime"
        );
        assert_eq!(answer.try_recv(), Err(oneshot::error::TryRecvError::Closed));

        // Disarmed: another writer may be on duty by then; nothing is touched.
        writing.store(true, Ordering::Release);
        let (queued, mut answer) = oneshot::channel::<()>();
        queue.lock().unwrap().push(queued);
        drop(OnDuty {
            queue: &*queue,
            writing: &writing,
            armed: false,
        });
        assert!(writing.load(Ordering::Acquire));
        assert_eq!(queue.lock().unwrap().len(), 1);
        assert_eq!(answer.try_recv(), Err(oneshot::error::TryRecvError::Empty));
    }
}
