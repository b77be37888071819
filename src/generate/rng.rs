//! A small deterministic random number generator (SplitMix64).
//!
//! Written out here rather than taken from a crate so that the city generated for a seed never
//! changes with a dependency upgrade. Every entity (a column of the street grid, a node, a
//! block, the buildings of a block, …) draws from its own stream, keyed by the seed, a tag
//! and its indices, so that nothing depends on the order in which entities are visited.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a stream is for; part of its key.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Tag {
    Frame = 1,
    Column,
    Row,
    Node,
    SegmentH,
    SegmentV,
    LineNs,
    LineEw,
    Block,
    Buildings,
    Merge,
    Names,
    People,
    Teams,
}

#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// The stream of one entity.
    pub fn new(seed: u64, tag: Tag, a: u64, b: u64) -> Rng {
        let mut h = mix(seed ^ GOLDEN);
        for w in [tag as u64, a, b] {
            h = mix(h ^ w.wrapping_mul(GOLDEN).wrapping_add(0x632B_E59B_D9B4_E019));
        }
        Rng(h)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }

    /// Uniform in lo..=hi.
    pub fn int(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit(); // (0, 1]
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// exp(N(ln median, sigma)), clamped to [lo, hi].
    pub fn lognormal(&mut self, median: f64, sigma: f64, lo: f64, hi: f64) -> f64 {
        (median.ln() + sigma * self.normal()).exp().clamp(lo, hi)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable_and_distinct() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7, Tag::Block, 3, 4);
            (0..4).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(7, Tag::Block, 3, 4);
            (0..4).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        let mut c = Rng::new(7, Tag::Block, 4, 3);
        assert_ne!(a[0], c.next_u64());
        let mut d = Rng::new(8, Tag::Block, 3, 4);
        assert_ne!(a[0], d.next_u64());
        let mut r = Rng::new(1, Tag::Node, 0, 0);
        for _ in 0..1000 {
            let x = r.unit();
            assert!((0.0..1.0).contains(&x));
            assert!(r.below(7) < 7);
            assert!((3..=5).contains(&r.int(3, 5)));
        }
    }
}
