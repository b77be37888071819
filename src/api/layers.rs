//! GeoJSON layers for map front-ends: one level of grids in a bounding box.
//! Public by design: properties hold codes, names and leaders' names, never contacts.

use std::hash::{Hash, Hasher};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use geo::{Coord, Rect};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::lookup::parse_crs;
use super::problem::Problem;
use crate::atlas::Snapshot;
use crate::geometry::crs::{self, Crs};
use crate::geometry::flat::Shape;
use crate::geometry::geojson_out::MultiPolygonJson;
use crate::model::{GridLevel, LeaderRole};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LayerParams {
    /// `minlon,minlat,maxlon,maxlat` in the request's crs; without it, the whole layer.
    pub bbox: Option<String>,
    /// Coordinate system of bbox and output: wgs84 (default), gcj02 or bd09.
    pub crs: Option<String>,
    /// Most features in this response (1–50,000, default 10,000); the `next` link gives the rest.
    pub limit: Option<String>,
    /// Features to skip, in code order (default 0).
    pub offset: Option<String>,
    /// The layer as it stood at this moment (RFC 3339 timestamp, or a date: the start of that
    /// day in Shanghai); without it, as it stands now.
    pub at: Option<String>,
}

pub fn parse_level(raw: &str) -> Result<GridLevel, Problem> {
    raw.parse::<GridLevel>()
        .map_err(|e| Problem::bad_request("level", e))
}

/// Parses a bbox in `crs` and returns it in WGS84.
pub fn parse_bbox(raw: &str, crs: Crs) -> Result<Rect<f64>, Problem> {
    let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
    let bad = |why: &str| {
        Problem::bad_request(
            "bbox",
            format!("bbox must be minlon,minlat,maxlon,maxlat ({why}), not '{raw}'"),
        )
    };
    if parts.len() != 4 {
        return Err(bad("four numbers"));
    }
    let mut v = [0.0f64; 4];
    for (slot, part) in v.iter_mut().zip(&parts) {
        *slot = part
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| bad("numbers"))?;
    }
    let [minlon, minlat, maxlon, maxlat] = v;
    if !(-180.0..=180.0).contains(&minlon)
        || !(-180.0..=180.0).contains(&maxlon)
        || !(-90.0..=90.0).contains(&minlat)
        || !(-90.0..=90.0).contains(&maxlat)
    {
        return Err(bad("longitudes within ±180, latitudes within ±90"));
    }
    if minlon > maxlon || minlat > maxlat {
        return Err(bad("min before max"));
    }
    let (x0, y0) = crs::to_wgs84(crs, minlon, minlat);
    let (x1, y1) = crs::to_wgs84(crs, maxlon, maxlat);
    Ok(Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 }))
}

/// Features a layer response holds when the caller does not say (`limit`).
pub const DEFAULT_LAYER_LIMIT: usize = 10_000;
/// The most features one layer response may hold; more are fetched page by page (`offset`).
pub const MAX_LAYER_LIMIT: usize = 50_000;

/// Which part of the matching features a response holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

impl Default for Page {
    fn default() -> Page {
        Page {
            offset: 0,
            limit: DEFAULT_LAYER_LIMIT,
        }
    }
}

fn parse_count(
    name: &str,
    raw: Option<&str>,
    default: usize,
    range: (usize, usize),
) -> Result<usize, Problem> {
    let Some(raw) = raw else { return Ok(default) };
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|v| (range.0..=range.1).contains(v))
        .ok_or_else(|| {
            Problem::bad_request(
                name,
                format!(
                    "{name} must be a whole number from {} to {}, not '{raw}'",
                    range.0, range.1
                ),
            )
        })
}

impl LayerParams {
    pub fn page(&self) -> Result<Page, Problem> {
        Ok(Page {
            limit: parse_count(
                "limit",
                self.limit.as_deref(),
                DEFAULT_LAYER_LIMIT,
                (1, MAX_LAYER_LIMIT),
            )?,
            offset: parse_count("offset", self.offset.as_deref(), 0, (0, usize::MAX))?,
        })
    }
}

#[derive(Serialize)]
struct FeatureCollection<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    /// OGC API Features: how many features match the bbox in all, and how many are here.
    #[serde(rename = "numberMatched")]
    number_matched: usize,
    #[serde(rename = "numberReturned")]
    number_returned: usize,
    features: Features<'a>,
    /// `next` when more features match than this page holds.
    links: Vec<Link>,
}

#[derive(Serialize)]
struct Link {
    rel: &'static str,
    href: String,
    #[serde(rename = "type")]
    media_type: &'static str,
}

/// The features of a page, serialized one by one straight from the snapshot.
struct Features<'a> {
    snapshot: &'a Snapshot,
    grids: &'a [u32],
    crs: Crs,
}

impl Serialize for Features<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.grids.len()))?;
        for &i in self.grids {
            seq.serialize_element(&feature(self.snapshot, i, self.crs))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct Feature<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    geometry: MultiPolygonJson<Shape<'a>>,
    properties: Properties<'a>,
}

/// Public by design: names of the leaders, never their contacts.
#[derive(Serialize)]
struct Properties<'a> {
    code: &'a str,
    name: &'a str,
    name_en: Option<&'a str>,
    level: GridLevel,
    parent_code: Option<&'a str>,
    valid_from: DateTime<Utc>,
    bac_convener: Option<&'a str>,
    party_worker: Option<&'a str>,
}

fn feature(snapshot: &Snapshot, i: u32, crs: Crs) -> Feature<'_> {
    let g = snapshot.spatial.grid(i);
    let leader = |role| snapshot.roster.leader(i, role).map(|p| p.name);
    Feature {
        kind: "Feature",
        id: g.code,
        geometry: MultiPolygonJson {
            geometry: snapshot.spatial.grid_shape(i),
            crs,
        },
        properties: Properties {
            code: g.code,
            name: g.name,
            name_en: g.name_en,
            level: g.level,
            parent_code: snapshot.spatial.parent_code(i),
            valid_from: g.valid_from,
            bac_convener: leader(LeaderRole::BacConvener),
            party_worker: leader(LeaderRole::PartyWorker),
        },
    }
}

/// The request a `next` link repeats, with the following offset.
pub struct LayerRequest<'a> {
    pub level: GridLevel,
    pub bbox: Option<&'a str>,
    pub crs: Crs,
    pub page: Page,
    /// The `at` of the request, repeated in the `next` link.
    pub at: Option<&'a str>,
}

/// The GeoJSON FeatureCollection (bytes) of one page of the grids of `level` intersecting
/// `bbox` (WGS84), output in `crs`.
pub fn layer_json(snapshot: &Snapshot, request: &LayerRequest<'_>, bbox: Rect<f64>) -> Vec<u8> {
    let matched = snapshot.spatial.grids_in_bbox(request.level, bbox);
    let Page { offset, limit } = request.page;
    let start = offset.min(matched.len());
    let end = start.saturating_add(limit).min(matched.len());
    let mut links = Vec::new();
    if end < matched.len() {
        let mut href = format!("/v1/layers/{}?", request.level);
        if let Some(b) = request.bbox {
            href.push_str(&format!("bbox={}&", url_component(b)));
        }
        if let Some(at) = request.at {
            href.push_str(&format!("at={}&", url_component(at)));
        }
        href.push_str(&format!("crs={}&limit={limit}&offset={end}", request.crs));
        links.push(Link {
            rel: "next",
            href,
            media_type: "application/geo+json",
        });
    }
    let collection = FeatureCollection {
        kind: "FeatureCollection",
        number_matched: matched.len(),
        number_returned: end - start,
        features: Features {
            snapshot,
            grids: &matched[start..end],
            crs: request.crs,
        },
        links,
    };
    let mut out = Vec::with_capacity((end - start) * 600 + 128);
    // Writing into a Vec fails only if a Serialize impl fails, and ours never do.
    if serde_json::to_writer(&mut out, &collection).is_err() {
        out.clear();
    }
    out
}

/// Percent-encodes what a bbox may hold that a query string may not.
fn url_component(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '-' | ',' | '_' => c.to_string(),
            other => {
                let mut buf = [0u8; 4];
                other
                    .encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

/// The tag is a hash of the body itself, so it changes exactly when the content does, and it
/// is the same from every instance and across restarts (any instance behind a load balancer
/// can answer 304 to a tag another one gave).
fn etag(body: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("W/\"{:x}-{:016x}\"", body.len(), h.finish())
}

fn matches_etag(headers: &HeaderMap, tag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*"
                || candidate == tag
                || candidate.trim_start_matches("W/") == tag.trim_start_matches("W/")
        })
}

#[utoipa::path(get, path = "/v1/layers/{level}", tag = "layers",
    params(("level" = String, Path, description = "neighborhood, building_group or building"), LayerParams),
    responses(
        (status = 200, description = "RFC 7946 FeatureCollection (application/geo+json); ETag; gzip on request", body = Object, content_type = "application/geo+json"),
        (status = 304, description = "Not modified (If-None-Match matched the ETag)"),
        (status = 400, description = "Unknown level, bad bbox, crs, limit or offset", body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_layer(
    State(state): State<AppState>,
    ApiPath(level): ApiPath<String>,
    ApiQuery(params): ApiQuery<LayerParams>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let level = parse_level(&level)?;
    let crs = parse_crs(params.crs.as_deref())?;
    let bbox = match &params.bbox {
        Some(raw) => parse_bbox(raw, crs)?,
        None => Rect::new(
            Coord {
                x: -180.0,
                y: -90.0,
            },
            Coord { x: 180.0, y: 90.0 },
        ),
    };
    let page = params.page()?;
    let snapshot = state.snapshot_at(params.at.as_deref()).await?;
    let body = tokio::task::spawn_blocking(move || {
        let request = LayerRequest {
            level,
            bbox: params.bbox.as_deref(),
            crs,
            page,
            at: params.at.as_deref(),
        };
        layer_json(&snapshot, &request, bbox)
    })
    .await
    .map_err(|e| Problem::internal(e.to_string()))?;
    let tag = etag(&body);
    let tag_value = HeaderValue::from_str(&tag).map_err(|e| Problem::internal(e.to_string()))?;
    let cache = HeaderValue::from_static("no-cache");
    if matches_etag(&headers, &tag) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag_value), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    }
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/geo+json"),
            ),
            (header::ETAG, tag_value),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response())
}
