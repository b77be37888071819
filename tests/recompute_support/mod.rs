//! Layout generators and area measurements shared by the tests and the timing example.
#![allow(dead_code)]

use geo::{Area, BooleanOps, Coord, LineString, MultiPolygon, Polygon};
use gridatlas::planner::recompute::{EARTH_RADIUS_M, SiteBuilding, Tiling};

pub const LON0: f64 = 121.45;
pub const LAT0: f64 = 31.22;

/// Deterministic splitmix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn f(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

fn ky() -> f64 {
    EARTH_RADIUS_M * std::f64::consts::PI / 180.0
}

/// Metres east/north of (LON0, LAT0) to lon/lat.
pub fn ll(p: [f64; 2]) -> Coord<f64> {
    Coord {
        x: LON0 + p[0] / (ky() * LAT0.to_radians().cos()),
        y: LAT0 + p[1] / ky(),
    }
}

pub fn ring_ll(pts: &[[f64; 2]]) -> LineString<f64> {
    let mut c: Vec<Coord<f64>> = pts.iter().map(|&p| ll(p)).collect();
    c.push(c[0]);
    LineString::new(c)
}

pub fn poly_ll(pts: &[[f64; 2]]) -> MultiPolygon<f64> {
    MultiPolygon::new(vec![Polygon::new(ring_ll(pts), vec![])])
}

/// Rotates and moves a shape given around the origin.
pub fn place(shape: &[[f64; 2]], c: [f64; 2], angle: f64) -> Vec<[f64; 2]> {
    let (s, co) = angle.sin_cos();
    shape
        .iter()
        .map(|p| [c[0] + p[0] * co - p[1] * s, c[1] + p[0] * s + p[1] * co])
        .collect()
}

pub fn rect(w: f64, h: f64) -> Vec<[f64; 2]> {
    vec![
        [-w / 2.0, -h / 2.0],
        [w / 2.0, -h / 2.0],
        [w / 2.0, h / 2.0],
        [-w / 2.0, h / 2.0],
    ]
}

/// An L: a w×h rectangle without its top-right (w−a)×(h−b) corner.
pub fn l_shape(w: f64, h: f64, a: f64, b: f64) -> Vec<[f64; 2]> {
    let (x0, y0) = (-w / 2.0, -h / 2.0);
    vec![
        [x0, y0],
        [x0 + w, y0],
        [x0 + w, y0 + b],
        [x0 + a, y0 + b],
        [x0 + a, y0 + h],
        [x0, y0 + h],
    ]
}

/// A superellipse with `k` vertices: rounded rectangles and towers.
pub fn superellipse(w: f64, h: f64, k: usize, e: f64) -> Vec<[f64; 2]> {
    (0..k)
        .map(|i| {
            let t = std::f64::consts::TAU * i as f64 / k as f64;
            let (s, c) = t.sin_cos();
            [
                w / 2.0 * c.signum() * c.abs().powf(2.0 / e),
                h / 2.0 * s.signum() * s.abs().powf(2.0 / e),
            ]
        })
        .collect()
}

/// A rectangle with chamfered corners (8 vertices).
pub fn chamfered(w: f64, h: f64, c: f64) -> Vec<[f64; 2]> {
    let (x, y) = (w / 2.0, h / 2.0);
    vec![
        [-x + c, -y],
        [x - c, -y],
        [x, -y + c],
        [x, y - c],
        [x - c, y],
        [-x + c, y],
        [-x, y - c],
        [-x, -y + c],
    ]
}

/// Circumradius of a shape given around the origin.
pub fn radius(shape: &[[f64; 2]]) -> f64 {
    shape.iter().map(|p| p[0].hypot(p[1])).fold(0.0, f64::max)
}

/// A realistic block: `n` buildings of 8–60 vertices on a jittered grid in a slightly
/// irregular `side`-metre quadrilateral; groups are tiles of the grid, cells hold 1–3
/// neighbouring buildings.
pub fn block(
    n: usize,
    side: f64,
    seed: u64,
) -> (MultiPolygon<f64>, Vec<SiteBuilding>, usize, usize) {
    let mut rng = Rng(seed);
    let h = side / 2.0;
    let j = side * 0.03;
    let hood = [
        [-h + rng.f(-j, j), -h + rng.f(-j, j)],
        [h + rng.f(-j, j), -h + rng.f(-j, j)],
        [h + rng.f(-j, j), h + rng.f(-j, j)],
        [-h + rng.f(-j, j), h + rng.f(-j, j)],
    ];
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let (cw, ch) = (side * 0.9 / cols as f64, side * 0.9 / rows as f64);
    let tiles = (cols / 5).max(1);
    let mut buildings = Vec::new();
    let mut cell = 0;
    let mut in_cell = 0;
    for k in 0..n {
        let (c, r) = (k % cols, k / cols);
        let centre = [
            -side * 0.45 + (c as f64 + 0.5) * cw + rng.f(-0.05, 0.05) * cw,
            -side * 0.45 + (r as f64 + 0.5) * ch + rng.f(-0.05, 0.05) * ch,
        ];
        let room = cw.min(ch) * 0.8;
        let (w, hh) = (rng.f(0.45, 1.0) * room, rng.f(0.45, 1.0) * room);
        let shape = match rng.below(4) {
            0 => superellipse(w * 0.7, hh * 0.7, 8 + rng.below(53), rng.f(2.0, 6.0)),
            1 => l_shape(
                w * 0.7,
                hh * 0.7,
                w * 0.7 * rng.f(0.3, 0.7),
                hh * 0.7 * rng.f(0.3, 0.7),
            ),
            2 => chamfered(w * 0.7, hh * 0.7, w.min(hh) * 0.1),
            _ => rect(w * 0.7, hh * 0.7),
        };
        let pts = place(&shape, centre, rng.f(-0.3, 0.3));
        let group = (c * tiles / cols) + tiles * (r * tiles / rows);
        if in_cell > rng.below(3) || (k > 0 && c == 0) {
            cell += 1;
            in_cell = 0;
        }
        in_cell += 1;
        buildings.push((poly_ll(&pts), group, cell));
    }
    // Cells must not straddle groups: renumber cells per (group, cell).
    let mut keys: Vec<(usize, usize)> = buildings.iter().map(|b| (b.1, b.2)).collect();
    keys.sort_unstable();
    keys.dedup();
    let sites = buildings
        .into_iter()
        .map(|(footprint, group, cell)| SiteBuilding {
            footprint,
            group,
            cell: keys.binary_search(&(group, cell)).unwrap_or(0),
        })
        .collect();
    (poly_ll(&hood), sites, tiles * tiles, keys.len())
}

/// The local plane used for measuring: equirectangular around the bbox centre of `mp`.
pub struct Plane {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl Plane {
    pub fn around(mp: &MultiPolygon<f64>) -> Self {
        use geo::BoundingRect;
        let r = mp.bounding_rect().expect("bbox");
        let (lon0, lat0) = ((r.min().x + r.max().x) / 2.0, (r.min().y + r.max().y) / 2.0);
        Plane {
            lon0,
            lat0,
            kx: ky() * lat0.to_radians().cos(),
            ky: ky(),
        }
    }

    pub fn inv(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: self.lon0 + c.x / self.kx,
            y: self.lat0 + c.y / self.ky,
        }
    }

    pub fn mp(&self, mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
        use geo::MapCoords;
        mp.map_coords(|c| Coord {
            x: (c.x - self.lon0) * self.kx,
            y: (c.y - self.lat0) * self.ky,
        })
    }
}

pub fn area(mp: &MultiPolygon<f64>) -> f64 {
    mp.unsigned_area()
}

pub fn minus(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    a.difference(b).unsigned_area()
}

pub fn overlap(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    a.intersection(b).unsigned_area()
}

/// Largest defects of a tiling, in m² of the plane.
#[derive(Debug, Default, Clone, Copy)]
pub struct Defects {
    pub gap: f64,
    pub excess: f64,
    pub overlap: f64,
    pub footprint_out: f64,
    pub cell_out: f64,
}

/// Measures the promises on one level (`regions`) and the nesting of cells in groups.
pub fn defects(hood: &MultiPolygon<f64>, buildings: &[SiteBuilding], t: &Tiling) -> Defects {
    let pl = Plane::around(hood);
    let n = pl.mp(hood);
    let mut d = Defects::default();
    for level in [&t.groups, &t.cells, &t.building_regions] {
        let regions: Vec<MultiPolygon<f64>> = level.iter().map(|m| pl.mp(m)).collect();
        let union = geo::unary_union(regions.iter());
        d.gap = d.gap.max(minus(&n, &union));
        d.excess = d.excess.max(minus(&union, &n));
        for i in 0..regions.len() {
            for k in i + 1..regions.len() {
                use geo::BoundingRect;
                let (Some(a), Some(b)) = (regions[i].bounding_rect(), regions[k].bounding_rect())
                else {
                    continue;
                };
                if a.max().x < b.min().x
                    || b.max().x < a.min().x
                    || a.max().y < b.min().y
                    || b.max().y < a.min().y
                {
                    continue;
                }
                d.overlap = d.overlap.max(overlap(&regions[i], &regions[k]));
            }
        }
    }
    for (i, b) in buildings.iter().enumerate() {
        let f = pl.mp(&b.footprint);
        for region in [&t.groups[b.group], &t.cells[b.cell], &t.building_regions[i]] {
            d.footprint_out = d.footprint_out.max(minus(&f, &pl.mp(region)));
        }
        d.cell_out = d
            .cell_out
            .max(minus(&pl.mp(&t.cells[b.cell]), &pl.mp(&t.groups[b.group])));
    }
    d
}

/// Voronoi accuracy on `samples` random points of the neighborhood: for each, how much
/// farther the footprint of the region containing it is than the nearest footprint (m),
/// sorted.
pub fn accuracy(
    hood: &MultiPolygon<f64>,
    buildings: &[SiteBuilding],
    t: &Tiling,
    samples: usize,
) -> Vec<f64> {
    use geo::{BoundingRect, Contains, Distance, Euclidean, Point};
    let pl = Plane::around(hood);
    let n = pl.mp(hood);
    let fps: Vec<_> = buildings.iter().map(|b| pl.mp(&b.footprint)).collect();
    let regs: Vec<_> = t.building_regions.iter().map(|r| pl.mp(r)).collect();
    let boxes: Vec<_> = regs.iter().map(|r| r.bounding_rect()).collect();
    let bb = n.bounding_rect().expect("bbox");
    let mut rng = Rng(3);
    let mut errs = Vec::new();
    while errs.len() < samples {
        let p = Point::new(rng.f(bb.min().x, bb.max().x), rng.f(bb.min().y, bb.max().y));
        if !n.contains(&p) {
            continue;
        }
        let d: Vec<f64> = fps.iter().map(|f| Euclidean.distance(&p, f)).collect();
        let best = d.iter().copied().fold(f64::INFINITY, f64::min);
        let hit = (0..regs.len()).find(|&k| {
            boxes[k].is_some_and(|b| {
                b.min().x <= p.x() && p.x() <= b.max().x && b.min().y <= p.y() && p.y() <= b.max().y
            }) && regs[k].contains(&p)
        });
        if let Some(k) = hit {
            errs.push(d[k] - best);
        }
    }
    errs.sort_by(f64::total_cmp);
    errs
}
