//! Geometry of the atlas: validity rules, coordinate systems and measures.
//!
//! Conventions (see DESIGN.md): every coordinate inside the system is WGS84 longitude/latitude
//! (EPSG:4326, `x` = longitude, `y` = latitude); GCJ-02 and BD-09 exist only at the API edge
//! ([`crs`]); lengths and areas a person reads are metres and square metres ([`measure`]);
//! invalid geometry is rejected with a defect that names where it is, never repaired
//! ([`validity`]).
//!
//! This module also holds the small exact predicates (orientation with robust arithmetic,
//! point location, segment tests) that [`validity`], [`measure`] and [`crate::rules`] share.
//! They never panic, whatever the coordinates (NaN and infinities included), and never
//! allocate.

pub mod crs;
pub mod flat;
pub mod geojson_out;
pub mod interior;
pub mod measure;
pub mod validity;

pub use crs::Crs;
pub use validity::{GeometryDefect, MAX_VERTICES};

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, MultiPolygon, Polygon};

/// Where a point lies relative to a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    Inside,
    Boundary,
    Outside,
}

/// Orientation of `r` relative to the directed line `p → q`, computed exactly.
#[inline]
pub(crate) fn orient(p: Coord<f64>, q: Coord<f64>, r: Coord<f64>) -> Orientation {
    <RobustKernel as Kernel<f64>>::orient2d(p, q, r)
}

/// The edges of a ring as (start, end) pairs, including the closing edge when the ring as
/// stored does not repeat its first position at the end.
#[inline]
pub(crate) fn ring_edges(
    ring: &[Coord<f64>],
) -> impl Iterator<Item = (Coord<f64>, Coord<f64>)> + '_ {
    let closing = match (ring.first(), ring.last()) {
        (Some(&first), Some(&last)) if ring.len() > 1 && first != last => Some((last, first)),
        _ => None,
    };
    ring.windows(2).map(|w| (w[0], w[1])).chain(closing)
}

#[inline]
fn in_segment_box(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> bool {
    p.x >= a.x.min(b.x) && p.x <= a.x.max(b.x) && p.y >= a.y.min(b.y) && p.y <= a.y.max(b.y)
}

/// `p` lies on the closed segment `a–b`.
#[inline]
pub(crate) fn on_segment(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> bool {
    in_segment_box(p, a, b) && orient(a, b, p) == Orientation::Collinear
}

/// `p` lies on the segment `a–b` and is neither of its endpoints.
#[inline]
pub(crate) fn strictly_within_segment(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> bool {
    p != a && p != b && on_segment(p, a, b)
}

/// The interiors of the segments `a–b` and `c–d` cross in exactly one point that is an
/// endpoint of neither.
#[inline]
pub(crate) fn cross_properly(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    use Orientation::Collinear;
    let o1 = orient(a, b, c);
    let o2 = orient(a, b, d);
    if o1 == Collinear || o2 == Collinear || o1 == o2 {
        return false;
    }
    let o3 = orient(c, d, a);
    let o4 = orient(c, d, b);
    o3 != Collinear && o4 != Collinear && o3 != o4
}

/// The closed segments `a–b` and `c–d` share at least one point.
#[inline]
pub(crate) fn segments_intersect(
    a: Coord<f64>,
    b: Coord<f64>,
    c: Coord<f64>,
    d: Coord<f64>,
) -> bool {
    use Orientation::Collinear;
    if a.x.max(b.x) < c.x.min(d.x)
        || c.x.max(d.x) < a.x.min(b.x)
        || a.y.max(b.y) < c.y.min(d.y)
        || c.y.max(d.y) < a.y.min(b.y)
    {
        return false;
    }
    let o1 = orient(a, b, c);
    let o2 = orient(a, b, d);
    let o3 = orient(c, d, a);
    let o4 = orient(c, d, b);
    if o1 != Collinear
        && o2 != Collinear
        && o1 != o2
        && o3 != Collinear
        && o4 != Collinear
        && o3 != o4
    {
        return true;
    }
    (o1 == Collinear && in_segment_box(c, a, b))
        || (o2 == Collinear && in_segment_box(d, a, b))
        || (o3 == Collinear && in_segment_box(a, c, d))
        || (o4 == Collinear && in_segment_box(b, c, d))
}

/// Location of `p` relative to the region bounded by one ring (holes not considered).
/// Exact: a point on an edge is `Boundary`. Uses the winding number, so it is independent of
/// the ring's orientation. A ring with fewer than 3 positions bounds nothing.
pub(crate) fn locate_in_ring(p: Coord<f64>, ring: &[Coord<f64>]) -> Location {
    if ring.len() < 3 {
        return if ring.contains(&p) {
            Location::Boundary
        } else {
            Location::Outside
        };
    }
    let mut winding: i64 = 0;
    for (a, b) in ring_edges(ring) {
        if in_segment_box(p, a, b) && orient(a, b, p) == Orientation::Collinear {
            return Location::Boundary;
        }
        if a.y <= p.y {
            if b.y > p.y && orient(a, b, p) == Orientation::CounterClockwise {
                winding += 1;
            }
        } else if b.y <= p.y && orient(a, b, p) == Orientation::Clockwise {
            winding -= 1;
        }
    }
    if winding != 0 {
        Location::Inside
    } else {
        Location::Outside
    }
}

/// Location of `p` relative to a polygon with its holes.
pub(crate) fn locate_in_polygon(p: Coord<f64>, poly: &Polygon<f64>) -> Location {
    match locate_in_ring(p, &poly.exterior().0) {
        Location::Inside => {}
        other => return other,
    }
    for hole in poly.interiors() {
        match locate_in_ring(p, &hole.0) {
            Location::Inside => return Location::Outside,
            Location::Boundary => return Location::Boundary,
            Location::Outside => {}
        }
    }
    Location::Inside
}

/// Location of `p` relative to a multipolygon (whose parts do not overlap, as in a valid one).
pub(crate) fn locate_in_multipolygon(p: Coord<f64>, mp: &MultiPolygon<f64>) -> Location {
    let mut result = Location::Outside;
    for poly in &mp.0 {
        match locate_in_polygon(p, poly) {
            Location::Inside => return Location::Inside,
            Location::Boundary => result = Location::Boundary,
            Location::Outside => {}
        }
    }
    result
}

/// Axis-aligned bounding box `[min_x, min_y, max_x, max_y]` of the finite coordinates of a
/// multipolygon; `None` when it has none.
pub(crate) fn bbox(mp: &MultiPolygon<f64>) -> Option<[f64; 4]> {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for poly in &mp.0 {
        // The exterior bounds the polygon; holes lie inside it in valid geometry, but include
        // them anyway so that the box is right for any input.
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for c in &ring.0 {
                if c.x.is_finite() && c.y.is_finite() {
                    b[0] = b[0].min(c.x);
                    b[1] = b[1].min(c.y);
                    b[2] = b[2].max(c.x);
                    b[3] = b[3].max(c.y);
                }
            }
        }
    }
    (b[0] <= b[2] && b[1] <= b[3]).then_some(b)
}

/// Bounding box of one ring.
pub(crate) fn ring_bbox(ring: &[Coord<f64>]) -> Option<[f64; 4]> {
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for c in ring {
        if c.x.is_finite() && c.y.is_finite() {
            b[0] = b[0].min(c.x);
            b[1] = b[1].min(c.y);
            b[2] = b[2].max(c.x);
            b[3] = b[3].max(c.y);
        }
    }
    (b[0] <= b[2] && b[1] <= b[3]).then_some(b)
}

#[inline]
pub(crate) fn boxes_intersect(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, polygon};

    fn c(x: f64, y: f64) -> Coord<f64> {
        coord! {x: x, y: y}
    }

    #[test]
    fn locate_handles_boundary_holes_and_orientation() {
        let p = polygon!(
            exterior: [(x: 0., y: 0.), (x: 10., y: 0.), (x: 10., y: 10.), (x: 0., y: 10.), (x: 0., y: 0.)],
            interiors: [[(x: 4., y: 4.), (x: 4., y: 6.), (x: 6., y: 6.), (x: 6., y: 4.), (x: 4., y: 4.)]],
        );
        assert_eq!(locate_in_polygon(c(1., 1.), &p), Location::Inside);
        assert_eq!(locate_in_polygon(c(5., 5.), &p), Location::Outside);
        assert_eq!(locate_in_polygon(c(4., 5.), &p), Location::Boundary);
        assert_eq!(locate_in_polygon(c(10., 3.), &p), Location::Boundary);
        assert_eq!(locate_in_polygon(c(0., 0.), &p), Location::Boundary);
        assert_eq!(locate_in_polygon(c(11., 3.), &p), Location::Outside);
        // Clockwise exterior gives the same answers.
        let ring: Vec<_> = p.exterior().0.iter().rev().copied().collect();
        assert_eq!(locate_in_ring(c(1., 1.), &ring), Location::Inside);
        assert_eq!(locate_in_ring(c(-1., 1.), &ring), Location::Outside);
        // Unclosed ring is closed implicitly.
        assert_eq!(locate_in_ring(c(1., 1.), &ring[..4]), Location::Inside);
        // NaN never panics.
        assert_eq!(locate_in_ring(c(f64::NAN, 1.), &ring), Location::Outside);
    }

    #[test]
    fn segment_predicates() {
        assert!(cross_properly(c(0., 0.), c(2., 2.), c(0., 2.), c(2., 0.)));
        assert!(!cross_properly(c(0., 0.), c(2., 0.), c(1., 0.), c(1., 1.)));
        assert!(segments_intersect(
            c(0., 0.),
            c(2., 0.),
            c(1., 0.),
            c(1., 1.)
        ));
        assert!(segments_intersect(
            c(0., 0.),
            c(2., 0.),
            c(2., 0.),
            c(3., 0.)
        ));
        assert!(segments_intersect(
            c(0., 0.),
            c(2., 0.),
            c(1., 0.),
            c(3., 0.)
        ));
        assert!(!segments_intersect(
            c(0., 0.),
            c(2., 0.),
            c(3., 0.),
            c(4., 0.)
        ));
        assert!(!segments_intersect(
            c(0., 0.),
            c(2., 0.),
            c(0., 1.),
            c(2., 1.)
        ));
        assert!(strictly_within_segment(c(1., 1.), c(0., 0.), c(2., 2.)));
        assert!(!strictly_within_segment(c(0., 0.), c(0., 0.), c(2., 2.)));
    }
}
