//! Distances, areas and lengths in metres on the WGS84 ellipsoid.
//!
//! **Distances** from a point to a polygon use a local equirectangular (tangent-plane)
//! projection centred on the query point, with the ellipsoid's meridional radius `M` and
//! prime-vertical radius `N` at that latitude: `x = Δlon·N·cos φ`, `y = Δlat·M`. Within 10 km
//! of the point the error against the geodesic distance is well under 0.1% (it grows like
//! `tan φ · Δφ` and `(d/R)²`); the answers that use it (border tolerance, "3.2 m from the
//! border") are about metres to a few hundred metres, where the error is far below a
//! millimetre per metre. They run on hot lookup paths: no allocation, one pass over the
//! segments, exact orientation tests only for the inside/outside decision.
//!
//! **Areas and perimeters** are geodesic (geographiclib through geo's `GeodesicArea`), summed
//! polygon by polygon and independent of ring orientation.
//!
//! Nothing here panics: non-finite input gives `f64::INFINITY` for distances (nothing is ever
//! "near" it) and `NaN` for areas and lengths.

use geo::kernels::Orientation;
use geo::{Coord, GeodesicArea, MultiPolygon};

use super::flat::PolygonRings;
use super::{orient, ring_edges};

/// WGS84 semi-major axis (m).
const WGS84_A: f64 = 6_378_137.0;
/// WGS84 first eccentricity squared.
const WGS84_E2: f64 = 0.006_694_379_990_141_317;

/// Metres per degree of longitude and of latitude at `lat` (degrees).
#[inline]
fn metres_per_degree(lat: f64) -> (f64, f64) {
    let phi = lat.clamp(-90.0, 90.0).to_radians();
    let s = phi.sin();
    let w2 = 1.0 - WGS84_E2 * s * s;
    let w = w2.sqrt();
    let n = WGS84_A / w;
    let m = WGS84_A * (1.0 - WGS84_E2) / (w2 * w);
    let k = std::f64::consts::PI / 180.0;
    (n * phi.cos() * k, m * k)
}

#[inline]
fn wrap_dlon(d: f64) -> f64 {
    if d > 180.0 {
        d - 360.0
    } else if d < -180.0 {
        d + 360.0
    } else {
        d
    }
}

/// Squared distance from the origin to the segment a–b (plane coordinates).
#[inline]
fn origin_segment_d2(ax: f64, ay: f64, bx: f64, by: f64) -> f64 {
    let dx = bx - ax;
    let dy = by - ay;
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let px = ax + t * dx;
    let py = ay + t * dy;
    px * px + py * py
}

/// One pass over a ring: updates the smallest squared distance (m²) from the point to its
/// edges, and returns the winding number of the ring around the point when `winding` is asked.
#[inline]
fn scan_ring(
    p: Coord<f64>,
    kx: f64,
    ky: f64,
    ring: &[Coord<f64>],
    best: &mut f64,
    winding: bool,
) -> i64 {
    let mut w: i64 = 0;
    for (a, b) in ring_edges(ring) {
        let d2 = origin_segment_d2(
            wrap_dlon(a.x - p.x) * kx,
            (a.y - p.y) * ky,
            wrap_dlon(b.x - p.x) * kx,
            (b.y - p.y) * ky,
        );
        // `min` ignores NaN from non-finite vertices.
        *best = best.min(d2);
        if winding {
            if a.y <= p.y {
                if b.y > p.y && orient(a, b, p) == Orientation::CounterClockwise {
                    w += 1;
                }
            } else if b.y <= p.y && orient(a, b, p) == Orientation::Clockwise {
                w -= 1;
            }
        }
    }
    w
}

/// Below this (1 µm) a point counts as on the border.
const ON_BORDER_M: f64 = 1e-6;

/// A query point with its local scale: the metres per degree are computed once, for all the
/// polygons one lookup measures against.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    p: Coord<f64>,
    kx: f64,
    ky: f64,
}

impl Probe {
    /// `None` for a non-finite point (nothing is at a finite distance from it).
    pub fn new(lon: f64, lat: f64) -> Option<Probe> {
        if !lon.is_finite() || !lat.is_finite() {
            return None;
        }
        let (kx, ky) = metres_per_degree(lat);
        Some(Probe {
            p: geo::coord! {x: lon, y: lat},
            kx,
            ky,
        })
    }

    /// Metres from the point to the polygons: 0 when the point is inside one or on a border
    /// (within a micrometre), otherwise the distance to the nearest edge of any ring;
    /// `f64::INFINITY` when there are none.
    pub fn distance_m<'a, P: PolygonRings<'a>>(
        &self,
        polygons: impl IntoIterator<Item = P>,
    ) -> f64 {
        let mut best = f64::INFINITY;
        for poly in polygons {
            let mut inside = self.scan(poly.exterior_ring(), &mut best, true) != 0;
            for hole in poly.hole_rings() {
                if self.scan(hole, &mut best, inside) != 0 {
                    inside = false;
                }
            }
            if inside {
                return 0.0;
            }
        }
        let d = best.sqrt();
        if d <= ON_BORDER_M { 0.0 } else { d }
    }

    /// Metres from the point to the nearest ring (exterior or hole) of the polygons, whether
    /// the point is inside or outside; `f64::INFINITY` when there are none.
    pub fn distance_to_boundary_m<'a, P: PolygonRings<'a>>(
        &self,
        polygons: impl IntoIterator<Item = P>,
    ) -> f64 {
        let mut best = f64::INFINITY;
        for poly in polygons {
            self.scan(poly.exterior_ring(), &mut best, false);
            for hole in poly.hole_rings() {
                self.scan(hole, &mut best, false);
            }
        }
        best.sqrt()
    }

    #[inline]
    fn scan(&self, ring: &[Coord<f64>], best: &mut f64, winding: bool) -> i64 {
        scan_ring(self.p, self.kx, self.ky, ring, best, winding)
    }
}

/// Metres from the point to the (multi)polygon: 0 when the point is inside it or on its
/// border (within a micrometre), otherwise the distance to the nearest edge of any ring.
/// `f64::INFINITY` for a non-finite point or an empty multipolygon.
pub fn distance_m(lon: f64, lat: f64, mp: &MultiPolygon<f64>) -> f64 {
    Probe::new(lon, lat).map_or(f64::INFINITY, |probe| probe.distance_m(&mp.0))
}

/// Metres from the point to the nearest ring (exterior or hole) of the (multi)polygon, whether
/// the point is inside or outside: "the point is 3.2 m from the border of its grid".
/// `f64::INFINITY` for a non-finite point or an empty multipolygon.
pub fn distance_to_boundary_m(lon: f64, lat: f64, mp: &MultiPolygon<f64>) -> f64 {
    Probe::new(lon, lat).map_or(f64::INFINITY, |probe| probe.distance_to_boundary_m(&mp.0))
}

/// `(dlon, dlat)` in degrees covering at least `metres` in each direction at `lat`, for search
/// windows. Generous: 1% extra, and the latitude used for the longitude span is the one of the
/// window's edge nearest the pole. Non-finite or huge inputs give the whole globe (360, 180).
pub fn degrees_for_metres(lat: f64, metres: f64) -> (f64, f64) {
    const WHOLE: (f64, f64) = (360.0, 180.0);
    if !lat.is_finite() || !metres.is_finite() {
        return WHOLE;
    }
    let metres = metres.max(0.0) * 1.01;
    let lat = lat.clamp(-90.0, 90.0);
    // Metres per degree of latitude is smallest at the equator.
    let (_, ky_min) = metres_per_degree(0.0);
    let dlat = metres / ky_min;
    let edge = (lat.abs() + dlat).min(90.0);
    if edge >= 89.9 {
        return (360.0, dlat.min(180.0));
    }
    let (kx, _) = metres_per_degree(edge);
    ((metres / kx).min(360.0), dlat.min(180.0))
}

fn all_coords_usable(mp: &MultiPolygon<f64>) -> bool {
    mp.0.iter().all(|p| {
        std::iter::once(p.exterior()).chain(p.interiors()).all(|r| {
            r.0.iter().all(|c| {
                c.x.is_finite()
                    && c.y.is_finite()
                    && (-180.0..=180.0).contains(&c.x)
                    && (-90.0..=90.0).contains(&c.y)
            })
        })
    })
}

/// Geodesic area in m² (WGS84 ellipsoid), summed over the polygons, holes subtracted; the
/// same for either ring orientation. `NaN` when a coordinate is non-finite or out of range.
pub fn geodesic_area_m2(mp: &MultiPolygon<f64>) -> f64 {
    if !all_coords_usable(mp) {
        return f64::NAN;
    }
    // geo's `geodesic_area_unsigned` reads a clockwise exterior as "the rest of the Earth";
    // the absolute value of the signed area, polygon by polygon, does not depend on the
    // orientation of the input.
    mp.0.iter().map(|p| p.geodesic_area_signed().abs()).sum()
}

/// Geodesic length in metres of all rings (exteriors and holes). `NaN` when a coordinate is
/// non-finite or out of range.
pub fn geodesic_perimeter_m(mp: &MultiPolygon<f64>) -> f64 {
    if !all_coords_usable(mp) {
        return f64::NAN;
    }
    mp.geodesic_perimeter()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};
    use proptest::prelude::*;

    /// A square of `side` metres with its south-west corner at (lon, lat).
    fn square(lon: f64, lat: f64, side: f64) -> MultiPolygon<f64> {
        let (kx, ky) = metres_per_degree(lat + side / 2.0 / 111_000.0);
        let (dx, dy) = (side / kx, side / ky);
        MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (lon, lat),
                (lon + dx, lat),
                (lon + dx, lat + dy),
                (lon, lat + dy),
                (lon, lat),
            ]),
            vec![],
        )])
    }

    #[test]
    fn ten_metres_inside_a_hundred_metre_square() {
        let sq = square(121.44, 31.22, 100.0);
        let (kx, ky) = metres_per_degree(31.22);
        let lon = 121.44 + 10.0 / kx;
        let lat = 31.22 + 50.0 / ky;
        let d = distance_to_boundary_m(lon, lat, &sq);
        assert!((d - 10.0).abs() < 0.1, "{d}");
        assert_eq!(distance_m(lon, lat, &sq), 0.0);
        // 10 m outside, to the west.
        let d = distance_m(121.44 - 10.0 / kx, lat, &sq);
        assert!((d - 10.0).abs() < 0.1, "{d}");
        // On a corner.
        assert_eq!(distance_m(121.44, 31.22, &sq), 0.0);
        assert_eq!(distance_to_boundary_m(121.44, 31.22, &sq), 0.0);
    }

    #[test]
    fn projection_agrees_with_geodesic_distance() {
        use geo::{Distance, Geodesic, Point};
        // A 1 km east-west and north-south offset: compare with the geodesic distance.
        let sq = square(121.44, 31.22, 1.0);
        let c = sq.0[0].exterior().0[0];
        for (dlon, dlat) in [(-0.01, 0.0), (0.0, -0.01), (-0.007, -0.007)] {
            let (lon, lat) = (c.x + dlon, c.y + dlat);
            let ours = distance_m(lon, lat, &sq);
            let geodesic = Geodesic.distance(Point::new(lon, lat), Point::new(c.x, c.y));
            assert!(
                ((ours - geodesic) / geodesic).abs() < 1e-3,
                "{ours} vs {geodesic}"
            );
        }
    }

    #[test]
    fn holes_count_as_outside_and_as_border() {
        let outer = square(121.44, 31.22, 100.0);
        let hole = square(121.4402, 31.2202, 20.0);
        let poly = Polygon::new(
            outer.0[0].exterior().clone(),
            vec![hole.0[0].exterior().clone()],
        );
        let mp = MultiPolygon::new(vec![poly]);
        let h = hole.0[0].exterior().0[0];
        let (kx, ky) = metres_per_degree(h.y);
        // 5 m inside the hole from its west side, centred vertically.
        let (lon, lat) = (h.x + 5.0 / kx, h.y + 10.0 / ky);
        let d = distance_m(lon, lat, &mp);
        assert!((d - 5.0).abs() < 0.05, "{d}");
        assert!((distance_to_boundary_m(lon, lat, &mp) - 5.0).abs() < 0.05);
    }

    #[test]
    fn degenerate_inputs() {
        let empty = MultiPolygon::<f64>::new(vec![]);
        assert_eq!(distance_m(121.0, 31.0, &empty), f64::INFINITY);
        assert_eq!(distance_to_boundary_m(121.0, 31.0, &empty), f64::INFINITY);
        let sq = square(121.44, 31.22, 100.0);
        assert_eq!(distance_m(f64::NAN, 31.0, &sq), f64::INFINITY);
        assert_eq!(degrees_for_metres(f64::NAN, 5.0), (360.0, 180.0));
        assert_eq!(degrees_for_metres(89.95, 5.0).0, 360.0);
        assert!(
            geodesic_area_m2(&MultiPolygon::new(vec![Polygon::new(
                LineString::from(vec![
                    (0.0, f64::NAN),
                    (1.0, 0.0),
                    (0.0, 1.0),
                    (0.0, f64::NAN)
                ]),
                vec![]
            )]))
            .is_nan()
        );
        assert_eq!(geodesic_area_m2(&empty), 0.0);
    }

    #[test]
    fn search_window_is_generous() {
        for lat in [0.0, 31.22, -45.0, 80.0] {
            let (dlon, dlat) = degrees_for_metres(lat, 100.0);
            let (kx, ky) = metres_per_degree(lat);
            assert!(dlon * kx >= 100.0 && dlat * ky >= 100.0, "{lat}");
            assert!(dlon * kx < 110.0 && dlat * ky < 110.0, "{lat}");
        }
    }

    #[test]
    fn area_and_perimeter_of_a_square() {
        let sq = square(121.44, 31.22, 100.0);
        let a = geodesic_area_m2(&sq);
        assert!((a - 10_000.0).abs() < 10.0, "{a}");
        // Clockwise gives the same.
        let mut cw = sq.clone();
        cw.0[0].exterior_mut(|r| r.0.reverse());
        assert!((geodesic_area_m2(&cw) - a).abs() < 1e-6);
        let p = geodesic_perimeter_m(&sq);
        assert!((p - 400.0).abs() < 0.5, "{p}");
    }

    fn arb_coord() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -200.0f64..200.0,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(-0.0),
            1 => proptest::num::f64::ANY,
        ]
    }

    fn arb_mp() -> impl Strategy<Value = MultiPolygon<f64>> {
        prop::collection::vec(
            prop::collection::vec(
                prop::collection::vec((arb_coord(), arb_coord()), 0..7),
                0..3,
            ),
            0..3,
        )
        .prop_map(|polys| {
            MultiPolygon::new(
                polys
                    .into_iter()
                    .filter_map(|mut rings| {
                        if rings.is_empty() {
                            return None;
                        }
                        let ext = LineString::from(rings.remove(0));
                        Some(Polygon::new(
                            ext,
                            rings.into_iter().map(LineString::from).collect(),
                        ))
                    })
                    .collect(),
            )
        })
    }

    proptest! {
        #[test]
        fn never_panics(mp in arb_mp(), lon in arb_coord(), lat in arb_coord(), m in arb_coord()) {
            let _ = distance_m(lon, lat, &mp);
            let _ = distance_to_boundary_m(lon, lat, &mp);
            let _ = degrees_for_metres(lat, m);
            let _ = geodesic_area_m2(&mp);
            let _ = geodesic_perimeter_m(&mp);
        }

        #[test]
        fn inside_means_zero_and_boundary_distance_bounds_it(
            lon in 121.43f64..121.45, lat in 31.21f64..31.23, side in 1.0f64..500.0
        ) {
            let sq = square(121.44, 31.22, side);
            let d = distance_m(lon, lat, &sq);
            let b = distance_to_boundary_m(lon, lat, &sq);
            prop_assert!(d >= 0.0 && b >= 0.0);
            prop_assert!(d <= b + 1e-9);
        }
    }
}
