//! Liveness and readiness for load balancers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotInfo {
    pub generation: u64,
    /// The atlas version (the store's version log) the snapshot answers from.
    pub version: u64,
    pub loaded_at: DateTime<Utc>,
    pub grids: usize,
    pub buildings: usize,
    pub addresses: usize,
    /// Snapshots of earlier moments held for `at=`.
    pub history_snapshots: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `degraded` (the store does not answer; lookups still work from the snapshot).
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub store: &'static str,
    pub store_ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_error: Option<String>,
    pub snapshot: SnapshotInfo,
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Snapshot loaded and store reachable", body = Readiness),
        (status = 503, description = "The store is unreachable", body = Readiness),
    ))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let snapshot = state.atlas.snapshot();
    let ping = state.store.ping().await;
    let info = SnapshotInfo {
        generation: snapshot.generation,
        version: snapshot.version,
        loaded_at: snapshot.loaded_at,
        grids: snapshot.spatial.grids.len(),
        buildings: snapshot.spatial.buildings.len(),
        addresses: snapshot.spatial.addresses.len(),
        history_snapshots: state.history.len(),
    };
    let status = if ping.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ping.is_ok() { "ready" } else { "degraded" },
            store: state.store.backend(),
            store_ok: ping.is_ok(),
            store_error: ping.err().map(|e| e.to_string()),
            snapshot: info,
        }),
    )
}
