//! Plans: drafts of a new atlas that planners edit, recompute, rebalance, validate, compare and
//! publish. A draft never affects lookups until it is published.
//!
//! A plan is stored as its difference from the atlas version it was made from
//! ([`AtlasChanges`]). Every request materialises the plan's dataset (the current atlas with the
//! difference applied), works on it, and stores the new difference. Publishing checks the
//! plan's base version twice: against `If-Match` (the caller's idea of the plan) and, inside the
//! store's transaction, against the atlas (so two planners cannot overwrite each other).

use std::collections::HashSet;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::auth::Caller;
use super::extract::{ApiJson, ApiPath};
use super::problem::Problem;
use crate::atlas::Snapshot;
use crate::model::{AtlasChanges, Dataset};
use crate::planner::diff::{self, DiffReport};
use crate::planner::edit::{self, Edit};
use crate::planner::redraw::{self, GroupOutcome, RedrawError, Weight};
use crate::planner::{changes, validation};
use crate::store::{PlanRecord, PlanStatus, StoreError};

/// Longest plan name.
const MAX_NAME_CHARS: usize = 200;

/// What a plan changes, in codes a planner recognises.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeSummary {
    /// Codes of grids the plan adds.
    pub grids_added: Vec<String>,
    /// Codes of current grids whose name, parent or boundary the plan changes.
    pub grids_changed: Vec<String>,
    /// Codes of current grids the plan retires.
    pub grids_retired: Vec<String>,
    pub buildings_moved: usize,
    pub leader_assignments_changed: usize,
    pub team_assignments_changed: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanBody {
    pub id: i64,
    pub name: String,
    #[schema(value_type = String)]
    pub status: PlanStatus,
    /// The atlas version the plan was made from; `If-Match` of a publish carries it.
    pub base_version: u64,
    /// The atlas version now.
    pub atlas_version: u64,
    /// True when the atlas changed since the plan was made: it can no longer be published.
    pub stale: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub published_version: Option<u64>,
    pub changes: ChangeSummary,
}

fn summary(snapshot: &Snapshot, c: &AtlasChanges) -> ChangeSummary {
    let (changed, added): (Vec<String>, Vec<String>) = c
        .grids
        .iter()
        .map(|g| g.code.clone())
        .partition(|code| snapshot.spatial.grid_index(code).is_some());
    ChangeSummary {
        grids_added: added,
        grids_changed: changed,
        grids_retired: c.retired.clone(),
        buildings_moved: c.building_grids.len(),
        leader_assignments_changed: c.leaders_ended.len() + c.leaders_begun.len(),
        team_assignments_changed: c.teams_ended.len() + c.teams_begun.len(),
    }
}

fn plan_body(snapshot: &Snapshot, record: &PlanRecord, c: &AtlasChanges) -> PlanBody {
    PlanBody {
        id: record.id,
        name: record.name.clone(),
        status: record.status,
        base_version: record.base_version,
        atlas_version: snapshot.version,
        stale: record.status == PlanStatus::Draft && record.base_version != snapshot.version,
        created_at: record.created_at,
        created_by: record.created_by.clone(),
        updated_at: record.updated_at,
        published_version: record.published_version,
        changes: summary(snapshot, c),
    }
}

/// The plan's base version as an entity tag, so that `If-Match` can carry it.
fn version_tag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

fn with_tag(status: StatusCode, record: &PlanRecord, body: impl Serialize) -> Response {
    (
        status,
        [(header::ETAG, version_tag(record.base_version))],
        Json(body),
    )
        .into_response()
}

fn plan_not_found(id: i64) -> Problem {
    Problem::not_found(format!("no plan with id {id}"))
}

fn stale_plan(record: &PlanRecord, snapshot: &Snapshot, why: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "stale-plan",
        "The plan no longer applies",
        format!(
            "plan {} was made from atlas version {} and the atlas is now at version {}: {why}; make a new plan",
            record.id, record.base_version, snapshot.version
        ),
    )
}

fn unprocessable(slug: &str, title: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, title, detail)
}

/// A plan with its dataset and the atlas it applies to.
struct Working {
    snapshot: Arc<Snapshot>,
    record: PlanRecord,
    base: Dataset,
    plan: Dataset,
}

async fn record(state: &AppState, id: i64) -> Result<PlanRecord, Problem> {
    state
        .store
        .plan(id)
        .await?
        .ok_or_else(|| plan_not_found(id))
}

/// Materialises a plan: the current atlas with the plan's changes applied (CPU work for a
/// city, so off the async workers).
async fn working(state: &AppState, id: i64) -> Result<Working, Problem> {
    let record = record(state, id).await?;
    let snapshot = state.atlas.snapshot();
    tokio::task::spawn_blocking(move || {
        let c = changes::from_json(&record.changes)
            .map_err(|e| Problem::internal(format!("plan {} is unreadable: {e}", record.id)))?;
        let base = snapshot.to_dataset();
        let plan = changes::apply(&base, &c).map_err(|e| stale_plan(&record, &snapshot, e))?;
        Ok(Working {
            snapshot,
            record,
            base,
            plan,
        })
    })
    .await
    .map_err(|e| Problem::internal(format!("plan worker failed: {e}")))?
}

fn require_draft(record: &PlanRecord) -> Result<(), Problem> {
    match record.status {
        PlanStatus::Draft => Ok(()),
        PlanStatus::Published => Err(Problem::new(
            StatusCode::CONFLICT,
            "plan-published",
            "The plan is published",
            format!(
                "plan {} was published as atlas version {}; make a new plan to change the atlas again",
                record.id,
                record.published_version.unwrap_or_default()
            ),
        )),
    }
}

/// Stores the plan's new dataset as its difference from the base and answers the plan.
async fn save(
    state: &AppState,
    w: &Working,
    new_plan: &Dataset,
    caller: Caller,
) -> Result<(PlanRecord, AtlasChanges), Problem> {
    let c = changes::between(&w.base, new_plan);
    let updated = state
        .store
        .update_plan(w.record.id, &changes::to_json(&c), caller.actor())
        .await?
        .ok_or_else(|| plan_not_found(w.record.id))?;
    Ok((updated, c))
}

/// Every code a new grid may not take: the atlas's codes, current and retired, and the
/// plan's own.
async fn taken_codes(state: &AppState, plan: &Dataset) -> Result<HashSet<String>, Problem> {
    let mut taken: HashSet<String> = state.store.used_codes().await?.into_iter().collect();
    taken.extend(plan.grids.iter().map(|g| g.code.clone()));
    Ok(taken)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    /// What the plan is for, e.g. "南京西路 2027 rebalance".
    #[serde(default)]
    pub name: Option<String>,
}

fn plan_name(raw: Option<&str>) -> Result<String, Problem> {
    let name = raw.map(str::trim).unwrap_or("");
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Problem::bad_request(
            "name",
            format!("name must be at most {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    Ok(if name.is_empty() {
        "untitled plan".to_string()
    } else {
        name.to_string()
    })
}

#[utoipa::path(post, path = "/v1/plans", tag = "plans",
    request_body = NewPlan,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A draft made from the current atlas; ETag is its base version", body = PlanBody),
        (status = 400, description = "Bad name or body", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token may not plan", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewPlan>,
) -> Result<Response, Problem> {
    state.auth.require_planner(caller)?;
    let name = plan_name(body.name.as_deref())?;
    let snapshot = state.atlas.snapshot();
    let empty = AtlasChanges::default();
    let record = state
        .store
        .create_plan(
            &name,
            snapshot.version,
            &changes::to_json(&empty),
            caller.actor(),
        )
        .await?;
    tracing::info!(
        plan = record.id,
        base = record.base_version,
        actor = caller.actor(),
        "plan created"
    );
    let location = HeaderValue::from_str(&format!("/v1/plans/{}", record.id))
        .map_err(|e| Problem::internal(e.to_string()))?;
    let mut response = with_tag(
        StatusCode::CREATED,
        &record,
        plan_body(&snapshot, &record, &empty),
    );
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanList {
    /// Newest first.
    pub plans: Vec<PlanListItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanListItem {
    pub id: i64,
    pub name: String,
    #[schema(value_type = String)]
    pub status: PlanStatus,
    pub base_version: u64,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub published_version: Option<u64>,
}

#[utoipa::path(get, path = "/v1/plans", tag = "plans",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every plan, newest first", body = PlanList),
        (status = 401, description = "No or invalid token", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_plans(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<PlanList>, Problem> {
    state.auth.require_planner(caller)?;
    let plans = state
        .store
        .plans()
        .await?
        .into_iter()
        .map(|p| PlanListItem {
            id: p.id,
            name: p.name,
            status: p.status,
            base_version: p.base_version,
            created_by: p.created_by,
            updated_at: p.updated_at,
            published_version: p.published_version,
        })
        .collect();
    Ok(Json(PlanList { plans }))
}

#[utoipa::path(get, path = "/v1/plans/{id}", tag = "plans",
    params(("id" = i64, Path, description = "Plan id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plan; ETag is its base version", body = PlanBody),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, Problem> {
    state.auth.require_planner(caller)?;
    let record = record(&state, id).await?;
    let snapshot = state.atlas.snapshot();
    let c = changes::from_json(&record.changes)
        .map_err(|e| Problem::internal(format!("plan {id} is unreadable: {e}")))?;
    Ok(with_tag(
        StatusCode::OK,
        &record,
        plan_body(&snapshot, &record, &c),
    ))
}

/// A plan after a change, and what the change reported.
struct Changed<T> {
    record: PlanRecord,
    body: PlanBody,
    extra: T,
}

/// Runs a change of the plan's dataset under the plan lock (one change at a time, so that
/// two concurrent edits of one plan cannot lose each other) and stores the result.
async fn change_plan<T: Send + 'static>(
    state: &AppState,
    id: i64,
    caller: Caller,
    op: impl FnOnce(&Dataset, &HashSet<String>) -> Result<(Dataset, T), Problem> + Send + 'static,
) -> Result<Changed<T>, Problem> {
    state.auth.require_planner(caller)?;
    let _one_at_a_time = state.plan_writes.lock().await;
    let w = working(state, id).await?;
    require_draft(&w.record)?;
    if w.record.base_version != w.snapshot.version {
        // Changing it now would rebase it silently on an atlas its author never saw.
        return Err(stale_plan(
            &w.record,
            &w.snapshot,
            "it cannot be changed or published",
        ));
    }
    let taken = taken_codes(state, &w.plan).await?;
    let plan = w.plan.clone();
    let (new_plan, extra) = tokio::task::spawn_blocking(move || op(&plan, &taken))
        .await
        .map_err(|e| Problem::internal(format!("plan worker failed: {e}")))??;
    let (record, c) = save(state, &w, &new_plan, caller).await?;
    Ok(Changed {
        body: plan_body(&w.snapshot, &record, &c),
        record,
        extra,
    })
}

#[utoipa::path(post, path = "/v1/plans/{id}/edits", tag = "plans",
    params(("id" = i64, Path, description = "Plan id")),
    request_body = Edit,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plan after the edit", body = PlanBody),
        (status = 400, description = "The body is not an edit", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan is published, or no longer applies", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The edit does not fit the plan (unknown code, wrong level, taken code, invalid geometry …)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn edit_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(e): ApiJson<Edit>,
) -> Result<Response, Problem> {
    let changed = change_plan(&state, id, caller, move |plan, taken| {
        let new = edit::apply(plan, &e, &|c: &str| taken.contains(c)).map_err(|err| {
            unprocessable(
                "invalid-edit",
                "The edit does not fit the plan",
                err.to_string(),
            )
        })?;
        Ok((new, ()))
    })
    .await?;
    Ok(with_tag(StatusCode::OK, &changed.record, changed.body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecomputeRequest {
    /// Code of the neighborhood grid whose building-group and building grids are redrawn.
    pub neighborhood: String,
}

fn redraw_problem(e: RedrawError) -> Problem {
    match e {
        RedrawError::UnknownGrid(_) | RedrawError::NotANeighborhood(..) => {
            Problem::bad_request("neighborhood", e.to_string())
        }
        other => unprocessable(
            "redraw-failed",
            "The neighborhood cannot be redrawn",
            other.to_string(),
        ),
    }
}

#[utoipa::path(post, path = "/v1/plans/{id}/recompute", tag = "plans",
    params(("id" = i64, Path, description = "Plan id")),
    request_body = RecomputeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plan with the neighborhood's building-group and building grids redrawn to tile it", body = PlanBody),
        (status = 400, description = "Unknown grid, or not a neighborhood", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan is published, or no longer applies", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The neighborhood cannot be redrawn (no building, bad footprints …)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn recompute(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<RecomputeRequest>,
) -> Result<Response, Problem> {
    let changed = change_plan(&state, id, caller, move |plan, _| {
        let new = redraw::recompute_neighborhood(plan, &r.neighborhood).map_err(redraw_problem)?;
        Ok((new, ()))
    })
    .await?;
    Ok(with_tag(StatusCode::OK, &changed.record, changed.body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RebalanceRequest {
    /// Code of the neighborhood grid whose buildings are regrouped.
    pub neighborhood: String,
    /// How many building groups (at least 1).
    pub groups: usize,
    /// The workload figure to balance.
    pub weight: Weight,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RebalanceBody {
    pub plan: PlanBody,
    pub neighborhood: String,
    #[schema(value_type = String)]
    pub weight: Weight,
    /// The largest deviation from the mean the rebalance aims for (0.10 = 10%).
    pub max_deviation: f64,
    /// Buildings that left their building group.
    pub buildings_moved: usize,
    /// One entry per building group: weight, deviation from the mean, Polsby-Popper
    /// compactness, buildings moved in and out, contiguity.
    pub groups: Vec<GroupOutcome>,
}

#[utoipa::path(post, path = "/v1/plans/{id}/rebalance", tag = "plans",
    params(("id" = i64, Path, description = "Plan id")),
    request_body = RebalanceRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The plan with the neighborhood regrouped and redrawn, and a report per group", body = RebalanceBody),
        (status = 400, description = "Unknown neighborhood, bad group count or weight", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan is published, or no longer applies", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No contiguous balanced grouping exists, or the neighborhood cannot be redrawn", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn rebalance(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<RebalanceRequest>,
) -> Result<Response, Problem> {
    if r.groups == 0 {
        return Err(Problem::bad_request("groups", "groups must be at least 1"));
    }
    let (neighborhood, weight) = (r.neighborhood.clone(), r.weight);
    let Changed {
        record,
        body: plan,
        extra: groups,
    } = change_plan(&state, id, caller, move |plan, taken| {
        redraw::rebalance_neighborhood(plan, &r.neighborhood, r.groups, r.weight, &|c: &str| {
            taken.contains(c)
        })
        .map_err(redraw_problem)
    })
    .await?;
    let body = RebalanceBody {
        plan,
        neighborhood,
        weight,
        max_deviation: redraw::MAX_DEVIATION,
        buildings_moved: groups.iter().map(|g| g.moved_out).sum(),
        groups,
    };
    Ok(with_tag(StatusCode::OK, &record, body))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationBody {
    /// No error-severity problem: the plan may be published.
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    /// Each with kind, severity, codes, area_m2, message and the problem's region as GeoJSON.
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<Value>,
}

fn validation_body(report: &validation::Report) -> ValidationBody {
    ValidationBody {
        ok: report.ok(),
        errors: report.errors(),
        warnings: report.warnings(),
        problems: report
            .problems
            .iter()
            .map(validation::problem_json)
            .collect(),
    }
}

#[utoipa::path(get, path = "/v1/plans/{id}/validation", tag = "plans",
    params(("id" = i64, Path, description = "Plan id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every problem of the plan (gaps, overlaps, nesting, buildings, leaders) with its region", body = ValidationBody),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan no longer applies", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn validate_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ValidationBody>, Problem> {
    state.auth.require_planner(caller)?;
    let w = working(&state, id).await?;
    let report = tokio::task::spawn_blocking(move || validation::validate(&w.plan))
        .await
        .map_err(|e| Problem::internal(format!("validation failed: {e}")))?;
    Ok(Json(validation_body(&report)))
}

#[utoipa::path(get, path = "/v1/plans/{id}/diff", tag = "plans",
    params(("id" = i64, Path, description = "Plan id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Grids added, removed and changed, buildings moved, and every building and address whose leaders or team would change (for a published plan: did change, read from history)", body = DiffReport),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan no longer applies", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn diff_plan(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DiffReport>, Problem> {
    state.auth.require_planner(caller)?;
    let record = record(&state, id).await?;
    let (base, plan) = match record.status {
        PlanStatus::Draft => {
            let w = working(&state, id).await?;
            (w.base, w.plan)
        }
        PlanStatus::Published => published_states(&state, &record).await?,
    };
    let report = tokio::task::spawn_blocking(move || diff::report(&base, &plan))
        .await
        .map_err(|e| Problem::internal(format!("diff failed: {e}")))?;
    Ok(Json(report))
}

/// The atlas just before and just after a published plan, from the store's history (so the
/// diff of a plan can still be read, and the people concerned told, after it is published).
async fn published_states(
    state: &AppState,
    record: &PlanRecord,
) -> Result<(Dataset, Dataset), Problem> {
    let versions = state.store.versions().await?;
    let published = versions
        .iter()
        .find(|v| Some(v.version) == record.published_version)
        .ok_or_else(|| {
            Problem::internal(format!(
                "plan {} is published but its version is not in the log",
                record.id
            ))
        })?;
    let just_before = published.at - chrono::Duration::milliseconds(1);
    let before = state.store.load_at(Some(just_before)).await?;
    let after = state.store.load_at(Some(published.at)).await?;
    Ok((before.dataset, after.dataset))
}

/// The version `If-Match` names: `"3"`, `W/"3"` or `3`.
fn if_match_version(headers: &HeaderMap) -> Result<u64, Problem> {
    let raw = headers
        .get(header::IF_MATCH)
        .ok_or_else(|| {
            Problem::new(
                StatusCode::PRECONDITION_REQUIRED,
                "if-match-required",
                "If-Match required",
                "a publish needs If-Match with the plan's base version (the ETag of GET /v1/plans/{id})",
            )
        })?
        .to_str()
        .map_err(|_| Problem::bad_request("If-Match", "If-Match is not text"))?;
    let tag = raw.trim().trim_start_matches("W/").trim_matches('"');
    tag.parse().map_err(|_| {
        Problem::bad_request(
            "If-Match",
            format!("If-Match must carry the plan's base version, e.g. \"3\", not '{raw}'"),
        )
    })
}

fn precondition_failed(detail: String, base: u64, current: u64) -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        "atlas-changed",
        "The atlas changed since the plan was made",
        detail,
    )
    .with("base_version", base)
    .with("atlas_version", current)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishBody {
    pub plan_id: i64,
    /// The new atlas version.
    pub version: u64,
    pub published_at: DateTime<Utc>,
    /// Warnings the plan was published with (errors refuse a publish).
    pub warnings: usize,
}

#[utoipa::path(post, path = "/v1/plans/{id}/publish", tag = "plans",
    params(("id" = i64, Path, description = "Plan id"),
           ("If-Match" = String, Header, description = "The plan's base version, as its ETag: \"3\"")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Published atomically: every instance answers from the new version", body = PublishBody),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plan is already published", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The atlas changed since the plan was made, or If-Match is not the plan's base version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The plan is not valid: the problems are listed", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> Result<Json<PublishBody>, Problem> {
    state.auth.require_planner(caller)?;
    let expected = if_match_version(&headers)?;
    let _one_at_a_time = state.plan_writes.lock().await;
    let record = record(&state, id).await?;
    require_draft(&record)?;
    if expected != record.base_version {
        return Err(precondition_failed(
            format!(
                "If-Match names version {expected}, but plan {id} was made from version {}",
                record.base_version
            ),
            record.base_version,
            state.atlas.snapshot().version,
        ));
    }
    let current = state.atlas.snapshot().version;
    if current != record.base_version {
        return Err(precondition_failed(
            format!(
                "plan {id} was made from atlas version {} and the atlas is now at version {current}; make a new plan from the current atlas",
                record.base_version
            ),
            record.base_version,
            current,
        ));
    }
    let w = working(&state, id).await?;
    let (report, c) = tokio::task::spawn_blocking(move || {
        let report = validation::validate(&w.plan);
        let c = changes::between(&w.base, &w.plan);
        (report, c)
    })
    .await
    .map_err(|e| Problem::internal(format!("validation failed: {e}")))?;
    if !report.ok() {
        let body = validation_body(&report);
        return Err(unprocessable(
            "invalid-plan",
            "The plan is not valid",
            format!(
                "plan {id} has {} error(s) and {} warning(s); fix the errors (see problems) and publish again",
                body.errors, body.warnings
            ),
        )
        .with("problems", body.problems));
    }
    let at = Utc::now();
    let version = match state
        .store
        .publish(id, record.base_version, &c, caller.actor(), at)
        .await
    {
        Ok(v) => v,
        Err(StoreError::VersionMismatch { base, current }) => {
            return Err(precondition_failed(
                format!(
                    "plan {id} was made from atlas version {base} and the atlas is now at version {current}"
                ),
                base,
                current,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(
        plan = id,
        version = version.version,
        actor = caller.actor(),
        "plan published"
    );
    // This instance answers from the new version before the publish returns; the others
    // follow through the store's change feed.
    state.atlas.reload(state.store.as_ref()).await?;
    Ok(Json(PublishBody {
        plan_id: id,
        version: version.version,
        published_at: version.at,
        warnings: report.warnings(),
    }))
}
