//! The ZIP export of records (issue 13, item 6): `records.csv` (the CSV export, byte for byte
//! the same content) and every delivered photo of those records under
//! `photos/{record}/{name}.{jpg|png}`: the copies Cista made, stripped of EXIF, XMP and the
//! rest (`media`), never an original. Written as it goes (the photos one at a time, never
//! all in memory; the records' rows, at most `MAX_EXPORTED`, are), every entry *stored*, not
//! deflated: photos are compressed already.
//!
//! Planned first (`Cista::plan_records_zip`: who asks is checked, the export recorded in the
//! audit log with how many records and photos it holds), then written (`write_records_zip`).
//! The plan knows the archive's exact length beforehand, so a download can announce it and
//! show its progress: the entries' sizes are known (the delivered copies' sizes are recorded),
//! and the archive's own headers are measured by writing the same entries empty.

use crate::platform::audit::NewAuditEntry;
use crate::ports::BlobStore;
use crate::products::collection::audit::CollectionAuditKind;
use crate::products::collection::export::{Exported, csv};
use crate::products::collection::records::RecordFilter;
use crate::{Actor, Cista, Error, Result};
use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipDateTime, ZipDateTimeBuilder, ZipEntryBuilder};
use cista_crypto::Digest32;
use cista_types::{OrgId, Timestamp};
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

/// One photo of the archive.
#[derive(Debug, Clone)]
struct ZipPhoto {
    path: String,
    digest: Digest32,
    size: u64,
    modified: ZipDateTime,
}

/// A ZIP export of records, planned: what it holds and how long it is. Only
/// `Cista::plan_records_zip` makes one (having checked who asks and recorded the export), and
/// only `Cista::write_records_zip` writes it.
#[derive(Debug)]
pub struct RecordsZip {
    org: OrgId,
    csv: Vec<u8>,
    made: ZipDateTime,
    /// Each record's photos, in the order of the CSV's rows.
    records: Vec<Vec<ZipPhoto>>,
    length: Option<u64>,
}

impl RecordsZip {
    /// How many records the archive holds.
    pub fn records(&self) -> usize {
        self.records.len()
    }

    /// How many photos it holds.
    pub fn photos(&self) -> usize {
        self.records.iter().map(Vec::len).sum()
    }

    /// Its exact length in bytes, when under 4 GiB (a larger one takes ZIP64 records whose
    /// place is not known beforehand, and announces no length).
    pub fn length(&self) -> Option<u64> {
        self.length
    }
}

fn zip_error(e: async_zip::error::ZipError) -> Error {
    Error::Internal(format!("the ZIP archive could not be written: {e}"))
}

/// A ZIP date (local time in the format; Cista writes UTC).
fn zip_date(at: Timestamp) -> ZipDateTime {
    let at = at.as_offset();
    ZipDateTimeBuilder::new()
        .year(at.year())
        .month(u32::from(u8::from(at.month())))
        .day(u32::from(at.day()))
        .hour(u32::from(at.hour()))
        .minute(u32::from(at.minute()))
        .second(u32::from(at.second()))
        .build()
}

fn entry(path: &str, modified: ZipDateTime) -> ZipEntryBuilder {
    ZipEntryBuilder::new(path.to_owned().into(), Compression::Stored)
        .last_modification_date(modified)
        .unix_permissions(0o644)
}

/// The name a photo takes in the archive. Photo names are `a-z`, `0-9`, `-`, `_` (checked
/// when a record arrives); anything else is refused here too, so no entry can climb out of
/// its folder when unpacked.
fn photo_path(record: i64, name: &str, media_type: &str) -> Result<String> {
    let safe = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !safe {
        return Err(Error::Internal(format!("a photo named {name:?}")));
    }
    let extension = if media_type == "image/png" {
        "png"
    } else {
        "jpg"
    };
    Ok(format!("photos/{record}/{name}.{extension}"))
}

/// The archive's length: its headers (measured by writing every entry empty) and its data.
async fn measure(csv: &[u8], made: ZipDateTime, records: &[Vec<ZipPhoto>]) -> Result<Option<u64>> {
    let mut empty = ZipFileWriter::with_tokio(Vec::new());
    empty
        .write_entry_whole(entry("records.csv", made), &[])
        .await
        .map_err(zip_error)?;
    let mut data = csv.len() as u64;
    for photo in records.iter().flatten() {
        empty
            .write_entry_whole(entry(&photo.path, photo.modified), &[])
            .await
            .map_err(zip_error)?;
        data = data.saturating_add(photo.size);
    }
    let headers = empty.close().await.map_err(zip_error)?.into_inner().len() as u64;
    let length = headers.saturating_add(data);
    Ok((length < u64::from(u32::MAX)).then_some(length))
}

impl Cista {
    /// Plans the ZIP export of `org`'s records that `filter` lets through; audited (format
    /// `zip`, records, photos) before a byte of it is written.
    pub async fn plan_records_zip(
        &self,
        actor: &Actor,
        org: OrgId,
        filter: &RecordFilter,
    ) -> Result<RecordsZip> {
        let exported: Vec<Exported> = self.exported_records(actor, org, filter).await?;
        let csv = csv(&exported)?;
        let now = self.clock().now();
        let made = zip_date(now);
        let mut records = Vec::with_capacity(exported.len());
        for e in &exported {
            let modified = zip_date(e.record.row.received_at);
            let mut photos = Vec::new();
            for m in &e.photos {
                let Some((digest, kind, size)) = &m.delivered else {
                    continue;
                };
                photos.push(ZipPhoto {
                    path: photo_path(m.submission.as_i64(), &m.name, kind)?,
                    digest: *digest,
                    size: *size,
                    modified,
                });
            }
            records.push(photos);
        }
        let length = measure(&csv, made, &records).await?;
        let zip = RecordsZip {
            org,
            csv,
            made,
            records,
            length,
        };
        self.store()
            .append_audit(NewAuditEntry::new(
                now,
                actor,
                Some(org),
                CollectionAuditKind::RecordsExported,
                json!({ "format": "zip", "records": zip.records(), "photos": zip.photos() }),
            ))
            .await?;
        Ok(zip)
    }

    /// Writes `zip` to `out`, one photo at a time, telling `progress` how many records are
    /// done of how many after the CSV and after each record's photos; returns `out`, flushed.
    /// A photo whose copy is not the size recorded stops the archive (its announced length
    /// would be wrong).
    pub async fn write_records_zip<W>(
        &self,
        blobs: &dyn BlobStore,
        zip: RecordsZip,
        out: W,
        progress: &mut (dyn FnMut(usize, usize) + Send),
    ) -> Result<W>
    where
        W: tokio::io::AsyncWrite + Unpin + Send,
    {
        let mut writer = ZipFileWriter::with_tokio(out);
        writer
            .write_entry_whole(entry("records.csv", zip.made), &zip.csv)
            .await
            .map_err(zip_error)?;
        let total = zip.records.len();
        progress(0, total);
        for (done, photos) in zip.records.iter().enumerate() {
            for photo in photos {
                let bytes = self
                    .open_blob(blobs, zip.org, &photo.digest)
                    .await?
                    .read_all()
                    .await?;
                if bytes.len() as u64 != photo.size {
                    return Err(Error::Internal(format!(
                        "{} is not the size recorded",
                        photo.path
                    )));
                }
                writer
                    .write_entry_whole(entry(&photo.path, photo.modified), &bytes)
                    .await
                    .map_err(zip_error)?;
            }
            progress(done + 1, total);
        }
        let mut out = writer.close().await.map_err(zip_error)?.into_inner();
        out.flush()
            .await
            .map_err(|e| Error::Internal(format!("the ZIP archive could not be written: {e}")))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_keeps_its_name_in_its_records_folder_and_nothing_climbs_out() {
        assert_eq!(
            photo_path(42, "p-1_a", "image/jpeg").unwrap(),
            "photos/42/p-1_a.jpg"
        );
        assert_eq!(
            photo_path(42, "p2", "image/png").unwrap(),
            "photos/42/p2.png"
        );
        for bad in ["", "../x", "a/b", "A", "a.b", "a\\b"] {
            assert!(photo_path(1, bad, "image/jpeg").is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_measured_length_is_the_written_length() {
        let made = zip_date(Timestamp::from_unix_micros(1_700_000_000_000_000).unwrap());
        let csv = b"record,form\n1,wells\n".to_vec();
        let photo = |path: &str, size: u64| ZipPhoto {
            path: path.to_owned(),
            digest: Digest32::sha256(&[b"x"]),
            size,
            modified: made,
        };
        let records = vec![
            vec![photo("photos/1/a.jpg", 300), photo("photos/1/b.png", 7)],
            vec![],
        ];
        let length = measure(&csv, made, &records).await.unwrap().unwrap();
        let mut real = ZipFileWriter::with_tokio(Vec::new());
        real.write_entry_whole(entry("records.csv", made), &csv)
            .await
            .unwrap();
        for p in records.iter().flatten() {
            let data = vec![7u8; usize::try_from(p.size).unwrap()];
            real.write_entry_whole(entry(&p.path, p.modified), &data)
                .await
                .unwrap();
        }
        let bytes = real.close().await.unwrap().into_inner();
        assert_eq!(bytes.len() as u64, length);
    }
}
