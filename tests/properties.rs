//! Property tests over HTTP: the indexed answer equals a brute-force answer computed from the
//! sample files with plain geometry, for random points inside footprints, anywhere in and
//! around the district, and exactly on borders.

mod common;

use common::*;
use std::cell::Cell;
use std::collections::HashMap;

use geo::coordinate_position::CoordPos;
use geo::{BoundingRect, Contains, CoordinatePosition, MultiPolygon, Rect};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;

struct SampleGrid {
    code: String,
    depth: usize,
    geometry: MultiPolygon<f64>,
}

fn multipolygon(f: &Value) -> MultiPolygon<f64> {
    let g: geojson::Geometry = serde_json::from_value(f["geometry"].clone()).expect("geometry");
    gridatlas::geometry::validity::multipolygon_from_geojson(&g).expect("valid sample geometry")
}

fn sample_grids() -> Vec<SampleGrid> {
    sample_features("grids.geojson")
        .iter()
        .map(|f| SampleGrid {
            code: f["properties"]["code"].as_str().unwrap().to_string(),
            depth: match f["properties"]["level"].as_str().unwrap() {
                "neighborhood" => 0,
                "building_group" => 1,
                _ => 2,
            },
            geometry: multipolygon(f),
        })
        .collect()
}

/// The documented border rule, by brute force: deepest level first, then interior before
/// border, then the smallest code.
fn expected_innermost(grids: &[SampleGrid], lon: f64, lat: f64) -> Option<(String, bool)> {
    grids
        .iter()
        .filter_map(|g| {
            match g
                .geometry
                .coordinate_position(&geo::coord! {x: lon, y: lat})
            {
                CoordPos::Inside => Some((g, false)),
                CoordPos::OnBoundary => Some((g, true)),
                CoordPos::Outside => None,
            }
        })
        .min_by(|(a, ab), (b, bb)| {
            b.depth
                .cmp(&a.depth)
                .then(ab.cmp(bb))
                .then(a.code.cmp(&b.code))
        })
        .map(|(g, on_border)| (g.code.clone(), on_border))
}

fn district_bounds(grids: &[SampleGrid]) -> Rect<f64> {
    grids
        .iter()
        .filter_map(|g| g.geometry.bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                geo::coord! {x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y)},
                geo::coord! {x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y)},
            )
        })
        .expect("grids")
}

/// The chain of codes from the neighborhood down to `code`, from the sample's parent links.
fn chain_of(parents: &HashMap<String, Option<String>>, code: &str) -> Vec<String> {
    let mut chain = vec![code.to_string()];
    while let Some(Some(p)) = chain.last().and_then(|c| parents.get(c)) {
        chain.push(p.clone());
    }
    chain.reverse();
    chain
}

fn innermost_code(answer: &Value) -> String {
    answer["grids"].as_array().unwrap().last().unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn random_points_match_the_brute_force_answer() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(app());
    let grids = sample_grids();
    let bounds = district_bounds(&grids);
    // a margin of about 300 m outside the district produces points that no grid covers
    let (x0, y0, x1, y1) = (
        bounds.min().x - 0.003,
        bounds.min().y - 0.003,
        bounds.max().x + 0.003,
        bounds.max().y + 0.003,
    );
    let outside = Cell::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 400,
        ..Config::default()
    });
    runner
        .run(&(0.0f64..1.0, 0.0f64..1.0), |(u, v)| {
            let (lon, lat) = (x0 + u * (x1 - x0), y0 + v * (y1 - y0));
            let r = rt.block_on(app.get(&format!("/v1/lookup?lon={lon}&lat={lat}")));
            match expected_innermost(&grids, lon, lat) {
                Some((code, on_border)) => {
                    prop_assert_eq!(r.status.as_u16(), 200);
                    let a = r.json();
                    prop_assert_eq!(innermost_code(&a), code);
                    prop_assert_eq!(a["border"]["on_border"].as_bool(), Some(on_border));
                }
                None => {
                    prop_assert_eq!(r.status.as_u16(), 404);
                    let problem = r.json();
                    prop_assert_eq!(problem["type"].as_str(), Some("/problems/not-covered"));
                    outside.set(outside.get() + 1);
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        outside.get() > 0,
        "some random points fell outside the district"
    );
}

#[test]
fn random_points_inside_a_footprint_resolve_to_that_buildings_chain() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(app());
    let buildings: Vec<(String, String, MultiPolygon<f64>)> = sample_features("buildings.geojson")
        .iter()
        .map(|f| {
            (
                f["properties"]["id"].as_str().unwrap().to_string(),
                f["properties"]["grid_code"].as_str().unwrap().to_string(),
                multipolygon(f),
            )
        })
        .collect();
    let parents: HashMap<String, Option<String>> = sample_features("grids.geojson")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["code"].as_str().unwrap().to_string(),
                p["parent_code"].as_str().map(str::to_string),
            )
        })
        .collect();
    let mut runner = TestRunner::new(Config {
        cases: 300,
        ..Config::default()
    });
    runner
        .run(
            &(0..buildings.len(), 0.0f64..1.0, 0.0f64..1.0),
            |(i, u, v)| {
                let (id, grid_code, footprint) = &buildings[i];
                let rect = footprint.bounding_rect().unwrap();
                let (lon, lat) = (
                    rect.min().x + u * rect.width(),
                    rect.min().y + v * rect.height(),
                );
                prop_assume!(footprint.contains(&geo::point! {x: lon, y: lat}));
                let r = rt.block_on(app.get(&format!("/v1/lookup?lon={lon}&lat={lat}")));
                prop_assert_eq!(r.status.as_u16(), 200);
                let a = r.json();
                prop_assert_eq!(a["building"]["id"].as_str(), Some(id.as_str()));
                let codes: Vec<String> = a["grids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| g["code"].as_str().unwrap().to_string())
                    .collect();
                prop_assert_eq!(codes, chain_of(&parents, grid_code));
                prop_assert_eq!(a["leaders"]["grid_code"].as_str(), Some(grid_code.as_str()));
                Ok(())
            },
        )
        .unwrap();
}

/// Vertices of grids lie exactly on borders: the rule must pick one answer, deterministically,
/// say so, and list the grids on the other side.
#[test]
fn points_exactly_on_borders_follow_the_documented_rule() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(app());
    let grids = sample_grids();
    let mut checked = 0;
    for g in grids.iter().filter(|g| g.depth == 0) {
        for c in g.geometry.0[0].exterior().coords().take(12) {
            let uri = format!("/v1/lookup?lon={}&lat={}", c.x, c.y);
            let first = rt.block_on(app.get(&uri));
            let second = rt.block_on(app.get(&uri));
            assert_eq!(first.body, second.body, "deterministic");
            let Some((code, on_border)) = expected_innermost(&grids, c.x, c.y) else {
                first.problem(404);
                continue;
            };
            let a = first.json();
            assert_eq!(innermost_code(&a), code);
            assert_eq!(a["border"]["on_border"].as_bool(), Some(on_border));
            if on_border {
                assert_eq!(a["border"]["distance_m"].as_f64(), Some(0.0));
            }
            // every other grid whose border passes through the vertex is listed as nearby
            let chain: Vec<String> = a["grids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["code"].as_str().unwrap().to_string())
                .collect();
            let nearby: Vec<String> = a["border"]["nearby"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["code"].as_str().unwrap().to_string())
                .collect();
            for other in grids
                .iter()
                .filter(|o| o.geometry.coordinate_position(c) == CoordPos::OnBoundary)
            {
                if !chain.contains(&other.code) && nearby.len() < 10 {
                    assert!(
                        nearby.contains(&other.code),
                        "{} missing from nearby at {c:?}",
                        other.code
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 10);
}
