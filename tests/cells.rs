//! Point location through the cell index against the R-tree path, on a generated city: random
//! points over its bounds, every building anchor, and every vertex of every grid and footprint
//! (vertices lie on borders, where the tie rules decide).

use geo::{BoundingRect, Rect};
use gridatlas::atlas::Spatial;
use gridatlas::generate::{Options, generate};

/// A small deterministic stream of numbers in [0, 1).
fn unit_stream(mut state: u64) -> impl FnMut() -> f64 {
    move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn city() -> Spatial {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let out = dir.path().join("city");
    let opts = Options {
        buildings: 2_000,
        seed: 11,
        english_addresses: false,
    };
    generate(&opts, &out, &mut |_| ()).expect("the city generates");
    let ds = gridatlas::import::geodata::read_folder(&out).expect("the city reads");
    Spatial::build(ds.grids, ds.buildings)
}

fn bounds(s: &Spatial) -> Rect<f64> {
    (0..s.grids.len() as u32)
        .filter_map(|g| s.grid_geometry(g).bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                geo::coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
                geo::coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
            )
        })
        .expect("the city has grids")
}

#[test]
fn cell_index_answers_as_the_rtrees_on_a_generated_city() {
    let s = city();
    let stats = s.cell_stats().expect("the city is indexed by cells");
    assert!(stats.interior_entries > 0, "{stats:?}");
    let b = bounds(&s);
    let mut next = unit_stream(5);
    // A margin around the bounds: points outside must answer nothing on both paths.
    let (mx, my) = (b.width() * 0.02, b.height() * 0.02);
    let mut points: Vec<(f64, f64)> = (0..100_000)
        .map(|_| {
            (
                b.min().x - mx + next() * (b.width() + 2.0 * mx),
                b.min().y - my + next() * (b.height() + 2.0 * my),
            )
        })
        .collect();
    points.extend(s.buildings.iter().map(|e| (e.anchor.x, e.anchor.y)));
    let vertices = |mp: &geo::MultiPolygon<f64>| -> Vec<(f64, f64)> {
        mp.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.0.iter().map(|c| (c.x, c.y)))
            .collect()
    };
    for g in 0..s.grids.len() as u32 {
        points.extend(vertices(&s.grid_geometry(g)));
    }
    for b in 0..s.buildings.len() as u32 {
        points.extend(vertices(&s.footprint(b).to_multi_polygon()));
    }
    // The cell edges, crossed with random coordinates.
    let (xs, ys) = s.cell_edges();
    for &x in xs.iter().step_by(3) {
        points.push((x, b.min().y + next() * b.height()));
    }
    for &y in ys.iter().step_by(3) {
        points.push((b.min().x + next() * b.width(), y));
    }

    let (mut located, mut on_border, mut in_building, mut near) = (0, 0, 0, 0);
    for &(x, y) in &points {
        let hit = s.locate(x, y);
        assert_eq!(hit, s.locate_by_rtree(x, y), "locate at ({x}, {y})");
        if let Some(h) = hit {
            // Nearby grids as an answer asks for them (20 m), and in a wide window.
            let chain = s.chain(h.grid);
            let inner = if h.on_border {
                0.0
            } else {
                gridatlas::geometry::measure::distance_to_boundary_m(x, y, &s.grid_geometry(h.grid))
            };
            for tolerance in [20.0, 150.0] {
                let found = s.grids_near(x, y, tolerance, &chain, inner);
                assert_eq!(
                    found,
                    s.grids_near_by_rtree(x, y, tolerance, &chain, inner),
                    "grids near ({x}, {y}) within {tolerance} m"
                );
                near += found.len();
            }
        }
        let building = s.building_at(x, y);
        assert_eq!(
            building,
            s.building_at_by_rtree(x, y),
            "building at ({x}, {y})"
        );
        located += usize::from(hit.is_some());
        on_border += usize::from(hit.is_some_and(|h| h.on_border));
        in_building += usize::from(building.is_some());
    }
    // The comparison covered every kind of answer.
    assert!(located > points.len() / 2, "{located} of {}", points.len());
    assert!(on_border > 1000, "{on_border} on a border");
    assert!(in_building > 10_000, "{in_building} in a building");
    assert!(near > 10_000, "{near} nearby grids");
}
