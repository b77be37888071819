//! The atlas through time: `at=` on reads, the version log, and the history of one grid.
//!
//! `at` is an RFC 3339 timestamp (`2026-11-01T09:30:00+08:00`) or a date (`2026-11-01`,
//! meaning the start of that day in Shanghai, UTC+08:00, where the grids are governed).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::extract::ApiPath;
use super::problem::Problem;
use crate::atlas::Snapshot;
use crate::geometry::measure::geodesic_area_m2;
use crate::geometry::validity::oriented_rfc7946;
use crate::store::{AtlasVersion, GridHistory};

/// Shanghai's offset from UTC: a bare date in `at` starts at midnight there.
const SHANGHAI_OFFSET_S: i32 = 8 * 3600;

/// The `at` query parameter every read accepts.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AtParams {
    /// Answer as the atlas stood at this moment: an RFC 3339 timestamp or a date (the start of
    /// that day, Shanghai time). Without it, as it stands now.
    pub at: Option<String>,
}

/// Parses `at`: an RFC 3339 timestamp, or a date meaning the start of that day in Shanghai.
pub fn parse_at(raw: &str) -> Result<DateTime<Utc>, Problem> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let bad = || {
        Problem::bad_request(
            "at",
            format!(
                "at must be an RFC 3339 timestamp (2026-11-01T09:30:00+08:00) or a date (2026-11-01), not '{raw}'"
            ),
        )
    };
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad())?;
    let shanghai = FixedOffset::east_opt(SHANGHAI_OFFSET_S).ok_or_else(bad)?;
    shanghai
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).ok_or_else(bad)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(bad)
}

impl AppState {
    /// The snapshot a read answers from: the current one, or the atlas as it stood at `at`.
    pub async fn snapshot_at(&self, at: Option<&str>) -> Result<Arc<Snapshot>, Problem> {
        let Some(raw) = at else {
            return Ok(self.atlas.snapshot());
        };
        let at = parse_at(raw)?;
        Ok(self
            .history
            .snapshot_at(&self.atlas, self.store.as_ref(), at)
            .await?)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionList {
    /// Oldest first. Every committed change of the atlas (seed, leader change, building
    /// upsert, plan publish) appends one.
    #[schema(value_type = Vec<Object>)]
    pub versions: Vec<AtlasVersion>,
    pub current: u64,
}

#[utoipa::path(get, path = "/v1/versions", tag = "history",
    responses((status = 200, description = "The atlas's version log", body = VersionList)))]
pub async fn list_versions(State(state): State<AppState>) -> Result<Json<VersionList>, Problem> {
    let versions = state.store.versions().await?;
    let current = versions.last().map_or(0, |v| v.version);
    Ok(Json(VersionList { versions, current }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GridVersion {
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_en: Option<String>,
    pub level: String,
    pub parent_code: Option<String>,
    /// Geodesic area in square metres.
    pub area_m2: f64,
    /// RFC 7946 geometry (WGS84).
    #[schema(value_type = Object)]
    pub geometry: Value,
}

/// A period during which a person held a leader role (names only: contacts are never part
/// of history).
#[derive(Debug, Serialize, ToSchema)]
pub struct LeaderPeriod {
    pub role: String,
    pub person_id: String,
    pub name: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamPeriod {
    pub id: String,
    pub name: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GridHistoryBody {
    pub code: String,
    /// Whether the code is in use now (a retired code is never reused).
    pub current: bool,
    /// Boundary and name versions, oldest first.
    pub versions: Vec<GridVersion>,
    pub leaders: Vec<LeaderPeriod>,
    pub service_teams: Vec<TeamPeriod>,
}

fn history_body(code: String, h: GridHistory) -> GridHistoryBody {
    GridHistoryBody {
        current: h.versions.iter().any(|v| v.valid_to.is_none()),
        code,
        versions: h
            .versions
            .into_iter()
            .map(|g| GridVersion {
                valid_from: g.valid_from,
                valid_to: g.valid_to,
                area_m2: (geodesic_area_m2(&g.geometry) * 10.0).round() / 10.0,
                geometry: serde_json::to_value(geojson::GeometryValue::from(&oriented_rfc7946(
                    &g.geometry,
                )))
                .unwrap_or(Value::Null),
                name: g.name,
                name_en: g.name_en,
                level: g.level.as_str().to_string(),
                parent_code: g.parent_code,
            })
            .collect(),
        leaders: h
            .leaders
            .into_iter()
            .map(|l| LeaderPeriod {
                role: l.role.as_str().to_string(),
                person_id: l.person_id,
                name: l.person_name,
                valid_from: l.valid_from,
                valid_to: l.valid_to,
            })
            .collect(),
        service_teams: h
            .teams
            .into_iter()
            .map(|t| TeamPeriod {
                id: t.team_id,
                name: t.team_name,
                valid_from: t.valid_from,
                valid_to: t.valid_to,
            })
            .collect(),
    }
}

#[utoipa::path(get, path = "/v1/grids/{code}/history", tag = "history",
    params(("code" = String, Path, description = "Grid code, current or retired")),
    responses(
        (status = 200, description = "Every version of the grid, its leaders and its service teams", body = GridHistoryBody),
        (status = 404, description = "The code was never used", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn grid_history(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Json<GridHistoryBody>, Problem> {
    let history = state.store.grid_history(&code).await?;
    if history.versions.is_empty() {
        return Err(Problem::not_found(format!(
            "no grid ever had the code '{code}'"
        )));
    }
    Ok(Json(history_body(code, history)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_takes_timestamps_and_shanghai_dates() {
        let t = parse_at("2026-11-01T09:30:00+08:00").expect("timestamp");
        assert_eq!(t.to_rfc3339(), "2026-11-01T01:30:00+00:00");
        let d = parse_at("2026-11-01").expect("date");
        assert_eq!(d.to_rfc3339(), "2026-10-31T16:00:00+00:00");
        for bad in ["yesterday", "2026-13-01", "2026-11-01T25:00:00Z", ""] {
            let p = parse_at(bad).expect_err(bad);
            assert_eq!(p.status().as_u16(), 400, "{bad}");
        }
    }
}
