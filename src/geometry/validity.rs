//! Geometry validity: what a grid boundary or a building footprint must be to enter the atlas.
//!
//! Rules (OGC Simple Features, as geo's `Validation` checks them, plus RFC 7946 input rules):
//! every ring has at least 4 positions with at least 3 distinct corners and is closed (its
//! last position repeats its first); every position is 2 or 3 finite numbers with longitude
//! in [-180, 180] and latitude in [-90, 90]; at most [`MAX_VERTICES`] positions per feature;
//! rings are simple (no crossing, no self-touching, no spike); holes lie inside their exterior
//! ring and do not overlap each other; rings touch each other at points only, never along a
//! line; the polygons of a multipolygon do not overlap and touch at points only.
//!
//! Invalid geometry is rejected with a [`GeometryDefect`] that says where (polygon, ring and
//! position indices, counted from 0 as in the GeoJSON arrays; ring 0 is the exterior, rings
//! 1… are holes) and what is wrong. Nothing is ever repaired.
//!
//! Implementation note: geo 0.33's `Validation` tests every pair of edges of a ring
//! (quadratic: 10¹⁰ tests for a 100,000-vertex ring), so ring simplicity is checked here with
//! an R-tree over the edges (brute force for small rings) and exact predicates; the relations
//! between rings and between polygons use geo's `Relate` (DE-9IM) exactly as geo's
//! `Validation` does, with bounding-box pre-filters so that many holes or parts stay fast.

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::kernels::Orientation;
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, Line, LineString, MultiPolygon, Polygon, PreparedGeometry, Relate};
use geojson::{GeometryValue, PolygonType};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use super::{orient, ring_bbox, segments_intersect};

/// Most positions (vertices, closing positions included) accepted in one feature.
pub const MAX_VERTICES: usize = 100_000;

/// Why a geometry is not accepted. Indices count from 0 as in the GeoJSON arrays; ring 0 of a
/// polygon is its exterior ring, rings 1… are its holes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryDefect {
    #[error(
        "geometry type {0} is not accepted: a grid or a footprint must be a Polygon or a MultiPolygon"
    )]
    WrongType(String),
    #[error("{}: the ring is not closed (its last position must repeat its first)", place(*.polygon, *.ring))]
    UnclosedRing { polygon: usize, ring: usize },
    #[error(
        "{}: the ring has {positions} position(s), {distinct} distinct corner(s); a ring needs at least 3 distinct corners and 4 positions, the last closing it",
        place(*.polygon, *.ring)
    )]
    TooFewPositions {
        polygon: usize,
        ring: usize,
        positions: usize,
        distinct: usize,
    },
    #[error("{}, position {position}: {reason}", place(*.polygon, *.ring))]
    BadPosition {
        polygon: usize,
        ring: usize,
        position: usize,
        reason: String,
    },
    #[error(
        "{}, position {position}: ({lon}, {lat}) is out of range (longitude must be within [-180, 180], latitude within [-90, 90]; GeoJSON is longitude first)",
        place(*.polygon, *.ring)
    )]
    OutOfRange {
        polygon: usize,
        ring: usize,
        position: usize,
        lon: f64,
        lat: f64,
    },
    #[error(
        "the geometry has {count} positions, more than the {MAX_VERTICES} accepted per feature"
    )]
    TooManyVertices { count: usize },
    #[error(
        "{}: the ring intersects itself near ({lon}, {lat}): the edge from position {edge} meets the edge from position {other_edge}",
        place(*.polygon, *.ring)
    )]
    SelfIntersection {
        polygon: usize,
        ring: usize,
        edge: usize,
        other_edge: usize,
        lon: f64,
        lat: f64,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the geometry is empty: it has no polygon")]
    Empty,
}

fn place(polygon: usize, ring: usize) -> String {
    if ring == 0 {
        format!("polygon {polygon}, ring 0 (exterior)")
    } else {
        format!("polygon {polygon}, ring {ring} (hole)")
    }
}

/// Reads a GeoJSON Polygon or MultiPolygon, checking it before conversion (geo would silently
/// close rings and accept anything numeric) and validating the result. Never repairs.
pub fn multipolygon_from_geojson(
    geom: &geojson::Geometry,
) -> Result<MultiPolygon<f64>, GeometryDefect> {
    let polygons: Vec<&PolygonType> = match &geom.value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        other => return Err(GeometryDefect::WrongType(other.type_name().to_string())),
    };
    if polygons.is_empty() {
        return Err(GeometryDefect::Empty);
    }
    let count: usize = polygons
        .iter()
        .flat_map(|p| p.iter())
        .map(|r| r.len())
        .sum();
    if count > MAX_VERTICES {
        return Err(GeometryDefect::TooManyVertices { count });
    }
    for (pi, rings) in polygons.iter().enumerate() {
        if rings.is_empty() {
            return Err(GeometryDefect::Invalid(format!("polygon {pi} has no ring")));
        }
        for (ri, ring) in rings.iter().enumerate() {
            for (k, pos) in ring.iter().enumerate() {
                let v = pos.as_slice();
                if !(2..=3).contains(&v.len()) {
                    return Err(GeometryDefect::BadPosition {
                        polygon: pi,
                        ring: ri,
                        position: k,
                        reason: format!(
                            "a position is [longitude, latitude] or [longitude, latitude, height], this one has {} number(s)",
                            v.len()
                        ),
                    });
                }
                if let Some(bad) = v.iter().position(|x| !x.is_finite()) {
                    let which = ["longitude", "latitude", "height"][bad];
                    return Err(GeometryDefect::BadPosition {
                        polygon: pi,
                        ring: ri,
                        position: k,
                        reason: format!("the {which} is not a finite number"),
                    });
                }
                check_range(pi, ri, k, v[0], v[1])?;
            }
            if let (Some(first), Some(last)) = (ring.first(), ring.last())
                && first.as_slice()[..2] != last.as_slice()[..2]
            {
                return Err(GeometryDefect::UnclosedRing {
                    polygon: pi,
                    ring: ri,
                });
            }
            if ring.len() < 4 {
                return Err(GeometryDefect::TooFewPositions {
                    polygon: pi,
                    ring: ri,
                    positions: ring.len(),
                    distinct: distinct_corners(ring.iter().map(|p| (p[0], p[1]))),
                });
            }
        }
    }
    let to_ring = |r: &Vec<geojson::Position>| -> LineString<f64> {
        r.iter().map(|p| geo::coord! {x: p[0], y: p[1]}).collect()
    };
    let mp = MultiPolygon::new(
        polygons
            .iter()
            .map(|rings| {
                let mut it = rings.iter();
                let exterior = it
                    .next()
                    .map(to_ring)
                    .unwrap_or_else(|| LineString::new(vec![]));
                Polygon::new(exterior, it.map(to_ring).collect())
            })
            .collect(),
    );
    check_structure(&mp)?;
    Ok(mp)
}

fn check_range(
    polygon: usize,
    ring: usize,
    position: usize,
    lon: f64,
    lat: f64,
) -> Result<(), GeometryDefect> {
    if (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat) {
        Ok(())
    } else {
        Err(GeometryDefect::OutOfRange {
            polygon,
            ring,
            position,
            lon,
            lat,
        })
    }
}

/// Number of corners left once consecutive repeated positions and the closing one are dropped.
fn distinct_corners(coords: impl Iterator<Item = (f64, f64)>) -> usize {
    let mut pts: Vec<(f64, f64)> = Vec::new();
    for c in coords {
        if pts.last() != Some(&c) {
            pts.push(c);
        }
    }
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts.len()
}

/// Checks geometry already in memory against every rule: not empty, vertex count, finite
/// coordinates in range, closed rings of at least 4 positions, simple rings, valid polygons.
pub fn validate_multipolygon(mp: &MultiPolygon<f64>) -> Result<(), GeometryDefect> {
    if mp.0.is_empty() {
        return Err(GeometryDefect::Empty);
    }
    let count: usize =
        mp.0.iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum();
    if count > MAX_VERTICES {
        return Err(GeometryDefect::TooManyVertices { count });
    }
    for (pi, poly) in mp.0.iter().enumerate() {
        for (ri, ring) in rings(poly).enumerate() {
            for (k, c) in ring.0.iter().enumerate() {
                if !c.x.is_finite() || !c.y.is_finite() {
                    let which = if c.x.is_finite() {
                        "latitude"
                    } else {
                        "longitude"
                    };
                    return Err(GeometryDefect::BadPosition {
                        polygon: pi,
                        ring: ri,
                        position: k,
                        reason: format!("the {which} is not a finite number"),
                    });
                }
                check_range(pi, ri, k, c.x, c.y)?;
            }
            if let (Some(first), Some(last)) = (ring.0.first(), ring.0.last())
                && first != last
            {
                return Err(GeometryDefect::UnclosedRing {
                    polygon: pi,
                    ring: ri,
                });
            }
            if ring.0.len() < 4 {
                return Err(GeometryDefect::TooFewPositions {
                    polygon: pi,
                    ring: ri,
                    positions: ring.0.len(),
                    distinct: distinct_corners(ring.0.iter().map(|c| (c.x, c.y))),
                });
            }
        }
    }
    check_structure(mp)
}

/// Orients for RFC 7946 output: exterior rings counter-clockwise, holes clockwise.
///
/// Same result as geo's `Orient` with `Direction::Default` on valid geometry, but geo's
/// panics on a non-finite coordinate; here a ring whose orientation cannot be decided
/// (non-finite coordinates, no area) is left as it is.
pub fn oriented_rfc7946(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    MultiPolygon::new(
        mp.0.iter()
            .map(|p| {
                Polygon::new(
                    oriented_ring(p.exterior(), true),
                    p.interiors()
                        .iter()
                        .map(|h| oriented_ring(h, false))
                        .collect(),
                )
            })
            .collect(),
    )
}

/// Twice the signed area (positive when counter-clockwise), relative to the first position to
/// limit cancellation.
fn twice_signed_area(ring: &[Coord<f64>]) -> f64 {
    let Some(&o) = ring.first() else { return 0.0 };
    super::ring_edges(ring)
        .map(|(a, b)| (a.x - o.x) * (b.y - o.y) - (b.x - o.x) * (a.y - o.y))
        .sum()
}

/// `Some(true)` when the ring runs counter-clockwise, `None` when it has no area.
pub fn is_ccw(ring: &[Coord<f64>]) -> Option<bool> {
    let area = twice_signed_area(ring);
    (area.is_finite() && area != 0.0).then_some(area > 0.0)
}

fn oriented_ring(ring: &LineString<f64>, ccw: bool) -> LineString<f64> {
    let area = twice_signed_area(&ring.0);
    if area.is_finite() && area != 0.0 && (area > 0.0) != ccw {
        ring.0.iter().rev().copied().collect()
    } else {
        ring.clone()
    }
}

fn rings(poly: &Polygon<f64>) -> impl Iterator<Item = &LineString<f64>> {
    std::iter::once(poly.exterior()).chain(poly.interiors())
}

/// Runs a third-party geometry algorithm, turning a panic inside it (a bug there) into `None`
/// so that no input can bring the service down.
pub(crate) fn guarded<T>(f: impl FnOnce() -> T) -> Option<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// The checks after the per-position ones: distinct corners, simple rings, ring relations,
/// polygon relations. Expects finite, closed rings of at least 4 positions.
fn check_structure(mp: &MultiPolygon<f64>) -> Result<(), GeometryDefect> {
    for (pi, poly) in mp.0.iter().enumerate() {
        for (ri, ring) in rings(poly).enumerate() {
            check_ring_simple(pi, ri, &ring.0)?;
        }
        check_holes(pi, poly)?;
    }
    check_parts(mp)
}

/// Rings with at most this many edges are checked pair by pair; larger ones with an R-tree.
const BRUTE_FORCE_EDGES: usize = 48;

fn check_ring_simple(
    polygon: usize,
    ring_index: usize,
    ring: &[Coord<f64>],
) -> Result<(), GeometryDefect> {
    // Drop consecutive repeated positions, remembering where each corner came from.
    let mut pts: Vec<(Coord<f64>, usize)> = Vec::with_capacity(ring.len());
    for (i, &c) in ring.iter().enumerate() {
        if pts.last().is_none_or(|&(p, _)| p != c) {
            pts.push((c, i));
        }
    }
    let m = pts.len().saturating_sub(1); // edges of the closed ring
    if m < 3 {
        return Err(GeometryDefect::TooFewPositions {
            polygon,
            ring: ring_index,
            positions: ring.len(),
            distinct: m,
        });
    }
    let edge = |k: usize| (pts[k].0, pts[k + 1].0);
    // Edges i < j meet where they must not.
    let defect = |i: usize, j: usize| -> bool {
        let (a, b) = edge(i);
        let (c, d) = edge(j);
        if j == i + 1 || (i == 0 && j == m - 1) {
            // Adjacent edges share one corner q; they must not fold back over each other.
            let (p, q, r) = if j == i + 1 { (a, b, d) } else { (c, d, b) };
            orient(p, q, r) == Orientation::Collinear
                && (q.x - p.x) * (r.x - q.x) + (q.y - p.y) * (r.y - q.y) < 0.0
        } else {
            segments_intersect(a, b, c, d)
        }
    };
    let found = if m <= BRUTE_FORCE_EDGES {
        (0..m).find_map(|i| (i + 1..m).find(|&j| defect(i, j)).map(|j| (i, j)))
    } else {
        let boxes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = (0..m)
            .map(|k| {
                let (a, b) = edge(k);
                GeomWithData::new(Rectangle::from_corners([a.x, a.y], [b.x, b.y]), k)
            })
            .collect();
        let tree = RTree::bulk_load(boxes);
        (0..m).find_map(|i| {
            let (a, b) = edge(i);
            tree.locate_in_envelope_intersecting(&AABB::from_corners([a.x, a.y], [b.x, b.y]))
                .map(|e| e.data)
                .filter(|&j| j > i && defect(i, j))
                .min()
                .map(|j| (i, j))
        })
    };
    match found {
        None => Ok(()),
        Some((i, j)) => {
            let (a, b) = edge(i);
            let (c, d) = edge(j);
            let at = match line_intersection(Line::new(a, b), Line::new(c, d)) {
                Some(LineIntersection::SinglePoint { intersection, .. }) => intersection,
                Some(LineIntersection::Collinear { intersection }) => intersection.start,
                None => c,
            };
            Err(GeometryDefect::SelfIntersection {
                polygon,
                ring: ring_index,
                edge: pts[i].1,
                other_edge: pts[j].1,
                lon: at.x,
                lat: at.y,
            })
        }
    }
}

/// Pairs `(i, j)`, `i < j`, whose boxes intersect, by sorting on the west edge and sweeping.
fn box_pairs(boxes: &[[f64; 4]]) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| boxes[a][0].total_cmp(&boxes[b][0]).then(a.cmp(&b)));
    let mut pairs = Vec::new();
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[k + 1..] {
            if boxes[j][0] > boxes[i][2] {
                break;
            }
            if super::boxes_intersect(&boxes[i], &boxes[j]) {
                pairs.push((i.min(j), i.max(j)));
            }
        }
    }
    pairs.sort_unstable();
    pairs
}

fn check_holes(pi: usize, poly: &Polygon<f64>) -> Result<(), GeometryDefect> {
    if poly.interiors().is_empty() {
        return Ok(());
    }
    let could_not = || {
        GeometryDefect::Invalid(format!(
            "polygon {pi}: the relation between its rings could not be computed"
        ))
    };
    let exterior = Polygon::new(poly.exterior().clone(), vec![]);
    let holes: Vec<Polygon<f64>> = poly
        .interiors()
        .iter()
        .map(|h| Polygon::new(h.clone(), vec![]))
        .collect();
    let result = guarded(|| -> Result<(), GeometryDefect> {
        let prepared = PreparedGeometry::from(&exterior);
        for (h, hole) in holes.iter().enumerate() {
            let im = prepared.relate(hole);
            if !im.is_contains() {
                return Err(GeometryDefect::Invalid(format!(
                    "{}: the hole is not inside the exterior ring",
                    place(pi, h + 1)
                )));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Err(GeometryDefect::Invalid(format!(
                    "{}: the hole touches the exterior ring along a line (rings may touch at points only)",
                    place(pi, h + 1)
                )));
            }
        }
        let boxes: Vec<[f64; 4]> = poly
            .interiors()
            .iter()
            .map(|h| ring_bbox(&h.0).unwrap_or([0.0; 4]))
            .collect();
        for (a, b) in box_pairs(&boxes) {
            let im = holes[a].relate(&holes[b]);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Err(GeometryDefect::Invalid(format!(
                    "polygon {pi}: holes in rings {} and {} overlap",
                    a + 1,
                    b + 1
                )));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Err(GeometryDefect::Invalid(format!(
                    "polygon {pi}: holes in rings {} and {} touch along a line (rings may touch at points only)",
                    a + 1,
                    b + 1
                )));
            }
        }
        Ok(())
    });
    result.unwrap_or_else(|| Err(could_not()))
}

fn check_parts(mp: &MultiPolygon<f64>) -> Result<(), GeometryDefect> {
    if mp.0.len() < 2 {
        return Ok(());
    }
    let boxes: Vec<[f64; 4]> =
        mp.0.iter()
            .map(|p| ring_bbox(&p.exterior().0).unwrap_or([0.0; 4]))
            .collect();
    let pairs = box_pairs(&boxes);
    if pairs.is_empty() {
        return Ok(());
    }
    let result = guarded(|| -> Result<(), GeometryDefect> {
        for (a, b) in pairs {
            let im = mp.0[a].relate(&mp.0[b]);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Err(GeometryDefect::Invalid(format!(
                    "polygons {a} and {b} of the multipolygon overlap"
                )));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Err(GeometryDefect::Invalid(format!(
                    "polygons {a} and {b} of the multipolygon touch along a line (they should be one polygon; parts may touch at points only)"
                )));
            }
        }
        Ok(())
    });
    result.unwrap_or_else(|| {
        Err(GeometryDefect::Invalid(
            "the relation between the polygons of the multipolygon could not be computed".into(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Validation;
    use geo::winding_order::{Winding, WindingOrder};

    use proptest::prelude::*;
    use serde_json::json;

    fn gj(v: serde_json::Value) -> geojson::Geometry {
        serde_json::from_value(v).expect("geojson")
    }

    fn square(x: f64, y: f64, s: f64) -> Vec<[f64; 2]> {
        vec![[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]
    }

    fn poly(rings: Vec<Vec<[f64; 2]>>) -> geojson::Geometry {
        gj(json!({"type": "Polygon", "coordinates": rings}))
    }

    fn mp_of(rings: Vec<Vec<[f64; 2]>>) -> MultiPolygon<f64> {
        let mut it = rings
            .into_iter()
            .map(|r| LineString::from(r.into_iter().map(|[x, y]| (x, y)).collect::<Vec<_>>()));
        let ext = it.next().unwrap();
        MultiPolygon::new(vec![Polygon::new(ext, it.collect())])
    }

    #[test]
    fn valid_polygon_and_multipolygon_are_accepted() {
        let mp = multipolygon_from_geojson(&poly(vec![square(121.44, 31.22, 0.001)])).unwrap();
        assert_eq!(mp.0.len(), 1);
        // With a hole, and a second part touching the first at one corner.
        let g = gj(json!({"type": "MultiPolygon", "coordinates": [
            [square(121.44, 31.22, 0.01), square(121.442, 31.222, 0.001)],
            [square(121.45, 31.23, 0.01)]
        ]}));
        let mp = multipolygon_from_geojson(&g).unwrap();
        assert_eq!(mp.0.len(), 2);
        assert!(validate_multipolygon(&mp).is_ok());
        // 3D positions: height ignored.
        let g = gj(json!({"type": "Polygon", "coordinates": [[[0,0,5],[1,0,5],[1,1,5],[0,0,5]]]}));
        assert!(multipolygon_from_geojson(&g).is_ok());
    }

    #[test]
    fn wrong_type() {
        let e = multipolygon_from_geojson(&gj(json!({"type": "Point", "coordinates": [1, 2]})))
            .unwrap_err();
        assert_eq!(e, GeometryDefect::WrongType("Point".into()));
        assert!(e.to_string().contains("Point"));
    }

    #[test]
    fn empty() {
        let e = multipolygon_from_geojson(&gj(json!({"type": "MultiPolygon", "coordinates": []})))
            .unwrap_err();
        assert_eq!(e, GeometryDefect::Empty);
        assert_eq!(
            validate_multipolygon(&MultiPolygon::new(vec![])),
            Err(GeometryDefect::Empty)
        );
        let e = multipolygon_from_geojson(&gj(json!({"type": "Polygon", "coordinates": []})))
            .unwrap_err();
        assert!(
            matches!(e, GeometryDefect::Invalid(ref m) if m.contains("polygon 0")),
            "{e}"
        );
    }

    #[test]
    fn unclosed_ring() {
        let mut r = square(0., 0., 1.);
        r.pop();
        let e = multipolygon_from_geojson(&poly(vec![r])).unwrap_err();
        assert_eq!(
            e,
            GeometryDefect::UnclosedRing {
                polygon: 0,
                ring: 0
            }
        );
        assert!(
            e.to_string().contains("not closed") && e.to_string().contains("polygon 0, ring 0"),
            "{e}"
        );
        // In memory, geo's constructors always close rings, so only GeoJSON input can be unclosed.
        let mp = mp_of(vec![square(0., 0., 1.)]);
        assert!(validate_multipolygon(&mp).is_ok());
    }

    #[test]
    fn too_few_positions() {
        let e =
            multipolygon_from_geojson(&poly(vec![vec![[0., 0.], [1., 0.], [0., 0.]]])).unwrap_err();
        assert_eq!(
            e,
            GeometryDefect::TooFewPositions {
                polygon: 0,
                ring: 0,
                positions: 3,
                distinct: 2
            }
        );
        // Four positions, only two distinct corners.
        let e =
            multipolygon_from_geojson(&poly(vec![vec![[0., 0.], [1., 0.], [1., 0.], [0., 0.]]]))
                .unwrap_err();
        assert!(
            matches!(e, GeometryDefect::TooFewPositions { distinct: 2, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("at least 3 distinct corners"));
    }

    #[test]
    fn bad_position() {
        let mut r: Vec<serde_json::Value> =
            square(0., 0., 1.).into_iter().map(|p| json!(p)).collect();
        r[2] = json!([1.0]);
        let e = multipolygon_from_geojson(&gj(json!({"type": "Polygon", "coordinates": [r]})))
            .unwrap_err();
        assert!(
            matches!(
                e,
                GeometryDefect::BadPosition {
                    polygon: 0,
                    ring: 0,
                    position: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("position 2"), "{e}");
        // Non-finite in memory.
        let mp = mp_of(vec![vec![[0., 0.], [1., 0.], [1., f64::NAN], [0., 0.]]]);
        let e = validate_multipolygon(&mp).unwrap_err();
        assert!(
            matches!(e, GeometryDefect::BadPosition { position: 2, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("latitude"), "{e}");
    }

    #[test]
    fn out_of_range() {
        // Latitude first by mistake.
        let r = vec![
            [31.22, 121.44],
            [31.23, 121.44],
            [31.23, 121.45],
            [31.22, 121.44],
        ];
        let e = multipolygon_from_geojson(&poly(vec![r])).unwrap_err();
        assert!(
            matches!(
                e,
                GeometryDefect::OutOfRange {
                    polygon: 0,
                    ring: 0,
                    position: 0,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("longitude first"));
        let mp = mp_of(vec![vec![[179., 0.], [181., 0.], [180., 1.], [179., 0.]]]);
        assert!(matches!(
            validate_multipolygon(&mp),
            Err(GeometryDefect::OutOfRange { position: 1, .. })
        ));
    }

    #[test]
    fn too_many_vertices() {
        let n = MAX_VERTICES;
        let mut r: Vec<[f64; 2]> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                [t.cos(), t.sin()]
            })
            .collect();
        r.push(r[0]);
        let e = multipolygon_from_geojson(&poly(vec![r.clone()])).unwrap_err();
        assert_eq!(e, GeometryDefect::TooManyVertices { count: n + 1 });
        r.truncate(n - 1);
        r.push(r[0]);
        // Just under the limit: accepted, and fast (indexed self-intersection test).
        let t = std::time::Instant::now();
        assert!(multipolygon_from_geojson(&poly(vec![r])).is_ok());
        assert!(t.elapsed().as_secs_f64() < 5.0);
    }

    #[test]
    fn self_intersection_bow_tie() {
        let r = vec![[0., 0.], [1., 1.], [1., 0.], [0., 1.], [0., 0.]];
        let e = multipolygon_from_geojson(&poly(vec![r])).unwrap_err();
        match e {
            GeometryDefect::SelfIntersection {
                polygon: 0,
                ring: 0,
                lon,
                lat,
                ..
            } => {
                assert!((lon - 0.5).abs() < 1e-12 && (lat - 0.5).abs() < 1e-12);
            }
            other => panic!("{other}"),
        }
        assert!(e.to_string().contains("intersects itself"));
    }

    #[test]
    fn self_intersection_spike_and_self_touch() {
        // A spike: goes out to (2, 0.5) and straight back.
        let spike = vec![
            [0., 0.],
            [1., 0.],
            [1., 0.5],
            [2., 0.5],
            [1., 0.5],
            [1., 1.],
            [0., 1.],
            [0., 0.],
        ];
        assert!(matches!(
            multipolygon_from_geojson(&poly(vec![spike])),
            Err(GeometryDefect::SelfIntersection { .. })
        ));
        // Figure of eight touching itself at (1, 1).
        let eight = vec![
            [0., 0.],
            [1., 1.],
            [2., 0.],
            [2., 2.],
            [1., 1.],
            [0., 2.],
            [0., 0.],
        ];
        assert!(matches!(
            multipolygon_from_geojson(&poly(vec![eight])),
            Err(GeometryDefect::SelfIntersection { .. })
        ));
        // A large self-intersecting ring goes through the R-tree path.
        let n = 1000;
        let mut r: Vec<[f64; 2]> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                [t.cos(), t.sin()]
            })
            .collect();
        r.swap(10, 500);
        r.push(r[0]);
        assert!(matches!(
            multipolygon_from_geojson(&poly(vec![r])),
            Err(GeometryDefect::SelfIntersection { .. })
        ));
    }

    #[test]
    fn invalid_holes_and_parts() {
        // Hole outside the exterior.
        let e = multipolygon_from_geojson(&poly(vec![square(0., 0., 1.), square(2., 2., 0.5)]))
            .unwrap_err();
        assert!(
            matches!(e, GeometryDefect::Invalid(ref m) if m.contains("ring 1") && m.contains("not inside")),
            "{e}"
        );
        // Hole sharing an edge with the exterior.
        let e = multipolygon_from_geojson(&poly(vec![square(0., 0., 1.), square(0., 0., 0.5)]))
            .unwrap_err();
        assert!(
            matches!(e, GeometryDefect::Invalid(ref m) if m.contains("along a line")),
            "{e}"
        );
        // Overlapping holes.
        let e = multipolygon_from_geojson(&poly(vec![
            square(0., 0., 10.),
            square(1., 1., 3.),
            square(2., 2., 3.),
        ]))
        .unwrap_err();
        assert!(
            matches!(e, GeometryDefect::Invalid(ref m) if m.contains("overlap")),
            "{e}"
        );
        // Overlapping parts.
        let g = gj(
            json!({"type": "MultiPolygon", "coordinates": [[square(0., 0., 2.)], [square(1., 1., 2.)]]}),
        );
        let e = multipolygon_from_geojson(&g).unwrap_err();
        assert!(
            matches!(e, GeometryDefect::Invalid(ref m) if m.contains("polygons 0 and 1") && m.contains("overlap")),
            "{e}"
        );
        // Parts sharing an edge.
        let g = gj(
            json!({"type": "MultiPolygon", "coordinates": [[square(0., 0., 1.)], [square(1., 0., 1.)]]}),
        );
        let e = multipolygon_from_geojson(&g).unwrap_err();
        assert!(
            matches!(e, GeometryDefect::Invalid(ref m) if m.contains("along a line")),
            "{e}"
        );
    }

    #[test]
    fn orientation_for_output() {
        let cw = mp_of(vec![
            square(0., 0., 10.).into_iter().rev().collect(),
            square(1., 1., 1.),
        ]);
        let o = oriented_rfc7946(&cw);
        assert_eq!(
            o.0[0].exterior().winding_order(),
            Some(WindingOrder::CounterClockwise)
        );
        assert_eq!(
            o.0[0].interiors()[0].winding_order(),
            Some(WindingOrder::Clockwise)
        );
        // Agrees with geo's Orient on valid input.
        use geo::Orient;
        assert_eq!(o, cw.orient(geo::orient::Direction::Default));
        let ccw = mp_of(vec![
            square(0., 0., 10.),
            square(1., 1., 1.).into_iter().rev().collect(),
        ]);
        assert_eq!(oriented_rfc7946(&ccw), ccw);
    }

    fn arb_num() -> impl Strategy<Value = f64> {
        prop_oneof![
            6 => (0i32..6).prop_map(f64::from),
            3 => -200.0f64..200.0,
            1 => Just(f64::NAN),
            1 => Just(f64::NEG_INFINITY),
        ]
    }

    fn arb_ring() -> impl Strategy<Value = Vec<(f64, f64)>> {
        (
            prop::collection::vec((arb_num(), arb_num()), 0..9),
            any::<bool>(),
        )
            .prop_map(|(mut r, close)| {
                if close && !r.is_empty() {
                    r.push(r[0]);
                }
                r
            })
    }

    fn arb_rings() -> impl Strategy<Value = Vec<Vec<Vec<(f64, f64)>>>> {
        prop::collection::vec(prop::collection::vec(arb_ring(), 0..3), 0..3)
    }

    /// Small integer grids make touching, collinear and repeated points likely.
    fn arb_small_valid_candidate() -> impl Strategy<Value = Vec<(f64, f64)>> {
        prop::collection::vec(
            ((0i32..5).prop_map(f64::from), (0i32..5).prop_map(f64::from)),
            3..8,
        )
        .prop_map(|mut r| {
            r.push(r[0]);
            r
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn never_panics(rings in arb_rings(), multi in any::<bool>()) {
            // Built directly: serde would refuse some shapes before we ever see them.
            let coords: Vec<PolygonType> = rings.iter().map(|p| p.iter().map(|r| r.iter().enumerate().map(|(k, &(x, y))| {
                match k % 5 {
                    3 => geojson::Position::from(vec![x]),
                    4 => geojson::Position::from(vec![x, y, 1.0, 2.0]),
                    _ => geojson::Position::from([x, y]),
                }
            }).collect()).collect()).collect();
            let value = if multi || coords.is_empty() {
                GeometryValue::MultiPolygon { coordinates: coords }
            } else {
                GeometryValue::Polygon { coordinates: coords[0].clone() }
            };
            let g = geojson::Geometry::new(value);
            let _ = multipolygon_from_geojson(&g);
            let mp = MultiPolygon::new(rings.into_iter().filter(|p| !p.is_empty()).map(|mut p| {
                let ext = LineString::from(p.remove(0));
                Polygon::new(ext, p.into_iter().map(LineString::from).collect())
            }).collect());
            let _ = validate_multipolygon(&mp);
            let o = oriented_rfc7946(&mp);
            prop_assert_eq!(o.0.len(), mp.0.len());
        }

        /// Where geo's own Validation is cheap enough to run, we agree with it about simple
        /// rings (geo does not flag spikes that fold straight back, which we reject).
        #[test]
        fn agrees_with_geo_on_valid_rings(r in arb_small_valid_candidate()) {
            let mp = MultiPolygon::new(vec![Polygon::new(LineString::from(r), vec![])]);
            if validate_multipolygon(&mp).is_ok() {
                prop_assert!(mp.is_valid(), "{:?}", mp);
            }
        }
    }
}
