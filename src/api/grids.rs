//! Grids: one in detail, a filtered list, and replacing a grid's dual leaders.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::auth::Caller;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::history::AtParams;
use super::layers::parse_level;
use super::problem::Problem;
use crate::atlas::answer::{Leaders, TeamRef};
use crate::atlas::{Snapshot, Visibility};
use crate::geometry::measure::geodesic_area_m2;
use crate::geometry::validity::oriented_rfc7946;
use crate::model::{Contact, GridLevel, Person};
use crate::store::{LeaderChange, PersonRef};

#[derive(Debug, Serialize, ToSchema)]
pub struct GridSummary {
    pub code: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    #[schema(value_type = String)]
    pub level: GridLevel,
    pub parent_code: Option<String>,
    pub valid_from: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GridDetail<'a> {
    #[serde(flatten)]
    pub summary: GridSummary,
    /// Geodesic area in square metres.
    pub area_m2: f64,
    pub children: Vec<String>,
    /// Ids of the buildings attached to this grid.
    pub buildings: Vec<String>,
    /// Leaders with territorial fallback (a vacant role filled from the nearest ancestor).
    pub leaders: Leaders<'a>,
    pub service_team: Option<TeamRef<'a>>,
    /// RFC 7946 geometry (WGS84).
    #[schema(value_type = Object)]
    pub geometry: Value,
}

fn summary(snapshot: &Snapshot, i: u32) -> GridSummary {
    let g = snapshot.spatial.grid(i);
    GridSummary {
        code: g.code.to_string(),
        name: g.name.to_string(),
        name_en: g.name_en.map(str::to_string),
        level: g.level,
        parent_code: snapshot.spatial.parent_code(i).map(str::to_string),
        valid_from: g.valid_from,
    }
}

fn grid_index(snapshot: &Snapshot, code: &str) -> Result<u32, Problem> {
    snapshot
        .spatial
        .grid_index(code)
        .ok_or_else(|| Problem::not_found(format!("no grid with code '{code}'")))
}

pub fn detail(snapshot: &Snapshot, i: u32, vis: Visibility) -> GridDetail<'_> {
    let spatial = &snapshot.spatial;
    let geometry = spatial.grid_geometry(i);
    GridDetail {
        summary: summary(snapshot, i),
        area_m2: (geodesic_area_m2(&geometry) * 10.0).round() / 10.0,
        children: spatial
            .children(i)
            .iter()
            .map(|&c| spatial.grid_code(c).to_string())
            .collect(),
        buildings: spatial
            .buildings_of(i)
            .iter()
            .map(|&b| spatial.building(b).id.to_string())
            .collect(),
        leaders: snapshot.leaders_of(i, vis),
        service_team: snapshot.team_of(i, vis),
        geometry: serde_json::to_value(geojson::GeometryValue::from(&oriented_rfc7946(&geometry)))
            .unwrap_or(Value::Null),
    }
}

#[utoipa::path(get, path = "/v1/grids/{code}", tag = "grids",
    params(("code" = String, Path, description = "Grid code"), AtParams),
    responses(
        (status = 200, description = "The grid with its leaders, team, children and geometry", body = GridDetail),
        (status = 404, description = "Unknown grid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_grid(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    ApiQuery(at): ApiQuery<AtParams>,
) -> Result<Response, Problem> {
    let snapshot = state.snapshot_at(at.at.as_deref()).await?;
    let i = grid_index(&snapshot, &code)?;
    Ok(Json(detail(&snapshot, i, caller.visibility())).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only grids of this level: neighborhood, building_group or building.
    pub level: Option<String>,
    /// Only the children of this grid.
    pub parent: Option<String>,
    /// The grids as they stood at this moment (RFC 3339 timestamp or date).
    pub at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GridList {
    pub grids: Vec<GridSummary>,
}

#[utoipa::path(get, path = "/v1/grids", tag = "grids",
    params(ListParams),
    responses(
        (status = 200, description = "Grids in code order", body = GridList),
        (status = 400, description = "Unknown level", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown parent grid", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_grids(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<GridList>, Problem> {
    let level = params.level.as_deref().map(parse_level).transpose()?;
    let snapshot = state.snapshot_at(params.at.as_deref()).await?;
    let candidates: Vec<u32> = match &params.parent {
        Some(parent) => snapshot
            .spatial
            .children(grid_index(&snapshot, parent)?)
            .to_vec(),
        None => (0..snapshot.spatial.grids.len() as u32).collect(),
    };
    let grids = candidates
        .into_iter()
        .filter(|&i| level.is_none_or(|l| snapshot.spatial.grids[i as usize].level == l))
        .map(|i| summary(&snapshot, i))
        .collect();
    Ok(Json(GridList { grids }))
}

/// A leader role in a replacement: an existing person, or a new one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum LeaderInput {
    Existing {
        person_id: String,
    },
    New {
        name: String,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        email: Option<String>,
    },
}

/// Both roles must be given; `null` leaves a role vacant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadersInput {
    #[serde(deserialize_with = "required_nullable")]
    pub bac_convener: Option<LeaderInput>,
    #[serde(deserialize_with = "required_nullable")]
    pub party_worker: Option<LeaderInput>,
}

/// Makes a field required while still accepting `null` (serde treats missing Options as None).
fn required_nullable<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<LeaderInput>, D::Error> {
    Option::<LeaderInput>::deserialize(d)
}

const MAX_TEXT: usize = 200;

fn checked_text(field: &str, value: &str) -> Result<String, Problem> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Problem::bad_request(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) {
        return Err(Problem::bad_request(
            field,
            format!("{field} must be at most {MAX_TEXT} characters without control characters"),
        ));
    }
    Ok(v.to_string())
}

/// A fresh person id: time, process and a counter, so two creations never collide, not even
/// within one millisecond or across instances sharing a database.
fn new_person_id(grid_code: &str, role: &str, at: DateTime<Utc>) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!(
        "p-{grid_code}-{role}-{}-{}-{n}",
        at.timestamp_micros(),
        std::process::id()
    )
}

fn person_ref(
    snapshot: &Snapshot,
    grid_code: &str,
    role: &str,
    input: &LeaderInput,
    at: DateTime<Utc>,
) -> Result<PersonRef, Problem> {
    match input {
        LeaderInput::Existing { person_id } => {
            if snapshot.roster.person(person_id).is_none() {
                return Err(Problem::bad_request(
                    role,
                    format!("{role}: no person with id '{person_id}'"),
                ));
            }
            Ok(PersonRef::Existing(person_id.clone()))
        }
        LeaderInput::New { name, phone, email } => Ok(PersonRef::New(Person {
            id: new_person_id(grid_code, role, at),
            name: checked_text(&format!("{role}.name"), name)?,
            contact: Contact {
                phone: phone
                    .as_deref()
                    .map(|p| checked_text(&format!("{role}.phone"), p))
                    .transpose()?,
                email: email
                    .as_deref()
                    .map(|e| checked_text(&format!("{role}.email"), e))
                    .transpose()?,
            },
        })),
    }
}

#[utoipa::path(put, path = "/v1/grids/{code}/leaders", tag = "grids",
    params(("code" = String, Path, description = "Grid code")),
    request_body = LeadersInput,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The grid's leaders after the change", body = Leaders),
        (status = 400, description = "Malformed body or unknown person", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin token, or writes disabled", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown grid", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The store is unavailable; nothing changed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_leaders(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(code): ApiPath<String>,
    body: Result<ApiJson<LeadersInput>, Problem>,
) -> Result<Response, Problem> {
    state.auth.require_admin(caller)?;
    let ApiJson(input) = body?;
    let snapshot = state.atlas.snapshot();
    grid_index(&snapshot, &code)?;
    let at = Utc::now();
    let role_ref = |role: &str, input: &Option<LeaderInput>| {
        input
            .as_ref()
            .map(|i| person_ref(&snapshot, &code, role, i, at))
            .transpose()
    };
    let change = LeaderChange {
        bac_convener: role_ref("bac_convener", &input.bac_convener)?,
        party_worker: role_ref("party_worker", &input.party_worker)?,
    };
    state
        .store
        .replace_leaders(&code, &change, caller.actor(), at)
        .await?;
    tracing::info!(grid = %code, actor = caller.actor(), "leaders replaced");
    state.atlas.reload_attributes(state.store.as_ref()).await?;
    let snapshot = state.atlas.snapshot();
    let i = grid_index(&snapshot, &code)?;
    Ok(Json(snapshot.leaders_of(i, caller.visibility())).into_response())
}
