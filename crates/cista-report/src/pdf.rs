//! Laid-out pages written as PDF/A-2b by krilla, so a certificate stays readable as long as it
//! is kept: every font embedded (subset), each glyph mapped back to the characters it draws
//! (text can be searched, copied and read aloud), colours device-independent, metadata in XMP.
//! A glyph no font has (the "missing glyph" box) is refused before writing, naming the
//! character: PDF/A forbids it, and a certificate must never show one.

use crate::layout::{Frame, Ink, Item, Text};
use crate::{ReportError, fonts};
use krilla::Document;
use krilla::action::{Action, LinkAction};
use krilla::annotation::{Annotation, LinkAnnotation, Target};
use krilla::color::rgb;
use krilla::configure::{Archival, ConfigurationBuilder};
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use parley::PositionedLayoutItem;
use skrifa::MetadataProvider;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// The document's description in its metadata.
#[derive(Debug)]
pub(crate) struct Info<'a> {
    pub title: &'a str,
    pub author: &'a str,
    /// A stable identifier: the same certificate, regenerated, is the same document to a PDF
    /// reader.
    pub ident: &'a str,
    pub created: cista_types::Timestamp,
}

/// Page size in points.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageSize {
    pub width: f32,
    pub height: f32,
}

/// The characters the frames set with a font's "missing glyph" box: those no bundled font
/// could draw where they stand.
pub(crate) fn missing_glyphs<'a>(frames: impl IntoIterator<Item = &'a Frame>) -> BTreeSet<char> {
    let mut found = BTreeSet::new();
    for text in frames.into_iter().flat_map(Frame::texts) {
        for line in text.layout.lines() {
            for run in line.runs() {
                for cluster in run.clusters() {
                    if cluster.glyphs().any(|g| g.id == 0)
                        && let Some(s) = text.text.get(cluster.text_range())
                    {
                        // What the cluster's font lacks is drawn by another, one character at
                        // a time (see `draw_glyphs`): missing is what no font has.
                        found.extend(
                            s.chars().filter(|&c| {
                                !needs_no_glyph(c) && fonts::any_font_for(c).is_none()
                            }),
                        );
                    }
                }
            }
        }
    }
    found
}

/// A space (every font draws one) or a default-ignorable character (drawn as nothing).
fn needs_no_glyph(c: char) -> bool {
    c == ' ' || cista_types::glyphs::is_default_ignorable(c)
}

/// Whether `cluster` is only default-ignorable characters (joiners, variation selectors, Hangul
/// fillers, …): text that needs no glyph. The shaper hides most of them itself; one it leaves
/// as a missing glyph is drawn as a space of the same width (see `krilla_glyphs`).
fn invisible(cluster: &str) -> bool {
    !cluster.is_empty()
        && cluster
            .chars()
            .all(cista_types::glyphs::is_default_ignorable)
}

/// Writes `pages` (each a full page, drawn from its top left) as PDF/A-2b.
pub(crate) fn write(
    pages: &[Frame],
    size: PageSize,
    info: &Info<'_>,
) -> Result<Vec<u8>, ReportError> {
    if let Some(&character) = missing_glyphs(pages).iter().next() {
        return Err(ReportError::Unprintable {
            what: "text",
            text: character.to_string(),
            reason: cista_types::glyphs::Unprintable { character },
        });
    }
    // krilla reports its errors as values; a panic inside it would be a bug there, and must
    // not take a web request (or the server) down with it.
    catch_unwind(AssertUnwindSafe(|| write_pages(pages, size, info))).unwrap_or_else(|_| {
        Err(ReportError::Pdf(
            "the PDF writer failed unexpectedly".to_owned(),
        ))
    })
}

fn write_pages(pages: &[Frame], size: PageSize, info: &Info<'_>) -> Result<Vec<u8>, ReportError> {
    let configuration = ConfigurationBuilder::new()
        .with_archival_validator(Archival::A2_B)
        .finish()
        .map_err(|e| ReportError::Pdf(format!("{e:?}")))?;
    let mut document = Document::new_with(krilla::SerializeSettings {
        configuration,
        ..krilla::SerializeSettings::default()
    });
    let t = info.created.as_offset();
    document.set_metadata(
        Metadata::new()
            .title(info.title.to_owned())
            .authors(vec![info.author.to_owned()])
            .language("en".to_owned())
            .creator("Cista".to_owned())
            .document_id(info.ident.to_owned())
            .creation_date(
                DateTime::new(u16::try_from(t.year()).unwrap_or(0))
                    .month(u8::from(t.month()))
                    .day(t.day())
                    .hour(t.hour())
                    .minute(t.minute())
                    .second(t.second())
                    .utc_offset_hour(0)
                    .utc_offset_minute(0),
            ),
    );
    let settings = PageSettings::from_wh(size.width, size.height)
        .ok_or_else(|| ReportError::Pdf("the page has no size".to_owned()))?;
    let mut fonts = Fonts::default();
    for frame in pages {
        let mut page = document.start_page_with(settings.clone());
        let mut links = Vec::new();
        let mut surface = page.surface();
        for (x, y, item) in &frame.items {
            match item {
                Item::Text(text) => draw_text(&mut surface, &mut fonts, text, *x, *y)?,
                Item::Line {
                    length,
                    thickness,
                    ink,
                } => {
                    let mut path = PathBuilder::new();
                    path.move_to(*x, *y);
                    path.line_to(x + length, *y);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(stroke(*thickness, *ink)));
                        surface.draw_path(&path);
                    }
                }
                Item::Rect {
                    width,
                    height,
                    fill,
                    outline,
                    radius,
                } => {
                    if let Some(path) = rounded_rect(*x, *y, *width, *height, *radius) {
                        surface.set_fill(fill.map(self::fill));
                        surface.set_stroke(outline.map(|(w, ink)| stroke(w, ink)));
                        surface.draw_path(&path);
                    }
                }
                Item::Link { width, height, url } => {
                    if let Some(rect) = Rect::from_xywh(*x, *y, *width, *height) {
                        links.push((rect, url.clone()));
                    }
                }
            }
        }
        surface.finish();
        for (rect, url) in links {
            page.add_annotation(Annotation::new_link(
                LinkAnnotation::new(rect, Target::Action(Action::Link(LinkAction::new(url)))),
                None,
            ));
        }
        page.finish();
    }
    document
        .finish()
        .map_err(|e| ReportError::Pdf(format!("{e:?}")))
}

fn color(ink: Ink) -> rgb::Color {
    rgb::Color::new(ink.0, ink.1, ink.2)
}

fn fill(ink: Ink) -> Fill {
    Fill {
        paint: color(ink).into(),
        opacity: NormalizedF32::ONE,
        ..Fill::default()
    }
}

fn stroke(width: f32, ink: Ink) -> Stroke {
    Stroke {
        paint: color(ink).into(),
        width,
        ..Stroke::default()
    }
}

/// A rectangle with corners rounded by `r` (quarter circles approximated by cubic Béziers).
fn rounded_rect(x: f32, y: f32, w: f32, h: f32, r: f32) -> Option<krilla::geom::Path> {
    let r = r.min(w / 2.0).min(h / 2.0).max(0.0);
    // The control-point distance that makes a cubic Bézier closest to a quarter circle.
    let k = r * 0.552_284_8;
    let mut p = PathBuilder::new();
    p.move_to(x + r, y);
    p.line_to(x + w - r, y);
    p.cubic_to(x + w - r + k, y, x + w, y + r - k, x + w, y + r);
    p.line_to(x + w, y + h - r);
    p.cubic_to(x + w, y + h - r + k, x + w - r + k, y + h, x + w - r, y + h);
    p.line_to(x + r, y + h);
    p.cubic_to(x + r - k, y + h, x, y + h - r + k, x, y + h - r);
    p.line_to(x, y + r);
    p.cubic_to(x, y + r - k, x + r - k, y, x + r, y);
    p.close();
    p.finish()
}

/// A font as krilla embeds it, with its space glyph (drawn for an invisible character the
/// font has no glyph for).
#[derive(Clone)]
struct Embedded {
    font: Font,
    space: u32,
}

/// krilla's font for each font file and face parley chose, and for each bundled font a
/// character fell back to (by its index in `fonts::ALL`), made once per document.
#[derive(Default)]
struct Fonts {
    chosen: HashMap<(u64, u32), Embedded>,
    fallbacks: HashMap<usize, Font>,
}

impl Fonts {
    fn fallback(&mut self, index: usize) -> Result<Font, ReportError> {
        if let Some(font) = self.fallbacks.get(&index) {
            return Ok(font.clone());
        }
        let data = fonts::ALL
            .as_ref()
            .ok()
            .and_then(|all| all.get(index))
            .ok_or_else(|| ReportError::Fonts("a bundled font is gone".to_owned()))?;
        let font = Font::new(data.clone().into(), 0)
            .ok_or_else(|| ReportError::Fonts("a bundled font cannot be embedded".to_owned()))?;
        self.fallbacks.insert(index, font.clone());
        Ok(font)
    }

    fn get(&mut self, data: &parley::FontData) -> Result<Embedded, ReportError> {
        let key = (data.data.id(), data.index);
        if let Some(font) = self.chosen.get(&key) {
            return Ok(font.clone());
        }
        let bytes: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(data.data.clone());
        let font = Font::new(bytes.into(), data.index)
            .ok_or_else(|| ReportError::Fonts("a bundled font cannot be embedded".to_owned()))?;
        let space = skrifa::FontRef::from_index(data.data.data(), data.index)
            .ok()
            .and_then(|f| f.charmap().map(' '))
            .map_or(0, |g| g.to_u32());
        let embedded = Embedded { font, space };
        self.chosen.insert(key, embedded.clone());
        Ok(embedded)
    }
}

/// Draws `text` with its top left at (`x`, `y`): each glyph run in its font and colour, each
/// glyph mapped to the characters of its cluster (a ligature to all of its characters).
fn draw_text(
    surface: &mut Surface<'_>,
    fonts: &mut Fonts,
    text: &Text,
    x: f32,
    y: f32,
) -> Result<(), ReportError> {
    for line in text.layout.lines() {
        // A run's glyph runs (split where the colour changes) come one after the other, in
        // visual order: walk the run's clusters along with them.
        let mut clusters = Vec::<Cluster>::new().into_iter().peekable();
        let mut current_run = None;
        for item in line.items() {
            let PositionedLayoutItem::GlyphRun(glyph_run) = item else {
                continue;
            };
            let run = glyph_run.run();
            if current_run != Some(run.index()) {
                current_run = Some(run.index());
                clusters = run
                    .visual_clusters()
                    .map(|c| (c.text_range(), c.glyphs().collect::<Vec<_>>()))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .peekable();
            }
            let size = run.font_size();
            let font = fonts.get(run.font())?;
            let glyphs = krilla_glyphs(
                &mut clusters,
                &Shaped {
                    wanted: glyph_run.glyphs().count(),
                    size,
                    rtl: run.is_rtl(),
                    text: &text.text,
                    space: font.space,
                },
            );
            if glyphs.is_empty() {
                continue;
            }
            surface.set_stroke(None);
            surface.set_fill(Some(fill(glyph_run.style().brush)));
            draw_glyphs(
                surface,
                fonts,
                Point::from_xy(x + glyph_run.offset(), y + glyph_run.baseline()),
                &glyphs,
                (&font.font, size),
                &text.text,
            )?;
        }
    }
    Ok(())
}

/// Draws `glyphs` from `start` in `font`, but a glyph the font lacks (a cluster it could not
/// draw whole) character by character in the first bundled font that has each, within the
/// room the layout kept for it.
fn draw_glyphs(
    surface: &mut Surface<'_>,
    fonts: &mut Fonts,
    start: Point,
    glyphs: &[KrillaGlyph],
    (font, size): (&Font, f32),
    text: &str,
) -> Result<(), ReportError> {
    let mut x = start.x;
    for segment in glyphs.chunk_by(|a, b| (a.glyph_id.to_u32() == 0) == (b.glyph_id.to_u32() == 0))
    {
        let advance: f32 = segment.iter().map(|g| g.x_advance * size).sum();
        let missing = segment.first().is_some_and(|g| g.glyph_id.to_u32() == 0);
        if !missing {
            surface.draw_glyphs(
                Point::from_xy(x, start.y),
                segment,
                font.clone(),
                text,
                size,
                false,
            );
        } else {
            for cluster in segment.chunk_by(|a, b| a.text_range == b.text_range) {
                let room: f32 = cluster.iter().map(|g| g.x_advance).sum();
                let start_of = cluster.first().map_or(0, |g| g.text_range.start);
                let chars = text
                    .get(cluster.first().map_or(0..0, |g| g.text_range.clone()))
                    .unwrap_or("");
                let mut first = true;
                let mut cx = x;
                for (offset, c) in chars.char_indices().filter(|&(_, c)| !needs_no_glyph(c)) {
                    let Some((index, glyph)) = fonts::any_font_for(c) else {
                        continue;
                    };
                    let fallback = fonts.fallback(index)?;
                    let at = start_of + offset;
                    let glyph = KrillaGlyph::new(
                        GlyphId::new(glyph),
                        if first { room } else { 0.0 },
                        0.0,
                        0.0,
                        0.0,
                        at..at + c.len_utf8(),
                        None,
                    );
                    surface.draw_glyphs(
                        Point::from_xy(cx, start.y),
                        &[glyph],
                        fallback,
                        text,
                        size,
                        false,
                    );
                    if first {
                        cx += room * size;
                        first = false;
                    }
                }
                x += room * size;
            }
            continue;
        }
        x += advance;
    }
    Ok(())
}

/// A glyph's cluster: the bytes of the text it draws, and its glyphs.
type Cluster = (Range<usize>, Vec<parley::layout::Glyph>);

/// What `krilla_glyphs` needs to know of a glyph run.
struct Shaped<'a> {
    /// How many glyphs the run has.
    wanted: usize,
    /// Font size in points.
    size: f32,
    rtl: bool,
    /// The paragraph's text, which clusters index into.
    text: &'a str,
    /// The font's space glyph.
    space: u32,
}

/// The next `run.wanted` glyphs from `clusters` (in visual order), in krilla's terms, with the
/// text of glyphless clusters (a ligature's later characters, a line break) joined to the
/// glyphs next to them in reading order.
fn krilla_glyphs(
    clusters: &mut std::iter::Peekable<std::vec::IntoIter<Cluster>>,
    run: &Shaped<'_>,
) -> Vec<KrillaGlyph> {
    let Shaped {
        wanted,
        size,
        rtl,
        text,
        space,
    } = *run;
    let mut glyphs: Vec<KrillaGlyph> = Vec::with_capacity(wanted);
    let mut pending: Option<Range<usize>> = None;
    loop {
        let next_is_glyphless = clusters.peek().is_some_and(|(_, g)| g.is_empty());
        // Left to right, the glyphless clusters after the last glyph are still its own.
        let more = glyphs.len() < wanted || (!rtl && next_is_glyphless);
        let Some((range, cluster_glyphs)) = more.then(|| clusters.next()).flatten() else {
            break;
        };
        if cluster_glyphs.is_empty() {
            match glyphs.last() {
                Some(last) if !rtl => {
                    let from = last.text_range.clone();
                    let joined = join(Some(from.clone()), range);
                    for g in glyphs.iter_mut().rev().take_while(|g| g.text_range == from) {
                        g.text_range = joined.clone();
                    }
                }
                _ => pending = Some(join(pending, range)),
            }
            continue;
        }
        let range = join(pending.take(), range);
        let hidden = text.get(range.clone()).is_some_and(invisible);
        for g in cluster_glyphs {
            let id = if g.id == 0 && hidden { space } else { g.id };
            glyphs.push(KrillaGlyph::new(
                GlyphId::new(id),
                g.advance / size,
                g.x / size,
                -g.y / size,
                0.0,
                range.clone(),
                None,
            ));
        }
    }
    glyphs
}

/// The smallest range covering both.
fn join(a: Option<Range<usize>>, b: Range<usize>) -> Range<usize> {
    match a {
        Some(a) => a.start.min(b.start)..a.end.max(b.end),
        None => b,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::layout::{Para, Style, Typesetter};

    /// A page holding `text` as one paragraph.
    fn page_with(text: &str) -> Frame {
        let mut typesetter = Typesetter::new(fonts::context().unwrap());
        let para = typesetter.para(&Para::of(text, Style::serif(10.5, Ink::default())), 400.0);
        let mut page = Frame::new(612.0, 792.0);
        page.place(72.0, 72.0, para);
        page
    }

    fn written(page: &Frame) -> Result<Vec<u8>, ReportError> {
        write(
            std::slice::from_ref(page),
            PageSize {
                width: 612.0,
                height: 792.0,
            },
            &Info {
                title: "test",
                author: "test",
                ident: "test",
                created: cista_types::Timestamp::from_unix_micros(1_800_000_000_000_000).unwrap(),
            },
        )
    }

    #[test]
    fn every_default_ignorable_character_is_drawn_as_nothing() {
        // Between letters, as in a name: the PDF/A writer refuses a missing glyph, so a
        // written document is the proof that none is drawn.
        let text: String = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|&c| cista_types::glyphs::is_default_ignorable(c))
            .map(|c| format!("a{c}b "))
            .collect();
        let page = page_with(&text);
        assert_eq!(missing_glyphs([&page]), BTreeSet::new());
        written(&page).unwrap();
    }

    #[test]
    fn a_mark_on_a_letter_of_another_script_is_drawn_by_a_font_that_has_it() {
        // A Khmer symbol (Noto Sans Khmer) carrying a combining mark only Noto Sans has: no
        // single font draws the cluster.
        let page = page_with("x\u{19FE}\u{1AB3}y");
        assert_eq!(missing_glyphs([&page]), BTreeSet::new());
        written(&page).unwrap();
    }

    #[test]
    fn a_character_no_font_has_is_named_and_nothing_is_written() {
        let page = page_with("Ann \u{13000} Lee");
        assert_eq!(missing_glyphs([&page]), BTreeSet::from(['\u{13000}']));
        let err = written(&page).unwrap_err();
        assert!(err.to_string().contains("U+13000"), "{err}");
    }
}
