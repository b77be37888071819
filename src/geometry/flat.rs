//! Many multipolygons packed into a few flat arrays.
//!
//! A `geo::MultiPolygon` is a vector of polygons, each a vector of rings, each a vector of
//! coordinates: three allocations for a four-cornered building grid, scattered over the heap.
//! A lookup that measures the distance to the borders of the grids around a point reads
//! several of them, and at city scale each read is a cache miss. [`Shapes`] keeps every
//! coordinate of every shape in one array, with two index arrays beside it: the ends of the
//! rings (flagged where a polygon starts) and where each shape starts. A shape's coordinates
//! are contiguous, and a one-ring shape is read from its start and its coordinates alone.
//!
//! The exact point test [`Shape::position`] follows geo's `CoordinatePosition` for a
//! multipolygon rule for rule (winding number with the robust orientation kernel, boundary
//! by the "mod 2" rule over the polygons), so answers do not depend on the storage.

use geo::coordinate_position::CoordPos;
use geo::kernels::Orientation;
use geo::{Coord, LineString, MultiPolygon, Polygon, Rect};

use super::{orient, segments_intersect};

/// Multipolygons in flat arrays, addressed by their position in the order pushed.
#[derive(Debug, Clone)]
pub struct Shapes {
    coords: Vec<Coord<f64>>,
    /// Per ring: the end of its coordinates in `coords`, with [`EXTERIOR`] set when the ring
    /// is the exterior of a polygon (and so starts one).
    rings: Vec<usize>,
    /// Per shape, and one past the last: where its rings and its coordinates start. A shape's
    /// ranges end where the next one's start, so a one-ring shape (most grids) is read from
    /// here and `coords` alone.
    heads: Vec<Head>,
}

#[derive(Debug, Clone, Copy)]
struct Head {
    ring: usize,
    coord: usize,
}

/// Flag on a ring's end: the ring is an exterior.
const EXTERIOR: usize = 1 << (usize::BITS - 1);

impl Default for Shapes {
    fn default() -> Shapes {
        Shapes::with_capacity(0, 0)
    }
}

impl Shapes {
    /// Room for `shapes` shapes of `coords` coordinates in all.
    pub fn with_capacity(shapes: usize, coords: usize) -> Shapes {
        let mut heads = Vec::with_capacity(shapes + 1);
        heads.push(Head { ring: 0, coord: 0 });
        Shapes {
            coords: Vec::with_capacity(coords),
            rings: Vec::with_capacity(shapes),
            heads,
        }
    }

    /// Appends a copy of `mp` as the next shape.
    pub fn push(&mut self, mp: &MultiPolygon<f64>) {
        for poly in &mp.0 {
            let mut flag = EXTERIOR;
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                self.coords.extend_from_slice(&ring.0);
                self.rings.push(self.coords.len() | flag);
                flag = 0;
            }
        }
        self.heads.push(Head {
            ring: self.rings.len(),
            coord: self.coords.len(),
        });
    }

    pub fn len(&self) -> usize {
        self.heads.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape at `i`, or `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Shape<'_>> {
        let (start, end) = (self.heads.get(i)?, self.heads.get(i.checked_add(1)?)?);
        Some(Shape {
            shapes: self,
            rings: start.ring..end.ring,
            coords: start.coord..end.coord,
        })
    }
}

impl FromIterator<MultiPolygon<f64>> for Shapes {
    fn from_iter<I: IntoIterator<Item = MultiPolygon<f64>>>(iter: I) -> Shapes {
        let mut shapes = Shapes::default();
        for mp in iter {
            shapes.push(&mp);
        }
        shapes
    }
}

/// One multipolygon of a [`Shapes`], borrowed.
#[derive(Clone)]
pub struct Shape<'a> {
    shapes: &'a Shapes,
    rings: std::ops::Range<usize>,
    coords: std::ops::Range<usize>,
}

impl<'a> Shape<'a> {
    /// The polygons, each as its rings (exterior first).
    pub fn polygons(&self) -> Polygons<'a> {
        Polygons {
            shapes: self.shapes,
            rings: self.rings.clone(),
            coord: self.coords.start,
            single: (self.rings.len() == 1).then(|| &self.shapes.coords[self.coords.clone()]),
        }
    }

    /// The shape as a `geo::MultiPolygon` (allocates: for output and rules, not lookups).
    pub fn to_multi_polygon(&self) -> MultiPolygon<f64> {
        MultiPolygon::new(
            self.polygons()
                .map(|p| {
                    let mut rings = p.rings.iter().map(|r| LineString::new(r.to_vec()));
                    let exterior = rings.next().unwrap_or_else(|| LineString::new(Vec::new()));
                    Polygon::new(exterior, rings.collect())
                })
                .collect(),
        )
    }

    /// The box of the shape's finite coordinates; `None` when it has none.
    pub fn bounding_rect(&self) -> Option<Rect<f64>> {
        let finite = |c: &&Coord<f64>| c.x.is_finite() && c.y.is_finite();
        let mut coords = self.shapes.coords[self.coords.clone()]
            .iter()
            .filter(finite);
        let first = *coords.next()?;
        let (lo, hi) = coords.fold((first, first), |(lo, hi), c| {
            (
                Coord {
                    x: lo.x.min(c.x),
                    y: lo.y.min(c.y),
                },
                Coord {
                    x: hi.x.max(c.x),
                    y: hi.y.max(c.y),
                },
            )
        });
        Some(Rect::new(lo, hi))
    }

    /// The closed shape and the closed rectangle share a point (geo's `Intersects`).
    pub fn intersects_rect(&self, rect: Rect<f64>) -> bool {
        let (lo, hi) = (rect.min(), rect.max());
        let in_rect = |c: &Coord<f64>| lo.x <= c.x && c.x <= hi.x && lo.y <= c.y && c.y <= hi.y;
        if self.shapes.coords[self.coords.clone()].iter().any(in_rect) {
            return true;
        }
        // No vertex in the rectangle: it is inside the shape, or an edge crosses its border.
        if self.position(lo) != CoordPos::Outside {
            return true;
        }
        let corners = [
            lo,
            Coord { x: hi.x, y: lo.y },
            hi,
            Coord { x: lo.x, y: hi.y },
        ];
        let crosses = |ring: &[Coord<f64>]| {
            ring.windows(2).any(|e| {
                (0..4).any(|k| segments_intersect(e[0], e[1], corners[k], corners[(k + 1) % 4]))
            })
        };
        self.polygons().any(|p| p.rings.iter().any(crosses))
    }

    /// Where `c` lies against the shape, exactly as geo's `coordinate_position` of the same
    /// multipolygon says.
    pub fn position(&self, c: Coord<f64>) -> CoordPos {
        let mut inside = false;
        let mut boundaries = 0usize;
        for p in self.polygons() {
            let exterior = p.exterior();
            if exterior.is_empty() {
                continue;
            }
            match ring_position(c, exterior) {
                CoordPos::Outside => {}
                CoordPos::OnBoundary => boundaries += 1,
                CoordPos::Inside => match p
                    .holes()
                    .map(|h| ring_position(c, h))
                    .find(|&pos| pos != CoordPos::Outside)
                {
                    Some(CoordPos::OnBoundary) => boundaries += 1,
                    Some(_) => {}
                    None => inside = true,
                },
            }
        }
        // The boundary of polygons with disjoint interiors is the "mod 2" union of theirs.
        if boundaries % 2 == 1 {
            CoordPos::OnBoundary
        } else if inside {
            CoordPos::Inside
        } else {
            CoordPos::Outside
        }
    }
}

/// The polygons of a shape, in order.
pub struct Polygons<'a> {
    shapes: &'a Shapes,
    /// Rings not yet read.
    rings: std::ops::Range<usize>,
    /// Where the next ring's coordinates start.
    coord: usize,
    /// The whole shape when it is one ring: no ring table to read.
    single: Option<&'a [Coord<f64>]>,
}

impl<'a> Iterator for Polygons<'a> {
    type Item = FlatPolygon<'a>;

    #[inline]
    fn next(&mut self) -> Option<FlatPolygon<'a>> {
        if let Some(ring) = self.single.take() {
            self.rings.start = self.rings.end;
            return Some(FlatPolygon {
                rings: RingList::One(ring),
            });
        }
        if self.rings.is_empty() {
            return None;
        }
        // This polygon's rings run up to the next exterior.
        let first = self.rings.start;
        let tail = self.shapes.rings[first + 1..self.rings.end]
            .iter()
            .position(|&end| end & EXTERIOR != 0)
            .map_or(self.rings.end, |k| first + 1 + k);
        let polygon = FlatPolygon {
            rings: RingList::Many {
                shapes: self.shapes,
                rings: first..tail,
                coord: self.coord,
            },
        };
        self.coord = self.shapes.rings[tail - 1] & !EXTERIOR;
        self.rings.start = tail;
        Some(polygon)
    }
}

/// One polygon of a [`Shape`]: its exterior ring, then its holes.
#[derive(Clone)]
pub struct FlatPolygon<'a> {
    rings: RingList<'a>,
}

#[derive(Clone)]
enum RingList<'a> {
    One(&'a [Coord<f64>]),
    Many {
        shapes: &'a Shapes,
        rings: std::ops::Range<usize>,
        /// Where the first ring's coordinates start.
        coord: usize,
    },
}

impl<'a> RingList<'a> {
    fn iter(&self) -> impl Iterator<Item = &'a [Coord<f64>]> + 'a {
        let (one, many) = match *self {
            RingList::One(ring) => (Some(ring), None),
            RingList::Many {
                shapes,
                ref rings,
                coord,
            } => (None, Some((shapes, rings.clone(), coord))),
        };
        one.into_iter()
            .chain(many.into_iter().flat_map(|(shapes, rings, mut coord)| {
                rings.map(move |r| {
                    let end = shapes.rings[r] & !EXTERIOR;
                    let ring = &shapes.coords[coord..end];
                    coord = end;
                    ring
                })
            }))
    }
}

impl<'a> FlatPolygon<'a> {
    /// The exterior ring (empty for an empty polygon).
    #[inline]
    pub fn exterior(&self) -> &'a [Coord<f64>] {
        match &self.rings {
            RingList::One(ring) => ring,
            rings => rings.iter().next().unwrap_or(&[]),
        }
    }

    pub fn holes(&self) -> impl Iterator<Item = &'a [Coord<f64>]> + 'a {
        self.rings.iter().skip(1)
    }
}

/// A point against one closed ring: geo's `coord_pos_relative_to_ring`, on a slice.
fn ring_position(c: Coord<f64>, ring: &[Coord<f64>]) -> CoordPos {
    match ring {
        [] => return CoordPos::Outside,
        [only] => {
            return if c == *only {
                CoordPos::OnBoundary
            } else {
                CoordPos::Outside
            };
        }
        _ => {}
    }
    let mut winding = 0i64;
    for w in ring.windows(2) {
        let (a, b) = (w[0], w[1]);
        // Upward edges include their start, downward edges their end, horizontal edges
        // count only for the boundary test.
        if a.y <= c.y {
            if b.y >= c.y {
                let o = orient(a, b, c);
                if o == Orientation::CounterClockwise && b.y != c.y {
                    winding += 1;
                } else if o == Orientation::Collinear && between(c.x, a.x, b.x) {
                    return CoordPos::OnBoundary;
                }
            }
        } else if b.y <= c.y {
            let o = orient(a, b, c);
            if o == Orientation::Clockwise {
                winding -= 1;
            } else if o == Orientation::Collinear && between(c.x, a.x, b.x) {
                return CoordPos::OnBoundary;
            }
        }
    }
    if winding == 0 {
        CoordPos::Outside
    } else {
        CoordPos::Inside
    }
}

fn between(v: f64, a: f64, b: f64) -> bool {
    if a < b {
        a <= v && v <= b
    } else {
        b <= v && v <= a
    }
}

/// Read access to a polygon's rings, stored flat or as geo types, for the measures that
/// serve both.
pub trait PolygonRings<'a> {
    fn exterior_ring(&self) -> &'a [Coord<f64>];
    fn hole_rings(&self) -> impl Iterator<Item = &'a [Coord<f64>]>;
}

impl<'a> PolygonRings<'a> for FlatPolygon<'a> {
    fn exterior_ring(&self) -> &'a [Coord<f64>] {
        self.exterior()
    }
    fn hole_rings(&self) -> impl Iterator<Item = &'a [Coord<f64>]> {
        self.holes()
    }
}

impl<'a> PolygonRings<'a> for &'a Polygon<f64> {
    fn exterior_ring(&self) -> &'a [Coord<f64>] {
        &self.exterior().0
    }
    fn hole_rings(&self) -> impl Iterator<Item = &'a [Coord<f64>]> {
        self.interiors().iter().map(|r| r.0.as_slice())
    }
}

/// Read access to a multipolygon's polygons, stored flat or as a geo type.
pub trait Polygonal<'a> {
    type Polygon: PolygonRings<'a>;
    fn polygon_iter(&self) -> impl Iterator<Item = Self::Polygon>;
}

impl<'a> Polygonal<'a> for Shape<'a> {
    type Polygon = FlatPolygon<'a>;
    fn polygon_iter(&self) -> impl Iterator<Item = FlatPolygon<'a>> {
        self.polygons()
    }
}

impl<'a> Polygonal<'a> for &'a MultiPolygon<f64> {
    type Polygon = &'a Polygon<f64>;
    fn polygon_iter(&self) -> impl Iterator<Item = &'a Polygon<f64>> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::CoordinatePosition;
    use proptest::prelude::*;

    fn ring(points: &[(f64, f64)]) -> LineString<f64> {
        LineString::from(points.to_vec())
    }

    fn sample() -> Vec<MultiPolygon<f64>> {
        let square = ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)]);
        let hole = ring(&[(1.0, 1.0), (1.0, 2.0), (2.0, 2.0), (2.0, 1.0), (1.0, 1.0)]);
        let far = ring(&[(10.0, 10.0), (11.0, 10.0), (10.5, 11.0), (10.0, 10.0)]);
        vec![
            MultiPolygon::new(vec![Polygon::new(square.clone(), vec![hole.clone()])]),
            MultiPolygon::new(vec![]),
            MultiPolygon::new(vec![
                Polygon::new(far, vec![]),
                Polygon::new(square, vec![hole]),
            ]),
            MultiPolygon::new(vec![Polygon::new(LineString::new(vec![]), vec![])]),
        ]
    }

    #[test]
    fn shapes_read_back_as_pushed() {
        let input = sample();
        let shapes: Shapes = input.iter().cloned().collect();
        assert_eq!(shapes.len(), input.len());
        for (i, mp) in input.iter().enumerate() {
            let shape = shapes.get(i).expect("pushed");
            assert_eq!(&shape.to_multi_polygon(), mp, "shape {i}");
            assert_eq!(shape.polygons().count(), mp.0.len());
            assert_eq!(
                shape.bounding_rect(),
                geo::BoundingRect::bounding_rect(mp),
                "shape {i}"
            );
        }
        assert!(shapes.get(input.len()).is_none());
    }

    #[test]
    fn position_on_vertices_edges_holes_and_outside() {
        let shapes: Shapes = sample().into_iter().collect();
        let shape = shapes.get(0).expect("pushed");
        let at = |x, y| shape.position(Coord { x, y });
        assert_eq!(at(3.0, 3.0), CoordPos::Inside);
        assert_eq!(at(1.5, 1.5), CoordPos::Outside, "in the hole");
        assert_eq!(at(1.0, 1.5), CoordPos::OnBoundary, "on the hole's edge");
        assert_eq!(at(4.0, 4.0), CoordPos::OnBoundary, "a vertex");
        assert_eq!(at(2.0, 0.0), CoordPos::OnBoundary, "a horizontal edge");
        assert_eq!(at(5.0, 2.0), CoordPos::Outside);
        assert_eq!(at(f64::NAN, 2.0), CoordPos::Outside);
    }

    fn polygon_strategy() -> impl Strategy<Value = MultiPolygon<f64>> {
        // Star-shaped rings around random centres on a coarse grid, so that vertices, edges
        // and test points coincide often; some with a hole.
        let ring = (0i32..6, 0i32..6, prop::collection::vec(1i32..4, 3..8));
        prop::collection::vec((ring, any::<bool>()), 0..3).prop_map(|parts| {
            MultiPolygon::new(
                parts
                    .into_iter()
                    .map(|((cx, cy, radii), holed)| {
                        let n = radii.len() as f64;
                        let star = |scale: f64| {
                            let mut pts: Vec<(f64, f64)> = radii
                                .iter()
                                .enumerate()
                                .map(|(k, &r)| {
                                    let a = k as f64 / n * std::f64::consts::TAU;
                                    let r = f64::from(r) * scale;
                                    (
                                        (f64::from(cx) * 8.0 + r * a.cos()).round() / 2.0,
                                        (f64::from(cy) * 8.0 + r * a.sin()).round() / 2.0,
                                    )
                                })
                                .collect();
                            pts.push(pts[0]);
                            LineString::from(pts)
                        };
                        let holes = if holed { vec![star(0.3)] } else { vec![] };
                        Polygon::new(star(2.0), holes)
                    })
                    .collect(),
            )
        })
    }

    proptest! {
        #[test]
        fn position_agrees_with_geo(mp in polygon_strategy(), x in -4i32..60, y in -4i32..60) {
            let shapes: Shapes = std::iter::once(mp.clone()).collect();
            let shape = shapes.get(0).expect("pushed");
            let c = Coord { x: f64::from(x) / 2.0, y: f64::from(y) / 2.0 };
            prop_assert_eq!(shape.position(c), mp.coordinate_position(&c));
            let rect = Rect::new(c, Coord { x: c.x + f64::from(x % 5) / 2.0, y: c.y + f64::from(y % 3) / 2.0 });
            prop_assert_eq!(shape.intersects_rect(rect), geo::Intersects::intersects(&mp, &rect), "{:?}", rect);
            for v in mp.0.iter().flat_map(|p| p.exterior().0.iter().chain(p.interiors().iter().flat_map(|h| h.0.iter()))) {
                prop_assert_eq!(shape.position(*v), mp.coordinate_position(v));
            }
        }
    }
}
