//! The HTTP API: thin handlers that parse, ask the snapshot (or the store for writes), render.

pub mod auth;
pub mod extract;
pub mod grids;
pub mod health;
pub mod history;
pub mod layers;
pub mod lookup;
pub mod plans;
pub mod problem;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::atlas::Atlas;
use crate::atlas::history::HistoryCache;
use crate::store::Store;

pub use auth::{AuthConfig, Caller};
pub use problem::Problem;

/// Largest request body (a batch of 10,000 addresses fits well within it).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub atlas: Arc<Atlas>,
    pub store: Arc<dyn Store>,
    pub auth: Arc<AuthConfig>,
    /// Snapshots of earlier moments, for `at=`.
    pub history: Arc<HistoryCache>,
    /// Plan changes run one at a time in this instance (read, change, store).
    pub plan_writes: Arc<tokio::sync::Mutex<()>>,
}

impl AppState {
    pub fn new(atlas: Arc<Atlas>, store: Arc<dyn Store>, auth: AuthConfig) -> AppState {
        AppState {
            atlas,
            store,
            auth: Arc::new(auth),
            history: Arc::new(HistoryCache::default()),
            plan_writes: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Keeps up to `n` snapshots of earlier moments for `at=` (at least one).
    pub fn with_history_snapshots(mut self, n: usize) -> AppState {
        self.history = Arc::new(HistoryCache::new(n));
        self
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gridatlas",
        description = "Grid-governance geospatial service: which grid, which dual grid leaders and which service team cover any point, address or building."
    ),
    paths(
        lookup::lookup, lookup::batch, lookup::building_coverage,
        layers::get_layer,
        grids::get_grid, grids::list_grids, grids::put_leaders,
        history::list_versions, history::grid_history,
        plans::create_plan, plans::list_plans, plans::get_plan, plans::edit_plan,
        plans::recompute, plans::rebalance, plans::validate_plan, plans::diff_plan,
        plans::publish,
        health::healthz, health::readyz,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}

async fn not_found() -> Problem {
    Problem::not_found("no such endpoint; see /openapi.json")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this endpoint does not accept that method; see /openapi.json",
    )
}

fn panic_to_problem(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    Problem::internal("the request could not be completed").into_response()
}

pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::POST,
            Method::PUT,
        ])
        .allow_headers([
            header::IF_NONE_MATCH,
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
        ])
        .expose_headers([header::ETAG, header::LOCATION]);
    Router::new()
        .route("/v1/lookup", get(lookup::lookup))
        .route("/v1/lookup/batch", post(lookup::batch))
        .route(
            "/v1/buildings/{id}/coverage",
            get(lookup::building_coverage),
        )
        .route("/v1/layers/{level}", get(layers::get_layer))
        .route("/v1/grids", get(grids::list_grids))
        .route("/v1/grids/{code}", get(grids::get_grid))
        .route("/v1/grids/{code}/leaders", put(grids::put_leaders))
        .route("/v1/grids/{code}/history", get(history::grid_history))
        .route("/v1/versions", get(history::list_versions))
        .route("/v1/plans", post(plans::create_plan).get(plans::list_plans))
        .route("/v1/plans/{id}", get(plans::get_plan))
        .route("/v1/plans/{id}/edits", post(plans::edit_plan))
        .route("/v1/plans/{id}/recompute", post(plans::recompute))
        .route("/v1/plans/{id}/rebalance", post(plans::rebalance))
        .route("/v1/plans/{id}/validation", get(plans::validate_plan))
        .route("/v1/plans/{id}/diff", get(plans::diff_plan))
        .route("/v1/plans/{id}/publish", post(plans::publish))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/openapi.json", get(openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        .layer(cors)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(panic_to_problem))
        .layer(TraceLayer::new_for_http())
}
