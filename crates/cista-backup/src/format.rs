//! What lies in the backup target and how each object is sealed.
//!
//! ```text
//! backup-key.json                                      the backup data key, wrapped by the key provider
//! erasures/<subject>.json                              the erasure ledger (never deleted)
//! sqlite/<lineage>/segments/<seq>-<first>-<last>.seg   WAL frames of whole transactions
//! sqlite/<lineage>/snapshots/<seq>-<at>/chunk-<n>      the database file, in chunks
//! sqlite/<lineage>/snapshots/<seq>-<at>/manifest       written last: a snapshot without it is ignored
//! ```
//!
//! A lineage is one unbroken history of the database: it starts with a snapshot at sequence 0,
//! and segment n+1 continues exactly where segment n ended (same WAL generation and next frame,
//! or frame 0 of the generation that followed Cista's own checkpoint), so restore can prove
//! there is no gap. Times in names are Unix milliseconds, so listing alone plans a restore.
//!
//! Order comes from the backup itself, never from a clock: segments are applied by sequence
//! number, and lineages are ordered by the ordinal their id starts with (`<ordinal>-<time>-<random>`,
//! one more than the highest stored when the lineage began; ids written before ordinals
//! existed count as ordinal 0 and keep their old order). Times only say where a restore to a
//! moment stops, and a clock that went backwards is found and reported (`clock_steps`). A
//! segment's name carries the earliest and latest stamp of its transactions, which are the
//! first and last unless the clock stepped back inside it.
//!
//! Every data object is `MAGIC | header length | header JSON | sealed body | SHA-256`, where
//! the body is deflated then sealed with AES-256-GCM under the backup key with the header as
//! associated data, and the SHA-256 covers everything before it: a flipped bit is reported as
//! a bad checksum, an altered header or body as failed authentication.

use crate::BackupError;
use crate::wal::Checksum;
use cista_crypto::{DataKey, Sealed};
use cista_types::Rng;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest as _, Sha256};
use std::io::{Read as _, Write as _};

const MAGIC: &[u8; 8] = b"CISTABK1";
pub const FORMAT: u32 = 1;

pub const KEY_OBJECT: &str = "backup-key.json";
pub const ERASURES: &str = "erasures";
pub const SQLITE: &str = "sqlite";

/// One transaction in a segment: it ends `end_frame` frames into the segment and was seen
/// committed at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMark {
    pub end_frame: u64,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHeader {
    pub format: u32,
    pub lineage: String,
    pub seq: u64,
    pub page_size: u32,
    pub big_endian: bool,
    pub wal_salt: (u32, u32),
    /// The first frame, counted from the start of its WAL generation.
    pub wal_start: u64,
    pub wal_end: u64,
    /// The running checksum before `wal_start`: restore re-verifies the chain from it.
    pub seed: Checksum,
    pub end_checksum: Checksum,
    pub txns: Vec<TxnMark>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkInfo {
    pub len: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    pub format: u32,
    pub lineage: String,
    /// The database as it was after segment `seq` (0: before any segment).
    pub seq: u64,
    pub at_ms: i64,
    pub page_size: u32,
    pub db_len: u64,
    pub db_sha256: String,
    pub chunks: Vec<ChunkInfo>,
    /// Where the WAL stood when the file was copied: the first segment after this snapshot
    /// continues this generation at `wal_end`, or starts the next one at frame 0.
    pub wal_salt: Option<(u32, u32)>,
    pub wal_end: u64,
    pub end_checksum: Option<Checksum>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkHeader {
    pub format: u32,
    pub lineage: String,
    pub seq: u64,
    pub index: u32,
}

/// A lineage's place in the order of lineages: the ordinal its id starts with (0 for ids from
/// before ordinals), then the id itself.
pub fn lineage_ordinal(id: &str) -> u64 {
    id.split_once('-')
        .filter(|(head, _)| !head.is_empty() && head.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|(head, _)| head.parse().ok())
        .unwrap_or(0)
}

/// The id of a new lineage that follows every lineage in `existing`, whatever the clock says.
pub fn next_lineage_id(existing: &[ListedLineage], now_ms: i64, random: [u8; 4]) -> String {
    let ordinal = existing
        .iter()
        .map(|l| lineage_ordinal(&l.id))
        .max()
        .map_or(1, |m| m + 1);
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{ordinal:06}-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        hex::encode(random)
    )
}

pub fn lineage_prefix(lineage: &str) -> String {
    format!("{SQLITE}/{lineage}")
}

pub fn segment_key(lineage: &str, seq: u64, first_ms: i64, last_ms: i64) -> String {
    format!("{SQLITE}/{lineage}/segments/{seq:016}-{first_ms:013}-{last_ms:013}.seg")
}

/// A reach mark: the lineage had reached `at_ms` with segment `seq` its last, so nothing after
/// `seq` happened before then. Written only when the clock went back behind a heartbeat, which
/// the next heartbeat (stamped earlier) would otherwise overwrite.
pub fn reach_key(lineage: &str, seq: u64, at_ms: i64) -> String {
    format!("{SQLITE}/{lineage}/reached/{seq:016}-{at_ms:013}")
}

pub fn snapshot_dir(lineage: &str, seq: u64, at_ms: i64) -> String {
    format!("{SQLITE}/{lineage}/snapshots/{seq:016}-{at_ms:013}")
}

pub fn chunk_key(dir: &str, index: u32) -> String {
    format!("{dir}/chunk-{index:06}")
}

pub fn manifest_key(dir: &str) -> String {
    format!("{dir}/manifest")
}

pub fn erasure_key(subject: &str) -> String {
    format!("{ERASURES}/{subject}.json")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn deflate(bytes: &[u8]) -> Result<Vec<u8>, BackupError> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(3));
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| BackupError::Io(format!("compression failed: {e}")))
}

pub fn inflate(bytes: &[u8], what: &str) -> Result<Vec<u8>, BackupError> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| BackupError::Integrity(format!("{what} does not decompress: {e}")))?;
    Ok(out)
}

/// Seals `header` and `body` into one object.
pub fn seal<H: Serialize>(
    key: &DataKey,
    rng: &dyn Rng,
    header: &H,
    body: &[u8],
) -> Result<Vec<u8>, BackupError> {
    let header = serde_json::to_vec(header)
        .map_err(|e| BackupError::Io(format!("cannot encode a backup header: {e}")))?;
    let compressed = deflate(body)?;
    let sealed = key
        .seal(rng, &header, &compressed)
        .map_err(|e| BackupError::Io(format!("cannot encrypt a backup object: {e}")))?;
    let header_len = u32::try_from(header.len())
        .map_err(|_| BackupError::Io("a backup header is too large".to_owned()))?;
    let mut out = Vec::with_capacity(8 + 4 + header.len() + sealed.as_bytes().len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&header_len.to_be_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(sealed.as_bytes());
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// Splits an object into its header bytes and sealed body after checking its checksum.
fn split<'a>(object: &'a [u8], what: &str) -> Result<(&'a [u8], &'a [u8]), BackupError> {
    let bad = |why: &str| BackupError::Integrity(format!("{what} {why}"));
    if object.len() < 8 + 4 + 32 || object.get(..8) != Some(MAGIC.as_slice()) {
        return Err(bad(
            "is not a Cista backup object (wrong magic or truncated)",
        ));
    }
    let (content, digest) = object.split_at(object.len() - 32);
    if Sha256::digest(content).as_slice() != digest {
        return Err(bad(
            "has a bad checksum: it was corrupted, truncated or tampered with",
        ));
    }
    let mut len = [0u8; 4];
    len.copy_from_slice(content.get(8..12).unwrap_or(&[0; 4]));
    let header_len = u32::from_be_bytes(len) as usize;
    let header = content
        .get(12..12 + header_len)
        .ok_or_else(|| bad("has a header longer than itself"))?;
    let body = content.get(12 + header_len..).unwrap_or(&[]);
    Ok((header, body))
}

/// Reads only the header (checksum verified, not yet authenticated).
pub fn peek_header<H: DeserializeOwned>(object: &[u8], what: &str) -> Result<H, BackupError> {
    let (header, _) = split(object, what)?;
    serde_json::from_slice(header)
        .map_err(|e| BackupError::Integrity(format!("{what} has an unreadable header: {e}")))
}

/// Checks, authenticates and opens an object.
pub fn open<H: DeserializeOwned>(
    key: &DataKey,
    object: &[u8],
    what: &str,
) -> Result<(H, Vec<u8>), BackupError> {
    let (header_bytes, body) = split(object, what)?;
    let compressed = key
        .open(header_bytes, &Sealed::from_bytes(body.to_vec()))
        .map_err(|_| {
            BackupError::Integrity(format!(
                "{what} failed authentication: it was altered, or sealed with another backup key"
            ))
        })?;
    let header = serde_json::from_slice(header_bytes)
        .map_err(|e| BackupError::Integrity(format!("{what} has an unreadable header: {e}")))?;
    Ok((header, inflate(&compressed, what)?))
}

/// A segment as listed: its name carries its sequence number and time span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSegment {
    pub key: String,
    pub seq: u64,
    /// The earliest stamp of its transactions.
    pub first_ms: i64,
    /// The latest stamp of its transactions.
    pub last_ms: i64,
    pub size: u64,
}

/// A snapshot as listed: complete only if its manifest exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSnapshot {
    pub dir: String,
    pub seq: u64,
    pub at_ms: i64,
    pub complete: bool,
    pub size: u64,
    pub objects: Vec<String>,
}

/// A reach mark as listed (see [`reach_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedReach {
    pub key: String,
    pub seq: u64,
    pub at_ms: i64,
}

/// One lineage as listed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListedLineage {
    pub id: String,
    pub segments: Vec<ListedSegment>,
    pub snapshots: Vec<ListedSnapshot>,
    /// Reach marks, in sequence order.
    pub reached: Vec<ListedReach>,
    /// Objects in the lineage that match no known name (left alone, reported).
    pub unknown: Vec<String>,
}

impl ListedLineage {
    pub fn complete_snapshots(&self) -> impl Iterator<Item = &ListedSnapshot> {
        self.snapshots.iter().filter(|s| s.complete)
    }

    /// The latest stamp in this lineage (not necessarily its last object's, if the clock
    /// went back).
    pub fn last_ms(&self) -> Option<i64> {
        let seg = self.segments.iter().map(|s| s.last_ms).max();
        let snap = self.complete_snapshots().map(|s| s.at_ms).max();
        let reach = self.reached.iter().map(|r| r.at_ms).max();
        seg.max(snap).max(reach)
    }

    /// Whether a reach mark at a sequence `seqs` accepts says the lineage was already past
    /// `t_ms` there: whatever comes after that sequence happened after `t_ms`, whatever its
    /// stamp (the clock went back).
    pub fn reached_after(&self, seqs: impl Fn(u64) -> bool, t_ms: i64) -> bool {
        self.reached.iter().any(|r| seqs(r.seq) && r.at_ms > t_ms)
    }

    pub fn first_ms(&self) -> Option<i64> {
        self.complete_snapshots().map(|s| s.at_ms).min()
    }
}

fn parse_segment_name(name: &str) -> Option<(u64, i64, i64)> {
    let stem = name.strip_suffix(".seg")?;
    let mut parts = stem.split('-');
    let seq = parts.next()?.parse().ok()?;
    let first = parts.next()?.parse().ok()?;
    let last = parts.next()?.parse().ok()?;
    Some((seq, first, last))
}

fn parse_snapshot_dir(name: &str) -> Option<(u64, i64)> {
    let (seq, at) = name.split_once('-')?;
    Some((seq.parse().ok()?, at.parse().ok()?))
}

/// Groups a listing of `sqlite/` into lineages, sorted oldest first.
pub fn catalog(listing: &[(String, u64)]) -> Vec<ListedLineage> {
    let mut lineages: std::collections::BTreeMap<String, ListedLineage> = Default::default();
    for (key, size) in listing {
        let Some(rest) = key.strip_prefix(&format!("{SQLITE}/")) else {
            continue;
        };
        let mut parts = rest.splitn(3, '/');
        let (Some(id), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let lineage = lineages
            .entry(id.to_owned())
            .or_insert_with(|| ListedLineage {
                id: id.to_owned(),
                ..ListedLineage::default()
            });
        match kind {
            "segments" => match parse_segment_name(name) {
                Some((seq, first_ms, last_ms)) => lineage.segments.push(ListedSegment {
                    key: key.clone(),
                    seq,
                    first_ms,
                    last_ms,
                    size: *size,
                }),
                None => lineage.unknown.push(key.clone()),
            },
            "reached" => match parse_snapshot_dir(name) {
                Some((seq, at_ms)) => lineage.reached.push(ListedReach {
                    key: key.clone(),
                    seq,
                    at_ms,
                }),
                None => lineage.unknown.push(key.clone()),
            },
            "snapshots" => {
                let (dir_name, object) = name.split_once('/').unwrap_or((name, ""));
                let Some((seq, at_ms)) = parse_snapshot_dir(dir_name) else {
                    lineage.unknown.push(key.clone());
                    continue;
                };
                let dir = format!("{SQLITE}/{id}/snapshots/{dir_name}");
                let snapshot = match lineage.snapshots.iter_mut().find(|s| s.dir == dir) {
                    Some(s) => s,
                    None => {
                        lineage.snapshots.push(ListedSnapshot {
                            dir: dir.clone(),
                            seq,
                            at_ms,
                            complete: false,
                            size: 0,
                            objects: Vec::new(),
                        });
                        let last = lineage.snapshots.len() - 1;
                        match lineage.snapshots.get_mut(last) {
                            Some(s) => s,
                            None => continue,
                        }
                    }
                };
                snapshot.size += size;
                snapshot.objects.push(key.clone());
                if object == "manifest" {
                    snapshot.complete = true;
                }
            }
            _ => lineage.unknown.push(key.clone()),
        }
    }
    let mut out: Vec<ListedLineage> = lineages.into_values().collect();
    out.sort_by(|a, b| (lineage_ordinal(&a.id), &a.id).cmp(&(lineage_ordinal(&b.id), &b.id)));
    for lineage in &mut out {
        lineage.segments.sort_by_key(|s| s.seq);
        lineage.snapshots.sort_by_key(|s| (s.seq, s.at_ms));
        lineage.reached.sort_by_key(|r| (r.seq, r.at_ms));
    }
    out
}

/// Stamps closer than this to the newest one before them are not called a step back: the
/// system clock may be slewed by a few milliseconds without anyone setting it.
pub const CLOCK_TOLERANCE_MS: i64 = 1000;

/// A place where the backup's stamps go backwards in its own order: the clock of the server
/// that wrote it was set back (or a restart ran with a wrong clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStep {
    pub lineage: String,
    /// The segment whose stamp went back (0: the lineage's first snapshot).
    pub seq: u64,
    /// The stamp just before it in the backup's order, and how far behind that it was.
    pub newest_before_ms: i64,
    pub behind_ms: i64,
}

impl ClockStep {
    /// One line for the CLI and the staff view.
    pub fn describe(&self) -> String {
        format!(
            "the clock went back {} before segment {} of lineage {}; restores follow the \
             sequence numbers, and a --to time stops at the first transaction stamped after it",
            human_duration(self.behind_ms),
            self.seq,
            self.lineage
        )
    }
}

/// `7.2 s`, `12 min`, `2.0 h`.
pub fn human_duration(ms: i64) -> String {
    let ms = ms.max(0) as f64;
    if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        format!("{:.0} min", ms / 60_000.0)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

/// Every step back of the clock in the backup, walking lineages and, inside each, snapshots
/// and segments in sequence order: each place where an object's earliest stamp is behind the
/// latest stamp of the object before it.
pub fn clock_steps(lineages: &[ListedLineage]) -> Vec<ClockStep> {
    let mut out = Vec::new();
    let mut previous: Option<i64> = None;
    for lineage in lineages {
        // (seq, order, earliest, latest): a snapshot at seq n sits after segment n, and a
        // reach mark at n after both.
        let mut events: Vec<(u64, u8, i64, i64)> = lineage
            .complete_snapshots()
            .map(|s| (s.seq, 1, s.at_ms, s.at_ms))
            .chain(
                lineage
                    .segments
                    .iter()
                    .map(|s| (s.seq, 0, s.first_ms, s.last_ms)),
            )
            .chain(lineage.reached.iter().map(|r| (r.seq, 2, r.at_ms, r.at_ms)))
            .collect();
        events.sort_unstable();
        for (seq, _, earliest, latest) in events {
            if let Some(before) = previous
                && earliest + CLOCK_TOLERANCE_MS < before
            {
                out.push(ClockStep {
                    lineage: lineage.id.clone(),
                    seq,
                    newest_before_ms: before,
                    behind_ms: before - earliest,
                });
            }
            previous = Some(latest);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cista_types::SeededRng;

    #[test]
    fn objects_detect_corruption_tampering_and_another_key() {
        let rng = SeededRng::new(7);
        let key = DataKey::generate(&rng);
        let header = ChunkHeader {
            format: FORMAT,
            lineage: "l".into(),
            seq: 3,
            index: 0,
        };
        let object = seal(&key, &rng, &header, b"page bytes").unwrap_or_default();
        let (back, body): (ChunkHeader, Vec<u8>) =
            open(&key, &object, "chunk").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, header);
        assert_eq!(body, b"page bytes");

        let mut flipped = object.clone();
        if let Some(b) = flipped.get_mut(20) {
            *b ^= 1;
        }
        let err = open::<ChunkHeader>(&key, &flipped, "chunk")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("bad checksum")));

        let other = DataKey::generate(&rng);
        let err = open::<ChunkHeader>(&other, &object, "chunk")
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("failed authentication")));
    }

    #[test]
    fn the_catalog_groups_by_lineage_and_ignores_half_written_snapshots() {
        let listing = vec![
            (segment_key("a", 2, 20, 30), 10),
            (segment_key("a", 1, 10, 15), 10),
            (chunk_key(&snapshot_dir("a", 0, 5), 0), 100),
            (manifest_key(&snapshot_dir("a", 0, 5)), 1),
            (chunk_key(&snapshot_dir("a", 2, 40), 0), 100),
            ("sqlite/a/segments/junk".to_owned(), 1),
        ];
        let lineages = catalog(&listing);
        assert_eq!(lineages.len(), 1);
        let a = lineages.first().cloned().unwrap_or_default();
        assert_eq!(a.segments.iter().map(|s| s.seq).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(a.complete_snapshots().count(), 1);
        assert_eq!(a.first_ms(), Some(5));
        assert_eq!(a.last_ms(), Some(30));
        assert_eq!(a.unknown.len(), 1);
    }

    #[test]
    fn lineages_are_ordered_by_their_ordinal_whatever_their_clock_said() {
        let first = next_lineage_id(&[], 1_800_000_000_000, [1; 4]);
        let listing = vec![(manifest_key(&snapshot_dir(&first, 0, 1_800_000_000_000)), 1)];
        // The second starts with the clock two hours behind.
        let second = next_lineage_id(&catalog(&listing), 1_800_000_000_000 - 7_200_000, [2; 4]);
        assert_eq!((lineage_ordinal(&first), lineage_ordinal(&second)), (1, 2));
        assert!(
            second[7..] < first[7..],
            "its time is earlier: {second} {first}"
        );
        let mut listing = listing;
        listing.push((
            manifest_key(&snapshot_dir(&second, 0, 1_800_000_000_000 - 7_200_000)),
            1,
        ));
        // An id from before ordinals sorts before both.
        listing.push((
            manifest_key(&snapshot_dir("20261130T181500Z-abcd0123", 0, 5)),
            1,
        ));
        let ids: Vec<String> = catalog(&listing).into_iter().map(|l| l.id).collect();
        assert_eq!(ids, ["20261130T181500Z-abcd0123".to_owned(), first, second]);
        assert_eq!(lineage_ordinal("20261130T181500Z-abcd0123"), 0);
    }

    #[test]
    fn a_clock_that_went_back_is_found_in_sequence_order() {
        let h = 3_600_000;
        let t = 1_800_000_000_000;
        let listing = vec![
            (manifest_key(&snapshot_dir("000001-x", 0, t)), 1),
            (segment_key("000001-x", 1, t + 10, t + 20), 1),
            (
                segment_key("000001-x", 2, t + 30 - 2 * h, t + 40 - 2 * h),
                1,
            ),
            (
                segment_key("000001-x", 3, t + 50 - 2 * h, t + 60 - 2 * h),
                1,
            ),
            // A few hundred milliseconds back is a slewed clock, not a step.
            (
                segment_key("000001-x", 4, t + 60 - 2 * h - 300, t + 70 - 2 * h),
                1,
            ),
        ];
        let steps = clock_steps(&catalog(&listing));
        assert_eq!(steps.len(), 1, "{steps:?}");
        assert_eq!(steps[0].seq, 2);
        assert_eq!(steps[0].behind_ms, 2 * h - 10);
        assert!(
            steps[0].describe().contains("2.0 h"),
            "{}",
            steps[0].describe()
        );
    }
}
