//! City-scale benchmarks: the operations of the performance issue on a generated city.
//!
//! `cargo bench --bench city` (1,000,000 buildings, seed 7). Another size:
//! `GRIDATLAS_BENCH_BUILDINGS=100000 cargo bench --bench city`. The city is generated once into
//! `target/bench-city/<N>-seed7/` and read from there afterwards.
//!
//! Each figure has a reference measured in the same run: point location against the textbook
//! index (one R-tree over every grid, then the exact polygon test) and against the R-tree per
//! level that the cell index replaced (`locate_rtree_reference`, `building_at_rtree_reference`), batches against the same
//! points answered one by one without JSON, the snapshot build against merely cloning the data
//! it is built from.

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::cmp::Reverse;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use geo::coordinate_position::CoordPos;
use geo::{Coord, MultiPolygon, Rect};
use gridatlas::api::layers::{LayerRequest, Page, layer_json};
use gridatlas::api::lookup::{BatchRequest, Query, render_batch, resolve};
use gridatlas::atlas::spatial::position;
use gridatlas::atlas::{Snapshot, Visibility};
use gridatlas::geometry::crs::Crs;
use gridatlas::model::GridLevel;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};

#[path = "support/city.rs"]
mod city_support;
mod support;

use city_support::city;

use support::{bounds, points, unit_stream};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 10_000;
const LAYER_FEATURES: usize = 10_000;

fn buildings() -> u64 {
    city_support::size_from_env("GRIDATLAS_BENCH_BUILDINGS", 1_000_000)
}

/// A square window around the city's centre holding at least `want` building grids.
fn layer_window(snapshot: &Snapshot, want: usize) -> Rect<f64> {
    let b = bounds(snapshot);
    let c = b.center();
    let mut half = b.width().min(b.height()) / 1000.0;
    loop {
        let r = Rect::new(
            Coord {
                x: c.x - half,
                y: c.y - half,
            },
            Coord {
                x: c.x + half,
                y: c.y + half,
            },
        );
        let found = snapshot.spatial.grids_in_bbox(GridLevel::Building, r).len();
        if found >= want || half > b.width().max(b.height()) {
            return r;
        }
        half *= 1.1;
    }
}

/// The textbook index, for reference: one R-tree (rstar's default nodes) over the boxes of
/// all grids, every candidate tested exactly, the border rule applied to all of them.
/// The geometries are copied out of the snapshot's flat store into `geo` types, as a
/// textbook index would hold them.
struct MixedTree(
    RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
    Vec<MultiPolygon<f64>>,
);

impl MixedTree {
    fn new(snapshot: &Snapshot) -> MixedTree {
        MixedTree(
            RTree::bulk_load(
                (0..snapshot.spatial.grids.len() as u32)
                    .map(|i| {
                        let b = snapshot.spatial.grid_bbox(i);
                        let (lo, hi) = (b.min(), b.max());
                        GeomWithData::new(Rectangle::from_corners([lo.x, lo.y], [hi.x, hi.y]), i)
                    })
                    .collect(),
            ),
            (0..snapshot.spatial.grids.len() as u32)
                .map(|i| snapshot.spatial.grid_geometry(i))
                .collect(),
        )
    }

    /// Deepest level, then interior over border, then smallest code (grids are in code order).
    fn locate(&self, snapshot: &Snapshot, lon: f64, lat: f64) -> Option<u32> {
        self.0
            .locate_all_at_point(&[lon, lat])
            .filter_map(|e| {
                let g = &snapshot.spatial.grids[e.data as usize];
                match position(&self.1[e.data as usize], lon, lat) {
                    CoordPos::Outside => None,
                    pos => Some((
                        g.level,
                        Reverse(pos == CoordPos::OnBoundary),
                        Reverse(e.data),
                    )),
                }
            })
            .max()
            .map(|(_, _, Reverse(i))| i)
    }
}

fn benches(c: &mut Criterion) {
    let n = buildings();
    let ds = city(n);
    let started = Instant::now();
    let snapshot = Snapshot::from_dataset(ds.clone(), 1);
    eprintln!(
        "bench city: snapshot built in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    eprintln!("bench city: cell index {:?}", snapshot.spatial.cell_stats());
    let vis = Visibility::default();
    let pts = points(&snapshot, 1 << 16);

    let mut g = c.benchmark_group(format!("city{n}/point"));
    g.throughput(Throughput::Elements(1));
    let reference = MixedTree::new(&snapshot);
    g.bench_function("locate_one_rtree_reference", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            black_box(reference.locate(&snapshot, x, y))
        })
    });
    g.bench_function("locate_rtree_reference", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            black_box(snapshot.spatial.locate_by_rtree(x, y))
        })
    });
    g.bench_function("locate", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            black_box(snapshot.spatial.locate(x, y))
        })
    });
    g.bench_function("building_at_rtree_reference", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            black_box(snapshot.spatial.building_at_by_rtree(x, y))
        })
    });
    g.bench_function("building_at", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            black_box(snapshot.spatial.building_at(x, y))
        })
    });
    // The nearby-grid step of an answer (20 m), for the located points, chains resolved first.
    let near_inputs: Vec<(f64, f64, Vec<u32>, f64)> = pts
        .iter()
        .filter_map(|&(x, y)| {
            let s = &snapshot.spatial;
            let h = s.locate(x, y)?;
            let inner = if h.on_border {
                0.0
            } else {
                s.border_distance_m(h.grid, x, y)
            };
            Some((x, y, s.chain(h.grid).to_vec(), inner))
        })
        .collect();
    g.bench_function("grids_near_rtree_reference", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y, chain, inner) = &near_inputs[i % near_inputs.len()];
            i += 1;
            black_box(
                snapshot
                    .spatial
                    .grids_near_by_rtree(*x, *y, 20.0, chain, *inner)
                    .len(),
            )
        })
    });
    g.bench_function("grids_near", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y, chain, inner) = &near_inputs[i % near_inputs.len()];
            i += 1;
            black_box(
                snapshot
                    .spatial
                    .grids_near(*x, *y, 20.0, chain, *inner)
                    .len(),
            )
        })
    });
    g.bench_function("full_answer", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            black_box(snapshot.answer_point(x, y, 20.0, vis).is_some())
        })
    });
    g.finish();

    let addresses: Vec<&str> = {
        let mut next = unit_stream(42);
        (0..4096)
            .filter_map(|_| {
                let b = &ds.buildings[(next() * ds.buildings.len() as f64) as usize];
                b.addresses.first().map(String::as_str)
            })
            .collect()
    };
    let mut g = c.benchmark_group(format!("city{n}/address"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("lookup", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(
                snapshot
                    .spatial
                    .addresses
                    .lookup(addresses[i % addresses.len()])
                    .is_ok(),
            )
        })
    });
    g.bench_function("full_answer", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let q = Query::Address(addresses[i % addresses.len()].to_string());
            black_box(resolve(&snapshot, &q, 20.0, vis).is_ok())
        })
    });
    g.finish();

    let ids: Vec<String> = {
        let mut next = unit_stream(43);
        (0..4096)
            .map(|_| {
                ds.buildings[(next() * ds.buildings.len() as f64) as usize]
                    .id
                    .clone()
            })
            .collect()
    };
    let mut g = c.benchmark_group(format!("city{n}/building"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("full_answer", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let q = Query::Building(ids[i % ids.len()].clone());
            black_box(resolve(&snapshot, &q, 20.0, vis).is_ok())
        })
    });
    g.finish();

    // The batch as the HTTP handler sees it: the JSON body in, the JSON results out.
    let body = serde_json::to_vec(&serde_json::json!({
        "items": pts[..BATCH]
            .iter()
            .map(|&(lon, lat)| serde_json::json!({"lon": lon, "lat": lat}))
            .collect::<Vec<_>>()
    }))
    .expect("the batch body serializes");
    let mut g = c.benchmark_group(format!("city{n}/batch"));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(20);
    g.bench_function("10000_points_json_in_and_out", |b| {
        b.iter(|| {
            let request: BatchRequest =
                serde_json::from_slice(&body).expect("the batch body parses");
            black_box(render_batch(&snapshot, &request.items, 20.0, vis).map(|v| v.len()))
        })
    });
    g.bench_function("10000_points_answers_only_reference", |b| {
        b.iter(|| {
            black_box(
                pts[..BATCH]
                    .iter()
                    .filter(|&&(x, y)| snapshot.answer_point(x, y, 20.0, vis).is_some())
                    .count(),
            )
        })
    });
    g.finish();

    let window = layer_window(&snapshot, LAYER_FEATURES);
    let request = LayerRequest {
        level: GridLevel::Building,
        bbox: None,
        crs: Crs::Wgs84,
        page: Page {
            offset: 0,
            limit: LAYER_FEATURES,
        },
        at: None,
    };
    let mut g = c.benchmark_group(format!("city{n}/layer"));
    g.throughput(Throughput::Elements(LAYER_FEATURES as u64));
    g.sample_size(20);
    g.bench_function("bbox_10000_building_grids", |b| {
        b.iter(|| black_box(layer_json(&snapshot, &request, window).len()))
    });
    g.finish();

    let mut g = c.benchmark_group(format!("city{n}/snapshot"));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    g.bench_function("build", |b| {
        b.iter_batched(
            || ds.clone(),
            |d| black_box(Snapshot::from_dataset(d, 2).spatial.grids.len()),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("clone_dataset_reference", |b| {
        b.iter(|| black_box(ds.clone().grids.len()))
    });
    g.finish();
}

criterion_group!(city_benches, benches);
criterion_main!(city_benches);
