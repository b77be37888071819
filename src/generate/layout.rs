//! The geometry of the synthetic city, in metres on a local plane (x east, y north).
//!
//! * A street grid: north–south lines `i` and east–west lines `j` with random spacing, bent by
//!   a smooth warp (roads change direction gently), every crossing (node) jittered, the whole
//!   turned by a small angle. Block `(i, j)` is the convex quadrilateral between lines `i`,
//!   `i + 1`, `j`, `j + 1`; blocks tile the city along the road centrelines.
//! * Every road segment between two nodes carries a few division points, a function of the
//!   segment alone, so both blocks beside it see the same points. A block cuts itself into
//!   building-group cells along straight lines joining division points on opposite sides;
//!   every ring (neighborhood, group) lists every division point on its sides, so neighbours
//!   share their borders vertex for vertex and no T-junction appears.
//! * Each group cell is split into parcels (building grids) by a bilinear sub-grid, every
//!   parcel set back from the road (half the road's width and more) and from its neighbours.
//! * Footprints are rectangles, L- and U-shapes and courtyard blocks of 10–80 m sides, turned a
//!   little against the street, at least [`FOOTPRINT_MARGIN_M`] inside their parcel.

use super::rng::{Rng, Tag};

/// Least distance between a footprint and the edge of its parcel.
pub(crate) const FOOTPRINT_MARGIN_M: f64 = 3.0;
/// Least side of a parcel kept.
const MIN_PARCEL_SIDE_M: f64 = 24.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pt {
    pub x: f64,
    pub y: f64,
}

impl Pt {
    pub const fn new(x: f64, y: f64) -> Pt {
        Pt { x, y }
    }
    fn add(self, o: Pt) -> Pt {
        Pt::new(self.x + o.x, self.y + o.y)
    }
    fn sub(self, o: Pt) -> Pt {
        Pt::new(self.x - o.x, self.y - o.y)
    }
    fn scale(self, k: f64) -> Pt {
        Pt::new(self.x * k, self.y * k)
    }
    fn dot(self, o: Pt) -> f64 {
        self.x * o.x + self.y * o.y
    }
    fn cross(self, o: Pt) -> f64 {
        self.x * o.y - self.y * o.x
    }
    fn len(self) -> f64 {
        self.x.hypot(self.y)
    }
    fn unit(self) -> Pt {
        let l = self.len();
        if l > 0.0 { self.scale(1.0 / l) } else { self }
    }
    /// Turned a quarter to the left.
    fn left(self) -> Pt {
        Pt::new(-self.y, self.x)
    }
    fn lerp(self, o: Pt, t: f64) -> Pt {
        Pt::new(self.x + (o.x - self.x) * t, self.y + (o.y - self.y) * t)
    }
}

/// Intersection of the lines through (a, b) and (c, d); `None` when parallel.
fn intersect(a: Pt, b: Pt, c: Pt, d: Pt) -> Option<Pt> {
    let r = b.sub(a);
    let s = d.sub(c);
    let den = r.cross(s);
    if den.abs() < 1e-12 {
        return None;
    }
    let t = c.sub(a).cross(s) / den;
    Some(a.add(r.scale(t)))
}

/// Twice the signed area (counter-clockwise positive) of a ring without its closing point.
pub(crate) fn ring_area(ring: &[Pt]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|k| ring[k].cross(ring[(k + 1) % n]))
        .sum::<f64>()
        / 2.0
}

/// A convex counter-clockwise ring: every corner turns left.
fn is_convex_ccw(ring: &[Pt]) -> bool {
    let n = ring.len();
    n >= 3
        && (0..n).all(|k| {
            let (p, q, r) = (ring[k], ring[(k + 1) % n], ring[(k + 2) % n]);
            q.sub(p).cross(r.sub(q)) > 0.0
        })
}

#[derive(Debug, Clone, Copy)]
struct WarpTerm {
    k: Pt,
    phase: f64,
    amp: Pt,
}

/// The street-grid frame: spacing of the lines, warp and turn.
pub(crate) struct Frame {
    seed: u64,
    warp: [WarpTerm; 3],
    cos: f64,
    sin: f64,
    col_x: Vec<f64>,
    row_y: Vec<f64>,
}

/// Block side, counter-clockwise from the south.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Side {
    South = 0,
    East = 1,
    North = 2,
    West = 3,
}

impl Side {
    pub const ALL: [Side; 4] = [Side::South, Side::East, Side::North, Side::West];
    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A block: its corners, the division points of its sides, its groups and parcels.
pub(crate) struct Block {
    pub i: usize,
    pub j: usize,
    /// South-west, south-east, north-east, north-west.
    pub corners: [Pt; 4],
    /// Division points of each side in index order (west → east, south → north).
    pub sides: [Vec<Pt>; 4],
    pub groups: Vec<GroupCell>,
}

pub(crate) struct GroupCell {
    /// Counter-clockwise, not closed.
    pub ring: Vec<Pt>,
    pub parcels: Vec<Parcel>,
}

#[derive(Debug, Clone)]
pub(crate) struct Parcel {
    /// Counter-clockwise, not closed.
    pub quad: [Pt; 4],
    /// Block sides the parcel faces (bits of [`Side`]).
    pub faces: u8,
}

impl Parcel {
    pub fn centroid(&self) -> Pt {
        let s = self.quad.iter().fold(Pt::new(0.0, 0.0), |a, &p| a.add(p));
        s.scale(0.25)
    }
}

impl Frame {
    pub fn new(seed: u64) -> Frame {
        let mut r = Rng::new(seed, Tag::Frame, 0, 0);
        let term = |r: &mut Rng| {
            let wavelength = r.range(3_000.0, 9_000.0);
            let dir = r.range(0.0, std::f64::consts::TAU);
            let k = Pt::new(dir.cos(), dir.sin()).scale(std::f64::consts::TAU / wavelength);
            // Slope of the displacement at most 0.07 per term per axis.
            let a = 0.07 * wavelength / std::f64::consts::TAU;
            WarpTerm {
                k,
                phase: r.range(0.0, std::f64::consts::TAU),
                amp: Pt::new(a * r.range(-1.0, 1.0), a * r.range(-1.0, 1.0)),
            }
        };
        let warp = [term(&mut r), term(&mut r), term(&mut r)];
        let angle = r.range(-12.0, 12.0).to_radians();
        Frame {
            seed,
            warp,
            cos: angle.cos(),
            sin: angle.sin(),
            col_x: vec![0.0],
            row_y: vec![0.0],
        }
    }

    pub fn col_width(&self, i: usize) -> f64 {
        Rng::new(self.seed, Tag::Column, i as u64, 0).range(190.0, 420.0)
    }

    pub fn row_height(&self, j: usize) -> f64 {
        Rng::new(self.seed, Tag::Row, j as u64, 0).range(160.0, 360.0)
    }

    /// Makes nodes up to line `cols` and line `rows` available.
    pub fn ensure(&mut self, cols: usize, rows: usize) {
        while self.col_x.len() <= cols {
            let i = self.col_x.len() - 1;
            let x = self.col_x[i] + self.col_width(i);
            self.col_x.push(x);
        }
        while self.row_y.len() <= rows {
            let j = self.row_y.len() - 1;
            let y = self.row_y[j] + self.row_height(j);
            self.row_y.push(y);
        }
    }

    /// The crossing of north–south line `i` and east–west line `j`.
    pub fn node(&self, i: usize, j: usize) -> Pt {
        let base = Pt::new(self.col_x[i], self.row_y[j]);
        let mut p = base;
        for t in &self.warp {
            let s = (t.k.dot(base) + t.phase).sin();
            p = p.add(t.amp.scale(s));
        }
        let mut r = Rng::new(self.seed, Tag::Node, i as u64, j as u64);
        p = p.add(Pt::new(r.range(-12.0, 12.0), r.range(-12.0, 12.0)));
        Pt::new(
            p.x * self.cos - p.y * self.sin,
            p.x * self.sin + p.y * self.cos,
        )
    }

    /// Half the width of north–south line `i` (the road reaches this far from the centreline).
    pub fn ns_half_width(&self, i: usize) -> f64 {
        half_width(&mut Rng::new(self.seed, Tag::LineNs, i as u64, 0))
    }

    pub fn ew_half_width(&self, j: usize) -> f64 {
        half_width(&mut Rng::new(self.seed, Tag::LineEw, j as u64, 0))
    }

    /// Division points of the east–west segment from node (i, j) to node (i + 1, j); as many
    /// as column `i` calls for.
    pub fn h_points(&self, i: usize, j: usize) -> Vec<Pt> {
        let count = (self.col_width(i) / 105.0).round() as usize;
        let count = count.saturating_sub(1).clamp(1, 3);
        let r = Rng::new(self.seed, Tag::SegmentH, i as u64, j as u64);
        division_points(self.node(i, j), self.node(i + 1, j), count, r)
    }

    /// Division points of the north–south segment from node (i, j) to node (i, j + 1).
    pub fn v_points(&self, i: usize, j: usize) -> Vec<Pt> {
        let count = (self.row_height(j) / 110.0).round() as usize;
        let count = count.saturating_sub(1).clamp(1, 2);
        let r = Rng::new(self.seed, Tag::SegmentV, i as u64, j as u64);
        division_points(self.node(i, j), self.node(i, j + 1), count, r)
    }

    /// Lays out block (i, j): group cells and parcels (no footprints).
    pub fn block(&self, i: usize, j: usize) -> Block {
        let corners = [
            self.node(i, j),
            self.node(i + 1, j),
            self.node(i + 1, j + 1),
            self.node(i, j + 1),
        ];
        let sides = [
            self.h_points(i, j),
            self.v_points(i + 1, j),
            self.h_points(i, j + 1),
            self.v_points(i, j),
        ];
        let half = [
            self.ew_half_width(j),
            self.ns_half_width(i + 1),
            self.ew_half_width(j + 1),
            self.ns_half_width(i),
        ];
        let mut rng = Rng::new(self.seed, Tag::Block, i as u64, j as u64);
        let mut groups = Vec::new();
        if !is_convex_ccw(&corners) {
            // Cannot happen with the jitter and warp used; kept whole to stay valid.
            let mut ring = Vec::new();
            push_block_ring(&mut ring, &corners, &sides);
            groups.push(GroupCell {
                ring,
                parcels: Vec::new(),
            });
            return Block {
                i,
                j,
                corners,
                sides,
                groups,
            };
        }
        // Division points used as cuts: V cuts join south and north points, H cuts west and
        // east points (both sides of a pair have the same number of points).
        let v_cuts: Vec<usize> = (0..sides[0].len()).filter(|_| rng.chance(0.75)).collect();
        let h_cuts: Vec<usize> = (0..sides[1].len()).filter(|_| rng.chance(0.45)).collect();
        let a_n = v_cuts.len() + 1;
        let b_n = h_cuts.len() + 1;
        // Index of the division point at grid position a (b); -1 and len for the corners.
        let idx = |a: usize| -> isize {
            if a == 0 {
                -1
            } else if a == a_n {
                sides[0].len() as isize
            } else {
                v_cuts[a - 1] as isize
            }
        };
        let jdx = |b: usize| -> isize {
            if b == 0 {
                -1
            } else if b == b_n {
                sides[1].len() as isize
            } else {
                h_cuts[b - 1] as isize
            }
        };
        let south = |a: usize| match a {
            0 => corners[0],
            _ if a == a_n => corners[1],
            _ => sides[0][v_cuts[a - 1]],
        };
        let north = |a: usize| match a {
            0 => corners[3],
            _ if a == a_n => corners[2],
            _ => sides[2][v_cuts[a - 1]],
        };
        let west = |b: usize| match b {
            0 => corners[0],
            _ if b == b_n => corners[3],
            _ => sides[3][h_cuts[b - 1]],
        };
        let east = |b: usize| match b {
            0 => corners[1],
            _ if b == b_n => corners[2],
            _ => sides[1][h_cuts[b - 1]],
        };
        // Grid vertices X[a][b].
        let mut x = vec![vec![Pt::new(0.0, 0.0); b_n + 1]; a_n + 1];
        for (a, col) in x.iter_mut().enumerate() {
            for (b, v) in col.iter_mut().enumerate() {
                *v = if b == 0 {
                    south(a)
                } else if b == b_n {
                    north(a)
                } else if a == 0 {
                    west(b)
                } else if a == a_n {
                    east(b)
                } else {
                    intersect(south(a), north(a), west(b), east(b)).unwrap_or(west(b))
                };
            }
        }
        let between = |pts: &[Pt], lo: isize, hi: isize| -> Vec<Pt> {
            pts.iter()
                .enumerate()
                .filter(|&(k, _)| (k as isize) > lo && (k as isize) < hi)
                .map(|(_, &p)| p)
                .collect()
        };
        for b in 0..b_n {
            for a in 0..a_n {
                let mut ring = vec![x[a][b]];
                if b == 0 {
                    ring.extend(between(&sides[0], idx(a), idx(a + 1)));
                }
                ring.push(x[a + 1][b]);
                if a + 1 == a_n {
                    ring.extend(between(&sides[1], jdx(b), jdx(b + 1)));
                }
                ring.push(x[a + 1][b + 1]);
                if b + 1 == b_n {
                    ring.extend(between(&sides[2], idx(a), idx(a + 1)).into_iter().rev());
                }
                ring.push(x[a][b + 1]);
                if a == 0 {
                    ring.extend(between(&sides[3], jdx(b), jdx(b + 1)).into_iter().rev());
                }
                let quad = [x[a][b], x[a + 1][b], x[a + 1][b + 1], x[a][b + 1]];
                // Which edges of the cell lie on the block's sides.
                let on_side = [b == 0, a + 1 == a_n, b + 1 == b_n, a == 0];
                let parcels = parcels_of_cell(&quad, on_side, &half, &mut rng);
                groups.push(GroupCell { ring, parcels });
            }
        }
        Block {
            i,
            j,
            corners,
            sides,
            groups,
        }
    }
}

fn half_width(r: &mut Rng) -> f64 {
    if r.chance(0.3) {
        r.range(13.0, 18.0) // arterial
    } else {
        r.range(6.0, 10.0)
    }
}

fn division_points(a: Pt, b: Pt, count: usize, mut r: Rng) -> Vec<Pt> {
    let step = 1.0 / (count as f64 + 1.0);
    (1..=count)
        .map(|k| a.lerp(b, step * (k as f64 + r.range(-0.2, 0.2))))
        .collect()
}

/// The ring of a whole block: corners and division points, counter-clockwise.
pub(crate) fn push_block_ring(ring: &mut Vec<Pt>, corners: &[Pt; 4], sides: &[Vec<Pt>; 4]) {
    ring.push(corners[0]);
    ring.extend(&sides[0]);
    ring.push(corners[1]);
    ring.extend(&sides[1]);
    ring.push(corners[2]);
    ring.extend(sides[2].iter().rev());
    ring.push(corners[3]);
    ring.extend(sides[3].iter().rev());
}

/// The ring of two blocks side by side, (i, j) and (i + 1, j), counter-clockwise.
pub(crate) fn merged_ring(west: &Block, east: &Block) -> Vec<Pt> {
    let mut ring = vec![west.corners[0]];
    ring.extend(&west.sides[0]);
    ring.push(east.corners[0]);
    ring.extend(&east.sides[0]);
    ring.push(east.corners[1]);
    ring.extend(&east.sides[1]);
    ring.push(east.corners[2]);
    ring.extend(east.sides[2].iter().rev());
    ring.push(east.corners[3]);
    ring.extend(west.sides[2].iter().rev());
    ring.push(west.corners[3]);
    ring.extend(west.sides[3].iter().rev());
    ring
}

/// Parcels of a group cell (a convex quadrilateral, counter-clockwise from its south-west
/// corner). `on_side[k]`: edge k (south, east, north, west) lies on the block's side k;
/// `half[k]` is the half-width of that road.
fn parcels_of_cell(
    quad: &[Pt; 4],
    on_side: [bool; 4],
    half: &[f64; 4],
    rng: &mut Rng,
) -> Vec<Parcel> {
    let width = (quad[1].sub(quad[0]).len() + quad[2].sub(quad[3]).len()) / 2.0;
    let depth = (quad[3].sub(quad[0]).len() + quad[2].sub(quad[1]).len()) / 2.0;
    let target = rng.range(48.0, 95.0);
    let p = ((width / target).round() as usize).clamp(1, 6);
    let q = ((depth / target).round() as usize).clamp(1, 6);
    let cuts = |n: usize, rng: &mut Rng| -> Vec<f64> {
        (0..=n)
            .map(|k| {
                if k == 0 || k == n {
                    k as f64 / n as f64
                } else {
                    (k as f64 + rng.range(-0.15, 0.15)) / n as f64
                }
            })
            .collect()
    };
    let us = cuts(p, rng);
    let vs = cuts(q, rng);
    let at = |u: f64, v: f64| -> Pt {
        let bottom = quad[0].lerp(quad[1], u);
        let top = quad[3].lerp(quad[2], u);
        bottom.lerp(top, v)
    };
    let mut out = Vec::with_capacity(p * q);
    for n in 0..q {
        for m in 0..p {
            let cell = [
                at(us[m], vs[n]),
                at(us[m + 1], vs[n]),
                at(us[m + 1], vs[n + 1]),
                at(us[m], vs[n + 1]),
            ];
            // Edge k of the sub-cell lies on the group's edge k when at the cell's border.
            let at_border = [n == 0, m + 1 == p, n + 1 == q, m == 0];
            let mut setback = [0.0; 4];
            let mut faces = 0u8;
            for k in 0..4 {
                setback[k] = if at_border[k] && on_side[k] {
                    faces |= Side::ALL[k].bit();
                    half[k] + rng.range(2.0, 5.0)
                } else if at_border[k] {
                    rng.range(2.0, 4.0)
                } else {
                    rng.range(1.5, 3.0)
                };
            }
            if let Some(quad) = inset(&cell, &setback) {
                out.push(Parcel { quad, faces });
            }
        }
    }
    out
}

/// Moves every edge of a convex counter-clockwise quadrilateral inwards by its distance; `None`
/// when the result is not a convex quadrilateral with sides and widths of at least
/// [`MIN_PARCEL_SIDE_M`].
fn inset(q: &[Pt; 4], d: &[f64; 4]) -> Option<[Pt; 4]> {
    if !is_convex_ccw(q) {
        return None;
    }
    let line = |k: usize| -> (Pt, Pt) {
        let a = q[k];
        let b = q[(k + 1) % 4];
        let n = b.sub(a).unit().left();
        (a.add(n.scale(d[k])), b.add(n.scale(d[k])))
    };
    let mut out = [Pt::new(0.0, 0.0); 4];
    for (k, v) in out.iter_mut().enumerate() {
        let (a, b) = line((k + 3) % 4);
        let (c, e) = line(k);
        *v = intersect(a, b, c, e)?;
    }
    if !is_convex_ccw(&out) {
        return None;
    }
    for k in 0..4 {
        let a = out[k];
        let b = out[(k + 1) % 4];
        let e = b.sub(a);
        if e.len() < MIN_PARCEL_SIDE_M {
            return None;
        }
        let n = e.unit().left();
        let width = out.iter().map(|&p| p.sub(a).dot(n)).fold(0.0, f64::max);
        if width < MIN_PARCEL_SIDE_M {
            return None;
        }
        // Still inside the original cell by the setback of every edge.
        for (m, &dm) in d.iter().enumerate() {
            let qa = q[m];
            let qn = q[(m + 1) % 4].sub(qa).unit().left();
            if a.sub(qa).dot(qn) < dm - 1e-6 {
                return None;
            }
        }
    }
    Some(out)
}

/// A building footprint: exterior ring (counter-clockwise) and an optional courtyard
/// (clockwise), neither closed.
#[derive(Debug, Clone)]
pub(crate) struct Footprint {
    pub exterior: Vec<Pt>,
    pub hole: Option<Vec<Pt>>,
    /// m²
    pub area: f64,
}

/// A point in a footprint's unit square [-1, 1]².
type Unit = (f64, f64);

/// Largest scale in [0, 1) at which `shape` (unit coordinates), centred on `c` with half-sizes
/// `hw` along `e` and `hh` across, stays [`FOOTPRINT_MARGIN_M`] inside the convex quad `q`.
fn fit(q: &[Pt; 4], c: Pt, e: Pt, hw: f64, hh: f64, shape: &[(f64, f64)]) -> f64 {
    let f = e.left();
    let mut s: f64 = 1.0;
    for k in 0..4 {
        let a = q[k];
        let n = q[(k + 1) % 4].sub(a).unit().left();
        let room = c.sub(a).dot(n) - FOOTPRINT_MARGIN_M;
        for &(u, v) in shape {
            let reach = e.scale(u * hw).add(f.scale(v * hh)).dot(n);
            if reach < 0.0 {
                s = s.min(room / -reach);
            }
        }
    }
    s.clamp(0.0, 1.0) * 0.999
}

/// A footprint of realistic shape and size inside a parcel, at least [`FOOTPRINT_MARGIN_M`]
/// from its edges. `big` asks for a large building (a mall or a tower podium).
pub(crate) fn footprint(parcel: &Parcel, big: bool, rng: &mut Rng) -> Footprint {
    let q = &parcel.quad;
    // Along the street: the parcel's south edge (blocks are cut along it), turned a little.
    let mut e = q[1].sub(q[0]).unit();
    if rng.chance(0.45) {
        let turn = rng.range(2.0, 12.0).to_radians() * if rng.chance(0.5) { 1.0 } else { -1.0 };
        e = Pt::new(
            e.x * turn.cos() - e.y * turn.sin(),
            e.x * turn.sin() + e.y * turn.cos(),
        );
    }
    let c = parcel.centroid();
    // Target half-sizes along e and f.
    let long = if big {
        rng.range(45.0, 80.0)
    } else {
        rng.lognormal(32.0, 0.35, 14.0, 80.0)
    };
    let short = (long * rng.range(0.4, 1.0)).max(11.0);
    let (hw, hh) = if rng.chance(0.5) {
        (long / 2.0, short / 2.0)
    } else {
        (short / 2.0, long / 2.0)
    };
    // Shape in unit coordinates, counter-clockwise.
    let kind = rng.unit();
    let (mut shape, hole): (Vec<Unit>, Option<Vec<Unit>>) = if kind < 0.5 {
        (vec![(-1., -1.), (1., -1.), (1., 1.), (-1., 1.)], None)
    } else if kind < 0.77 {
        let tx = rng.range(-0.2, 0.3);
        let ty = rng.range(-0.2, 0.3);
        (
            vec![
                (-1., -1.),
                (1., -1.),
                (1., ty),
                (tx, ty),
                (tx, 1.),
                (-1., 1.),
            ],
            None,
        )
    } else if kind < 0.9 {
        let a = rng.range(0.25, 0.5);
        let b = rng.range(-0.3, 0.4);
        (
            vec![
                (-1., -1.),
                (1., -1.),
                (1., 1.),
                (a, 1.),
                (a, b),
                (-a, b),
                (-a, 1.),
                (-1., 1.),
            ],
            None,
        )
    } else {
        let a = rng.range(0.3, 0.5);
        let b = rng.range(0.3, 0.5);
        (
            vec![(-1., -1.), (1., -1.), (1., 1.), (-1., 1.)],
            Some(vec![(-a, -b), (-a, b), (a, b), (a, -b)]),
        )
    };
    // Mirror at random (keeping counter-clockwise order).
    let (sx, sy) = (
        if rng.chance(0.5) { 1.0 } else { -1.0 },
        if rng.chance(0.5) { 1.0 } else { -1.0 },
    );
    let mirror = |pts: &mut Vec<(f64, f64)>| {
        for p in pts.iter_mut() {
            *p = (p.0 * sx, p.1 * sy);
        }
        if sx * sy < 0.0 {
            pts.reverse();
        }
    };
    mirror(&mut shape);
    let mut hole = hole;
    if let Some(h) = hole.as_mut() {
        mirror(h);
    }
    // Largest scale ≤ 1 keeping every vertex MARGIN inside every parcel edge, for the shape
    // turned as drawn or along the parcel, long side along or across: the first that keeps
    // both sides at least 10 m, else the one with the widest short side.
    let e0 = q[1].sub(q[0]).unit();
    let mut best: Option<(f64, Pt, f64, f64)> = None;
    for (axis, w, h) in [(e, hw, hh), (e, hh, hw), (e0, hw, hh), (e0, hh, hw)] {
        let s = fit(q, c, axis, w, h, &shape);
        let short = 2.0 * w.min(h) * s;
        if best.is_none_or(|b| short > b.0) {
            best = Some((short, axis, w * s, h * s));
        }
        if short >= 10.0 {
            break;
        }
    }
    let (short, mut e, mut hw, mut hh) = best.unwrap_or((0.0, e, hw, hh));
    if short < 10.0 {
        // A tight parcel: a small square tower along the parcel, if that is wider.
        let square = [(-1., -1.), (1., -1.), (1., 1.), (-1., 1.)];
        let s = fit(q, c, e0, 5.6, 5.6, &square);
        if 11.2 * s > short {
            (e, hw, hh) = (e0, 5.6 * s, 5.6 * s);
            shape = square.to_vec();
            hole = None;
        }
    }
    let f = e.left();
    // A courtyard needs walls of some thickness.
    if hole.is_some() && hw.min(hh) < 15.0 {
        hole = None;
    }
    let place = |pts: &[(f64, f64)]| -> Vec<Pt> {
        pts.iter()
            .map(|&(u, v)| c.add(e.scale(u * hw)).add(f.scale(v * hh)))
            .collect()
    };
    let exterior = place(&shape);
    let hole = hole.map(|h| place(&h));
    let area = ring_area(&exterior) + hole.as_ref().map_or(0.0, |h| ring_area(h));
    Footprint {
        exterior,
        hole,
        area,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seed: u64) -> Frame {
        let mut f = Frame::new(seed);
        f.ensure(40, 40);
        f
    }

    #[test]
    fn blocks_are_convex_and_cells_tile_them() {
        for seed in [1, 2, 3] {
            let f = frame(seed);
            for i in 0..30 {
                for j in 0..30 {
                    let b = f.block(i, j);
                    assert!(is_convex_ccw(&b.corners), "block {i},{j} seed {seed}");
                    let mut whole = Vec::new();
                    push_block_ring(&mut whole, &b.corners, &b.sides);
                    let total: f64 = b.groups.iter().map(|g| ring_area(&g.ring)).sum();
                    let area = ring_area(&whole);
                    assert!((total - area).abs() < 1e-6 * area, "{total} vs {area}");
                    for g in &b.groups {
                        assert!(ring_area(&g.ring) > 0.0);
                        for p in &g.parcels {
                            assert!(is_convex_ccw(&p.quad));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn footprints_fit_their_parcels() {
        let f = frame(9);
        let mut rng = Rng::new(9, Tag::Buildings, 0, 0);
        let mut sides = Vec::new();
        let mut longest: f64 = 0.0;
        for i in 0..20 {
            for j in 0..20 {
                for g in f.block(i, j).groups {
                    for p in &g.parcels {
                        let fp = footprint(p, rng.chance(0.1), &mut rng);
                        assert!(fp.area > 80.0, "{}", fp.area);
                        for k in 0..4 {
                            let a = p.quad[k];
                            let n = p.quad[(k + 1) % 4].sub(a).unit().left();
                            for v in &fp.exterior {
                                assert!(v.sub(a).dot(n) >= FOOTPRINT_MARGIN_M - 1e-6);
                            }
                        }
                        assert!(ring_area(&fp.exterior) > 0.0);
                        if let Some(h) = &fp.hole {
                            assert!(ring_area(h) < 0.0);
                        }
                        // Sides of the smallest box around it (along one of its edges).
                        let ext = &fp.exterior;
                        let (_, short, long) = (0..ext.len())
                            .map(|k| {
                                let d = ext[(k + 1) % ext.len()].sub(ext[k]).unit();
                                let span = |axis: Pt| {
                                    let proj = ext.iter().map(|p| p.dot(axis));
                                    let (lo, hi) = proj
                                        .fold((f64::MAX, f64::MIN), |(lo, hi), v| {
                                            (lo.min(v), hi.max(v))
                                        });
                                    hi - lo
                                };
                                let (a, b) = (span(d), span(d.left()));
                                (a * b, a.min(b), a.max(b))
                            })
                            .min_by(|x, y| x.0.total_cmp(&y.0))
                            .expect("edges");
                        sides.push(short);
                        longest = longest.max(long);
                    }
                }
            }
        }
        sides.sort_by(f64::total_cmp);
        let n = sides.len();
        assert!(n > 1000, "{n} parcels");
        // Buildings have sides of 10–80 m.
        let below = sides.iter().filter(|&&s| s < 10.0).count();
        assert!(
            sides[0] >= 9.9,
            "shortest side {}, {below} of {n} below 10 m: {:?}",
            sides[0],
            &sides[..below.min(10)]
        );
        assert!(longest <= 80.0, "longest side {longest}");
    }
}
