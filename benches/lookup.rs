//! Lookup speed on the sample atlas, each figure next to a reference measured in the same run:
//! the indexed answer against a brute-force scan of every grid with the same exact test.
//!
//! `cargo bench --bench lookup`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use geo::{Contains, Coord, Rect};
use gridatlas::api::layers::{LayerRequest, Page, layer_json};
use gridatlas::api::lookup::{Query, resolve};
use gridatlas::atlas::{Snapshot, Visibility};
use gridatlas::geometry::crs::Crs;
use gridatlas::model::{Dataset, GridLevel};

mod support;

use support::points;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn sample() -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata");
    gridatlas::import::geodata::read_folder(&dir).expect("the sample reads")
}

fn benches(c: &mut Criterion) {
    let ds = sample();
    let snapshot = Snapshot::from_dataset(ds.clone(), 1);
    let pts = points(&snapshot, 4096);
    let vis = Visibility::default();

    let mut group = c.benchmark_group("point");
    group.bench_function("locate_indexed", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            black_box(snapshot.spatial.locate(x, y))
        })
    });
    // The brute force reference reads `geo` geometries, as a textbook loop would hold them.
    let geometries: Vec<_> = (0..snapshot.spatial.grids.len() as u32)
        .map(|g| {
            (
                snapshot.spatial.grid_geometry(g),
                snapshot.spatial.grid(g).level,
            )
        })
        .collect();
    group.bench_function("locate_brute_force_reference", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            let p = geo::point! {x: x, y: y};
            black_box(
                geometries
                    .iter()
                    .filter(|(g, _)| g.contains(&p))
                    .map(|&(_, level)| level)
                    .max(),
            )
        })
    });
    group.bench_function("full_answer", |b| {
        let mut i = 0;
        b.iter(|| {
            let (x, y) = pts[i % pts.len()];
            i += 1;
            black_box(snapshot.answer_point(x, y, 20.0, vis))
        })
    });
    group.finish();

    let addresses: Vec<String> = ds
        .buildings
        .iter()
        .flat_map(|b| b.addresses.iter().cloned())
        .collect();
    c.bench_function("address/lookup", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(
                snapshot
                    .spatial
                    .addresses
                    .lookup(&addresses[i % addresses.len()])
                    .is_ok(),
            )
        })
    });
    c.bench_function("address/full_answer", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            let q = Query::Address(addresses[i % addresses.len()].clone());
            black_box(resolve(&snapshot, &q, 20.0, vis).is_ok())
        })
    });
    let batch: Vec<Query> = pts
        .iter()
        .take(1000)
        .map(|&(lon, lat)| Query::Point {
            lon,
            lat,
            crs: Crs::Wgs84,
        })
        .collect();
    c.bench_function("batch/1000_points", |b| {
        b.iter(|| {
            black_box(
                batch
                    .iter()
                    .filter(|q| resolve(&snapshot, q, 20.0, vis).is_ok())
                    .count(),
            )
        })
    });
    let all = Rect::new(
        Coord {
            x: -180.0,
            y: -90.0,
        },
        Coord { x: 180.0, y: 90.0 },
    );
    c.bench_function("layer/building_all", |b| {
        b.iter(|| {
            let request = LayerRequest {
                level: GridLevel::Building,
                bbox: None,
                crs: Crs::Wgs84,
                page: Page::default(),
                at: None,
            };
            black_box(layer_json(&snapshot, &request, all).len())
        })
    });
    c.bench_function("snapshot/build", |b| {
        b.iter(|| black_box(Snapshot::from_dataset(ds.clone(), 2).spatial.grids.len()))
    });
}

criterion_group!(lookup, benches);
criterion_main!(lookup);
