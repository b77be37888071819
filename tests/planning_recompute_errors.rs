//! Error paths, and small layouts whose answer is known.

#[path = "recompute_support/mod.rs"]
mod common;

use common::{Plane, area, defects, ll, place, poly_ll, rect, ring_ll};
use geo::{Coord, LineString, MultiPolygon, Polygon, Validation};
use gridatlas::planner::recompute::{
    INPUT_TOLERANCE_M2, RecomputeError, SiteBuilding, TILING_TOLERANCE_M2, Tiling, adjacency,
    recompute,
};
use proptest::prelude::*;

/// A `side`-metre square neighborhood centred on the origin.
fn square(side: f64) -> MultiPolygon<f64> {
    poly_ll(&rect(side, side))
}

fn building(pts: &[[f64; 2]], group: usize, cell: usize) -> SiteBuilding {
    SiteBuilding {
        footprint: poly_ll(pts),
        group,
        cell,
    }
}

/// A `w`×`h` rectangle centred on `c`.
fn r(c: [f64; 2], w: f64, h: f64) -> Vec<[f64; 2]> {
    place(&rect(w, h), c, 0.0)
}

fn two() -> Vec<SiteBuilding> {
    vec![
        building(&r([-50.0, 0.0], 20.0, 20.0), 0, 0),
        building(&r([50.0, 0.0], 20.0, 20.0), 1, 1),
    ]
}

fn err(hood: &MultiPolygon<f64>, b: &[SiteBuilding], g: usize, c: usize) -> RecomputeError {
    recompute(hood, b, g, c).expect_err("should fail")
}

fn assert_good(hood: &MultiPolygon<f64>, b: &[SiteBuilding], t: &Tiling) {
    assert_good_within(hood, b, t, TILING_TOLERANCE_M2);
}

/// `footprint_tol`: how much of a footprint may lie outside its region (input slack).
fn assert_good_within(
    hood: &MultiPolygon<f64>,
    b: &[SiteBuilding],
    t: &Tiling,
    footprint_tol: f64,
) {
    let d = defects(hood, b, t);
    assert!(
        d.gap < TILING_TOLERANCE_M2
            && d.excess < TILING_TOLERANCE_M2
            && d.overlap < TILING_TOLERANCE_M2
            && d.footprint_out < footprint_tol
            && d.cell_out < TILING_TOLERANCE_M2,
        "{d:?}"
    );
    for mp in t.groups.iter().chain(&t.cells).chain(&t.building_regions) {
        assert!(mp.is_valid(), "{:?}", mp.validation_errors());
    }
}

#[test]
fn no_buildings() {
    assert_eq!(err(&square(100.0), &[], 1, 1), RecomputeError::NoBuildings);
}

#[test]
fn group_out_of_range_names_the_building() {
    let mut b = two();
    b[1].group = 5;
    let e = err(&square(200.0), &b, 2, 2);
    assert_eq!(
        e,
        RecomputeError::GroupOutOfRange {
            building: 1,
            group: 5,
            n_groups: 2
        }
    );
    assert!(e.to_string().contains("building 1"), "{e}");
}

#[test]
fn cell_out_of_range_names_the_building() {
    let mut b = two();
    b[0].cell = 2;
    let e = err(&square(200.0), &b, 2, 2);
    assert_eq!(
        e,
        RecomputeError::CellOutOfRange {
            building: 0,
            cell: 2,
            n_cells: 2
        }
    );
    assert!(e.to_string().contains("building 0"), "{e}");
    // No cells at all.
    assert!(matches!(
        err(&square(200.0), &two(), 2, 0),
        RecomputeError::CellOutOfRange { building: 0, .. }
    ));
}

#[test]
fn absurd_counts() {
    let e = err(&square(200.0), &two(), usize::MAX, 2);
    assert!(matches!(e, RecomputeError::TooMany { .. }), "{e:?}");
}

#[test]
fn cell_in_two_groups() {
    let mut b = two();
    b[1].cell = 0;
    let e = err(&square(200.0), &b, 2, 2);
    assert_eq!(
        e,
        RecomputeError::CellInTwoGroups {
            building: 1,
            cell: 0,
            group: 1,
            first_building: 0,
            first_group: 0
        }
    );
    assert!(
        e.to_string().contains("building 1") && e.to_string().contains("building 0"),
        "{e}"
    );
}

#[test]
fn invalid_footprints() {
    let hood = square(200.0);
    let mut b = two();
    // Non-finite coordinate.
    b[1].footprint.0[0].exterior_mut(|l| l.0[1].x = f64::NAN);
    let e = err(&hood, &b, 2, 2);
    assert!(
        matches!(e, RecomputeError::InvalidFootprint { building: 1, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with("building 1: invalid footprint"),
        "{e}"
    );
    // Self-intersecting bow tie.
    let mut b = two();
    b[0].footprint = poly_ll(&[[-60.0, -10.0], [-40.0, 10.0], [-40.0, -10.0], [-60.0, 10.0]]);
    assert!(matches!(
        err(&hood, &b, 2, 2),
        RecomputeError::InvalidFootprint { building: 0, .. }
    ));
    // Empty.
    let mut b = two();
    b[1].footprint = MultiPolygon::new(vec![]);
    assert!(matches!(
        err(&hood, &b, 2, 2),
        RecomputeError::InvalidFootprint { building: 1, .. }
    ));
    // No area.
    let mut b = two();
    b[1].footprint = poly_ll(&[[40.0, 0.0], [50.0, 0.0], [60.0, 0.0]]);
    assert!(matches!(
        err(&hood, &b, 2, 2),
        RecomputeError::InvalidFootprint { building: 1, .. }
    ));
    // Latitude out of range.
    let mut b = two();
    b[0].footprint.0[0].exterior_mut(|l| l.0[0].y = 95.0);
    assert!(matches!(
        err(&hood, &b, 2, 2),
        RecomputeError::InvalidFootprint { building: 0, .. }
    ));
}

#[test]
fn invalid_neighborhoods() {
    let b = two();
    for hood in [
        MultiPolygon::new(vec![]),
        poly_ll(&[
            [-100.0, -100.0],
            [100.0, 100.0],
            [100.0, -100.0],
            [-100.0, 100.0],
        ]),
        MultiPolygon::new(vec![Polygon::new(
            LineString::new(vec![
                Coord {
                    x: f64::INFINITY,
                    y: 31.0,
                },
                ll([0.0, 0.0]),
                ll([1.0, 0.0]),
            ]),
            vec![],
        )]),
    ] {
        assert!(
            matches!(err(&hood, &b, 2, 2), RecomputeError::InvalidNeighborhood(_)),
            "{hood:?}"
        );
    }
    let e = err(&square(40_000.0), &b, 2, 2);
    assert!(
        matches!(e, RecomputeError::NeighborhoodTooLarge { .. }),
        "{e:?}"
    );
}

#[test]
fn footprint_outside_neighborhood() {
    let hood = square(200.0);
    // Sticking out by 5 m × 20 m.
    let mut b = two();
    b[1].footprint = poly_ll(&r([100.0, 0.0], 10.0, 20.0));
    match err(&hood, &b, 2, 2) {
        RecomputeError::FootprintOutsideNeighborhood {
            building: 1,
            area_m2,
        } => {
            assert!((area_m2 - 100.0).abs() < 1.0, "{area_m2}")
        }
        e => panic!("{e:?}"),
    }
    // Entirely outside.
    let mut b = two();
    b[0].footprint = poly_ll(&r([500.0, 0.0], 10.0, 10.0));
    assert!(matches!(
        err(&hood, &b, 2, 2),
        RecomputeError::FootprintOutsideNeighborhood { building: 0, .. }
    ));
    // Within the tolerance: 0.2 m² outside is accepted, and the rest of it is covered.
    let mut b = two();
    b[1].footprint = poly_ll(&r([95.0, 0.0], 10.02, 10.0));
    let t = recompute(&hood, &b, 2, 2).expect("tolerated");
    assert_good_within(&hood, &b, &t, INPUT_TOLERANCE_M2);
}

#[test]
fn overlapping_footprints() {
    let hood = square(200.0);
    let mut b = two();
    b.push(building(&r([-45.0, 5.0], 20.0, 20.0), 0, 0));
    match err(&hood, &b, 2, 2) {
        RecomputeError::FootprintsOverlap {
            building: 0,
            other: 2,
            area_m2,
        } => {
            assert!((area_m2 - 225.0).abs() < 1.0, "{area_m2}")
        }
        e => panic!("{e:?}"),
    }
    // Overlap below the tolerance (0.1 m²) is accepted.
    let mut b = two();
    b.push(building(&r([-39.995, 0.0], 0.02, 20.0), 1, 1));
    let t = recompute(&hood, &b, 2, 2).expect("tolerated");
    assert_eq!(t.building_regions.len(), 3);
    assert_good_within(&hood, &b, &t, INPUT_TOLERANCE_M2);
}

#[test]
fn one_building_gets_everything() {
    let hood = square(300.0);
    let b = vec![building(&r([10.0, 20.0], 15.0, 25.0), 0, 0)];
    let t = recompute(&hood, &b, 1, 1).expect("ok");
    assert_good(&hood, &b, &t);
    assert_eq!(t.groups[0].0.len(), 1);
    assert!(t.groups[0].0[0].interiors().is_empty());
    assert_eq!(t.groups[0], t.cells[0]);
    assert_eq!(t.groups[0], t.building_regions[0]);
}

#[test]
fn two_buildings_split_down_the_middle() {
    let hood = square(200.0);
    let t = recompute(&hood, &two(), 2, 2).expect("ok");
    assert_good(&hood, &two(), &t);
    let a = adjacency(&t);
    assert_eq!(a.edges.len(), 1);
    let (i, j, len) = a.edges[0];
    assert_eq!((i, j), (0, 1));
    assert!((len - 200.0).abs() < 0.5, "{len}");
    for k in 0..2 {
        assert!((a.area_m2[k] - 20_000.0).abs() < 20.0, "{:?}", a.area_m2);
        assert!(
            (a.perimeter_m[k] - 600.0).abs() < 1.0,
            "{:?}",
            a.perimeter_m
        );
    }
    // The border is the line x = 0.
    let pl = Plane::around(&hood);
    let left = pl.mp(&t.building_regions[0]);
    use geo::BoundingRect;
    let bb = left.bounding_rect().expect("bbox");
    assert!(bb.max().x.abs() < 0.05, "{bb:?}");
}

#[test]
fn empty_groups_and_cells_come_out_empty() {
    let hood = square(200.0);
    let mut b = two();
    b[1].group = 0;
    b[1].cell = 3;
    let t = recompute(&hood, &b, 3, 5).expect("ok");
    assert_eq!(
        (t.groups.len(), t.cells.len(), t.building_regions.len()),
        (3, 5, 2)
    );
    assert!(t.groups[1].0.is_empty() && t.groups[2].0.is_empty());
    assert!(t.cells[1].0.is_empty() && t.cells[2].0.is_empty() && t.cells[4].0.is_empty());
    assert_eq!(t.groups[0].0.len(), 1);
    assert!((area(&Plane::around(&hood).mp(&t.groups[0])) - 40_000.0).abs() < 50.0);
}

#[test]
fn touching_footprints_share_their_wall() {
    // Row houses: a shared wall, and a T-junction where a deeper house meets a shallower one.
    let hood = square(120.0);
    let b = vec![
        building(
            &[[-20.0, -5.0], [0.0, -5.0], [0.0, 5.0], [-20.0, 5.0]],
            0,
            0,
        ),
        building(&[[0.0, -5.0], [10.0, -5.0], [10.0, 8.0], [0.0, 8.0]], 1, 1),
        building(
            &[[10.0, -5.0], [25.0, -5.0], [25.0, 5.0], [10.0, 5.0]],
            1,
            2,
        ),
    ];
    let t = recompute(&hood, &b, 2, 3).expect("ok");
    assert_good(&hood, &b, &t);
    let a = adjacency(&t);
    let pair = |i, j| a.edges.iter().find(|e| (e.0, e.1) == (i, j)).map(|e| e.2);
    assert!(pair(0, 1).is_some_and(|l| l > 10.0), "{a:?}");
    assert!(pair(1, 2).is_some_and(|l| l > 13.0), "{a:?}");
    // Group 1 = buildings 1 and 2: one polygon.
    assert_eq!(t.groups[1].0.len(), 1);
}

#[test]
fn holes_in_neighborhood_and_courtyards() {
    let outer = ring_ll(&rect(300.0, 300.0));
    let lake = ring_ll(&place(&rect(60.0, 60.0), [60.0, 60.0], 0.0));
    let hood = MultiPolygon::new(vec![Polygon::new(outer, vec![lake])]);
    let court = Polygon::new(
        ring_ll(&r([-60.0, -60.0], 40.0, 40.0)),
        vec![ring_ll(&r([-60.0, -60.0], 20.0, 20.0))],
    );
    let b = vec![
        SiteBuilding {
            footprint: MultiPolygon::new(vec![court]),
            group: 0,
            cell: 0,
        },
        building(&r([60.0, -60.0], 20.0, 20.0), 1, 1),
        building(&r([-60.0, 60.0], 20.0, 20.0), 1, 2),
        // A pavilion in the courtyard.
        building(&r([-60.0, -60.0], 4.0, 4.0), 0, 3),
    ];
    let t = recompute(&hood, &b, 2, 4).expect("ok");
    assert_good(&hood, &b, &t);
    // The courtyard building's region has a hole where the pavilion's region is.
    assert_eq!(t.building_regions[0].0.len(), 1);
    assert_eq!(t.building_regions[0].0[0].interiors().len(), 1);
}

#[test]
fn islands() {
    let hood = MultiPolygon::new(vec![
        Polygon::new(ring_ll(&r([-100.0, 0.0], 100.0, 100.0)), vec![]),
        Polygon::new(ring_ll(&r([100.0, 0.0], 100.0, 100.0)), vec![]),
    ]);
    let b = vec![
        building(&r([-100.0, 0.0], 10.0, 10.0), 0, 0),
        building(&r([-100.0, 30.0], 10.0, 10.0), 0, 1),
    ];
    let t = recompute(&hood, &b, 1, 2).expect("ok");
    assert_good(&hood, &b, &t);
    // The empty island goes to the nearer building, as a second polygon.
    assert_eq!(t.groups[0].0.len(), 2);
}

fn arb_coord() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => -0.01f64..0.01,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-0.0),
        1 => proptest::num::f64::ANY,
    ]
}

fn arb_mp() -> impl Strategy<Value = MultiPolygon<f64>> {
    prop::collection::vec(
        prop::collection::vec((arb_coord(), arb_coord()), 0..7),
        0..3,
    )
    .prop_map(|rings| {
        MultiPolygon::new(
            rings
                .into_iter()
                .map(|r| {
                    let mut c: Vec<Coord<f64>> = r
                        .into_iter()
                        .map(|(x, y)| Coord {
                            x: 121.45 + x,
                            y: 31.22 + y,
                        })
                        .collect();
                    if let Some(&f) = c.first() {
                        c.push(f);
                    }
                    Polygon::new(LineString::new(c), vec![])
                })
                .collect(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics(
        hood in arb_mp(),
        fps in prop::collection::vec((arb_mp(), 0usize..4, 0usize..4), 0..4),
        g in 0usize..4,
        c in 0usize..4,
    ) {
        let b: Vec<SiteBuilding> = fps
            .into_iter()
            .map(|(footprint, group, cell)| SiteBuilding { footprint, group, cell })
            .collect();
        if let Ok(t) = recompute(&hood, &b, g, c) {
            let _ = adjacency(&t);
        }
    }
}

/// Random quadrilaterals in a 100 m box: many cross, overlap or stick out; some go all the
/// way through the mesher. None may panic, and any tiling made must pass the checks.
fn arb_quad() -> impl Strategy<Value = Vec<[f64; 2]>> {
    prop::collection::vec((-50.0f64..50.0, -50.0f64..50.0), 3..6)
        .prop_map(|v| v.into_iter().map(|(x, y)| [x, y]).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn never_panics_on_plausible_geometry(
        hood in prop_oneof![Just(rect(100.0, 100.0)), arb_quad()],
        fps in prop::collection::vec(
            (arb_quad(), 0.02f64..0.3, (-40.0f64..40.0, -40.0f64..40.0), 0usize..3, 0usize..3),
            1..6,
        ),
    ) {
        let hood = poly_ll(&hood);
        let b: Vec<SiteBuilding> = fps
            .into_iter()
            .map(|(q, s, (dx, dy), group, cell)| {
                let small: Vec<[f64; 2]> = q.iter().map(|p| [p[0] * s + dx, p[1] * s + dy]).collect();
                SiteBuilding { footprint: poly_ll(&small), group, cell: cell + 3 * group }
            })
            .collect();
        if let Ok(t) = recompute(&hood, &b, 3, 9) {
            let _ = adjacency(&t);
            // Up to the input slack outside the neighborhood, plus overlaps with others.
            assert_good_within(&hood, &b, &t, INPUT_TOLERANCE_M2 * b.len() as f64);
        }
    }
}
