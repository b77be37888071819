//! geo's interior point of a (multi)polygon, computed without its two general-purpose steps.
//!
//! geo 0.33 (`InteriorPoint for MultiPolygon`) scans each polygon with a horizontal line half
//! way up its bounding box, pairs the crossings left to right, and returns the midpoint of the
//! longest pair that a DE-9IM `relate` finds inside (the widest such segment over all the
//! polygons). On a city of footprints nearly all of that time went to two steps that are far
//! more general than the question: a sweep testing every pair of edges against each other
//! (only pairs with the scan line are kept), and a `relate` building geometry graphs to locate
//! one point.
//!
//! [`interior_point`] gives the very same point: the same scan line, `line_intersection` called
//! on the same (edge, scan line) pairs in the same argument order as the sweep calls it, the
//! same stable sorts, and the point location that `relate` applies to a point against a polygon
//! (`coordinate_position`: the point is an isolated node of the relate graph, labelled by it).
//! Shapes outside the common case (a vertex on the scan line, a ring of fewer than two
//! positions, a coordinate that is not finite) are handed to geo unchanged.

use std::cmp::Ordering;

use geo::coordinate_position::CoordPos;
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{BoundingRect, Coord, CoordinatePosition, CoordsIter, InteriorPoint, Line, LinesIter};
use geo::{MultiPolygon, Point, Polygon};

/// `mp.interior_point()`, bit for bit.
pub fn interior_point(mp: &MultiPolygon<f64>) -> Option<Point<f64>> {
    let mut crossings = Vec::new();
    let mut found = Vec::with_capacity(mp.0.len());
    for polygon in &mp.0 {
        match polygon_point(polygon, &mut crossings) {
            Some(Some(pair)) => found.push(pair),
            Some(None) => {}
            None => return mp.interior_point(),
        }
    }
    // As geo: the first polygon whose segment is the longest.
    found
        .into_iter()
        .min_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(Ordering::Less))
        .map(|(point, _length)| point)
}

/// geo's `polygon_interior_point_with_segment_length`: `Some(result)` when computed here,
/// `None` when the shape must go to geo.
#[allow(clippy::option_option)]
fn polygon_point(
    polygon: &Polygon<f64>,
    crossings: &mut Vec<f64>,
) -> Option<Option<(Point<f64>, f64)>> {
    if polygon.exterior().0.len() < 2
        || polygon
            .coords_iter()
            .any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return None;
    }
    let bounds = polygon.bounding_rect()?;
    let mut y_mid = (bounds.min().y + bounds.max().y) / 2.0;
    if polygon.coords_iter().any(|coord| coord.y == y_mid) {
        let next_closest = polygon
            .coords_iter()
            .filter_map(|coord| {
                if coord.y == y_mid {
                    None
                } else {
                    Some((coord.y, (coord.y - y_mid).abs()))
                }
            })
            .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(Ordering::Less));
        if let Some((closest, _)) = next_closest {
            y_mid = (y_mid + closest) / 2.0;
        }
    }
    // A vertex on the scan line makes collinear and touching crossings, and edges that may equal
    // the scan line itself: rare, and left to geo.
    if polygon.coords_iter().any(|coord| coord.y == y_mid) {
        return None;
    }
    let scan = Line::new(
        Coord {
            x: bounds.min().x,
            y: y_mid,
        },
        Coord {
            x: bounds.max().x,
            y: y_mid,
        },
    );
    let scan_left = left_x(&scan);

    // The sweep sorts segments by their left x (stably; the scan line comes after every edge)
    // and calls `line_intersection(earlier, later)`: an edge whose left end is as far left as
    // the scan line's comes first.
    crossings.clear();
    for edge in polygon.lines_iter() {
        let crossing = if left_x(&edge).total_cmp(&scan_left).is_le() {
            line_intersection(edge, scan)
        } else {
            line_intersection(scan, edge)
        };
        match crossing {
            Some(LineIntersection::Collinear { intersection }) => {
                crossings.push(intersection.start.x);
                crossings.push(intersection.end.x);
            }
            Some(LineIntersection::SinglePoint { intersection, .. }) => {
                crossings.push(intersection.x);
            }
            None => {}
        }
    }
    crossings.sort_by(f64::total_cmp);

    let mut segments: Vec<(Point<f64>, f64)> = crossings
        .windows(2)
        .map(|w| (Point::new((w[0] + w[1]) / 2.0, y_mid), w[1] - w[0]))
        .collect();
    segments.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (midpoint, length) in segments {
        match polygon.coordinate_position(&midpoint.0) {
            CoordPos::Outside => continue,
            CoordPos::Inside => return Some(Some((midpoint, length))),
            CoordPos::OnBoundary => return Some(Some((midpoint, 0.0))),
        }
    }
    Some(
        polygon
            .coords_iter()
            .next()
            .map(|coord| (coord.into(), 0.0)),
    )
}

/// Where the sweep inserts a segment: its smaller x, as geo computes it.
fn left_x(line: &Line<f64>) -> f64 {
    if line.start.x < line.end.x {
        line.start.x
    } else {
        line.end.x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, polygon};

    fn same(mp: &MultiPolygon<f64>) {
        let ours = interior_point(mp);
        let geo = mp.interior_point();
        assert_eq!(
            ours.map(|p| (p.x().to_bits(), p.y().to_bits())),
            geo.map(|p| (p.x().to_bits(), p.y().to_bits())),
            "{mp:?}"
        );
    }

    #[test]
    fn same_as_geo_on_simple_shapes() {
        same(&MultiPolygon::new(vec![polygon![
            (x: -2., y: 1.), (x: 1., y: 3.), (x: 4., y: 1.), (x: 1., y: -1.), (x: -2., y: 1.)
        ]]));
        // A U shape: the scan line crosses it four times.
        same(&MultiPolygon::new(vec![polygon![
            (x: 0., y: 0.), (x: 3., y: 0.), (x: 3., y: 3.), (x: 2., y: 3.), (x: 2., y: 1.),
            (x: 1., y: 1.), (x: 1., y: 3.), (x: 0., y: 3.), (x: 0., y: 0.)
        ]]));
        // A hole across the middle, and a second polygon wider than the first.
        same(&MultiPolygon::new(vec![
            Polygon::new(
                LineString::from(vec![(0., 0.), (4., 0.), (4., 4.), (0., 4.), (0., 0.)]),
                vec![LineString::from(vec![
                    (1., 1.5),
                    (3., 1.5),
                    (3., 2.5),
                    (1., 2.5),
                    (1., 1.5),
                ])],
            ),
            polygon![(x: 10., y: 0.), (x: 20., y: 0.), (x: 20., y: 1.), (x: 10., y: 1.), (x: 10., y: 0.)],
        ]));
        // Vertices on the middle line (left to geo), an empty multipolygon, a one-point ring.
        same(&MultiPolygon::new(vec![polygon![
            (x: 0., y: 0.), (x: 2., y: 1.), (x: 0., y: 2.), (x: -2., y: 1.), (x: 0., y: 0.)
        ]]));
        same(&MultiPolygon::new(vec![]));
        same(&MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![(1., 1.)]),
            vec![],
        )]));
        // Zero area.
        same(&MultiPolygon::new(vec![polygon![
            (x: 0., y: 0.), (x: 2., y: 2.), (x: 0., y: 0.)
        ]]));
    }

    #[test]
    fn same_as_geo_on_random_rings() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut fast = 0;
        for n in 0..4000 {
            let vertices = 3 + n % 9;
            let (cx, cy) = (121.0 + next(), 31.0 + next());
            // A star-shaped ring around a centre (simple), or any ring (self-crossing).
            let star = n % 3 != 0;
            let mut ring: Vec<(f64, f64)> = (0..vertices)
                .map(|k| {
                    let angle = if star {
                        (k as f64 + next() * 0.9) / vertices as f64 * std::f64::consts::TAU
                    } else {
                        next() * std::f64::consts::TAU
                    };
                    let r = 1e-4 + next() * 1e-3;
                    // Snap to a grid now and then so that vertices share a y.
                    let (x, y) = (cx + r * angle.cos(), cy + r * angle.sin());
                    if n % 5 == 0 {
                        ((x * 1e4).round() / 1e4, (y * 1e4).round() / 1e4)
                    } else {
                        (x, y)
                    }
                })
                .collect();
            ring.push(ring[0]);
            let polygon = Polygon::new(LineString::from(ring), vec![]);
            if polygon_point(&polygon, &mut Vec::new()).is_some() {
                fast += 1;
            }
            same(&MultiPolygon::new(vec![polygon.clone()]));
            if n % 7 == 0 {
                let shifted = Polygon::new(
                    LineString::from(
                        polygon
                            .exterior()
                            .0
                            .iter()
                            .map(|c| (c.x + 0.01, c.y))
                            .collect::<Vec<_>>(),
                    ),
                    vec![],
                );
                same(&MultiPolygon::new(vec![polygon, shifted]));
            }
        }
        // Most rings take the short way (those snapped to a grid often have a vertex on the
        // scan line and go to geo).
        assert!(fast > 3000, "{fast} of 4000 rings computed here");
    }
}
