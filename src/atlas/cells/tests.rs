//! The cell classification on hand-made shapes, the index against a brute-force rule on random
//! shapes and cell sizes, and `Spatial::locate`/`building_at` against their R-tree paths.

use std::cell::Cell;

use chrono::{TimeZone, Utc};
use geo::{BoundingRect, LineString, Polygon, coord, polygon};
use proptest::prelude::*;

use super::*;
use crate::atlas::Spatial;
use crate::model::{Building, Grid, GridLevel, Workload};

fn feature(index: u32, geometry: &MultiPolygon<f64>) -> Feature<'_> {
    Feature {
        index,
        geometry,
        bbox: geometry.bounding_rect().expect("non-empty"),
    }
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)]
}

fn params(cells_per_side: f64) -> CellParams {
    CellParams {
        cells_per_feature_side: cells_per_side,
        max_cells: 1 << 16,
        threads: 2,
    }
}

/// One rank of features, indexed with `cells_per_side` cells along an average feature.
fn index_of(shapes: &[MultiPolygon<f64>], cells_per_side: f64) -> CellIndex {
    let rank: Vec<Feature<'_>> = shapes
        .iter()
        .enumerate()
        .map(|(i, g)| feature(i as u32, g))
        .collect();
    CellIndex::build(&[rank], 1, params(cells_per_side)).expect("index builds")
}

/// The answer at a point, and how many exact tests it took.
fn find(
    index: &CellIndex,
    shapes: &[MultiPolygon<f64>],
    x: f64,
    y: f64,
) -> (Option<(u32, bool)>, usize) {
    let tests = Cell::new(0);
    let hit = index.find_chained(x, y, |_, i| {
        tests.set(tests.get() + 1);
        shapes[i as usize].coordinate_position(&coord! {x: x, y: y})
    });
    (hit.map(|(_, i, b)| (i, b)), tests.get())
}

#[test]
fn the_inside_of_a_square_is_answered_without_a_polygon_test() {
    // A 4 x 4 square, cells of side 1 aligned to it: the 2 x 2 middle cells meet no edge.
    let shapes = vec![MultiPolygon(vec![square(0.0, 0.0, 4.0, 4.0)])];
    let index = index_of(&shapes, 4.0);
    assert_eq!(index.stats().cell_size, 1.0);
    assert_eq!(find(&index, &shapes, 1.5, 2.5), (Some((0, false)), 0));
    // An edge cell is a candidate: the exact test decides, inside and on the border.
    assert_eq!(find(&index, &shapes, 0.5, 0.5), (Some((0, false)), 1));
    assert_eq!(find(&index, &shapes, 0.0, 2.0), (Some((0, true)), 1));
    assert_eq!(find(&index, &shapes, 4.0, 4.0), (Some((0, true)), 1));
    // A point on the edge between two interior cells is in the closed rectangle of both.
    assert_eq!(find(&index, &shapes, 2.0, 2.0), (Some((0, false)), 0));
    // A point on the edge between an interior cell and a border cell (x = 1): interior.
    assert_eq!(find(&index, &shapes, 1.0, 2.0).0, Some((0, false)));
    assert_eq!(index.stats().interior_entries, 4);
}

#[test]
fn a_hole_is_not_interior_and_its_inside_holds_nothing() {
    let ring = |x0: f64, y0: f64, x1: f64, y1: f64| {
        LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
    };
    let holed = Polygon::new(ring(0.0, 0.0, 10.0, 10.0), vec![ring(3.0, 3.0, 7.0, 7.0)]);
    let shapes = vec![MultiPolygon(vec![holed])];
    // Side 10, 10 cells per side: cells of side 1.
    let index = index_of(&shapes, 10.0);
    assert_eq!(index.stats().cell_size, 1.0);
    // Deep in the hole: the cell is left out, nothing is tested.
    assert_eq!(find(&index, &shapes, 4.5, 5.5), (None, 0));
    assert_eq!(index.entries_at(4.5, 5.5), &[] as &[u32]);
    // Near the hole's edge: tested, outside; on its edge and corner: on the border.
    assert_eq!(find(&index, &shapes, 3.5, 5.5), (None, 1));
    assert_eq!(find(&index, &shapes, 3.0, 4.0), (Some((0, true)), 1));
    assert_eq!(find(&index, &shapes, 7.0, 7.0), (Some((0, true)), 1));
    // Between the rings, two cells from each: interior without a test.
    assert_eq!(find(&index, &shapes, 1.5, 5.5), (Some((0, false)), 0));
    assert_eq!(find(&index, &shapes, 5.5, 8.5), (Some((0, false)), 0));
    // Next to a ring: tested.
    assert_eq!(find(&index, &shapes, 2.5, 5.5), (Some((0, false)), 1));
    assert_eq!(find(&index, &shapes, 0.5, 4.0), (Some((0, false)), 1));
}

#[test]
fn points_outside_nan_and_infinite_answer_nothing_without_tests() {
    let shapes = vec![MultiPolygon(vec![square(10.0, 20.0, 11.0, 21.0)])];
    let index = index_of(&shapes, 4.0);
    for (x, y) in [
        (9.0, 20.5),
        (10.5, 19.99),
        (11.3, 20.5),
        (1e300, 20.5),
        (-1e300, -1e300),
        (f64::NAN, 20.5),
        (10.5, f64::NAN),
        (f64::INFINITY, 20.5),
        (10.5, f64::NEG_INFINITY),
    ] {
        assert_eq!(find(&index, &shapes, x, y), (None, 0), "({x}, {y})");
    }
    // The far corner of the bounds is still in a cell.
    assert_eq!(find(&index, &shapes, 11.0, 21.0), (Some((0, true)), 1));
}

#[test]
fn cell_edges_are_where_the_mapping_steps() {
    // A cell size that is not a power of two and an origin far from zero: the edges must still
    // be exact, every float just below an edge in the cell before it.
    // Around zero, where floats are dense, too.
    for shape in [
        square(121.1, 31.1, 121.3, 31.2),
        square(-0.3, -1.0, 0.7, 0.1),
    ] {
        let index = index_of(&[MultiPolygon(vec![shape])], 7.0);
        for (edges, origin) in [(&index.xs, index.x0), (&index.ys, index.y0)] {
            assert!(edges.len() >= 5, "{} edges", edges.len());
            for (i, &e) in edges.iter().enumerate() {
                let at = |v: f64| ((v - origin) * index.inv).floor();
                assert!(at(e) >= i as f64, "edge {i} maps before its cell");
                assert!(
                    at(e.next_down()) < i as f64,
                    "edge {i} is not the first float"
                );
            }
        }
    }
}

#[test]
fn overlapping_features_of_one_rank_are_never_interior() {
    // Two overlapping squares (invalid data): where both cover a cell, both are tested and the
    // smaller index wins; the border rule still holds at the other's edge.
    let shapes = vec![
        MultiPolygon(vec![square(0.0, 0.0, 4.0, 4.0)]),
        MultiPolygon(vec![square(2.0, 0.0, 6.0, 4.0)]),
    ];
    let index = index_of(&shapes, 4.0);
    assert_eq!(find(&index, &shapes, 3.0, 2.0), (Some((0, false)), 1));
    // On square 1's edge, inside square 0: interior beats border.
    assert_eq!(find(&index, &shapes, 2.0, 2.0).0, Some((0, false)));
    // On square 0's edge, inside square 1.
    assert_eq!(find(&index, &shapes, 4.0, 2.0).0, Some((1, false)));
    assert_eq!(find(&index, &shapes, 5.0, 2.0).0, Some((1, false)));
}

#[test]
fn a_deeper_interior_rank_answers_first_and_the_shallower_ones_stay() {
    let inner = MultiPolygon(vec![square(0.0, 0.0, 4.0, 4.0)]);
    let outer = MultiPolygon(vec![square(-4.0, -4.0, 8.0, 8.0)]);
    let ranks = vec![vec![feature(7, &inner)], vec![feature(3, &outer)]];
    let index = CellIndex::build(&ranks, 2, params(4.0)).expect("index builds");
    let calls = Cell::new(0);
    let hit = index.find_chained(1.5, 1.5, |_, _| {
        calls.set(calls.get() + 1);
        CoordPos::Outside
    });
    assert_eq!((hit, calls.get()), (Some((0, 7, false)), 0));
    // Outside the inner square, the outer one answers.
    let hit = index.find_chained(-2.5, -2.5, |_, _| CoordPos::Outside);
    assert_eq!(hit, Some((1, 3, false)));
    // The interior cell of the inner square holds both, each interior to its own rank.
    let c = index.entries_at(1.5, 1.5);
    assert_eq!(c, &[7 | INTERIOR, 1 << RANK_SHIFT | INTERIOR | 3]);
    // So the cells can tell that the outer square's border is far from the inner square's
    // middle, but not from a rectangle reaching its own border cells.
    let (lo, hi) = (coord! {x: 1.0, y: 1.0}, coord! {x: 2.5, y: 2.5});
    assert!(index.interior_over_rect(lo, hi, 1, 3, 64));
    assert!(index.interior_over_rect(lo, hi, 0, 7, 64));
    assert!(!index.interior_over_rect(lo, hi, 1, 4, 64));
    // Up to y = 7.5 the cells are inside: the row edge below 8 is the float where the mapping
    // steps, 7.999999999999999, so y = 8 lies in the next row, which the rectangle must reach.
    assert!(index.interior_over_rect(lo, coord! {x: 2.5, y: 7.5}, 1, 3, 64));
    assert!(!index.interior_over_rect(lo, coord! {x: 2.5, y: 8.0}, 1, 3, 64));
    assert!(!index.interior_over_rect(lo, coord! {x: 2.5, y: 6.5}, 1, 3, 2));
    assert!(index.interior_over_rect(lo, coord! {x: 2.5, y: 6.5}, 1, 3, 64));
    let nan = coord! {x: f64::NAN, y: 2.0};
    assert!(!index.interior_over_rect(nan, hi, 1, 3, 64));
}

#[test]
fn bad_coordinates_are_refused() {
    let bad = MultiPolygon(vec![square(0.0, 0.0, f64::NAN, 1.0)]);
    let f = Feature {
        index: 0,
        geometry: &bad,
        bbox: Rect::new(coord! {x: 0.0, y: 0.0}, coord! {x: 1.0, y: f64::INFINITY}),
    };
    assert!(matches!(
        CellIndex::build(&[vec![f]], 1, CellParams::default()),
        Err(CellIndexError::BadCoordinate { .. })
    ));
}

// ----- Random layouts ------------------------------------------------------------------------

/// Lattice step (a power of two: vertices, edge midpoints and lattice points are exact).
const STEP: f64 = 1.0 / 256.0;
const LON0: f64 = 121.25;
const LAT0: f64 = 31.125;

fn lattice(i: i32, j: i32) -> (f64, f64) {
    (LON0 + i as f64 * STEP, LAT0 + j as f64 * STEP)
}

/// A shape on the lattice: a rectangle (maybe with a rectangular hole), a triangle, or two
/// rectangles as one multipolygon; `jitter` moves vertices off the lattice.
fn arb_shape() -> impl Strategy<Value = MultiPolygon<f64>> {
    let rect = (0..12i32, 0..12i32, 1..6i32, 1..6i32);
    prop_oneof![
        (rect.clone(), any::<bool>()).prop_map(|((i, j, w, h), hole)| {
            let (x0, y0) = lattice(i, j);
            let (x1, y1) = lattice(i + w, j + h);
            let mut p = square(x0, y0, x1, y1);
            if hole && w >= 3 && h >= 3 {
                let (hx0, hy0) = lattice(i + 1, j + 1);
                let (hx1, hy1) = lattice(i + w - 1, j + h - 1);
                p.interiors_push(square(hx0, hy0, hx1, hy1).exterior().clone());
            }
            MultiPolygon(vec![p])
        }),
        (
            0..16i32,
            0..16i32,
            0..16i32,
            0..16i32,
            0..16i32,
            0..16i32,
            0.0..1e-3f64
        )
            .prop_map(|(a, b, c, d, e, f, jitter)| {
                let (x0, y0) = lattice(a, b);
                let (x1, y1) = lattice(c, d);
                let (x2, y2) = lattice(e, f);
                MultiPolygon(vec![polygon![
                    (x: x0, y: y0),
                    (x: x1 + jitter * STEP, y: y1),
                    (x: x2, y: y2 - jitter * STEP)
                ]])
            }),
        (rect.clone(), rect).prop_map(|((i, j, w, h), (k, l, u, v))| {
            let a = {
                let ((x0, y0), (x1, y1)) = (lattice(i, j), lattice(i + w, j + h));
                square(x0, y0, x1, y1)
            };
            let b = {
                let ((x0, y0), (x1, y1)) = (lattice(k, l), lattice(k + u, l + v));
                square(x0, y0, x1, y1)
            };
            MultiPolygon(vec![a, b])
        }),
    ]
}

/// Points where answers are decided: lattice points (vertices), half-lattice points (edge
/// midpoints), anywhere, and the cell edges of the index (filled in later, by position).
#[derive(Debug, Clone)]
enum ArbPoint {
    Lattice(i32, i32),
    Half(i32, i32),
    Anywhere(f64, f64),
    /// Column edge k (modulo their count) with a lattice y, and the other way round.
    CellEdgeX(usize, i32),
    CellEdgeY(i32, usize),
    CellCorner(usize, usize),
    Odd(u8),
}

fn arb_point() -> impl Strategy<Value = ArbPoint> {
    prop_oneof![
        (-1..18i32, -1..18i32).prop_map(|(i, j)| ArbPoint::Lattice(i, j)),
        (-2..36i32, -2..36i32).prop_map(|(i, j)| ArbPoint::Half(i, j)),
        (-1.0..18.0f64, -1.0..18.0f64).prop_map(|(x, y)| ArbPoint::Anywhere(x, y)),
        (any::<usize>(), -1..18i32).prop_map(|(k, j)| ArbPoint::CellEdgeX(k, j)),
        (-1..18i32, any::<usize>()).prop_map(|(i, k)| ArbPoint::CellEdgeY(i, k)),
        (any::<usize>(), any::<usize>()).prop_map(|(k, l)| ArbPoint::CellCorner(k, l)),
        (0..6u8).prop_map(ArbPoint::Odd),
    ]
}

fn resolve_point(p: &ArbPoint, xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let pick = |edges: &[f64], k: usize, fallback: f64| {
        if edges.is_empty() {
            fallback
        } else {
            edges[k % edges.len()]
        }
    };
    match *p {
        ArbPoint::Lattice(i, j) => lattice(i, j),
        ArbPoint::Half(i, j) => (LON0 + i as f64 * STEP / 2.0, LAT0 + j as f64 * STEP / 2.0),
        ArbPoint::Anywhere(x, y) => (LON0 + x * STEP, LAT0 + y * STEP),
        ArbPoint::CellEdgeX(k, j) => (pick(xs, k, LON0), lattice(0, j).1),
        ArbPoint::CellEdgeY(i, k) => (lattice(i, 0).0, pick(ys, k, LAT0)),
        ArbPoint::CellCorner(k, l) => (pick(xs, k, LON0), pick(ys, l, LAT0)),
        ArbPoint::Odd(n) => [
            (f64::NAN, LAT0),
            (LON0, f64::NAN),
            (f64::INFINITY, LAT0),
            (LON0, f64::NEG_INFINITY),
            (-1e300, 1e300),
            (0.0, 0.0),
        ][n as usize],
    }
}

/// The border rule by brute force over ranks (deepest first): interior, then smallest index.
fn brute_force(ranks: &[Vec<Feature<'_>>], x: f64, y: f64) -> Option<(u32, u32, bool)> {
    ranks.iter().enumerate().find_map(|(rank, fs)| {
        fs.iter()
            .filter_map(
                |f| match f.geometry.coordinate_position(&coord! {x: x, y: y}) {
                    CoordPos::Inside => Some((false, f.index)),
                    CoordPos::OnBoundary => Some((true, f.index)),
                    CoordPos::Outside => None,
                },
            )
            .min()
            .map(|(b, i)| (rank as u32, i, b))
    })
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a date")
}

fn grid(code: String, level: GridLevel, geometry: MultiPolygon<f64>) -> Grid {
    Grid {
        code,
        name: "g".into(),
        name_en: None,
        level,
        parent_code: None,
        geometry,
        valid_from: at(),
        valid_to: None,
    }
}

fn building(id: String, footprint: MultiPolygon<f64>) -> Building {
    Building {
        id,
        name: "b".into(),
        name_en: None,
        aliases: Vec::new(),
        addresses: Vec::new(),
        grid_code: None,
        footprint,
        workload: Workload::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The index alone, with random cell sizes (fine to coarse), against brute force.
    #[test]
    fn the_index_agrees_with_brute_force(
        levels in proptest::collection::vec(proptest::collection::vec(arb_shape(), 0..5), 1..4),
        cells_per_side in 0.3..8.0f64,
        points in proptest::collection::vec(arb_point(), 64),
    ) {
        let ranks: Vec<Vec<Feature<'_>>> = levels
            .iter()
            .scan(0u32, |next, shapes| {
                Some(shapes.iter().map(|g| { *next += 1; feature(*next * 3 % 17, g) }).collect())
            })
            .collect();
        let index = CellIndex::build(&ranks, ranks.len(), params(cells_per_side))
            .expect("index builds");
        let mut pts: Vec<(f64, f64)> = points.iter().map(|p| resolve_point(p, &index.xs, &index.ys)).collect();
        // Every vertex of every shape, too.
        for f in ranks.iter().flatten() {
            pts.extend(f.geometry.iter().flat_map(|p| p.exterior().0.iter().chain(p.interiors().iter().flat_map(|r| r.0.iter()))).map(|c| (c.x, c.y)));
        }
        for (x, y) in pts {
            let got = index.find_chained(x, y, |rank, i| {
                let f = ranks[rank as usize].iter().find(|f| f.index == i).expect("an indexed feature");
                f.geometry.coordinate_position(&coord! {x: x, y: y})
            });
            prop_assert_eq!(got, brute_force(&ranks, x, y), "at ({}, {})", x, y);
        }
    }

    /// `Spatial::locate` and `building_at` through the cell index against the R-tree paths.
    #[test]
    fn spatial_lookups_agree_with_the_rtrees(
        levels in proptest::collection::vec(proptest::collection::vec(arb_shape(), 0..5), 3),
        footprints in proptest::collection::vec(arb_shape(), 0..6),
        points in proptest::collection::vec(arb_point(), 64),
    ) {
        let grids: Vec<Grid> = levels
            .into_iter()
            .zip(GridLevel::ALL)
            .flat_map(|(shapes, level)| {
                shapes.into_iter().enumerate().map(move |(i, g)| {
                    // Codes in an order unrelated to level or position.
                    grid(format!("{:02}-{}", (i * 7 + level.depth() * 5) % 13, level.depth()), level, g)
                })
            })
            .collect();
        let buildings: Vec<Building> = footprints
            .into_iter()
            .enumerate()
            .map(|(i, f)| building(format!("b{:02}", (i * 5) % 7 + i), f))
            .collect();
        let spatial = Spatial::build(grids, buildings);
        let (xs, ys) = spatial.cell_edges();
        let mut pts: Vec<(f64, f64)> = points.iter().map(|p| resolve_point(p, xs, ys)).collect();
        for g in 0..spatial.grids.len() as u32 {
            pts.extend(spatial.grid_geometry(g).iter().flat_map(|p| p.exterior().0.iter()).map(|c| (c.x, c.y)));
        }
        for (i, b) in spatial.buildings.iter().enumerate() {
            pts.extend(spatial.footprint(i as u32).to_multi_polygon().iter().flat_map(|p| p.exterior().0.iter()).map(|c| (c.x, c.y)));
            pts.push((b.anchor.x, b.anchor.y));
        }
        // Layers' boxes (by the cells, or a pass over the boxes when wide) against the trees:
        // boxes between pairs of points, degenerate ones (a point, a line) included.
        // The whole extent spans every cell: more than the cells are asked for, so a pass over
        // the boxes answers it.
        let extent = [(xs.first(), ys.first()), (xs.last(), ys.last())].map(|(x, y)| {
            (x.copied().unwrap_or(0.0), y.copied().unwrap_or(0.0))
        });
        for pair in pts.windows(2).chain(std::iter::once(&extent[..])) {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            for bbox in [
                Rect::new(coord! {x: x0, y: y0}, coord! {x: x1, y: y1}),
                Rect::new(coord! {x: x0, y: y0}, coord! {x: x0, y: y0}),
                Rect::new(coord! {x: x0, y: y0}, coord! {x: x1, y: y0}),
            ] {
                for level in GridLevel::ALL {
                    prop_assert_eq!(
                        spatial.grids_in_bbox(level, bbox),
                        spatial.grids_in_bbox_by_rtree(level, bbox),
                        "{:?} grids in {:?}", level, bbox
                    );
                }
            }
        }
        for (x, y) in pts {
            let hit = spatial.locate_by_rtree(x, y);
            prop_assert_eq!(spatial.locate(x, y), hit, "locate at ({}, {})", x, y);
            prop_assert_eq!(spatial.building_at(x, y), spatial.building_at_by_rtree(x, y), "building at ({}, {})", x, y);
            // Nearby grids as an answer asks for them, and with no chain (every level asked).
            let chain = hit.map(|h| spatial.chain(h.grid));
            let chain: &[u32] = chain.as_deref().unwrap_or(&[]);
            let inner = hit.map_or(f64::INFINITY, |h| {
                if h.on_border {
                    0.0
                } else {
                    crate::geometry::measure::distance_to_boundary_m(x, y, &spatial.grid_geometry(h.grid))
                }
            });
            for tolerance in [0.0, 1e-4, 30.0, 400.0, 3000.0] {
                prop_assert_eq!(
                    spatial.grids_near(x, y, tolerance, chain, inner),
                    spatial.grids_near_by_rtree(x, y, tolerance, chain, inner),
                    "grids near ({}, {}) within {} m", x, y, tolerance
                );
                prop_assert_eq!(
                    spatial.grids_near(x, y, tolerance, &[], f64::INFINITY),
                    spatial.grids_near_by_rtree(x, y, tolerance, &[], f64::INFINITY),
                    "grids near ({}, {}) within {} m, no chain", x, y, tolerance
                );
            }
        }
    }
}
