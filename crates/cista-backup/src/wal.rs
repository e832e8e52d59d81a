//! Reading SQLite's write-ahead log directly, as Litestream does: the 32-byte WAL header, the
//! 24-byte frame headers, and the cumulative checksum that tells a committed frame of this
//! generation from a torn write or a stale frame left over from an earlier one.
//!
//! Format (sqlite.org/fileformat2.html#walformat): all integers big-endian. The checksum is
//! computed over 32-bit words, little-endian when the magic is 0x377f0682 and big-endian when
//! it is 0x377f0683, and each frame's checksum continues from the previous one.

use std::io::{Read, Seek, SeekFrom};

pub const WAL_HEADER_LEN: usize = 32;
pub const FRAME_HEADER_LEN: usize = 24;
const MAGIC_LE: u32 = 0x377f_0682;
const MAGIC_BE: u32 = 0x377f_0683;

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(slice) = bytes.get(at..at + 4) {
        word.copy_from_slice(slice);
    }
    u32::from_be_bytes(word)
}

/// The running checksum of a WAL generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checksum(pub u32, pub u32);

/// Extends `seed` over `data` (a multiple of 8 bytes) as SQLite's `walChecksumBytes` does.
pub fn checksum(big_endian: bool, seed: Checksum, data: &[u8]) -> Checksum {
    let (mut s1, mut s2) = (seed.0, seed.1);
    for pair in data.chunks_exact(8) {
        let (a, b) = pair.split_at(4);
        let mut wa = [0u8; 4];
        let mut wb = [0u8; 4];
        wa.copy_from_slice(a);
        wb.copy_from_slice(b);
        let (x0, x1) = if big_endian {
            (u32::from_be_bytes(wa), u32::from_be_bytes(wb))
        } else {
            (u32::from_le_bytes(wa), u32::from_le_bytes(wb))
        };
        s1 = s1.wrapping_add(x0).wrapping_add(s2);
        s2 = s2.wrapping_add(x1).wrapping_add(s1);
    }
    Checksum(s1, s2)
}

/// The header of one WAL generation. Salts change every time SQLite restarts the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalHeader {
    pub big_endian: bool,
    pub page_size: u32,
    pub checkpoint_seq: u32,
    pub salt: (u32, u32),
    pub checksum: Checksum,
}

impl WalHeader {
    /// Parses and checks a header; `None` for an empty, partial or invalid one.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let header = bytes.get(..WAL_HEADER_LEN)?;
        let magic = be32(header, 0);
        let big_endian = match magic {
            MAGIC_LE => false,
            MAGIC_BE => true,
            _ => return None,
        };
        let page_size = be32(header, 8);
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return None;
        }
        let stored = Checksum(be32(header, 24), be32(header, 28));
        let computed = checksum(big_endian, Checksum(0, 0), header.get(..24)?);
        if stored != computed {
            return None;
        }
        Some(Self {
            big_endian,
            page_size,
            checkpoint_seq: be32(header, 12),
            salt: (be32(header, 16), be32(header, 20)),
            checksum: stored,
        })
    }

    pub fn frame_len(&self) -> usize {
        FRAME_HEADER_LEN + self.page_size as usize
    }
}

/// One frame as it sits in the log: header and page.
#[derive(Debug, Clone, Copy)]
pub struct FrameView<'a> {
    pub bytes: &'a [u8],
}

impl FrameView<'_> {
    pub fn page_number(&self) -> u32 {
        be32(self.bytes, 0)
    }

    /// For a commit frame, the database size in pages after the commit; zero otherwise.
    pub fn commit_size(&self) -> u32 {
        be32(self.bytes, 4)
    }

    pub fn page(&self) -> &[u8] {
        self.bytes.get(FRAME_HEADER_LEN..).unwrap_or(&[])
    }
}

/// Checks that `frame` belongs to the generation `header` describes and continues the
/// checksum chain from `previous`; returns the new running checksum.
pub fn verify_frame(header: &WalHeader, previous: Checksum, frame: &[u8]) -> Option<Checksum> {
    if frame.len() != header.frame_len() {
        return None;
    }
    if (be32(frame, 8), be32(frame, 12)) != header.salt {
        return None;
    }
    let after_header = checksum(header.big_endian, previous, frame.get(..8)?);
    let running = checksum(
        header.big_endian,
        after_header,
        frame.get(FRAME_HEADER_LEN..)?,
    );
    if running != Checksum(be32(frame, 16), be32(frame, 20)) {
        return None;
    }
    Some(running)
}

/// A committed transaction found in the log: it ends at frame `end_frame` (exclusive,
/// counted from the start of the generation) with running checksum `checksum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitMark {
    pub end_frame: u64,
    pub checksum: Checksum,
}

/// Reads the WAL header of the file at `path`; `None` if the file is absent or too short.
pub fn read_header(file: &mut std::fs::File) -> std::io::Result<Option<WalHeader>> {
    let mut bytes = [0u8; WAL_HEADER_LEN];
    file.seek(SeekFrom::Start(0))?;
    match file.read_exact(&mut bytes) {
        Ok(()) => Ok(WalHeader::parse(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

fn frame_offset(header: &WalHeader, frame: u64) -> u64 {
    WAL_HEADER_LEN as u64 + frame * header.frame_len() as u64
}

/// Scans the log from frame `from` (whose predecessor's running checksum is `seed`) and
/// returns every transaction committed after it, stopping at the first frame that is torn,
/// stale or of another generation. Frames after the last commit (a transaction still being
/// written) are not returned.
pub fn scan_commits(
    file: &mut std::fs::File,
    header: &WalHeader,
    from: u64,
    seed: Checksum,
) -> std::io::Result<Vec<CommitMark>> {
    let len = file.metadata()?.len();
    let frame_len = header.frame_len();
    let mut commits = Vec::new();
    let mut frame = from;
    let mut running = seed;
    let mut buf = vec![0u8; frame_len];
    file.seek(SeekFrom::Start(frame_offset(header, frame)))?;
    while frame_offset(header, frame + 1) <= len {
        if let Err(e) = file.read_exact(&mut buf) {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                break;
            }
            return Err(e);
        }
        let Some(next) = verify_frame(header, running, &buf) else {
            break;
        };
        running = next;
        frame += 1;
        if (FrameView { bytes: &buf }).commit_size() != 0 {
            commits.push(CommitMark {
                end_frame: frame,
                checksum: running,
            });
        }
    }
    Ok(commits)
}

/// Reads frames `[from, to)` of the current generation as raw bytes.
pub fn read_frames(
    file: &mut std::fs::File,
    header: &WalHeader,
    from: u64,
    to: u64,
) -> std::io::Result<Vec<u8>> {
    let count = usize::try_from(to.saturating_sub(from)).unwrap_or(0);
    let mut out = vec![0u8; count * header.frame_len()];
    file.seek(SeekFrom::Start(frame_offset(header, from)))?;
    file.read_exact(&mut out)?;
    Ok(out)
}

/// The running checksum at the end of frame `frame - 1` (the seed for frame `frame`), read
/// from the frame itself; for frame 0 it is the header's checksum.
pub fn checksum_before(
    file: &mut std::fs::File,
    header: &WalHeader,
    frame: u64,
) -> std::io::Result<Option<Checksum>> {
    if frame == 0 {
        return Ok(Some(header.checksum));
    }
    let mut fh = [0u8; FRAME_HEADER_LEN];
    file.seek(SeekFrom::Start(frame_offset(header, frame - 1)))?;
    match file.read_exact(&mut fh) {
        Ok(()) => {
            if (be32(&fh, 8), be32(&fh, 12)) != header.salt {
                return Ok(None);
            }
            Ok(Some(Checksum(be32(&fh, 16), be32(&fh, 20))))
        }
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_follow_sqlite_word_order() {
        // Two words per step: s1 += x0 + s2; s2 += x1 + s1.
        let data = [1u8, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(checksum(false, Checksum(0, 0), &data), Checksum(1, 3));
        let data = [0u8, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(checksum(true, Checksum(0, 0), &data), Checksum(1, 3));
    }

    #[test]
    fn a_header_with_a_bad_checksum_is_refused() {
        let mut header = [0u8; 32];
        header[..4].copy_from_slice(&MAGIC_LE.to_be_bytes());
        header[4..8].copy_from_slice(&3_007_000u32.to_be_bytes());
        header[8..12].copy_from_slice(&4096u32.to_be_bytes());
        let sum = checksum(false, Checksum(0, 0), &header[..24]);
        header[24..28].copy_from_slice(&sum.0.to_be_bytes());
        header[28..32].copy_from_slice(&sum.1.to_be_bytes());
        assert!(WalHeader::parse(&header).is_some());
        header[17] ^= 1;
        assert!(WalHeader::parse(&header).is_none());
    }
}
