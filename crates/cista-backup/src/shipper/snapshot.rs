//! Snapshots: the frozen database file uploaded in chunks, its manifest last.

use super::*;

impl Shipper {
    /// Starts uploading the (frozen) database file as a snapshot at the last shipped segment.
    pub(super) fn start_snapshot(&mut self, requested: bool) {
        let settings = self.settings.clone();
        let target = self.target.clone();
        let key = self.key.clone();
        let rng = self.rng.clone();
        let lineage = self.lineage.clone();
        let seq = self.next_seq - 1;
        let at_ms = self.now_ms();
        let generation = self.generation;
        let handle = tokio::spawn(async move {
            upload_snapshot(
                &settings.db_path,
                &target,
                &key,
                rng,
                &lineage,
                seq,
                at_ms,
                generation.map(|g| (g.header, g.shipped, g.shipped_checksum)),
            )
            .await
        });
        self.snapshot = Some(SnapshotJob { handle, requested });
    }
}

/// The database file, opened once per process and never closed. SQLite's locks are POSIX
/// advisory locks, which the kernel drops for the whole process as soon as *any* descriptor of
/// the file is closed: a snapshot that opened and closed the file would silently strip the
/// server's own locks (another process could then checkpoint and delete the WAL under it).
fn database_file(path: &Path) -> std::io::Result<Arc<std::fs::File>> {
    static OPEN: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<std::fs::File>>>,
    > = std::sync::OnceLock::new();
    let registry = OPEN.get_or_init(Default::default);
    let mut open = match registry.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(file) = open.get(path) {
        return Ok(file.clone());
    }
    let file = Arc::new(std::fs::File::open(path)?);
    open.insert(path.to_owned(), file.clone());
    Ok(file)
}

/// Uploads the database file as snapshot `seq` of `lineage`: chunks first, manifest last.
#[allow(clippy::too_many_arguments)]
async fn upload_snapshot(
    db_path: &Path,
    target: &BackupTarget,
    key: &DataKey,
    rng: Arc<dyn Rng>,
    lineage: &str,
    seq: u64,
    at_ms: i64,
    position: Option<(WalHeader, u64, Checksum)>,
) -> Result<SnapshotManifest, BackupError> {
    use sha2::Digest as _;
    use std::os::unix::fs::FileExt as _;
    let dir = format::snapshot_dir(lineage, seq, at_ms);
    let file = database_file(db_path).map_err(|e| io_error("cannot read the database", e))?;
    let mut whole = sha2::Sha256::new();
    let mut chunks = Vec::new();
    let mut db_len = 0u64;
    let mut page_size = 0u32;
    loop {
        let index = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        let header = ChunkHeader {
            format: FORMAT,
            lineage: lineage.to_owned(),
            seq,
            index,
        };
        // Reading, hashing, compressing and encrypting 8 MiB is blocking work: off the
        // server's async threads.
        let (reader, key, rng, offset) = (file.clone(), key.clone(), rng.clone(), db_len);
        let (hasher, sealed) = tokio::task::spawn_blocking(move || {
            let mut chunk = vec![0u8; CHUNK_BYTES];
            let mut filled = 0;
            while filled < chunk.len() {
                let at = offset + filled as u64;
                match reader.read_at(chunk.get_mut(filled..).unwrap_or(&mut []), at) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_error("cannot read the database", e)),
                }
            }
            chunk.truncate(filled);
            if chunk.is_empty() {
                return Ok((whole, None));
            }
            whole.update(&chunk);
            let object = format::seal(&key, rng.as_ref(), &header, &chunk)?;
            Ok((whole, Some((chunk, object))))
        })
        .await
        .map_err(|e| BackupError::Io(format!("snapshot reader failed: {e}")))??;
        whole = hasher;
        let Some((chunk, object)) = sealed else {
            break;
        };
        if db_len == 0 {
            // The page size is at offset 16 of the database header (1 means 65536).
            let raw = chunk
                .get(16..18)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .map_or(0, |b| u32::from(u16::from_be_bytes(b)));
            page_size = if raw == 1 { 65536 } else { raw };
        }
        db_len += chunk.len() as u64;
        chunks.push(ChunkInfo {
            len: chunk.len() as u64,
            sha256: format::sha256_hex(&object),
        });
        target.put(&format::chunk_key(&dir, index), object).await?;
    }
    let manifest = SnapshotManifest {
        format: FORMAT,
        lineage: lineage.to_owned(),
        seq,
        at_ms,
        page_size,
        db_len,
        db_sha256: hex::encode(whole.finalize()),
        chunks,
        wal_salt: position.map(|(h, _, _)| h.salt),
        wal_end: position.map_or(0, |(_, end, _)| end),
        end_checksum: position.map(|(_, _, c)| c),
    };
    let object = format::seal(key, rng.as_ref(), &manifest, &[])?;
    target.put(&format::manifest_key(&dir), object).await?;
    Ok(manifest)
}
