//! Who is responsible here: by point, by address, by building, one or thousands at a time.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::extract::{ApiPath, ApiQuery};
use super::history::AtParams;
use super::problem::Problem;
use crate::address::{MAX_QUERY_CHARS, MatchKind};
use crate::atlas::answer::{DEFAULT_BORDER_TOLERANCE_M, MAX_BORDER_TOLERANCE_M, Matched};
use crate::atlas::{Answer, Snapshot, Visibility};
use crate::geometry::crs::{self, Crs};

/// Largest number of items in one batch.
pub const MAX_BATCH_ITEMS: usize = 10_000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupParams {
    /// Longitude of the point (with `lat`).
    pub lon: Option<String>,
    /// Latitude of the point (with `lon`).
    pub lat: Option<String>,
    /// Coordinate system of `lon`/`lat`: wgs84 (default), gcj02 or bd09.
    pub crs: Option<String>,
    /// A Shanghai street address or building name, instead of a point.
    pub address: Option<String>,
    /// Metres around the point within which other grids are listed in `border.nearby` (0–500, default 20).
    pub tolerance_m: Option<String>,
    /// Answer as the atlas stood at this moment (RFC 3339 timestamp, or a date: the start of
    /// that day in Shanghai); without it, as it stands now.
    pub at: Option<String>,
}

/// One way of asking, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Point { lon: f64, lat: f64, crs: Crs },
    Address(String),
    Building(String),
}

fn parse_coordinate(name: &str, raw: &str, limit: f64) -> Result<f64, Problem> {
    let v: f64 = raw
        .trim()
        .parse()
        .map_err(|_| Problem::bad_request(name, format!("{name} must be a number, not '{raw}'")))?;
    check_coordinate(name, v, limit)
}

fn check_coordinate(name: &str, v: f64, limit: f64) -> Result<f64, Problem> {
    if !v.is_finite() || v.abs() > limit {
        return Err(Problem::bad_request(
            name,
            format!("{name} must be between -{limit} and {limit}, not {v}"),
        ));
    }
    Ok(v)
}

pub fn parse_crs(raw: Option<&str>) -> Result<Crs, Problem> {
    match raw {
        None => Ok(Crs::Wgs84),
        Some(s) => s
            .parse::<Crs>()
            .map_err(|e| Problem::bad_request("crs", e.to_string())),
    }
}

pub fn parse_tolerance(raw: Option<&str>) -> Result<f64, Problem> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_BORDER_TOLERANCE_M);
    };
    check_tolerance(raw.trim().parse::<f64>().unwrap_or(f64::NAN), raw)
}

/// `raw` is how the caller wrote the value, for the message.
fn check_tolerance(v: f64, raw: &str) -> Result<f64, Problem> {
    if (0.0..=MAX_BORDER_TOLERANCE_M).contains(&v) {
        Ok(v)
    } else {
        Err(Problem::bad_request(
            "tolerance_m",
            format!(
                "tolerance_m must be a number of metres from 0 to {MAX_BORDER_TOLERANCE_M}, not '{raw}'"
            ),
        ))
    }
}

fn point_query(lon: &str, lat: &str, crs: Option<&str>) -> Result<Query, Problem> {
    Ok(Query::Point {
        lon: parse_coordinate("lon", lon, 180.0)?,
        lat: parse_coordinate("lat", lat, 90.0)?,
        crs: parse_crs(crs)?,
    })
}

impl LookupParams {
    fn query(&self) -> Result<Query, Problem> {
        match (&self.lon, &self.lat, &self.address) {
            (Some(_), Some(_), Some(_)) => Err(Problem::bad_request(
                "address",
                "give either lon and lat or address, not both",
            )),
            (Some(lon), Some(lat), None) => point_query(lon, lat, self.crs.as_deref()),
            (None, None, Some(a)) => Ok(Query::Address(a.clone())),
            (Some(_), None, _) => Err(Problem::bad_request(
                "lat",
                "lat is missing (lon was given)",
            )),
            (None, Some(_), _) => Err(Problem::bad_request(
                "lon",
                "lon is missing (lat was given)",
            )),
            (None, None, None) => Err(Problem::bad_request(
                "lon",
                "give a point (lon and lat) or an address",
            )),
        }
    }
}

/// Answers one query against a snapshot.
pub fn resolve<'a>(
    snapshot: &'a Snapshot,
    query: &Query,
    tolerance_m: f64,
    vis: Visibility,
) -> Result<Answer<'a>, Problem> {
    match query {
        Query::Point { lon, lat, crs: c } => {
            let (x, y) = crs::to_wgs84(*c, *lon, *lat);
            snapshot
                .answer_point(x, y, tolerance_m, vis)
                .ok_or_else(|| {
                    Problem::not_covered(format!(
                        "no grid covers the point lon={lon}, lat={lat} ({c})"
                    ))
                })
        }
        Query::Address(text) if text.trim().is_empty() => {
            Err(Problem::bad_request("address", "address must not be empty"))
        }
        Query::Address(text) if text.chars().count() > MAX_QUERY_CHARS => {
            Err(Problem::bad_request(
                "address",
                format!("address must be at most {MAX_QUERY_CHARS} characters"),
            ))
        }
        Query::Address(text) => match snapshot.spatial.addresses.lookup(text) {
            Ok(hit) => {
                let mut answer = snapshot
                    .answer_building(hit.building, tolerance_m, vis)
                    .ok_or_else(|| {
                        Problem::not_covered(format!(
                            "no grid covers the building at '{}'",
                            hit.matched
                        ))
                    })?;
                answer.matched = Some(Matched {
                    kind: match hit.kind {
                        MatchKind::Address => "address",
                        MatchKind::Name => "name",
                    },
                    text: hit.matched,
                });
                Ok(answer)
            }
            Err(miss) => {
                let suggestions: Vec<Value> = miss
                    .suggestions
                    .iter()
                    .map(|s| {
                        let id = snapshot.spatial.get_building(s.building).map(|b| b.id);
                        serde_json::json!({"text": s.text, "building": id})
                    })
                    .collect();
                Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    "unknown-address",
                    "Unknown address",
                    format!("'{text}' was not found: {}", miss.reason),
                )
                .with("suggestions", suggestions))
            }
        },
        Query::Building(id) => {
            let index = snapshot
                .spatial
                .building_index(id)
                .ok_or_else(|| Problem::not_found(format!("no building with id '{id}'")))?;
            snapshot
                .answer_building(index, tolerance_m, vis)
                .ok_or_else(|| Problem::not_covered(format!("no grid covers building '{id}'")))
        }
    }
}

#[utoipa::path(get, path = "/v1/lookup", tag = "lookup",
    params(LookupParams),
    responses(
        (status = 200, description = "Grid chain, leaders, service team, escalation and border evidence", body = Answer),
        (status = 400, description = "Missing, malformed or out-of-range parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Invalid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No grid covers the point, or the address is unknown (with suggestions)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<LookupParams>,
) -> Result<Response, Problem> {
    let query = params.query()?;
    let tolerance = parse_tolerance(params.tolerance_m.as_deref())?;
    let snapshot = state.snapshot_at(params.at.as_deref()).await?;
    // The answer borrows from the snapshot, so it is rendered while the snapshot is held.
    resolve(&snapshot, &query, tolerance, caller.visibility()).map(|a| Json(a).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageParams {
    /// Metres within which other grids are listed in `border.nearby` (0–500, default 20).
    pub tolerance_m: Option<String>,
    /// Answer as the atlas stood at this moment (RFC 3339 timestamp or date).
    pub at: Option<String>,
}

#[utoipa::path(get, path = "/v1/buildings/{id}/coverage", tag = "lookup",
    params(("id" = String, Path, description = "Building id"), CoverageParams),
    responses(
        (status = 200, description = "The answer for the building", body = Answer),
        (status = 404, description = "Unknown building", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn building_coverage(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<CoverageParams>,
) -> Result<Response, Problem> {
    let tolerance = parse_tolerance(params.tolerance_m.as_deref())?;
    let snapshot = state.snapshot_at(params.at.as_deref()).await?;
    resolve(
        &snapshot,
        &Query::Building(id),
        tolerance,
        caller.visibility(),
    )
    .map(|a| Json(a).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchRequest {
    /// Each item is `{"lon", "lat", "crs"?}`, `{"address"}` or `{"building"}`. Kept as raw
    /// JSON until answered, so that an item the JSON reader cannot hold (a number such as
    /// `1e400`) fails alone, with its own problem, instead of the whole batch.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Box<RawValue>>,
    /// Metres for `border.nearby`, for every item (0–500, default 20).
    #[serde(default)]
    pub tolerance_m: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult<'a> {
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// Only for the OpenAPI document: the batch response is written item by item.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse<'a> {
    /// One result per item, in the order of the request.
    pub results: Vec<BatchResult<'a>>,
}

fn number_field(
    item: &serde_json::Map<String, Value>,
    key: &str,
    limit: f64,
) -> Result<f64, Problem> {
    match item.get(key) {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) => check_coordinate(key, v, limit),
            None => Err(Problem::bad_request(
                key,
                format!("{key} must be a number, not {n}"),
            )),
        },
        Some(Value::String(s)) => parse_coordinate(key, s, limit),
        Some(other) => Err(Problem::bad_request(
            key,
            format!("{key} must be a number, not {other}"),
        )),
        None => Err(Problem::bad_request(key, format!("{key} is missing"))),
    }
}

/// Parses one batch item; an item's error stays in its own slot.
pub fn batch_item(raw: &RawValue) -> Result<Query, Problem> {
    let item: Value = serde_json::from_str(raw.get())
        .map_err(|e| Problem::bad_request("item", format!("the item cannot be read: {e}")))?;
    let Value::Object(map) = &item else {
        return Err(Problem::bad_request(
            "item",
            "each item must be a JSON object",
        ));
    };
    let text = |key: &str| match map.get(key) {
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) => Ok(None),
        Some(other) => Err(Problem::bad_request(
            key,
            format!("{key} must be a string, not {other}"),
        )),
    };
    let (address, building, crs) = (text("address")?, text("building")?, text("crs")?);
    let has_point = map.contains_key("lon") || map.contains_key("lat");
    match (has_point, address, building) {
        (true, None, None) => Ok(Query::Point {
            lon: number_field(map, "lon", 180.0)?,
            lat: number_field(map, "lat", 90.0)?,
            crs: parse_crs(crs.as_deref())?,
        }),
        (false, Some(a), None) => Ok(Query::Address(a)),
        (false, None, Some(b)) => Ok(Query::Building(b)),
        _ => Err(Problem::bad_request(
            "item",
            "an item needs exactly one of: lon and lat, address, building",
        )),
    }
}

#[utoipa::path(post, path = "/v1/lookup/batch", tag = "lookup",
    params(AtParams),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "One result per item, in order; each with its own status", body = BatchResponse),
        (status = 400, description = "The body is not a batch", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than 10,000 items, or the body is too large", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(at): ApiQuery<AtParams>,
    body: super::extract::ApiJson<BatchRequest>,
) -> Result<Response, Problem> {
    let request = body.0;
    if request.items.len() > MAX_BATCH_ITEMS {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-items",
            "Too many items",
            format!(
                "a batch holds at most {MAX_BATCH_ITEMS} items; this one has {}",
                request.items.len()
            ),
        ));
    }
    let tolerance = match request.tolerance_m {
        None => DEFAULT_BORDER_TOLERANCE_M,
        Some(t) => check_tolerance(t, &t.to_string())?,
    };
    let snapshot: Arc<Snapshot> = state.snapshot_at(at.at.as_deref()).await?;
    let vis = caller.visibility();
    // A large batch is CPU work: keep it off the async workers.
    let body = tokio::task::spawn_blocking(move || {
        render_batch(&snapshot, &request.items, tolerance, vis)
    })
    .await
    .map_err(|e| Problem::internal(format!("batch worker failed: {e}")))??;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Room reserved per batch item: a public point answer at city scale is about 1.7 KB. Buffers
/// sized once are not copied as they grow (a 10,000-item batch is some 17 MB).
const BATCH_BYTES_PER_ITEM: usize = 2048;

/// Answers and writes the results one by one, so no answer outlives its own item. A large
/// batch is split over the machine's cores; the first part is written straight into the
/// response and the others are appended to it, in the request's order.
pub fn render_batch(
    snapshot: &Snapshot,
    items: &[Box<RawValue>],
    tolerance_m: f64,
    vis: Visibility,
) -> Result<Vec<u8>, Problem> {
    const MIN_ITEMS_PER_THREAD: usize = 500;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len() / MIN_ITEMS_PER_THREAD)
        .max(1);
    let chunk = items.len().div_ceil(threads).max(1);
    let room = |n: usize| n.saturating_mul(BATCH_BYTES_PER_ITEM);
    let mut out = Vec::with_capacity(16 + room(items.len()));
    out.extend_from_slice(b"{\"results\":[");
    let mut chunks = items.chunks(chunk);
    let first = chunks.next().unwrap_or_default();
    // Part 0 is written into `out` itself and stands empty here.
    let parts: Vec<Result<Vec<u8>, Problem>> = std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .enumerate()
            .map(|(n, part)| {
                scope.spawn(move || {
                    let mut buf = Vec::with_capacity(room(part.len()));
                    render_items(snapshot, part, (n + 1) * chunk, tolerance_m, vis, &mut buf)
                        .map(|()| buf)
                })
            })
            .collect();
        let own = render_items(snapshot, first, 0, tolerance_m, vis, &mut out);
        let rest = workers.into_iter().map(|w| {
            w.join()
                .unwrap_or_else(|_| Err(Problem::internal("a batch worker failed")))
        });
        std::iter::once(own.map(|()| Vec::new()))
            .chain(rest)
            .collect()
    });
    for (n, part) in parts.into_iter().enumerate() {
        let part = part?;
        if n > 0 && !part.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(&part);
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// Appends the comma-separated JSON results of `items` to `out`; `first` is the index of the
/// first of them in the batch.
fn render_items(
    snapshot: &Snapshot,
    items: &[Box<RawValue>],
    first: usize,
    tolerance_m: f64,
    vis: Visibility,
    out: &mut Vec<u8>,
) -> Result<(), Problem> {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let result = match batch_item(item).and_then(|q| resolve(snapshot, &q, tolerance_m, vis)) {
            Ok(answer) => BatchResult {
                status: 200,
                answer: Some(answer),
                problem: None,
            },
            Err(problem) => BatchResult {
                status: problem.status,
                answer: None,
                problem: Some(problem),
            },
        };
        serde_json::to_writer(&mut *out, &result).map_err(|e| {
            Problem::internal(format!(
                "batch result {} could not be written: {e}",
                first + i
            ))
        })?;
    }
    Ok(())
}
