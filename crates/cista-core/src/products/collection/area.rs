//! The area filter of the review portal (issue 13, item 6): a bounding box in WGS 84 degrees,
//! its south, west, north and east edges. Parsed once: a latitude outside −90..90, a longitude
//! outside −180..180, a value that is no number, or a south edge north of the north edge is an
//! `invalid_input` naming the edge. A west edge east of the east edge is a box that crosses the
//! antimeridian (180°), as RFC 7946 §5.2 reads a bounding box: from 170 to −170 is the 20
//! degrees around the date line, not the 340 degrees the other way.

use crate::{Error, Result};
use std::fmt;

/// A bounding box; its edges are inclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    south: f64,
    west: f64,
    north: f64,
    east: f64,
}

// Every edge is finite (the constructor refuses NaN), so equality is an equivalence.
impl Eq for Area {}

fn edge(name: &'static str, value: f64, limit: f64) -> Result<f64> {
    if value.is_finite() && (-limit..=limit).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            name,
            format!("must be a number of degrees from -{limit} to {limit}"),
        ))
    }
}

impl Area {
    /// The box with these edges, in degrees.
    pub fn new(south: f64, west: f64, north: f64, east: f64) -> Result<Self> {
        let south = edge("south", south, 90.0)?;
        let north = edge("north", north, 90.0)?;
        let west = edge("west", west, 180.0)?;
        let east = edge("east", east, 180.0)?;
        if south > north {
            return Err(Error::invalid(
                "south",
                "must not be north of the north edge",
            ));
        }
        Ok(Self {
            south,
            west,
            north,
            east,
        })
    }

    /// The box named by four texts, as a form or a command line gives them; all four must be
    /// given (an edge left empty is named).
    pub fn parse(south: &str, west: &str, north: &str, east: &str) -> Result<Self> {
        let number = |name: &'static str, text: &str| {
            let text = text.trim();
            if text.is_empty() {
                return Err(Error::invalid(
                    name,
                    "is missing: give all four edges of the area, or none",
                ));
            }
            text.parse::<f64>()
                .map_err(|_| Error::invalid(name, "must be a number of degrees, such as 45.52"))
        };
        Self::new(
            number("south", south)?,
            number("west", west)?,
            number("north", north)?,
            number("east", east)?,
        )
    }

    /// The box from `south,west,north,east` (the order of RFC 7946's `bbox`, latitude first as
    /// people say it: the command line's `--area`).
    pub fn parse_list(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split(',').collect();
        match parts.as_slice() {
            [south, west, north, east] => Self::parse(south, west, north, east),
            _ => Err(Error::invalid(
                "area",
                "give four numbers: south,west,north,east (degrees)",
            )),
        }
    }

    pub fn south(&self) -> f64 {
        self.south
    }

    pub fn west(&self) -> f64 {
        self.west
    }

    pub fn north(&self) -> f64 {
        self.north
    }

    pub fn east(&self) -> f64 {
        self.east
    }

    /// Whether the box crosses the antimeridian (its west edge is east of its east edge).
    pub fn crosses_antimeridian(&self) -> bool {
        self.west > self.east
    }

    /// Whether the point at `latitude`, `longitude` lies in the box (edges included).
    pub fn contains(&self, latitude: f64, longitude: f64) -> bool {
        let across = if self.crosses_antimeridian() {
            longitude >= self.west || longitude <= self.east
        } else {
            (self.west..=self.east).contains(&longitude)
        };
        (self.south..=self.north).contains(&latitude) && across
    }
}

impl fmt::Display for Area {
    /// `south,west,north,east`, as `parse_list` reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.south, self.west, self.north, self.east
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Error) -> String {
        match e {
            Error::InvalidInput { field, .. } => field,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_box_holds_its_edges_and_what_lies_between() {
        let area = Area::new(45.4, -122.8, 45.6, -122.5).unwrap();
        assert!(area.contains(45.5, -122.6));
        assert!(area.contains(45.4, -122.8) && area.contains(45.6, -122.5));
        assert!(!area.contains(45.7, -122.6));
        assert!(!area.contains(45.5, -122.4));
        assert!(!area.crosses_antimeridian());
    }

    #[test]
    fn a_box_across_the_antimeridian_holds_both_sides_of_it() {
        let area = Area::new(-20.0, 170.0, -10.0, -170.0).unwrap();
        assert!(area.crosses_antimeridian());
        assert!(area.contains(-15.0, 175.0) && area.contains(-15.0, -175.0));
        assert!(area.contains(-15.0, 180.0) && area.contains(-15.0, -180.0));
        assert!(!area.contains(-15.0, 0.0), "not the long way round");
    }

    #[test]
    fn edges_out_of_range_or_upside_down_are_refused_by_name() {
        assert_eq!(field(Area::new(-91.0, 0.0, 0.0, 1.0).unwrap_err()), "south");
        assert_eq!(field(Area::new(0.0, 0.0, 90.5, 1.0).unwrap_err()), "north");
        assert_eq!(field(Area::new(0.0, -181.0, 1.0, 1.0).unwrap_err()), "west");
        assert_eq!(field(Area::new(0.0, 0.0, 1.0, 180.1).unwrap_err()), "east");
        assert_eq!(field(Area::new(2.0, 0.0, 1.0, 1.0).unwrap_err()), "south");
        assert_eq!(
            field(Area::new(f64::NAN, 0.0, 1.0, 1.0).unwrap_err()),
            "south"
        );
        let e = Area::new(0.0, 0.0, 1.0, f64::INFINITY).unwrap_err();
        assert_eq!(e.code(), "invalid_input");
    }

    #[test]
    fn texts_are_parsed_whole_or_refused() {
        let area = Area::parse(" 45.4", "-122.8", "45.6 ", "-122.5").unwrap();
        assert_eq!(area, Area::new(45.4, -122.8, 45.6, -122.5).unwrap());
        assert_eq!(Area::parse_list(&area.to_string()).unwrap(), area);
        assert_eq!(field(Area::parse("45", "", "46", "1").unwrap_err()), "west");
        assert_eq!(
            field(Area::parse("45", "1", "x", "1").unwrap_err()),
            "north"
        );
        assert_eq!(field(Area::parse_list("1,2,3").unwrap_err()), "area");
        assert_eq!(field(Area::parse_list("1,2,3,4,5").unwrap_err()), "area");
        assert_eq!(
            field(Area::parse("nan", "1", "2", "3").unwrap_err()),
            "south"
        );
    }
}
