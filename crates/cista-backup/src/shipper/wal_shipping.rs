//! Following the WAL: the committed frames not yet shipped, and shipping them as segments.

use super::*;

impl Shipper {
    /// The current generation with every committed frame counted as shipped.
    pub(super) fn current_end(&self) -> Result<Option<Generation>, BackupError> {
        let Some(mut file) = self.open_wal()? else {
            return Ok(None);
        };
        let Some(header) = wal::read_header(&mut file).map_err(|e| io_error("WAL", e))? else {
            return Ok(None);
        };
        let commits = wal::scan_commits(&mut file, &header, 0, header.checksum)
            .map_err(|e| io_error("WAL", e))?;
        let (shipped, shipped_checksum) = commits
            .last()
            .map_or((0, header.checksum), |c| (c.end_frame, c.checksum));
        Ok(Some(Generation {
            header,
            shipped,
            shipped_checksum,
        }))
    }

    /// Reads newly committed transactions from the WAL into `pending`.
    pub(super) fn observe(&mut self) -> Result<(), BackupError> {
        let Some(mut file) = self.open_wal()? else {
            if self.pending.is_empty() && (self.expect_restart || self.generation.is_none()) {
                return Ok(());
            }
            return Err(BackupError::Continuity(
                "the WAL disappeared before it was shipped".to_owned(),
            ));
        };
        let header = wal::read_header(&mut file).map_err(|e| io_error("WAL", e))?;
        let Some(header) = header else {
            return Ok(());
        };
        let generation = match self.generation {
            Some(g) if g.header.salt == header.salt => g,
            previous => {
                let ours = self.pending.is_empty() && (self.expect_restart || previous.is_none());
                if !ours {
                    return Err(BackupError::Continuity(
                        "the WAL was restarted by someone other than the shipper".to_owned(),
                    ));
                }
                let g = Generation {
                    header,
                    shipped: 0,
                    shipped_checksum: header.checksum,
                };
                self.generation = Some(g);
                self.expect_restart = false;
                self.checkpointed_frames = 0;
                g
            }
        };
        let (from, seed) = self
            .pending
            .last()
            .map_or((generation.shipped, generation.shipped_checksum), |p| {
                (p.end_frame, p.checksum)
            });
        let now_ms = self.now_ms();
        let commits = wal::scan_commits(&mut file, &header, from, seed)
            .map_err(|e| io_error("cannot read the WAL", e))?;
        if !commits.is_empty() {
            self.note_time(now_ms);
        }
        for commit in commits {
            self.pending.push(Pending {
                end_frame: commit.end_frame,
                checksum: commit.checksum,
                at_ms: now_ms,
            });
        }
        Ok(())
    }

    /// Uploads pending transactions as segments, oldest first.
    pub(super) async fn ship_pending(&mut self) -> Result<(), BackupError> {
        while let Some(generation) = self.generation {
            let Some(first) = self.pending.first().copied() else {
                break;
            };
            // As many whole transactions as fit in one segment (at least one).
            let limit = generation.shipped + self.settings.segment_frames;
            let count = self.batch_len.unwrap_or_else(|| {
                self.pending
                    .iter()
                    .take_while(|p| p.end_frame <= limit)
                    .count()
                    .max(1)
            });
            self.batch_len = Some(count);
            let batch: Vec<Pending> = self.pending.iter().take(count).copied().collect();
            let last = batch.last().copied().unwrap_or(first);
            let frames = {
                let mut file = self.open_wal()?.ok_or_else(|| {
                    BackupError::Continuity("the WAL disappeared before it was shipped".into())
                })?;
                wal::read_frames(
                    &mut file,
                    &generation.header,
                    generation.shipped,
                    last.end_frame,
                )
                .map_err(|e| io_error("cannot read the WAL", e))?
            };
            let header = SegmentHeader {
                format: FORMAT,
                lineage: self.lineage.clone(),
                seq: self.next_seq,
                page_size: generation.header.page_size,
                big_endian: generation.header.big_endian,
                wal_salt: generation.header.salt,
                wal_start: generation.shipped,
                wal_end: last.end_frame,
                seed: generation.shipped_checksum,
                end_checksum: last.checksum,
                txns: batch
                    .iter()
                    .map(|p| TxnMark {
                        end_frame: p.end_frame - generation.shipped,
                        at_ms: p.at_ms,
                    })
                    .collect(),
            };
            // A re-read must see exactly what was observed: the chain proves it.
            let mut running = generation.shipped_checksum;
            for frame in frames.chunks(generation.header.frame_len()) {
                running =
                    wal::verify_frame(&generation.header, running, frame).ok_or_else(|| {
                        BackupError::Continuity("a WAL frame changed before it was shipped".into())
                    })?;
            }
            if running != last.checksum {
                return Err(BackupError::Continuity(
                    "the WAL changed before it was shipped".into(),
                ));
            }
            let object = format::seal(&self.key, self.rng.as_ref(), &header, &frames)?;
            // The name carries the earliest and latest stamp: the first and last, unless the
            // clock was set back while this batch was observed.
            let earliest = batch.iter().map(|p| p.at_ms).min().unwrap_or(first.at_ms);
            let latest = batch.iter().map(|p| p.at_ms).max().unwrap_or(last.at_ms);
            let key = format::segment_key(&self.lineage, self.next_seq, earliest, latest);
            self.keep_reach(earliest).await?;
            self.target.put(&key, object).await?;
            // The segment now says how far the lineage reached.
            self.heartbeat_reach = None;
            metrics::counter!("cista_backup_segments_total").increment(1);
            metrics::counter!("cista_backup_bytes_total").increment(frames.len() as u64);
            self.next_seq += 1;
            self.generation = Some(Generation {
                header: generation.header,
                shipped: last.end_frame,
                shipped_checksum: last.checksum,
            });
            self.pending.drain(..count);
            self.batch_len = None;
            self.last_heartbeat_ms = self.now_ms();
        }
        Ok(())
    }
}
