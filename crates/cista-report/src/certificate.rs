//! The certified results, drawn: title block, the ballot, participation, each contest with its
//! table, the integrity figures and the signature block, on US Letter pages with a footer.
//! Names and titles written by people are only ever text in a paragraph: nothing in them is
//! read as markup, so they print literally whatever characters they hold.

use crate::flow::{Piece, paginate};
use crate::layout::{
    Align, Block, Boxed, Breaks, Frame, Grid, Ink, Para, Style, Track, Typesetter,
};
use crate::pdf::PageSize;
use crate::results::{ContestView, ElectionView, Fact, Requirement, ResolutionView, View};
use std::rc::Rc;

pub(crate) const INK: Ink = Ink(0x1b, 0x1f, 0x24);
pub(crate) const MUTED: Ink = Ink(0x5b, 0x64, 0x70);
pub(crate) const FAINT: Ink = Ink(0xc9, 0xce, 0xd6);
pub(crate) const ACCENT: Ink = Ink(0x1d, 0x35, 0x57);
pub(crate) const GOOD: Ink = Ink(0x1e, 0x6b, 0x3a);
pub(crate) const BAD: Ink = Ink(0x9b, 0x1c, 0x1c);
pub(crate) const PANEL: Ink = Ink(0xf3, 0xf5, 0xf8);

/// US Letter.
pub(crate) const PAGE: PageSize = PageSize {
    width: 612.0,
    height: 792.0,
};
pub(crate) const LEFT: f32 = 0.95 * 72.0;
pub(crate) const RIGHT: f32 = 0.95 * 72.0;
pub(crate) const TOP: f32 = 0.8 * 72.0;
pub(crate) const BOTTOM: f32 = 0.95 * 72.0;
pub(crate) const BODY: f32 = PAGE.width - LEFT - RIGHT;

/// Body text.
pub(crate) fn body() -> Style {
    Style::serif(10.5, INK)
}

/// Table cells' padding (horizontal, vertical).
const CELL: (f32, f32) = (5.0, 2.5);

/// The certificate's pages, each a whole page drawn from its top left.
pub(crate) fn pages(view: &View, typesetter: &mut Typesetter) -> Vec<Frame> {
    let pieces = pieces(view, typesetter);
    let footer = format!(
        "Certified results, ballot {}. Generated {} by Cista.",
        view.reference, view.generated_at
    );
    letter_pages(&pieces, &footer, typesetter)
}

/// `pieces` cut into US Letter pages with the margins of Cista's documents, each with
/// `footer` and its page number at the bottom.
pub(crate) fn letter_pages(
    pieces: &[Piece],
    footer: &str,
    typesetter: &mut Typesetter,
) -> Vec<Frame> {
    let bodies = paginate(pieces, BODY, PAGE.height - TOP - BOTTOM);
    let count = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut page = Frame::new(PAGE.width, PAGE.height);
            page.place(LEFT, TOP, body);
            let footer = footer_block(footer, i + 1, count, typesetter);
            page.place(LEFT, PAGE.height - BOTTOM + 30.0, footer);
            page
        })
        .collect()
}

fn footer_block(line: &str, page: usize, of: usize, t: &mut Typesetter) -> Frame {
    let small = Style::serif(8.0, MUTED);
    t.stack(
        &[
            Block::Rule {
                thickness: 0.4,
                ink: FAINT,
            },
            Block::Gap(3.0),
            Block::Columns(Grid {
                tracks: vec![Track::Fr(1.0), Track::Auto],
                gutter: 12.0,
                row_gap: 0.0,
                cells: vec![
                    Para::of(line, small).into(),
                    Para::of(format!("Page {page} of {of}"), small).into(),
                ],
            }),
        ],
        BODY,
    )
}

/// The flow of the certificate, cut into the pieces pages are made of.
fn pieces(view: &View, t: &mut Typesetter) -> Vec<Piece> {
    let mut out = Vec::new();
    out.push(Piece::new(t.block(&title_block(view), BODY), 0.0));
    out.push(Piece::new(
        t.para(
            &Para::of(
                "This certificate records the outcome of the ballot below as tallied by Cista \
                 when voting closed. The figures are exact; percentages are rounded to two \
                 decimal places, while quorum, thresholds and outcomes are decided on the exact \
                 figures.",
                Style::serif(9.5, MUTED),
            ),
            BODY,
        ),
        10.0,
    ));

    out.push(Piece::new(t.block(&section("The ballot"), BODY), 18.0).sticky());
    let ballot = facts(
        vec![
            ("Ballot reference", text(&view.reference)),
            ("Voting opened", text(&view.opens)),
            ("Voting closed", text(&view.closes)),
            (
                "Time zone",
                text(&format!("{} (all times in this zone)", view.zone)),
            ),
            ("Tallied and sealed", text(&view.closed_at)),
            ("Secrecy", text(view.secrecy)),
            ("Counting", text(view.counting)),
        ],
        150.0,
    );
    out.push(Piece::new(t.block(&ballot, BODY), 8.0));

    out.push(Piece::new(t.block(&section("Participation"), BODY), 18.0).sticky());
    let half = (BODY - 22.0) / 2.0;
    let turnout = Block::Columns(Grid {
        tracks: vec![Track::Fixed(half), Track::Fixed(half)],
        gutter: 22.0,
        row_gap: 0.0,
        cells: vec![
            figures_table(t, half, "Turnout", "Figure", &view.participation),
            figures_table(t, half, "By channel", "Units", &view.channels),
        ],
    });
    out.push(Piece::new(t.block(&turnout, BODY), 8.0));
    let mut rules = vec![
        ("Quorum required", text(&view.quorum.rule)),
        ("Took part", text(&view.quorum.measured)),
        ("Quorum reached", yes_no(&view.quorum)),
    ];
    if let Some(min) = &view.min_turnout {
        rules.push(("Minimum turnout", text(&min.rule)));
        rules.push(("Minimum turnout reached", yes_no(min)));
    }
    out.push(Piece::new(t.block(&facts(rules, 150.0), BODY), 12.0));

    out.push(Piece::new(t.block(&section("Results"), BODY), 18.0).sticky());
    for (i, contest) in view.contests.iter().enumerate() {
        contest_pieces(view, contest, if i == 0 { 8.0 } else { 16.0 }, t, &mut out);
    }

    // The signature goes on the page that holds the figures it certifies, never on a page of
    // its own (a lone signature page could be put behind any results).
    out.push(Piece::new(t.block(&integrity(view), BODY), 20.0).sticky());
    out.push(Piece::new(t.block(&certification(), BODY), 20.0));
    out
}

pub(crate) fn text(s: &str) -> Block {
    Para::of(s, body()).into()
}

fn title_block(view: &View) -> Block {
    document_title(&view.organization, "Certified results", &view.title)
}

/// A document's title block: the organization, what the document is, and what it is about,
/// centred between two rules.
pub(crate) fn document_title(organization: &str, heading: &str, subject: &str) -> Block {
    Block::Boxed(Boxed {
        content: vec![
            Para::of(organization, Style::serif(12.0, MUTED))
                .align(Align::Center)
                .into(),
            Block::Gap(2.0),
            Para::of(heading, Style::serif(25.0, ACCENT).semibold())
                .align(Align::Center)
                .into(),
            Para::of(subject, Style::serif(14.5, INK).italic())
                .align(Align::Center)
                .into(),
        ],
        inset: (0.0, 12.0),
        rule_above: Some((2.0, ACCENT)),
        rule_below: Some((0.6, ACCENT)),
        ..Boxed::default()
    })
}

/// A section heading: small capitals in the accent colour over a rule.
pub(crate) fn section(title: &str) -> Block {
    Block::Stack(vec![
        Para::of(
            title.to_uppercase(),
            Style::serif(9.0, ACCENT).bold().tracking(0.54),
        )
        .into(),
        Block::Gap(1.0),
        Block::Rule {
            thickness: 0.7,
            ink: ACCENT,
        },
    ])
}

/// Label / value pairs in two columns, the labels `label_width` wide.
pub(crate) fn facts(rows: Vec<(&str, Block)>, label_width: f32) -> Block {
    Block::Columns(Grid {
        tracks: vec![Track::Fixed(label_width), Track::Fr(1.0)],
        gutter: 12.0,
        row_gap: 4.0,
        cells: rows
            .into_iter()
            .flat_map(|(label, value)| [Para::of(label, body().ink(MUTED)).into(), value])
            .collect(),
    })
}

fn yes_no(requirement: &Requirement) -> Block {
    let (word, ink) = if requirement.reached {
        ("Yes", GOOD)
    } else {
        ("No", BAD)
    };
    Para::of(word, body().bold().ink(ink)).into()
}

/// An outcome in a coloured outline: `PASSED`, `NOT VALID`, ….
pub(crate) fn mark(ok: bool, label: &str) -> Block {
    let ink = if ok { GOOD } else { BAD };
    Block::Boxed(Boxed {
        content: vec![Para::of(label, Style::serif(9.5, ink).bold()).into()],
        inset: (6.0, 3.0),
        outline: Some((1.0, ink)),
        radius: 2.0,
        shrink: true,
        ..Boxed::default()
    })
}

/// A cell's content with the cell's padding.
fn cell(para: Para) -> Block {
    Block::Boxed(Boxed {
        content: vec![para.into()],
        inset: CELL,
        ..Boxed::default()
    })
}

/// A table's parts: its header (rules around it) and its rows (the last with the closing
/// rule), each a block as wide as the table.
pub(crate) struct Table {
    pub(crate) header: Block,
    pub(crate) rows: Vec<Block>,
}

impl Table {
    /// A table `width` wide; `Auto` columns fit the widest cell of any row or the header.
    pub(crate) fn new(
        t: &mut Typesetter,
        width: f32,
        columns: &[(Track, Align)],
        header: &[&str],
        rows: Vec<Vec<Para>>,
    ) -> Self {
        let tracks: Vec<Track> = columns.iter().map(|(track, _)| *track).collect();
        let aligned = |cells: Vec<Para>| -> Vec<Block> {
            cells
                .into_iter()
                .zip(columns)
                .map(|(para, (_, align))| cell(para.align(*align)))
                .collect()
        };
        let head = aligned(
            header
                .iter()
                .map(|h| Para::of(*h, Style::serif(9.0, INK).bold()))
                .collect(),
        );
        // Every row is laid out in the same columns: widths are settled over all rows.
        let all_rows: Vec<Vec<Block>> = rows.into_iter().map(aligned).collect();
        let every_cell: Vec<&Block> = head.iter().chain(all_rows.iter().flatten()).collect();
        let tracks: Vec<Track> = t
            .track_widths(&tracks, &every_cell, 0.0, width)
            .into_iter()
            .map(Track::Fixed)
            .collect();
        let grid = |cells: Vec<Block>| {
            Block::Columns(Grid {
                tracks: tracks.clone(),
                gutter: 0.0,
                row_gap: 0.0,
                cells,
            })
        };
        let count = all_rows.len();
        Table {
            header: Block::Stack(vec![rule(0.9), grid(head), rule(0.5)]),
            rows: all_rows
                .into_iter()
                .enumerate()
                .map(|(i, cells)| {
                    if i + 1 == count {
                        Block::Stack(vec![grid(cells), rule(0.9)])
                    } else {
                        grid(cells)
                    }
                })
                .collect(),
        }
    }

    /// The whole table as one block.
    pub(crate) fn block(self) -> Block {
        let mut parts = vec![self.header];
        parts.extend(self.rows);
        Block::Stack(parts)
    }
}

fn rule(thickness: f32) -> Block {
    Block::Rule {
        thickness,
        ink: INK,
    }
}

/// A table of figures with their shares (participation, channels), `width` wide.
fn figures_table(
    t: &mut Typesetter,
    width: f32,
    what: &str,
    figure: &str,
    facts: &[Fact],
) -> Block {
    let columns = [
        (Track::Fr(1.0), Align::Left),
        (Track::Auto, Align::Right),
        (Track::Auto, Align::Right),
    ];
    let rows = facts
        .iter()
        .map(|f| {
            vec![
                Para::of(f.label, body()),
                Para::of(&f.value, body()),
                Para::of(&f.share, body()),
            ]
        })
        .collect();
    Table::new(t, width, &columns, &[what, figure, "Share"], rows).block()
}

/// A contest before layout: what its heading, table and closing sentences say.
struct Contest<'a> {
    number: usize,
    title: &'a str,
    /// What is decided and how, under the title.
    subtitle: String,
    outcome: Block,
    table: Table,
    /// The sentences under the table, each with its style.
    notes: Vec<Para>,
}

/// A resolution: the answers' figures and how the threshold was met or missed.
fn resolution<'a>(view: &View, r: &'a ResolutionView, t: &mut Typesetter) -> Contest<'a> {
    let mut columns = vec![
        (Track::Fr(1.0), Align::Left),
        (Track::Fixed(70.0), Align::Right),
    ];
    let mut header = vec!["Answer", "Ballots"];
    if view.weighted {
        columns.push((Track::Fixed(90.0), Align::Right));
        header.push("Voting interest");
    }
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![Para::of(row.label, body()), Para::of(&row.ballots, body())];
            if view.weighted {
                cells.push(Para::of(&row.weight, body()));
            }
            cells
        })
        .collect();
    Contest {
        number: r.number,
        title: &r.title,
        subtitle: format!("Resolution. Passes with {}.", r.threshold),
        outcome: mark(r.passed, &r.outcome),
        table: Table::new(t, BODY, &columns, &header, rows),
        notes: vec![note(&r.measured), note(&r.reason)],
    }
}

/// An election: the candidates ranked, who is elected, ties and open seats.
fn election<'a>(view: &View, e: &'a ElectionView, t: &mut Typesetter) -> Contest<'a> {
    let votes = if view.weighted {
        vec![
            (Track::Fixed(56.0), Align::Right, "Ballots"),
            (Track::Fixed(90.0), Align::Right, "Voting interest"),
        ]
    } else {
        vec![(Track::Fixed(70.0), Align::Right, "Votes")]
    };
    let mut columns = vec![
        (Track::Fixed(36.0), Align::Right),
        (Track::Fr(1.0), Align::Left),
    ];
    let mut header = vec!["Rank", "Candidate"];
    for (track, align, title) in votes {
        columns.push((track, align));
        header.push(title);
    }
    columns.push((Track::Fixed(62.0), Align::Left));
    header.push("Result");
    let rows = e
        .candidates
        .iter()
        .map(|r| {
            let status = match r.status.as_str() {
                "ELECTED" => body().bold().ink(GOOD),
                "TIED" => body().bold().ink(BAD),
                _ => body(),
            };
            let mut cells = vec![
                Para::of(&r.rank, body()),
                Para::of(&r.name, body()),
                Para::of(&r.ballots, body()),
            ];
            if view.weighted {
                cells.push(Para::of(&r.weight, body()));
            }
            cells.push(Para::of(&r.status, status));
            cells
        })
        .collect();
    let mut notes = vec![note(&format!(
        "Seats: {}. Elected: {}. Blank ballots: {} of {} counted.",
        e.seats, e.elected, e.blank, e.ballots
    ))];
    // The tie is the one note that is a warning: it is set in the colour of a bad outcome.
    notes.extend(
        e.tie
            .iter()
            .map(|tie| Para::of(tie, Style::serif(9.5, BAD))),
    );
    notes.extend(e.open_seats.iter().map(|open| note(open)));
    notes.push(note(&e.validity));
    let seat_word = if e.seats == "1" { "seat" } else { "seats" };
    Contest {
        number: e.number,
        title: &e.title,
        subtitle: format!("Election of {} {seat_word}, by plurality.", e.seats),
        outcome: mark(e.valid, if e.valid { "VALID" } else { "NOT VALID" }),
        table: Table::new(t, BODY, &columns, &header, rows),
        notes,
    }
}

pub(crate) fn note(text: &str) -> Para {
    Para::of(text, Style::serif(9.5, INK))
}

/// A contest: its heading (kept with the table), its table (the header repeated on each page
/// it runs onto), and the sentences that explain the outcome.
fn contest_pieces(
    view: &View,
    contest: &ContestView,
    above: f32,
    t: &mut Typesetter,
    out: &mut Vec<Piece>,
) {
    let c = match contest {
        ContestView::Resolution(r) => resolution(view, r, t),
        ContestView::Election(e) => election(view, e, t),
    };
    let heading = Block::Columns(Grid {
        tracks: vec![Track::Auto, Track::Fr(1.0), Track::Auto],
        gutter: 6.0,
        row_gap: 0.0,
        cells: vec![
            Para::of(format!("{}.", c.number), Style::serif(11.5, INK).bold()).into(),
            Block::Stack(vec![
                Para::of(c.title, Style::serif(11.5, INK).bold()).into(),
                Para::of(c.subtitle, Style::serif(9.0, MUTED)).into(),
            ]),
            c.outcome,
        ],
    });
    out.push(Piece::new(t.block(&heading, BODY), above).sticky());
    let header = Rc::new(t.block(&c.table.header, BODY));
    out.push(Piece::new((*header).clone(), 7.0).sticky());
    for row in &c.table.rows {
        let mut piece = Piece::new(t.block(row, BODY), 0.0);
        piece.header = Some(header.clone());
        out.push(piece);
    }
    let notes: Vec<Block> = c.notes.into_iter().map(Block::Para).collect();
    out.push(Piece::new(t.stack(&notes, BODY), 3.0));
}

/// The figures a recount is checked against, kept on one page.
fn integrity(view: &View) -> Block {
    let i = &view.integrity;
    let hex = |s: &str| -> Block { Para::of(s, Style::mono(7.6, INK)).into() };
    let key = i
        .key_parts
        .iter()
        .fold(Para::new().breaks(Breaks::AfterPlus), |p, part| {
            p.then(part, Style::mono(7.6, INK))
        });
    let bulletin = if i.bulletin_link {
        Para::of(&i.bulletin_url, body().ink(ACCENT)).link(i.bulletin_url.clone())
    } else {
        Para::of(&i.bulletin_url, body())
    };
    Block::Stack(vec![
        section("Integrity and recount"),
        Block::Gap(8.0),
        facts(
            vec![
                ("Ballots counted", text(&i.ballots_counted)),
                ("Ballot list SHA-256", hex(&i.ballot_list_sha256)),
                ("Merkle tree root (SHA-256)", hex(&i.root_sha256)),
                (
                    "Merkle tree size",
                    text(&format!("{} ballots", i.tree_size)),
                ),
                ("Ballot definition SHA-256", hex(&i.definition_sha256)),
                ("Instance verifier key id", hex(&i.key_id)),
                ("Instance verifier key", key.into()),
                ("Public bulletin", bulletin.into()),
            ],
            150.0,
        ),
        Block::Gap(6.0),
        Block::Boxed(Boxed {
            content: vec![
                Para::of(
                    "Anyone can recount: download the bundle from the bulletin and run ",
                    Style::serif(9.5, INK),
                )
                .then("cista verify-election BUNDLE", Style::mono(8.5, INK))
                .then(
                    ". It checks the signature on the checkpoint, every ballot's inclusion in \
                     the Merkle tree, the ballot list hash, and that recounting the published \
                     ballots gives the results above.",
                    Style::serif(9.5, INK),
                )
                .into(),
            ],
            inset: (8.0, 8.0),
            fill: Some(PANEL),
            radius: 2.0,
            ..Boxed::default()
        }),
    ])
}

/// The election official's statement and the lines to sign on.
fn certification() -> Block {
    let line = |label: &str| {
        Block::Stack(vec![
            Block::Rule {
                thickness: 0.6,
                ink: INK,
            },
            Block::Gap(4.0),
            Para::of(label, Style::serif(8.5, MUTED)).into(),
        ])
    };
    Block::Stack(vec![
        section("Certification"),
        Block::Gap(8.0),
        text(
            "I certify that the results above are the results of this ballot as tallied at its close.",
        ),
        Block::Gap(30.0),
        Block::Columns(Grid {
            tracks: vec![Track::Fr(1.0), Track::Fr(1.0)],
            gutter: 28.0,
            row_gap: 34.0,
            cells: vec![
                line("Name of the election official / secretary"),
                line("Title"),
                line("Signature"),
                line("Date"),
            ],
        }),
    ])
}
