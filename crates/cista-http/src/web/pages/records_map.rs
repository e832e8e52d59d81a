//! The map of records (issue 13, item 6) and their exports. With a tile server configured
//! (`crate::map_tiles`), the page also shows the points over its tiles with the vendored
//! Leaflet. Without one (the default), or without script, the points are drawn on a plain
//! coordinate grid: an SVG the server draws (no script, no
//! request to anyone else), longitude across and latitude up, scaled so a kilometre is as long
//! either way at the records' latitude; each point links to its record, coloured by its review
//! state and named for screen readers. The same filters as the list apply, the area among them
//! (set here by its four edges); the exports (`records_export`) download what they show.

use super::chrome::{Chrome, FormError, render};
use super::records::{ListQuery, area_fields, filter_of};
use crate::AppState;
use crate::error::AppError;
use crate::web::context::RequestContext;
use crate::web::extract::SignedIn;
use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cista_core::products::collection::records::{MAX_LISTED, RecordRow};

/// The drawing's size in SVG units.
const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 560.0;
const MARGIN: f64 = 56.0;

/// A point on the drawing.
struct Dot {
    x: String,
    y: String,
    href: String,
    label: String,
    state: &'static str,
}

/// A grid line with its label.
struct GridLine {
    at: String,
    label: String,
}

#[derive(Template)]
#[template(path = "admin/records_map.html")]
struct MapPage {
    chrome: Chrome,
    name: String,
    slug: String,
    query: String,
    /// The filters other than the area, kept as hidden fields of the area's form.
    kept: Vec<(&'static str, String)>,
    /// Name, label, value of each edge of the area.
    area: [(&'static str, &'static str, String); 4],
    errors: Vec<FormError>,
    dots: Vec<Dot>,
    columns: Vec<GridLine>,
    rows: Vec<GridLine>,
    without_point: usize,
    /// The map holds the newest `MAX_LISTED` records that match: there may be more.
    capped: bool,
    width: String,
    height: String,
    /// The tile map, when a tile server is configured.
    tiles: Option<TileView>,
}

/// What the tile map's script reads from its element: the provider's template and
/// attribution and the points as JSON (`[{lat, lon, href, label, state}]`).
struct TileView {
    template: String,
    attribution: String,
    points: String,
}

fn tile_view(tiles: &crate::MapTiles, slug: &str, rows: &[RecordRow]) -> TileView {
    let points: Vec<serde_json::Value> = rows
        .iter()
        .filter_map(|r| {
            let (lat, lon, _) = r.point?;
            Some(serde_json::json!({
                "lat": lat,
                "lon": lon,
                "href": format!("/admin/{slug}/records/{}", r.submission.as_i64()),
                "label": format!("{}: {}", r.form_title, r.state.label()),
                "state": r.state.as_str(),
            }))
        })
        .collect();
    TileView {
        template: tiles.template.clone(),
        attribution: tiles.attribution.clone(),
        points: serde_json::Value::Array(points).to_string(),
    }
}

/// A round step for grid lines over `span` degrees: about five lines.
fn step(span: f64) -> f64 {
    let raw = (span / 5.0).max(1e-6);
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn grid(lo: f64, hi: f64, place: impl Fn(f64) -> f64) -> Vec<GridLine> {
    let step = step(hi - lo);
    let mut lines = Vec::new();
    let mut at = (lo / step).ceil() * step;
    while at <= hi && lines.len() < 20 {
        lines.push(GridLine {
            at: format!("{:.1}", place(at)),
            label: format!("{at:.4}"),
        });
        at += step;
    }
    lines
}

fn drawing(slug: &str, rows: &[RecordRow]) -> (Vec<Dot>, Vec<GridLine>, Vec<GridLine>) {
    let points: Vec<(&RecordRow, f64, f64)> = rows
        .iter()
        .filter_map(|r| r.point.map(|(lat, lon, _)| (r, lat, lon)))
        .collect();
    if points.is_empty() {
        return (Vec::new(), Vec::new(), Vec::new());
    }
    let (mut south, mut north, mut west, mut east) = (90.0f64, -90.0f64, 180.0f64, -180.0f64);
    for (_, lat, lon) in &points {
        south = south.min(*lat);
        north = north.max(*lat);
        west = west.min(*lon);
        east = east.max(*lon);
    }
    // A tenth of the span (at least about 100 m) around the points.
    let pad_lat = ((north - south) * 0.1).max(0.001);
    let pad_lon = ((east - west) * 0.1).max(0.001);
    let (south, north, west, east) = (
        south - pad_lat,
        north + pad_lat,
        west - pad_lon,
        east + pad_lon,
    );
    // Equal distances look equal: a degree of longitude is cos(latitude) of one of latitude.
    let squeeze = ((south + north) / 2.0).to_radians().cos().max(0.01);
    let (span_x, span_y) = ((east - west) * squeeze, north - south);
    let scale = ((WIDTH - 2.0 * MARGIN) / span_x).min((HEIGHT - 2.0 * MARGIN) / span_y);
    // The points in the middle; the grid spans the whole drawing.
    let half_lon = (WIDTH / 2.0) / (scale * squeeze);
    let half_lat = (HEIGHT / 2.0) / scale;
    let (mid_lon, mid_lat) = ((west + east) / 2.0, (south + north) / 2.0);
    let (west, east) = (mid_lon - half_lon, mid_lon + half_lon);
    let (south, north) = (mid_lat - half_lat, mid_lat + half_lat);
    let x = |lon: f64| (lon - west) * squeeze * scale;
    let y = |lat: f64| HEIGHT - (lat - south) * scale;
    let dots = points
        .iter()
        .map(|(row, lat, lon)| Dot {
            x: format!("{:.1}", x(*lon)),
            y: format!("{:.1}", y(*lat)),
            href: format!("/admin/{slug}/records/{}", row.submission.as_i64()),
            label: format!(
                "{}{}: {} ({lat:.5}, {lon:.5})",
                row.form_title,
                if row.summary.is_empty() {
                    String::new()
                } else {
                    format!(", {}", row.summary)
                },
                row.state.label()
            ),
            state: row.state.as_str(),
        })
        .collect();
    let (edge_lon, edge_lat) = (MARGIN / (scale * squeeze), MARGIN / scale);
    (
        dots,
        grid(west + edge_lon, east - edge_lon, x),
        grid(south + edge_lat, north - edge_lat, y),
    )
}

/// `GET /admin/{org}/records/map`.
pub async fn map(
    State(state): State<AppState>,
    Extension(ctx): Extension<RequestContext>,
    SignedIn { actor, .. }: SignedIn,
    Path(slug): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Response, AppError> {
    let org = state.cista.organization_for(&actor, &slug).await?;
    let (filter, errors) = filter_of(&state, &query);
    // A filter that does not hold draws nothing (rather than everything under its error).
    let rows = if errors.is_empty() {
        state.cista.records(&actor, org.id, &filter).await?
    } else {
        Vec::new()
    };
    let (dots, columns, grid_rows) = drawing(&org.slug.to_string(), &rows);
    let without_point = rows.iter().filter(|r| r.point.is_none()).count();
    let tiles = state
        .map_tiles
        .as_ref()
        .map(|t| tile_view(t, &org.slug.to_string(), &rows));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut response = render(
        status,
        MapPage {
            chrome: Chrome::new(&ctx, &state),
            name: org.name.to_string(),
            slug: org.slug.to_string(),
            query: query.as_query_string(),
            kept: query.other_than_area(),
            area: area_fields(&query),
            errors,
            dots,
            columns,
            rows: grid_rows,
            without_point,
            capped: rows.len() >= MAX_LISTED,
            width: format!("{WIDTH}"),
            height: format!("{HEIGHT}"),
            tiles,
        },
    )?;
    if let Some(t) = &state.map_tiles {
        response
            .extensions_mut()
            .insert(crate::middleware::TileImages(t.origin.clone()));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_steps_are_round() {
        assert_eq!(step(0.07), 0.02);
        assert_eq!(step(1.0), 0.2);
        assert_eq!(step(42.0), 10.0);
        let lines = grid(45.45, 45.53, |v| v);
        assert!(lines.len() >= 3 && lines.len() <= 9, "{}", lines.len());
    }
}
