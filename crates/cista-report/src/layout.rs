//! A small page layout on parley, enough for a certificate: paragraphs of styled text
//! (shaped, bidi-ordered and line-broken by parley, with font fallback through the bundled
//! families), rules, boxes, grids of columns, and a flow that cuts the content into pages,
//! keeps a heading with what follows it and repeats a table's header on each page. Everything
//! is measured in PDF points (1/72 in), y growing downwards from the top of a frame.

use crate::fonts;
use parley::{
    Alignment, AlignmentOptions, BaseDirection, FontContext, FontFamily, FontFamilyName, FontStyle,
    FontWeight, Layout, LayoutContext, LineBreakContext, LineHeight, OverflowWrap, StyleProperty,
    WhiteSpaceCollapse,
};
use std::borrow::Borrow;
use std::rc::Rc;
use std::sync::LazyLock;

/// A colour, 8 bits per channel (sRGB): the brush parley carries with each run of text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ink(pub u8, pub u8, pub u8);

/// Which family a style starts from; both fall back through `fonts::FALLBACK`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Face {
    Serif,
    Mono,
}

static SERIF: LazyLock<Vec<FontFamilyName<'static>>> =
    LazyLock::new(|| fonts::families(fonts::SERIF));
static MONO: LazyLock<Vec<FontFamilyName<'static>>> =
    LazyLock::new(|| fonts::families(fonts::MONO));

/// How a run of text is set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    pub face: Face,
    /// Font size in points.
    pub size: f32,
    /// CSS weight: 400 regular, 600 semibold, 700 bold.
    pub weight: f32,
    pub italic: bool,
    pub ink: Ink,
    /// Extra space between letters, in points.
    pub tracking: f32,
}

impl Style {
    pub(crate) fn serif(size: f32, ink: Ink) -> Self {
        Self {
            face: Face::Serif,
            size,
            weight: 400.0,
            italic: false,
            ink,
            tracking: 0.0,
        }
    }

    pub(crate) fn mono(size: f32, ink: Ink) -> Self {
        Self {
            face: Face::Mono,
            ..Self::serif(size, ink)
        }
    }

    pub(crate) fn bold(self) -> Self {
        Self {
            weight: 700.0,
            ..self
        }
    }

    pub(crate) fn semibold(self) -> Self {
        Self {
            weight: 600.0,
            ..self
        }
    }

    pub(crate) fn italic(self) -> Self {
        Self {
            italic: true,
            ..self
        }
    }

    pub(crate) fn ink(self, ink: Ink) -> Self {
        Self { ink, ..self }
    }

    pub(crate) fn tracking(self, tracking: f32) -> Self {
        Self { tracking, ..self }
    }
}

/// Horizontal placement of a paragraph's lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Center,
    Right,
}

/// Where a paragraph's lines may break, besides the emergency break inside a word too long
/// for its line (always allowed, so nothing runs off the page).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Breaks {
    /// Unicode's line breaking (UAX #14).
    Words,
    /// Only after a `+`: a verifier key wraps at its separators.
    AfterPlus,
}

/// A paragraph: runs of styled text laid out together, left to right (the document is
/// English; runs in right-to-left scripts are reordered within their line).
#[derive(Clone, Debug)]
pub(crate) struct Para {
    runs: Vec<(String, Style)>,
    align: Align,
    breaks: Breaks,
    /// An `http(s)` address the paragraph links to.
    link: Option<String>,
}

impl Para {
    pub(crate) fn new() -> Self {
        Self {
            runs: Vec::new(),
            align: Align::Left,
            breaks: Breaks::Words,
            link: None,
        }
    }

    /// One run of `text` in `style`.
    pub(crate) fn of(text: impl Into<String>, style: Style) -> Self {
        Self::new().then(text, style)
    }

    pub(crate) fn then(mut self, text: impl Into<String>, style: Style) -> Self {
        self.runs.push((text.into(), style));
        self
    }

    pub(crate) fn align(self, align: Align) -> Self {
        Self { align, ..self }
    }

    pub(crate) fn breaks(self, breaks: Breaks) -> Self {
        Self { breaks, ..self }
    }

    pub(crate) fn link(self, url: String) -> Self {
        Self {
            link: Some(url),
            ..self
        }
    }
}

/// Line pitch as a multiple of the font size.
const LINE_HEIGHT: f32 = 1.2;

/// A paragraph laid out at a width: parley's layout and the text it was built from (the PDF
/// writer maps each glyph back to its characters, so the text can be searched and copied).
pub(crate) struct Text {
    pub layout: Layout<Ink>,
    pub text: String,
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Text({:?})", self.text)
    }
}

/// Shared scratch space of one document's layout.
pub(crate) struct Typesetter {
    fonts: FontContext,
    scratch: LayoutContext<Ink>,
}

impl std::fmt::Debug for Typesetter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Typesetter")
    }
}

/// `text` with its control whitespace made plain: a tab (or vertical tab, form feed) becomes a
/// space, any line or paragraph separator a line break. Fonts have no glyph for the control
/// characters, and a PDF/A may not show a missing glyph.
fn plain_whitespace(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\t' | '\u{0B}' | '\u{0C}' => ' ',
            '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => '\n',
            c => c,
        })
        .collect()
}

fn break_after_plus(cx: LineBreakContext) -> Option<bool> {
    Some(cx.before == '+')
}

impl Typesetter {
    pub(crate) fn new(fonts: FontContext) -> Self {
        Self {
            fonts,
            scratch: LayoutContext::new(),
        }
    }

    /// Shapes `para`; lines are broken later, at a width.
    fn shape(&mut self, para: &Para) -> Text {
        let runs: Vec<(String, Style)> = para
            .runs
            .iter()
            .map(|(text, style)| (plain_whitespace(text), *style))
            .collect();
        let text: String = runs.iter().map(|(t, _)| t.as_str()).collect();
        let mut builder = self
            .scratch
            .ranged_builder(&mut self.fonts, &text, 1.0, false);
        builder.set_base_direction(BaseDirection::Ltr);
        if para.breaks == Breaks::AfterPlus {
            builder.set_line_break_override(Some(&break_after_plus));
        }
        builder.push_default(StyleProperty::OverflowWrap(OverflowWrap::Anywhere));
        // Runs of spaces print as one, as in HTML: a name typed with two spaces is not wider.
        builder.push_default(StyleProperty::WhiteSpaceCollapse(
            WhiteSpaceCollapse::Collapse,
        ));
        builder.push_default(StyleProperty::LineHeight(LineHeight::FontSizeRelative(
            LINE_HEIGHT,
        )));
        // The line box holds a strut of the paragraph's own size (as in CSS), not parley's
        // default of 16 px: the first run's size is the paragraph's.
        if let Some((_, first)) = para.runs.first() {
            builder.push_default(StyleProperty::FontSize(first.size));
        }
        let mut start = 0;
        for (run, style) in &runs {
            let range = start..start + run.len();
            start = range.end;
            let families: &[FontFamilyName<'static>] = match style.face {
                Face::Serif => &SERIF,
                Face::Mono => &MONO,
            };
            builder.push(FontFamily::from(families), range.clone());
            builder.push(StyleProperty::FontSize(style.size), range.clone());
            builder.push(
                StyleProperty::FontWeight(FontWeight::new(style.weight)),
                range.clone(),
            );
            if style.italic {
                builder.push(StyleProperty::FontStyle(FontStyle::Italic), range.clone());
            }
            if style.tracking != 0.0 {
                builder.push(StyleProperty::LetterSpacing(style.tracking), range.clone());
            }
            builder.push(StyleProperty::Brush(style.ink), range);
        }
        let layout = builder.build(&text);
        Text { layout, text }
    }

    /// The widest the paragraph is with no line broken but at its own line breaks.
    fn para_width(&mut self, para: &Para) -> f32 {
        let text = self.shape(para);
        // Rounded up a little: a line exactly as wide as its box must not break.
        text.layout.calculate_content_widths().max + 0.01
    }

    /// `para` set in lines at most `width` wide, as a frame `width` wide.
    pub(crate) fn para(&mut self, para: &Para, width: f32) -> Frame {
        let mut text = self.shape(para);
        text.layout.break_all_lines(Some(width));
        let alignment = match para.align {
            Align::Left => Alignment::Left,
            Align::Center => Alignment::Center,
            Align::Right => Alignment::Right,
        };
        text.layout.align(alignment, AlignmentOptions::default());
        let height = text.layout.height();
        let mut frame = Frame::new(width, height);
        if let Some(url) = &para.link {
            frame.push(
                0.0,
                0.0,
                Item::Link {
                    width: text.layout.width().min(width),
                    height,
                    url: url.clone(),
                },
            );
        }
        frame.push(0.0, 0.0, Item::Text(Rc::new(text)));
        frame
    }

    /// `blocks` one under the other, `width` wide.
    pub(crate) fn stack(&mut self, blocks: &[Block], width: f32) -> Frame {
        let mut frame = Frame::new(width, 0.0);
        for block in blocks {
            let child = self.block(block, width);
            let y = frame.height;
            frame.height += child.height;
            frame.place(0.0, y, child);
        }
        frame
    }

    /// One block, `width` wide.
    pub(crate) fn block(&mut self, block: &Block, width: f32) -> Frame {
        match block {
            Block::Para(para) => self.para(para, width),
            Block::Gap(height) => Frame::new(width, *height),
            Block::Rule { thickness, ink } => {
                let mut frame = Frame::new(width, *thickness);
                frame.push(
                    0.0,
                    thickness / 2.0,
                    Item::Line {
                        length: width,
                        thickness: *thickness,
                        ink: *ink,
                    },
                );
                frame
            }
            Block::Columns(grid) => self.grid(grid, width),
            Block::Boxed(boxed) => self.boxed(boxed, width),
            Block::Stack(blocks) => self.stack(blocks, width),
        }
    }

    /// The narrowest `block` can be without breaking a line of it: its widest paragraph's
    /// natural width (used for `Track::Auto` columns and shrink-wrapped boxes).
    fn natural_width(&mut self, block: &Block) -> f32 {
        match block {
            Block::Para(para) => self.para_width(para),
            Block::Gap(_) | Block::Rule { .. } => 0.0,
            Block::Columns(grid) => {
                let widths: Vec<f32> = grid.cells.iter().map(|c| self.natural_width(c)).collect();
                let columns = grid.tracks.len().max(1);
                let mut total = grid.gutter * (columns - 1) as f32;
                for column in 0..columns {
                    total += widths
                        .iter()
                        .skip(column)
                        .step_by(columns)
                        .fold(0.0, |a: f32, &w| a.max(w));
                }
                total
            }
            Block::Boxed(boxed) => self.boxed_width(boxed),
            Block::Stack(blocks) => blocks
                .iter()
                .map(|b| self.natural_width(b))
                .fold(0.0, f32::max),
        }
    }

    /// A box's natural width: its content's and its padding.
    fn boxed_width(&mut self, boxed: &Boxed) -> f32 {
        2.0 * boxed.inset.0
            + boxed
                .content
                .iter()
                .map(|b| self.natural_width(b))
                .fold(0.0, f32::max)
    }

    /// The widths of `tracks` sharing `width`, `gutter` apart, fitting `cells` (row-major).
    pub(crate) fn track_widths<B: Borrow<Block>>(
        &mut self,
        tracks: &[Track],
        cells: &[B],
        gutter: f32,
        width: f32,
    ) -> Vec<f32> {
        let columns = tracks.len().max(1);
        let sized: Vec<Option<f32>> = tracks
            .iter()
            .enumerate()
            .map(|(i, track)| match *track {
                Track::Fixed(w) => Some(w),
                Track::Auto => Some(
                    cells
                        .iter()
                        .skip(i)
                        .step_by(columns)
                        .map(|c| self.natural_width(c.borrow()))
                        .fold(0.0, f32::max),
                ),
                Track::Fr(_) => None,
            })
            .collect();
        let fixed: f32 = gutter * (columns - 1) as f32 + sized.iter().flatten().sum::<f32>();
        let fractions: f32 = tracks
            .iter()
            .map(|t| if let Track::Fr(f) = *t { f } else { 0.0 })
            .sum();
        let free = (width - fixed).max(0.0);
        tracks
            .iter()
            .zip(sized)
            .map(|(track, size)| match (*track, size) {
                (_, Some(w)) => w,
                (Track::Fr(f), None) if fractions > 0.0 => free * f / fractions,
                _ => 0.0,
            })
            .collect()
    }

    /// A grid: `cells` row-major in `tracks`' columns, each row as tall as its tallest cell.
    fn grid(&mut self, grid: &Grid, width: f32) -> Frame {
        let widths = self.track_widths(&grid.tracks, &grid.cells, grid.gutter, width);
        let mut frame = Frame::new(width, 0.0);
        for (r, row) in grid.cells.chunks(widths.len()).enumerate() {
            if r > 0 {
                frame.height += grid.row_gap;
            }
            let frames: Vec<Frame> = row
                .iter()
                .zip(&widths)
                .map(|(cell, &w)| self.block(cell, w))
                .collect();
            let y = frame.height;
            let height = frames.iter().map(|f| f.height).fold(0.0, f32::max);
            let mut x = 0.0;
            for (cell, w) in frames.into_iter().zip(&widths) {
                frame.place(x, y, cell);
                x += w + grid.gutter;
            }
            frame.height += height;
        }
        frame
    }

    /// A box around `boxed.content`: fill, an outline and rules above and below.
    fn boxed(&mut self, boxed: &Boxed, width: f32) -> Frame {
        let (inset_x, inset_y) = boxed.inset;
        let outer = if boxed.shrink {
            self.boxed_width(boxed).min(width)
        } else {
            width
        };
        let inner = self.stack(&boxed.content, (outer - 2.0 * inset_x).max(1.0));
        let height = inner.height + 2.0 * inset_y;
        let mut frame = Frame::new(outer, height);
        if boxed.fill.is_some() || boxed.outline.is_some() {
            frame.push(
                0.0,
                0.0,
                Item::Rect {
                    width: outer,
                    height,
                    fill: boxed.fill,
                    outline: boxed.outline,
                    radius: boxed.radius,
                },
            );
        }
        for (y, rule) in [(0.0, boxed.rule_above), (height, boxed.rule_below)] {
            if let Some((thickness, ink)) = rule {
                frame.push(
                    0.0,
                    y,
                    Item::Line {
                        length: outer,
                        thickness,
                        ink,
                    },
                );
            }
        }
        frame.place(inset_x, inset_y, inner);
        frame
    }
}

/// A column's width in a grid or table.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Track {
    /// Points.
    Fixed(f32),
    /// As wide as the column's widest content.
    Auto,
    /// A share of what the other columns leave.
    Fr(f32),
}

/// Cells in columns (row-major).
#[derive(Clone, Debug)]
pub(crate) struct Grid {
    pub tracks: Vec<Track>,
    pub gutter: f32,
    pub row_gap: f32,
    pub cells: Vec<Block>,
}

/// Content in a box.
#[derive(Clone, Debug, Default)]
pub(crate) struct Boxed {
    pub content: Vec<Block>,
    /// Horizontal and vertical padding, in points.
    pub inset: (f32, f32),
    pub fill: Option<Ink>,
    /// Outline thickness and colour.
    pub outline: Option<(f32, Ink)>,
    pub radius: f32,
    pub rule_above: Option<(f32, Ink)>,
    pub rule_below: Option<(f32, Ink)>,
    /// As wide as the content, rather than all the width there is.
    pub shrink: bool,
}

/// Something laid out in the flow of a page.
#[derive(Clone, Debug)]
pub(crate) enum Block {
    Para(Para),
    /// Empty space, in points.
    Gap(f32),
    /// A horizontal rule across the width.
    Rule {
        thickness: f32,
        ink: Ink,
    },
    Columns(Grid),
    Boxed(Boxed),
    Stack(Vec<Block>),
}

impl From<Para> for Block {
    fn from(para: Para) -> Self {
        Block::Para(para)
    }
}

/// What a frame draws, at a position relative to its frame's top left.
#[derive(Clone, Debug)]
pub(crate) enum Item {
    Text(Rc<Text>),
    /// A horizontal line from the position, centred on it vertically.
    Line {
        length: f32,
        thickness: f32,
        ink: Ink,
    },
    Rect {
        width: f32,
        height: f32,
        fill: Option<Ink>,
        outline: Option<(f32, Ink)>,
        radius: f32,
    },
    /// A clickable area that opens `url`.
    Link {
        width: f32,
        height: f32,
        url: String,
    },
}

/// Laid-out content: its size and what it draws, in drawing order (which is also the order a
/// PDF reader extracts the text in).
#[derive(Clone)]
pub(crate) struct Frame {
    pub width: f32,
    pub height: f32,
    pub items: Vec<(f32, f32, Item)>,
}

impl Frame {
    pub(crate) fn new(width: f32, height: f32) -> Self {
        Self {
            width,
            height,
            items: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, x: f32, y: f32, item: Item) {
        self.items.push((x, y, item));
    }

    /// Draws `child` with its top left at (`x`, `y`).
    pub(crate) fn place(&mut self, x: f32, y: f32, child: Frame) {
        self.items.extend(
            child
                .items
                .into_iter()
                .map(|(cx, cy, item)| (x + cx, y + cy, item)),
        );
    }

    /// Every laid-out paragraph the frame draws.
    pub(crate) fn texts(&self) -> impl Iterator<Item = &Text> {
        self.items.iter().filter_map(|(_, _, item)| match item {
            Item::Text(text) => Some(text.as_ref()),
            _ => None,
        })
    }
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Frame({} x {}, {} items)",
            self.width,
            self.height,
            self.items.len()
        )
    }
}
