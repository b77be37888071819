//! Random points shared by the benches: the same deterministic stream in every run.

use geo::{Coord, Rect};
use gridatlas::atlas::Snapshot;

/// Deterministic pseudo-random numbers in [0, 1) (xorshift).
pub fn unit_stream(mut state: u64) -> impl FnMut() -> f64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The bounding box of every grid of the snapshot.
pub fn bounds(snapshot: &Snapshot) -> Rect<f64> {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for g in 0..snapshot.spatial.grids.len() as u32 {
        let b = snapshot.spatial.grid_bbox(g);
        x0 = x0.min(b.min().x);
        y0 = y0.min(b.min().y);
        x1 = x1.max(b.max().x);
        y1 = y1.max(b.max().y);
    }
    Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 })
}

/// Uniform points over the bounding box, as a dispatcher's GPS reports would fall.
pub fn points(snapshot: &Snapshot, n: usize) -> Vec<(f64, f64)> {
    let b = bounds(snapshot);
    let mut next = unit_stream(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|_| {
            (
                b.min().x + next() * b.width(),
                b.min().y + next() * b.height(),
            )
        })
        .collect()
}
