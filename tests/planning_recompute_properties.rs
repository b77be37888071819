//! Property tests on random layouts: rotated rectangles, L-shapes and rows of houses sharing
//! walls, in convex, star-shaped and U-shaped neighborhoods, with random groups and cells.

#[path = "recompute_support/mod.rs"]
mod common;

use common::{Rng, defects, l_shape, ll, place, radius, rect};
use geo::{Coord, LineString, MultiPolygon, Polygon, Validation};
use gridatlas::planner::recompute::{
    SiteBuilding, TILING_TOLERANCE_M2, Tiling, adjacency, recompute,
};
use proptest::prelude::*;

/// A generated case, in plane metres around (LON0, LAT0).
#[derive(Debug, Clone)]
struct Layout {
    hood: Vec<[f64; 2]>,
    footprints: Vec<Vec<[f64; 2]>>,
}

fn inside(p: [f64; 2], ring: &[[f64; 2]]) -> bool {
    let mut c = false;
    for i in 0..ring.len() {
        let (a, b) = (ring[i], ring[(i + ring.len() - 1) % ring.len()]);
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
        {
            c = !c;
        }
    }
    c
}

fn dist_to_ring(p: [f64; 2], ring: &[[f64; 2]]) -> f64 {
    (0..ring.len())
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % ring.len()]);
            let d = [b[0] - a[0], b[1] - a[1]];
            let t = (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / (d[0] * d[0] + d[1] * d[1]))
                .clamp(0.0, 1.0);
            (a[0] + t * d[0] - p[0]).hypot(a[1] + t * d[1] - p[1])
        })
        .fold(f64::INFINITY, f64::min)
}

fn neighborhood(rng: &mut Rng, kind: usize) -> Vec<[f64; 2]> {
    let big = rng.f(150.0, 400.0);
    match kind {
        // Convex: points on an ellipse in angular order.
        0 => {
            let k = 3 + rng.below(8);
            let mut a: Vec<f64> = (0..k).map(|_| rng.f(0.0, std::f64::consts::TAU)).collect();
            a.sort_by(f64::total_cmp);
            a.dedup_by(|x, y| (*x - *y).abs() < 0.2);
            if a.len() < 3 {
                a = vec![0.0, 2.1, 4.2];
            }
            let e = rng.f(0.5, 1.0);
            a.iter()
                .map(|t| [big * t.cos(), big * e * t.sin()])
                .collect()
        }
        // Star-shaped, non-convex.
        1 => {
            let k = 6 + rng.below(11);
            (0..k)
                .map(|i| {
                    let t = std::f64::consts::TAU * (i as f64 + rng.f(-0.3, 0.3)) / k as f64;
                    let r = big * rng.f(0.45, 1.0);
                    [r * t.cos(), r * t.sin()]
                })
                .collect()
        }
        // U-shape.
        _ => {
            let (w, h) = (big * 2.0, big * rng.f(1.2, 2.0));
            let (a, b) = (w * rng.f(0.1, 0.3), h * rng.f(0.3, 0.7));
            let u = [
                [-w / 2.0, -h / 2.0],
                [w / 2.0, -h / 2.0],
                [w / 2.0, h / 2.0],
                [a, h / 2.0],
                [a, -h / 2.0 + b],
                [-a, -h / 2.0 + b],
                [-a, h / 2.0],
                [-w / 2.0, h / 2.0],
            ];
            place(&u, [0.0, 0.0], rng.f(0.0, 3.0))
        }
    }
}

/// A row of houses sharing walls, of different depths (T-junctions), around the origin.
fn row(rng: &mut Rng) -> Vec<Vec<[f64; 2]>> {
    let n = 2 + rng.below(4);
    let widths: Vec<f64> = (0..n).map(|_| rng.f(5.0, 10.0)).collect();
    let total: f64 = widths.iter().sum();
    let mut x = -total / 2.0;
    widths
        .iter()
        .map(|w| {
            let d = rng.f(8.0, 14.0);
            let r = vec![[x, -5.0], [x + w, -5.0], [x + w, d - 5.0], [x, d - 5.0]];
            x += w;
            r
        })
        .collect()
}

fn layout(seed: u64, kind: usize, n: usize, gap: f64, rows: bool) -> Layout {
    let mut rng = Rng(seed);
    let hood = neighborhood(&mut rng, kind);
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in &hood {
        lo = [lo[0].min(p[0]), lo[1].min(p[1])];
        hi = [hi[0].max(p[0]), hi[1].max(p[1])];
    }
    let mut placed: Vec<([f64; 2], f64)> = Vec::new();
    let mut footprints = Vec::new();
    for _ in 0..n * 40 {
        if footprints.len() >= n {
            break;
        }
        let group: Vec<Vec<[f64; 2]>> = match rng.below(if rows { 3 } else { 2 }) {
            0 => vec![rect(rng.f(6.0, 35.0), rng.f(6.0, 35.0))],
            1 => {
                let (w, h) = (rng.f(10.0, 35.0), rng.f(10.0, 35.0));
                vec![l_shape(w, h, w * rng.f(0.3, 0.7), h * rng.f(0.3, 0.7))]
            }
            _ => row(&mut rng),
        };
        let r = group.iter().map(|s| radius(s)).fold(0.0, f64::max);
        let c = [rng.f(lo[0], hi[0]), rng.f(lo[1], hi[1])];
        let ok = inside(c, &hood)
            && dist_to_ring(c, &hood) >= r + 0.5
            && placed
                .iter()
                .all(|(q, rq)| (c[0] - q[0]).hypot(c[1] - q[1]) >= r + rq + gap);
        if ok {
            let angle = rng.f(0.0, std::f64::consts::PI);
            placed.push((c, r));
            footprints.extend(group.iter().map(|s| place(s, c, angle)));
        }
    }
    Layout { hood, footprints }
}

fn to_input(
    l: &Layout,
    seed: u64,
    n_groups: usize,
) -> (MultiPolygon<f64>, Vec<SiteBuilding>, usize, usize) {
    let ring = |pts: &[[f64; 2]]| {
        let mut c: Vec<Coord<f64>> = pts.iter().map(|&p| ll(p)).collect();
        c.push(c[0]);
        LineString::new(c)
    };
    let mp = |pts: &[[f64; 2]]| MultiPolygon::new(vec![Polygon::new(ring(pts), vec![])]);
    let mut rng = Rng(seed ^ 0xABCD);
    let n_cells = n_groups + rng.below(l.footprints.len() + 1);
    let cell_group: Vec<usize> = (0..n_cells).map(|_| rng.below(n_groups)).collect();
    let buildings = l
        .footprints
        .iter()
        .map(|f| {
            let cell = rng.below(n_cells);
            SiteBuilding {
                footprint: mp(f),
                group: cell_group[cell],
                cell,
            }
        })
        .collect();
    (mp(&l.hood), buildings, n_groups, n_cells)
}

fn rings_oriented(mp: &MultiPolygon<f64>) -> bool {
    use geo::Winding;
    mp.0.iter()
        .all(|p| p.exterior().is_ccw() && p.interiors().iter().all(|h| h.is_cw()))
}

/// Connected components of the group's buildings, joined when their regions share a border.
fn components(t: &Tiling, members: &[usize]) -> usize {
    let adj = adjacency(t);
    let mut parent: Vec<usize> = (0..t.building_regions.len()).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut x = x;
        while p[x] != x {
            x = p[x];
        }
        x
    }
    for &(i, j, len) in &adj.edges {
        if len > 1e-6 && members.contains(&i) && members.contains(&j) {
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut roots: Vec<usize> = members.iter().map(|&m| find(&mut parent, m)).collect();
    roots.sort_unstable();
    roots.dedup();
    roots.len()
}

fn check(
    seed: u64,
    kind: usize,
    n: usize,
    gap: f64,
    rows: bool,
    n_groups: usize,
) -> Result<(), TestCaseError> {
    let l = layout(seed, kind, n, gap, rows);
    prop_assume!(!l.footprints.is_empty());
    let (hood, b, ng, nc) = to_input(&l, seed, n_groups);
    let t = recompute(&hood, &b, ng, nc).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    // Deterministic.
    prop_assert_eq!(&recompute(&hood, &b, ng, nc).expect("second run"), &t);
    // Tiles, nests, covers footprints.
    let d = defects(&hood, &b, &t);
    prop_assert!(d.gap < TILING_TOLERANCE_M2, "gap {:?}", d);
    prop_assert!(d.excess < TILING_TOLERANCE_M2, "excess {:?}", d);
    prop_assert!(d.overlap < TILING_TOLERANCE_M2, "overlap {:?}", d);
    prop_assert!(d.footprint_out < TILING_TOLERANCE_M2, "footprint {:?}", d);
    prop_assert!(d.cell_out < TILING_TOLERANCE_M2, "cell {:?}", d);
    // Valid, oriented rings.
    for mp in t.groups.iter().chain(&t.cells).chain(&t.building_regions) {
        prop_assert!(mp.is_valid(), "{:?}", mp.validation_errors());
        prop_assert!(rings_oriented(mp));
    }
    // Each building region is one polygon; a group of adjacent buildings is one polygon.
    for (i, r) in t.building_regions.iter().enumerate() {
        prop_assert_eq!(
            r.0.len(),
            1,
            "building {} region has {} parts",
            i,
            r.0.len()
        );
    }
    for g in 0..ng {
        let members: Vec<usize> = (0..b.len()).filter(|&i| b[i].group == g).collect();
        if members.is_empty() {
            prop_assert!(t.groups[g].0.is_empty());
        } else if components(&t, &members) == 1 {
            prop_assert_eq!(
                t.groups[g].0.len(),
                1,
                "group {} of adjacent buildings is split",
                g
            );
        }
    }
    // Adjacency is sorted, i < j, and areas add up to the neighborhood.
    let adj = adjacency(&t);
    prop_assert!(
        adj.edges
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
    );
    prop_assert!(adj.edges.iter().all(|e| e.0 < e.1 && e.2 > 0.0));
    let total: f64 = adj.area_m2.iter().sum();
    let n_area = common::area(&common::Plane::around(&hood).mp(&hood));
    prop_assert!(
        (total - n_area).abs() < 1e-6 * n_area + TILING_TOLERANCE_M2,
        "{} vs {}",
        total,
        n_area
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_layouts_tile_exactly(
        seed in any::<u64>(),
        kind in 0usize..3,
        n in 1usize..40,
        gap in prop_oneof![Just(0.2), Just(1.0), Just(4.0)],
        rows in any::<bool>(),
        n_groups in 1usize..6,
    ) {
        check(seed, kind, n, gap, rows, n_groups)?;
    }
}

/// Voronoi accuracy: a point is in the region of its nearest footprint unless another
/// footprint is almost as near.
#[test]
fn regions_follow_nearest_footprint() {
    use geo::{BoundingRect, Contains, Distance, Euclidean, Point};
    let mut worst: f64 = 0.0;
    let mut far_off = 0;
    let mut samples = 0;
    for seed in 0..16u64 {
        let l = layout(seed, (seed % 3) as usize, 30, 1.0, seed % 2 == 0);
        let (hood, b, ng, nc) = to_input(&l, seed, 3);
        let t = recompute(&hood, &b, ng, nc).expect("ok");
        let pl = common::Plane::around(&hood);
        let n = pl.mp(&hood);
        let fps: Vec<_> = b.iter().map(|x| pl.mp(&x.footprint)).collect();
        let regs: Vec<_> = t.building_regions.iter().map(|r| pl.mp(r)).collect();
        let bb = n.bounding_rect().expect("bbox");
        let mut rng = Rng(seed);
        for _ in 0..500 {
            let p = Point::new(rng.f(bb.min().x, bb.max().x), rng.f(bb.min().y, bb.max().y));
            if !n.contains(&p) {
                continue;
            }
            let d: Vec<f64> = fps.iter().map(|f| Euclidean.distance(&p, f)).collect();
            let best = d.iter().copied().fold(f64::INFINITY, f64::min);
            let Some(k) = regs.iter().position(|r| r.contains(&p)) else {
                continue;
            };
            samples += 1;
            worst = worst.max(d[k] - best);
            if d[k] - best > 0.5 {
                far_off += 1;
            }
        }
    }
    println!("{far_off} of {samples} points off by more than 0.5 m; worst {worst:.3} m");
    // Off by more than 0.5 m in distance for at most 0.5% of the points, never by more than 2 m.
    assert!(far_off * 200 <= samples, "{far_off} of {samples}");
    assert!(worst < 2.0, "worst {worst}");
}
