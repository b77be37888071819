//! Planning algorithms on a realistic block: `cargo bench --bench planning`.
//!
//! A 1 km² neighborhood with 500 buildings (8–60-vertex footprints, rows of houses sharing
//! walls) in 20 groups, from the generator the recompute property tests use.
//! - `recompute/500_buildings`: the footprint-seeded partition that tiles the neighborhood;
//!   reference in the same run: dissolving the 500 footprints with geo's boolean union, the
//!   one polygon operation any GIS would run on the same input.
//! - `rebalance/500_buildings_into_20_groups`: from the current groups, on the adjacency the
//!   recompute produced; reference: the same partition from scratch (no current groups).

#[path = "../tests/recompute_support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use geo::{BooleanOps, MultiPolygon};
use gridatlas::planner::rebalance::{Graph, Node, Params, rebalance};
use gridatlas::planner::recompute::{adjacency, recompute};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BUILDINGS: usize = 500;
const GROUPS: usize = 20;

fn benches(c: &mut Criterion) {
    let (hood, buildings, n_groups, n_cells) = support::block(BUILDINGS, 1000.0, 7);
    let tiling = recompute(&hood, &buildings, n_groups, n_cells).expect("the block recomputes");
    let adj = adjacency(&tiling);

    let mut g = c.benchmark_group("planning/recompute");
    g.sample_size(20);
    g.bench_function("500_buildings", |b| {
        b.iter(|| {
            black_box(recompute(&hood, &buildings, n_groups, n_cells).map(|t| t.groups.len()))
        })
    });
    g.bench_function("dissolve_footprints_reference", |b| {
        b.iter(|| {
            let all = buildings
                .iter()
                .fold(MultiPolygon::<f64>::new(Vec::new()), |acc, s| {
                    acc.union(&s.footprint)
                });
            black_box(all.0.len())
        })
    });
    g.finish();

    // Employees per building: a skewed, deterministic figure from the building's size.
    let graph = |with_groups: bool| Graph {
        nodes: buildings
            .iter()
            .enumerate()
            .map(|(i, s)| Node {
                weight: 20.0 + ((i * 7919) % 97) as f64 * (1.0 + (i % 5) as f64),
                current_group: with_groups.then_some(s.group as u32),
                area_m2: adj.area_m2[i],
                perimeter_m: adj.perimeter_m[i],
            })
            .collect(),
        edges: adj.edges.clone(),
    };
    let params = Params {
        k: GROUPS,
        max_deviation: 0.10,
    };
    let (current, scratch) = (graph(true), graph(false));
    let mut g = c.benchmark_group("planning/rebalance");
    g.sample_size(20);
    g.bench_function("500_buildings_into_20_groups", |b| {
        b.iter(|| black_box(rebalance(&current, &params).map(|p| p.moved)))
    });
    g.bench_function("from_scratch_reference", |b| {
        b.iter(|| black_box(rebalance(&scratch, &params).map(|p| p.moved)))
    });
    g.finish();
}

criterion_group!(planning, benches);
criterion_main!(planning);
