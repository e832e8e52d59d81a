//! Photos of records made safe to deliver (issue 13, item 5). A phone's photo may carry its
//! own location (EXIF GPS, XMP), the camera's serial number and the time it was taken; the
//! record already carries the point its collector chose to send, so a delivered photo carries
//! none of that: the copy staff see and exports hold is stripped of every metadata segment,
//! turned upright (the EXIF orientation applied to the pixels), and a 320-pixel thumbnail is
//! made beside it. Done off the request path, one photo at a time (see `Cista::process_photos`),
//! within fixed limits on the decoded size, so a huge or hostile image cannot exhaust memory.
//!
//! - A JPEG that needs no turning keeps its compressed data: only the segments that draw the
//!   picture are kept (EXIF, XMP, IPTC, maker notes, comments and any other are dropped), and
//!   whatever follows its end (a second image, a video) is cut off (`img-parts`, then
//!   `stripped_jpeg`).
//! - A PNG that needs no turning keeps its pixels: only the chunks that draw the picture are
//!   kept (text, time, EXIF and any other are dropped), nothing after its end.
//! - Anything else (a WebP, or a photo the camera held sideways) is decoded, turned and encoded
//!   again as JPEG (quality 90), or PNG when it has transparency; encoders write no metadata.

use crate::platform::blobs::{BlobRules, InMemory};
use crate::ports::{BlobStore, StoredMedia};
use crate::{Action, Actor, Cista, Error, Result};
use image::{DynamicImage, ImageReader};
use std::io::Cursor;

/// The longer side of a thumbnail, in pixels.
pub const THUMBNAIL_PX: u32 = 320;
/// The widest or tallest photo decoded, in pixels.
pub const MAX_SIDE_PX: u32 = 12_000;
/// The most memory one decoded photo may take, in bytes.
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;

/// What processing made of one photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// The copy to deliver: upright, with no metadata.
    pub delivered: Vec<u8>,
    /// Its media type (`image/jpeg` or `image/png`).
    pub delivered_type: &'static str,
    /// A JPEG of at most `THUMBNAIL_PX` on its longer side.
    pub thumbnail: Vec<u8>,
}

fn unreadable(e: impl std::fmt::Display) -> Error {
    Error::UnsupportedMediaType(format!("the photo cannot be read: {e}"))
}

/// The EXIF orientation (1 to 8) the photo declares, if any.
fn orientation(bytes: &[u8]) -> Option<u8> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let field = exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)?;
    field
        .value
        .get_uint(0)
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| (1..=8).contains(v))
}

fn decode(bytes: &[u8]) -> Result<DynamicImage> {
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE_PX);
    limits.max_image_height = Some(MAX_SIDE_PX);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(unreadable)?;
    reader.limits(limits);
    reader.decode().map_err(unreadable)
}

fn encode_jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let rgb = image.to_rgb8();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| Error::Internal(format!("JPEG encoding: {e}")))?;
    Ok(out)
}

fn encode_png(image: &DynamicImage) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| Error::Internal(format!("PNG encoding: {e}")))?;
    Ok(out)
}

/// A JPEG with only the segments that draw its picture, its compressed data untouched, and
/// nothing after its end: `None` (the photo is then decoded and encoded again) when a segment
/// other than those sits between its scans, or it has no end marker.
///
/// The segments kept are a whitelist, so that none a camera or editor invents gets through:
/// the JFIF header (APP0), the colour profile (APP2 `ICC_PROFILE`, not the multi-picture
/// index that also uses APP2), Adobe's colour transform (APP14 `Adobe`, needed to draw CMYK
/// right), and the tables, frame and scan headers (ITU T.81, table B.1). Phones append a
/// second image, with its own EXIF, or a video after the first image's end (EOI); that is
/// cut off.
fn stripped_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    use img_parts::jpeg::JpegSegment;
    let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(bytes::Bytes::copy_from_slice(bytes)).ok()?;
    jpeg.segments_mut()
        .retain(|s: &JpegSegment| draws_the_picture(s.marker(), s.contents()));
    // `img-parts` keeps everything after the first scan's header as that segment's data.
    let scans_len = jpeg
        .segments()
        .last()
        .filter(|s| s.has_entropy())
        .map(|s| s.len_with_entropy() - s.len())?;
    let mut out = jpeg.encoder().bytes().to_vec();
    let header_len = out.len().checked_sub(scans_len)?;
    let end = scans_end(out.get(header_len..)?)?;
    out.truncate(header_len + end);
    Some(out)
}

/// Whether a JPEG segment (its marker, and its contents after the length) is one needed to
/// draw the picture (see `stripped_jpeg`).
fn draws_the_picture(marker: u8, contents: &[u8]) -> bool {
    match marker {
        // SOF0–SOF15 (C4 DHT, C8 JPG and CC DAC among them), DQT, DNL, DRI, SOS.
        0xC0..=0xCF | 0xDA..=0xDD => marker != 0xC8,
        0xE0 => contents.starts_with(b"JFIF\0") || contents.starts_with(b"JFXX\0"),
        0xE2 => contents.starts_with(b"ICC_PROFILE\0"),
        0xEE => contents.starts_with(b"Adobe") && contents.len() == 12,
        _ => false,
    }
}

/// The length of a JPEG's scans (what follows the first scan's header) up to and including
/// its end marker (EOI), or `None` when there is none, or a segment between scans is not one
/// that draws the picture. In the compressed data a 0xFF byte is followed by 0x00 (a stuffed
/// byte), a restart marker (RST0–RST7) or a fill byte; any other marker starts a segment with
/// a length (tables before a progressive JPEG's next scan, T.81 B.2.4), or is the end.
fn scans_end(scans: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let (Some(&byte), Some(&next)) = (scans.get(i), scans.get(i + 1)) {
        if byte != 0xFF {
            i += 1;
            continue;
        }
        match next {
            0x00 | 0xD0..=0xD7 => i += 2,
            0xFF => i += 1,
            0xD9 => return Some(i + 2),
            marker => {
                let len = usize::from(u16::from_be_bytes([*scans.get(i + 2)?, *scans.get(i + 3)?]));
                let contents = scans.get(i + 4..i + 2 + len.max(2))?;
                if !draws_the_picture(marker, contents) {
                    return None;
                }
                i += 2 + len.max(2);
            }
        }
    }
    None
}

/// A PNG with only the chunks that draw its picture, its image data untouched; nothing after
/// its end (IEND) is read. A whitelist (PNG 3rd edition, 4.3): the critical chunks, and the
/// ancillary ones for transparency, colour space and pixel size; text, time, EXIF, animation
/// and any chunk an application invents are dropped.
fn stripped_png(bytes: &[u8]) -> Option<Vec<u8>> {
    const DRAWS: [&[u8; 4]; 11] = [
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
        b"pHYs",
    ];
    let mut png = img_parts::png::Png::from_bytes(bytes::Bytes::copy_from_slice(bytes)).ok()?;
    png.chunks_mut().retain(|c| DRAWS.contains(&&c.kind()));
    Some(png.encoder().bytes().to_vec())
}

/// Makes the delivered copy and the thumbnail of a photo of type `content_type`
/// (`image/jpeg`, `image/png` or `image/webp`). `unsupported_media_type` when the bytes are
/// not a readable image within the limits.
pub fn process_photo(bytes: &[u8], content_type: &str) -> Result<ProcessedPhoto> {
    let turn = orientation(bytes).filter(|o| *o != 1);
    let mut image = decode(bytes)?;
    if let Some(orientation) = turn.and_then(image::metadata::Orientation::from_exif) {
        image.apply_orientation(orientation);
    }
    let lossless = match (turn, content_type) {
        (None, "image/jpeg") => stripped_jpeg(bytes).map(|b| (b, "image/jpeg")),
        (None, "image/png") => stripped_png(bytes).map(|b| (b, "image/png")),
        _ => None,
    };
    let (delivered, delivered_type) = match lossless {
        Some(done) => done,
        None if image.color().has_alpha() => (encode_png(&image)?, "image/png"),
        None => (encode_jpeg(&image, 90)?, "image/jpeg"),
    };
    let thumbnail = encode_jpeg(&image.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX), 80)?;
    Ok(ProcessedPhoto {
        delivered,
        delivered_type,
        thumbnail,
    })
}

/// A generated photo as a phone would send it: a JPEG of `width`×`height` (a gradient that
/// `seed` shifts) whose EXIF says `orientation` (1 to 8) and holds what must never be
/// delivered: a GPS latitude, the camera's serial number `SN12345`, and an XMP packet naming
/// `CanaryCreek`. The demo's seeded records carry such photos; tests check that none of it
/// survives processing.
pub fn sample_photo(width: u32, height: u32, orientation: u16, seed: u8) -> Result<Vec<u8>> {
    let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        let x = u8::try_from(x % 256).unwrap_or(0);
        let y = u8::try_from(y % 256).unwrap_or(0);
        image::Rgb([
            x.wrapping_mul(3).wrapping_add(seed),
            y.wrapping_mul(2),
            140u8.wrapping_sub(seed),
        ])
    }));
    let plain = encode_jpeg(&image, 85)?;
    let mut jpeg = img_parts::jpeg::Jpeg::from_bytes(bytes::Bytes::from(plain))
        .map_err(|e| Error::Internal(format!("sample photo: {e}")))?;
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(exif_block(orientation));
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    xmp.extend(b"<x:xmpmeta>CanaryCreek GPSLatitude 45.5</x:xmpmeta>");
    for (at, contents) in [(1, app1), (2, xmp)] {
        let segment = img_parts::jpeg::JpegSegment::new_with_contents(
            img_parts::jpeg::markers::APP1,
            bytes::Bytes::from(contents),
        );
        let segments = jpeg.segments_mut();
        segments.insert(at.min(segments.len()), segment);
    }
    Ok(jpeg.encoder().bytes().to_vec())
}

/// A little-endian TIFF block for `sample_photo`: IFD0 with Orientation, BodySerialNumber and
/// a GPS IFD pointer; the GPS IFD with GPSLatitudeRef "N".
fn exif_block(orientation: u16) -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend(8u32.to_le_bytes());
    t.extend(3u16.to_le_bytes());
    // Orientation (0x0112), SHORT, count 1, the value inline.
    t.extend(0x0112u16.to_le_bytes());
    t.extend(3u16.to_le_bytes());
    t.extend(1u32.to_le_bytes());
    t.extend(u32::from(orientation).to_le_bytes());
    // BodySerialNumber (0xA431), ASCII, 8 bytes at offset 50.
    t.extend(0xA431u16.to_le_bytes());
    t.extend(2u16.to_le_bytes());
    t.extend(8u32.to_le_bytes());
    t.extend(50u32.to_le_bytes());
    // The GPS IFD (0x8825), LONG, at offset 58.
    t.extend(0x8825u16.to_le_bytes());
    t.extend(4u16.to_le_bytes());
    t.extend(1u32.to_le_bytes());
    t.extend(58u32.to_le_bytes());
    t.extend(0u32.to_le_bytes());
    t.extend(b"SN12345\0");
    // GPS IFD: GPSLatitudeRef (1), ASCII, 2 bytes inline "N".
    t.extend(1u16.to_le_bytes());
    t.extend(1u16.to_le_bytes());
    t.extend(2u16.to_le_bytes());
    t.extend(2u32.to_le_bytes());
    t.extend(*b"N\0\0\0");
    t.extend(0u32.to_le_bytes());
    t
}

/// What one pass of photo processing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhotoPass {
    /// Photos given their delivered copy and thumbnail.
    pub processed: u64,
    /// Photos that could not be read (recorded, never tried again).
    pub unreadable: u64,
}

impl Cista {
    /// Processes up to `limit` photos of records that arrived since the last pass, oldest
    /// first, one at a time (on a blocking thread: decoding is CPU work): the delivered copy
    /// and the thumbnail are stored as the organization's blobs, sealed like every blob, and
    /// recorded; the original's blob is left to the sweep (`sweep_blobs` no longer keeps it).
    /// A photo that cannot be read is recorded with the reason and not tried again. Only the
    /// system runs this (the server's background worker).
    pub async fn process_photos(
        &self,
        actor: &Actor,
        blobs: &dyn BlobStore,
        limit: u64,
    ) -> Result<PhotoPass> {
        actor.authorize(Action::ProcessMedia)?;
        let mut pass = PhotoPass::default();
        for photo in self.store().collection().photos_to_process(limit).await? {
            let Some(record) = self.store().intake().submission(photo.submission).await? else {
                continue;
            };
            let org = record.org;
            let bytes = self
                .open_blob(blobs, org, &photo.sha256)
                .await?
                .read_all()
                .await?;
            let content_type = photo.content_type.clone();
            let made = tokio::task::spawn_blocking(move || process_photo(&bytes, &content_type))
                .await
                .map_err(|e| Error::Internal(format!("photo processing stopped: {e}")))?;
            let now = self.clock().now();
            let media = match made {
                Ok(done) => {
                    let rules = BlobRules {
                        max_bytes: u64::MAX,
                        allowed_types: vec!["image/jpeg".to_owned(), "image/png".to_owned()],
                    };
                    let delivered_size = done.delivered.len() as u64;
                    let delivered = self
                        .store_blob(
                            blobs,
                            org,
                            done.delivered_type,
                            &rules,
                            &mut InMemory(Some(done.delivered)),
                        )
                        .await?;
                    let thumbnail = self
                        .store_blob(
                            blobs,
                            org,
                            "image/jpeg",
                            &rules,
                            &mut InMemory(Some(done.thumbnail)),
                        )
                        .await?;
                    pass.processed += 1;
                    StoredMedia {
                        submission: photo.submission,
                        name: photo.name.clone(),
                        delivered: Some((
                            delivered.sha256,
                            done.delivered_type.to_owned(),
                            delivered_size,
                        )),
                        thumbnail: Some(thumbnail.sha256),
                        error: None,
                        processed_at: now,
                    }
                }
                Err(e) => {
                    pass.unreadable += 1;
                    StoredMedia {
                        submission: photo.submission,
                        name: photo.name.clone(),
                        delivered: None,
                        thumbnail: None,
                        error: Some(e.public_message()),
                        processed_at: now,
                    }
                }
            };
            let mut tx = self.store().begin().await?;
            match tx.collection().insert_media(&media).await {
                // Another server process got there first: its row stands.
                Err(Error::Conflict(_)) => continue,
                other => other?,
            }
            tx.commit_housekeeping().await?;
        }
        Ok(pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_left(bytes: &[u8]) -> bool {
        let exif = exif::Reader::new().read_from_container(&mut Cursor::new(bytes));
        exif.is_ok()
            || bytes.windows(12).any(|w| w == b"CanaryCreek ")
            || bytes.windows(7).any(|w| w == b"SN12345")
    }

    #[test]
    fn an_upright_jpeg_keeps_its_pixels_and_loses_its_metadata() {
        let original = sample_photo(64, 32, 1, 0).unwrap();
        assert_eq!(orientation(&original), Some(1));
        assert!(metadata_left(&original), "the fixture carries metadata");
        let done = process_photo(&original, "image/jpeg").unwrap();
        assert_eq!(done.delivered_type, "image/jpeg");
        assert!(
            !metadata_left(&done.delivered),
            "no EXIF, XMP or serial left"
        );
        let (a, b) = (decode(&original).unwrap(), decode(&done.delivered).unwrap());
        assert_eq!(a.to_rgb8(), b.to_rgb8(), "the compressed data is untouched");
        let thumb = decode(&done.thumbnail).unwrap();
        assert!(thumb.width() <= THUMBNAIL_PX && thumb.height() <= THUMBNAIL_PX);
    }

    #[test]
    fn a_sideways_photo_is_turned_upright() {
        // Orientation 6: the camera was turned 90° clockwise; shown upright it is tall.
        let original = sample_photo(64, 32, 6, 0).unwrap();
        let done = process_photo(&original, "image/jpeg").unwrap();
        let upright = decode(&done.delivered).unwrap();
        assert_eq!((upright.width(), upright.height()), (32, 64));
        assert!(!metadata_left(&done.delivered));
        let thumb = decode(&done.thumbnail).unwrap();
        assert!(thumb.height() > thumb.width());
    }

    /// Phones put a second image (with its own EXIF) or a video after a photo's end: none of
    /// it reaches the delivered copy, which is the photo's own.
    #[test]
    fn what_follows_a_jpeg_is_cut_off() {
        let photo = sample_photo(64, 32, 1, 0).unwrap();
        let alone = process_photo(&photo, "image/jpeg").unwrap().delivered;
        let second = sample_photo(16, 16, 1, 7).unwrap();
        for tail in [second, vec![0x5A; 4096], b"\xFF\xD9SN12345".to_vec()] {
            let sent = [photo.as_slice(), &tail].concat();
            let done = process_photo(&sent, "image/jpeg").unwrap();
            assert_eq!(done.delivered, alone, "{} bytes after", tail.len());
            assert!(!metadata_left(&done.delivered));
        }
    }

    /// A segment between scans that does not draw the picture (here a comment) sends the
    /// photo through decoding and encoding again: nothing of it is kept.
    #[test]
    fn a_jpeg_with_metadata_between_scans_is_encoded_again() {
        let photo = sample_photo(64, 32, 1, 0).unwrap();
        let (body, eoi) = photo.split_at(photo.len() - 2);
        assert_eq!(eoi, [0xFF, 0xD9]);
        let comment = [&[0xFF, 0xFE, 0, 9][..], b"SN12345", &[0xFF, 0xD9]].concat();
        let sent = [body, &comment].concat();
        let done = process_photo(&sent, "image/jpeg").unwrap();
        assert!(!metadata_left(&done.delivered));
        let (a, b) = (decode(&photo).unwrap(), decode(&done.delivered).unwrap());
        assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    }

    /// Only the chunks that draw a PNG are kept: one an application made up, holding a serial
    /// number, is dropped, as is anything after the end.
    #[test]
    fn a_png_keeps_only_the_chunks_that_draw_it() {
        let image = DynamicImage::new_rgb8(8, 8);
        let mut png = img_parts::png::Png::from_bytes(encode_png(&image).unwrap().into()).unwrap();
        let at = png.chunks().len() - 1;
        for (i, kind) in [*b"caBX", *b"tEXt"].into_iter().enumerate() {
            let chunk = img_parts::png::PngChunk::new(kind, bytes::Bytes::from_static(b"SN12345"));
            png.chunks_mut().insert(at + i, chunk);
        }
        let sent = [png.encoder().bytes().to_vec(), b"SN12345".to_vec()].concat();
        assert!(metadata_left(&sent));
        let done = process_photo(&sent, "image/png").unwrap();
        assert_eq!(done.delivered_type, "image/png");
        assert!(!metadata_left(&done.delivered));
        assert_eq!(decode(&done.delivered).unwrap().to_rgb8(), image.to_rgb8());
    }

    #[test]
    fn what_is_not_an_image_is_refused() {
        for junk in [&b"GIF89a...."[..], b"\x89PNG\r\n\x1a\n broken", b""] {
            let e = process_photo(junk, "image/png").unwrap_err();
            assert_eq!(e.code(), "unsupported_media_type", "{junk:?}");
        }
    }
}
