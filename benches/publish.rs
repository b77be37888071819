//! Publishing a plan, as a planner's client sees it: `cargo bench --bench publish`.
//!
//! A generated district (10,000 buildings by default, `GRIDATLAS_BENCH_PUBLISH_BUILDINGS`) in the
//! embedded SQLite store; the plan redraws the neighborhood with the most buildings (every
//! building-group and building grid of it gets a new version). Each iteration makes a plan
//! (not timed) and times `POST /v1/plans/{id}/publish` through the real router: validation of
//! the whole plan, the store's transaction, and the reload that makes this instance answer from
//! the new version. The plans alternate between the generated and the recomputed boundaries,
//! so every publish writes the same amount.
//!
//! Reference in the same run: a full reload of the atlas (store read + snapshot build), what
//! any change of geometry costs an instance.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use gridatlas::api::{AppState, AuthConfig, router};
use gridatlas::atlas::Atlas;
use gridatlas::model::{Dataset, GridLevel};
use gridatlas::planner::changes;
use gridatlas::planner::redraw::recompute_neighborhood;
use gridatlas::store::Store;
use tower::ServiceExt;

#[path = "support/city.rs"]
mod city_support;

use city_support::city;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-planner";

fn buildings() -> u64 {
    city_support::size_from_env("GRIDATLAS_BENCH_PUBLISH_BUILDINGS", 10_000)
}

/// The neighborhood holding the most buildings, and how many.
fn busiest_neighborhood(ds: &Dataset) -> (String, usize) {
    let parent: HashMap<&str, &str> = ds
        .grids
        .iter()
        .filter_map(|g| Some((g.code.as_str(), g.parent_code.as_deref()?)))
        .collect();
    let level: HashMap<&str, GridLevel> = ds
        .grids
        .iter()
        .map(|g| (g.code.as_str(), g.level))
        .collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for b in &ds.buildings {
        let mut code = b.grid_code.as_deref();
        while let Some(c) = code {
            if level.get(c) == Some(&GridLevel::Neighborhood) {
                *count.entry(c).or_default() += 1;
                break;
            }
            code = parent.get(c).copied();
        }
    }
    count
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(c, n)| (c.to_string(), n))
        .expect("the city has neighborhoods with buildings")
}

struct Bench {
    runtime: tokio::runtime::Runtime,
    state: AppState,
    store: Arc<dyn Store>,
    atlas: Arc<Atlas>,
    /// The two states a publish alternates between.
    states: [Dataset; 2],
    _dir: tempfile::TempDir,
}

impl Bench {
    fn new(n: u64) -> Bench {
        let ds = city(n);
        let (hood, inside) = busiest_neighborhood(&ds);
        let redrawn = recompute_neighborhood(&ds, &hood).expect("the neighborhood recomputes");
        let changed = changes::between(&ds, &redrawn).grids.len();
        eprintln!(
            "publish bench: {} grids, {} buildings; neighborhood {hood} holds {inside} buildings; a publish writes {changed} grid versions",
            ds.grids.len(),
            ds.buildings.len()
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("atlas.db").display());
        let (store, atlas) = runtime.block_on(async {
            let store = gridatlas::store::open(&url).await.expect("open the store");
            store.seed(&ds, "bench").await.expect("seed");
            let atlas = Arc::new(Atlas::load(store.as_ref()).await.expect("load"));
            (store, atlas)
        });
        let state = AppState::new(
            atlas.clone(),
            store.clone(),
            AuthConfig {
                planner_token: Some(TOKEN.into()),
                ..Default::default()
            },
        );
        // The store's own idea of the atlas (valid_from as stored) is the base of every plan.
        let stored = atlas.snapshot().to_dataset();
        let redrawn = recompute_neighborhood(&stored, &hood).expect("recomputes");
        Bench {
            runtime,
            state,
            store,
            atlas,
            states: [stored, redrawn],
            _dir: dir,
        }
    }

    /// Makes a plan from the current atlas to `target` and publishes it; returns the time of
    /// the publish request alone.
    fn publish_to(&self, target: &Dataset) -> Duration {
        self.runtime.block_on(async {
            let snapshot = self.atlas.snapshot();
            let current = snapshot.to_dataset();
            let json = changes::to_json(&changes::between(&current, target));
            let plan = self
                .store
                .create_plan("bench", snapshot.version, &json, "bench")
                .await
                .expect("plan");
            let request = Request::builder()
                .method("POST")
                .uri(format!("/v1/plans/{}/publish", plan.id))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("if-match", format!("\"{}\"", snapshot.version))
                .body(Body::empty())
                .expect("request");
            let started = Instant::now();
            let response = router(self.state.clone())
                .oneshot(request)
                .await
                .expect("the router answers");
            let took = started.elapsed();
            assert_eq!(response.status(), 200, "publish failed");
            took
        })
    }
}

fn benches(c: &mut Criterion) {
    let bench = Bench::new(buildings());
    let mut g = c.benchmark_group("planning/publish");
    g.sample_size(10);
    let mut flip = 1usize;
    g.bench_function("redrawn_neighborhood", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let took = bench.publish_to(&bench.states[flip]);
                    flip = 1 - flip;
                    took
                })
                .sum()
        })
    });
    g.bench_function("full_reload_reference", |b| {
        b.iter(|| {
            bench
                .runtime
                .block_on(bench.atlas.reload(bench.store.as_ref()))
                .expect("reload")
        })
    });
    g.finish();
}

criterion_group!(publish, benches);
criterion_main!(publish);
