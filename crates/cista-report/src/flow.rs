//! The flow of a document cut into pages: pieces that cannot break are placed one under the
//! other, a piece that does not fit starts the next page, a heading stays with what follows it,
//! and a table's header is repeated above its rows on every page they run onto.

use crate::layout::Frame;
use std::rc::Rc;

/// One unbreakable piece of the flow.
#[derive(Debug)]
pub(crate) struct Piece {
    pub frame: Frame,
    /// Space above it, dropped at the top of a page.
    pub above: f32,
    /// Kept on the same page as the piece after it (a heading with its first lines).
    pub sticky: bool,
    /// Drawn first when this piece starts a page (a table's header above a row).
    pub header: Option<Rc<Frame>>,
}

impl Piece {
    pub(crate) fn new(frame: Frame, above: f32) -> Self {
        Self {
            frame,
            above,
            sticky: false,
            header: None,
        }
    }

    pub(crate) fn sticky(self) -> Self {
        Self {
            sticky: true,
            ..self
        }
    }

    fn height_at_top(&self) -> f32 {
        self.frame.height + self.header.as_ref().map_or(0.0, |h| h.height)
    }
}

/// Cuts `pieces` into pages whose body is `width` × `height`: a piece goes on the next page
/// when it does not fit, with the sticky pieces before it when they and it fit a page together.
pub(crate) fn paginate(pieces: &[Piece], width: f32, height: f32) -> Vec<Frame> {
    let mut pages = Vec::new();
    let mut page = Frame::new(width, height);
    let mut y: f32 = 0.0;
    for (i, piece) in pieces.iter().enumerate() {
        // The run of pieces that must share a page: this one, the sticky ones after it, and
        // the piece the last of them sticks to.
        let run: Vec<&Piece> = pieces
            .iter()
            .skip(i)
            .scan(true, |previous_sticks, p| {
                let take = *previous_sticks;
                *previous_sticks = p.sticky;
                take.then_some(p)
            })
            .collect();
        let together = |from_top: bool| -> f32 {
            run.iter()
                .enumerate()
                .map(|(k, p)| {
                    if k == 0 && from_top {
                        p.height_at_top()
                    } else {
                        p.above + p.frame.height
                    }
                })
                .sum()
        };
        let at_top = y == 0.0;
        let fits_alone = y + piece.above + piece.frame.height <= height;
        let fits_here = y + together(false) <= height;
        let fits_a_page = together(true) <= height;
        if !at_top && (!fits_alone || (!fits_here && fits_a_page)) {
            pages.push(std::mem::replace(&mut page, Frame::new(width, height)));
            y = 0.0;
        }
        if y == 0.0 {
            if let Some(header) = &piece.header {
                page.place(0.0, 0.0, (**header).clone());
                y += header.height;
            }
        } else {
            y += piece.above;
        }
        page.place(0.0, y, piece.frame.clone());
        y += piece.frame.height;
    }
    pages.push(page);
    pages
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    fn piece(height: f32, above: f32) -> Piece {
        Piece::new(Frame::new(100.0, height), above)
    }

    /// The top of each piece's frame on its page, as (page, y), read back from the pages.
    fn tops(pages: &[Frame]) -> Vec<(usize, f32)> {
        pages
            .iter()
            .enumerate()
            .flat_map(|(i, p)| p.items.iter().map(move |(_, y, _)| (i, *y)))
            .collect()
    }

    /// A piece whose frame draws one mark at its top, so it can be found on the pages.
    fn marked(height: f32, above: f32) -> Piece {
        let mut p = piece(height, above);
        p.frame.push(
            0.0,
            0.0,
            crate::layout::Item::Link {
                width: 1.0,
                height: 1.0,
                url: String::new(),
            },
        );
        p
    }

    #[test]
    fn pieces_fill_a_page_then_the_next_without_space_above_at_the_top() {
        let pieces = vec![marked(40.0, 0.0), marked(40.0, 10.0), marked(40.0, 10.0)];
        let pages = paginate(&pieces, 100.0, 100.0);
        assert_eq!(pages.len(), 2);
        assert_eq!(tops(&pages), vec![(0, 0.0), (0, 50.0), (1, 0.0)]);
    }

    #[test]
    fn a_heading_goes_to_the_next_page_with_what_it_sticks_to() {
        let pieces = vec![
            marked(60.0, 0.0),
            marked(10.0, 5.0).sticky(),
            marked(30.0, 0.0),
        ];
        let pages = paginate(&pieces, 100.0, 100.0);
        // 60 + 5 + 10 fits, but the heading would be left alone at the bottom.
        assert_eq!(tops(&pages), vec![(0, 0.0), (1, 0.0), (1, 10.0)]);
    }

    #[test]
    fn a_table_row_starting_a_page_has_the_header_above_it() {
        let header = Rc::new({
            let mut f = Frame::new(100.0, 8.0);
            f.push(
                0.0,
                0.0,
                crate::layout::Item::Link {
                    width: 1.0,
                    height: 1.0,
                    url: "header".to_owned(),
                },
            );
            f
        });
        let mut rows: Vec<Piece> = (0..12).map(|_| marked(10.0, 0.0)).collect();
        for row in &mut rows {
            row.header = Some(header.clone());
        }
        let pages = paginate(&rows, 100.0, 100.0);
        assert_eq!(pages.len(), 2);
        // Each page starts with the header: nine rows fit under it on the first page (8 + 90),
        // the other three go under it on the second.
        assert_eq!(pages[0].items.len(), 10);
        let second = tops(&pages[1..]);
        assert_eq!(second, vec![(0, 0.0), (0, 8.0), (0, 18.0), (0, 28.0)]);
    }

    #[test]
    fn a_piece_taller_than_a_page_gets_a_page_of_its_own_and_nothing_is_lost() {
        let pieces = vec![marked(10.0, 0.0), marked(250.0, 4.0), marked(10.0, 4.0)];
        let pages = paginate(&pieces, 100.0, 100.0);
        assert_eq!(tops(&pages), vec![(0, 0.0), (1, 0.0), (2, 0.0)]);
    }
}
