//! GeoJSON layers for map front-ends: one level of grids in a bounding box.
//! Public by design: properties hold codes, names and leaders' names, never contacts.

use std::hash::{Hash, Hasher};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geo::{Coord, MapCoords, Rect};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use super::AppState;
use super::extract::{ApiPath, ApiQuery};
use super::lookup::parse_crs;
use super::problem::Problem;
use crate::atlas::Snapshot;
use crate::geometry::crs::{self, Crs};
use crate::geometry::validity::oriented_rfc7946;
use crate::model::{GridLevel, LeaderRole};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LayerParams {
    /// `minlon,minlat,maxlon,maxlat` in the request's crs; without it, the whole layer.
    pub bbox: Option<String>,
    /// Coordinate system of bbox and output: wgs84 (default), gcj02 or bd09.
    pub crs: Option<String>,
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

/// Seven decimals are about 1 cm: more digits only make the layer heavier.
fn round7(c: Coord<f64>) -> Coord<f64> {
    Coord {
        x: (c.x * 1e7).round() / 1e7,
        y: (c.y * 1e7).round() / 1e7,
    }
}

/// A FeatureCollection of the grids of `level` intersecting `bbox` (WGS84), output in `crs`.
pub fn layer(snapshot: &Snapshot, level: GridLevel, bbox: Rect<f64>, crs: Crs) -> Value {
    let spatial = &snapshot.spatial;
    let features: Vec<Value> = spatial
        .grids_in_bbox(level, bbox)
        .into_iter()
        .map(|i| {
            let g = spatial.grid(i);
            let geometry = crs::multipolygon_from_wgs84(crs, &oriented_rfc7946(&g.geometry))
                .map_coords(round7);
            let leader = |role| snapshot.roster.leader(i, role).map(|p| p.name.clone());
            let mut props = Map::new();
            props.insert("code".into(), json!(g.code));
            props.insert("name".into(), json!(g.name));
            props.insert("name_en".into(), json!(g.name_en));
            props.insert("level".into(), json!(g.level));
            props.insert("parent_code".into(), json!(g.parent_code));
            props.insert("valid_from".into(), json!(g.valid_from));
            props.insert(
                "bac_convener".into(),
                json!(leader(LeaderRole::BacConvener)),
            );
            props.insert(
                "party_worker".into(),
                json!(leader(LeaderRole::PartyWorker)),
            );
            json!({
                "type": "Feature",
                "id": g.code,
                "geometry": geojson::GeometryValue::from(&geometry),
                "properties": props,
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
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
        (status = 400, description = "Unknown level, bad bbox or crs", body = super::problem::Problem, content_type = "application/problem+json"),
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
    let snapshot = state.atlas.snapshot();
    let body = tokio::task::spawn_blocking(move || {
        serde_json::to_vec(&layer(&snapshot, level, bbox, crs))
    })
    .await
    .map_err(|e| Problem::internal(e.to_string()))?
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
