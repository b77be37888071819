//! A planar square-cell index for point location: a point's cell is two subtractions, two
//! multiplications and a bounds check, and the cell lists, per rank (the grid levels deepest
//! first, then building footprints), either the one feature whose interior holds the whole
//! cell or the candidates to test exactly.
//!
//! Why exact: the answers must be those of the R-tree path bit for bit, `on_border` included.
//! Three facts make it so.
//! - The cell of a point is computed by one float function `floor((x - x0) * inv)`; the cell
//!   edges used at build time are the exact floats where that function steps (found by walking
//!   ulps), so every point mapped to a cell lies in the cell's closed rectangle.
//! - A feature is left out of a cell only when none of its edges meets the closed rectangle
//!   (geo's robust `Line`/`Rect` test) and the cell's centre is outside it: the rectangle is
//!   connected and meets no ring, so geo's winding number is the same at all its points.
//! - A cell is marked interior for a feature only when, in addition, the centre is inside and
//!   no other feature of that rank remains in the cell (stored data may overlap).
//!
//! Layout (CSR): `offsets[c]..offsets[c + 1]` indexes `entries`; an entry is
//! `rank << 30 | interior << 29 | index`, sorted by rank then index.

use geo::coordinate_position::CoordPos;
use geo::{Coord, CoordinatePosition, Intersects, Line, LineString, MultiPolygon, Rect};

const RANK_SHIFT: u32 = 30;
const INTERIOR: u32 = 1 << 29;
const INDEX_MASK: u32 = INTERIOR - 1;
/// Ranks 0..=3 fit the two top bits.
pub const MAX_RANKS: usize = 4;
/// Coordinates beyond this are refused: orient2d stays exact far past it, and no map needs it.
const MAX_COORD: f64 = 1e100;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CellIndexError {
    #[error("feature index {0} does not fit an entry's 29 index bits")]
    IndexTooLarge(u32),
    #[error("{0} ranks given, at most 4 fit an entry")]
    TooManyRanks(usize),
    #[error("feature {index} of rank {rank} has a coordinate that is not finite or beyond 1e100")]
    BadCoordinate { rank: usize, index: u32 },
    #[error("the index would hold {0} entries, more than a u32 offset addresses")]
    TooManyEntries(u64),
    #[error("a cell edge could not be placed (cell size {0})")]
    CellEdge(f64),
}

/// A feature to index: its index (answered back, and the tie-break: smaller wins), its
/// geometry and bounding box.
#[derive(Clone, Copy)]
pub struct Feature<'a> {
    pub index: u32,
    pub geometry: &'a MultiPolygon<f64>,
    pub bbox: Rect<f64>,
}

/// How the cell size is chosen.
#[derive(Debug, Clone, Copy)]
pub struct CellParams {
    /// Cells along the side of an average feature of the first non-empty rank.
    pub cells_per_feature_side: f64,
    /// The most cells the index may have (memory: 4 bytes of offset per cell).
    pub max_cells: usize,
    /// Threads that classify features.
    pub threads: usize,
}

/// Measured on the 100,000-building city (uniform random points, `point/locate`): 2 cells per
/// side 746 ns (9 MB), 3 cells 618 ns (17 MB), 5 cells 471 ns (37 MB). Three, with the cap
/// keeping a million-building city near 100 MB.
impl Default for CellParams {
    fn default() -> Self {
        CellParams {
            cells_per_feature_side: 3.0,
            max_cells: 1 << 23,
            threads: 2,
        }
    }
}

/// Size figures, for logs and reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellStats {
    pub columns: usize,
    pub rows: usize,
    pub cell_size: f64,
    pub entries: usize,
    pub interior_entries: usize,
    pub bytes: usize,
}

pub struct CellIndex {
    x0: f64,
    y0: f64,
    inv: f64,
    nx: usize,
    nx_f: f64,
    ny_f: f64,
    /// Exact cell edges (see [`Frame`]); kept for tests that place points on them.
    xs: Vec<f64>,
    ys: Vec<f64>,
    /// Grid ranks form a chain (the deepest covering one answers a point); the ranks from
    /// here on (footprints) are asked on their own.
    chained_ranks: u32,
    offsets: Vec<u32>,
    entries: Vec<u32>,
    stats: CellStats,
}

/// The rank, interior flag and feature index of an entry.
#[inline]
fn rank_of(e: u32) -> u32 {
    e >> RANK_SHIFT
}

impl CellIndex {
    /// Indexes `ranks` (at most four; the first `chained_ranks` are the grid levels, deepest
    /// first). Features with a bounding box of non-finite coordinates are refused, so the
    /// caller can keep the R-tree path for such data.
    pub fn build(
        ranks: &[Vec<Feature<'_>>],
        chained_ranks: usize,
        params: CellParams,
    ) -> Result<CellIndex, CellIndexError> {
        check_input(ranks)?;
        let frame = Frame::fit(ranks, params)?;
        let pairs = classify_all(&frame, ranks, params.threads.max(1))?;
        let total: u64 = pairs.iter().map(|p| p.len() as u64).sum();
        if total >= u32::MAX as u64 {
            return Err(CellIndexError::TooManyEntries(total));
        }
        let (offsets, entries) = assemble(frame.cells(), pairs);
        let interior_entries = entries.iter().filter(|&&e| e & INTERIOR != 0).count();
        let stats = CellStats {
            columns: frame.xs.len().saturating_sub(1),
            rows: frame.ys.len().saturating_sub(1),
            cell_size: 1.0 / frame.inv,
            entries: entries.len(),
            interior_entries,
            bytes: (offsets.capacity() + entries.capacity()) * 4
                + (frame.xs.len() + frame.ys.len()) * 8,
        };
        Ok(CellIndex {
            x0: frame.x0,
            y0: frame.y0,
            inv: frame.inv,
            nx: stats.columns,
            nx_f: stats.columns as f64,
            ny_f: stats.rows as f64,
            chained_ranks: chained_ranks as u32,
            xs: frame.xs,
            ys: frame.ys,
            offsets,
            entries,
            stats,
        })
    }

    pub fn stats(&self) -> CellStats {
        self.stats
    }

    /// The column and row edges: a point maps to column `i` exactly when
    /// `xs[i] <= x < xs[i + 1]`.
    pub fn edges(&self) -> (&[f64], &[f64]) {
        (&self.xs, &self.ys)
    }

    /// The entries of the cell holding the point; empty outside the cells (NaN included).
    #[inline]
    fn entries_at(&self, x: f64, y: f64) -> &[u32] {
        let fx = (x - self.x0) * self.inv;
        let fy = (y - self.y0) * self.inv;
        // Written so that NaN fails every comparison and lands outside.
        if !(fx >= 0.0 && fx < self.nx_f && fy >= 0.0 && fy < self.ny_f) {
            return &[];
        }
        self.cell(fy as usize * self.nx + fx as usize)
    }

    /// Starts loading the offsets of the cells from column `col` on, in each of `rows`: the
    /// rows of a window lie a row's length apart, each a cache miss of its own.
    fn prefetch_offsets(&self, rows: std::ops::RangeInclusive<usize>, col: usize) {
        for row in rows {
            if let Some(o) = self.offsets.get(row * self.nx + col..) {
                crate::memory::prefetch(o.as_ptr());
            }
        }
    }

    #[inline]
    fn cell(&self, c: usize) -> &[u32] {
        match self.offsets.get(c..c + 2) {
            Some(&[a, b]) => self.entries.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// Visits the features of the ranks in the bit set `ranks` (bit r for rank r) stored in
    /// the cells meeting the closed rectangle `lo..=hi` (a feature once per cell): every
    /// feature of those ranks whose geometry meets the rectangle is visited. False, the visits to be discarded, when the rectangle spans
    /// more than `max_cells` cells or is not a rectangle (NaN): the caller must then ask
    /// another index.
    pub fn for_each_in_rect(
        &self,
        lo: Coord<f64>,
        hi: Coord<f64>,
        ranks: u32,
        max_cells: usize,
        mut visit: impl FnMut(u32),
    ) -> bool {
        let (c0, c1) = ((lo.x - self.x0) * self.inv, (hi.x - self.x0) * self.inv);
        let (r0, r1) = ((lo.y - self.y0) * self.inv, (hi.y - self.y0) * self.inv);
        if !(c0 <= c1 && r0 <= r1) {
            return false;
        }
        // Beyond the cells there is no geometry at all (the cells cover every bounding box).
        if c1 < 0.0 || r1 < 0.0 || c0 >= self.nx_f || r0 >= self.ny_f {
            return true;
        }
        // Monotonic mapping: the cells of the corners bound the cells of every point between.
        let (c0, c1) = (c0.max(0.0) as usize, c1.min(self.nx_f - 1.0) as usize);
        let (r0, r1) = (r0.max(0.0) as usize, r1.min(self.ny_f - 1.0) as usize);
        if (c1 - c0 + 1).saturating_mul(r1 - r0 + 1) > max_cells {
            return false;
        }
        // A cell's entries are in rank order: stop at the first rank past the last one asked.
        let last = u32::BITS - 1 - ranks.leading_zeros().min(u32::BITS - 1);
        self.prefetch_offsets(r0..=r1, c0);
        for row in r0..=r1 {
            for col in c0..=c1 {
                for &e in self.cell(row * self.nx + col) {
                    let rank = rank_of(e);
                    if rank > last {
                        break;
                    }
                    if ranks >> rank & 1 == 1 {
                        visit(e & INDEX_MASK);
                    }
                }
            }
        }
        true
    }

    /// True when every cell meeting the closed rectangle `lo..=hi` lies in the interior of
    /// feature `index` of `rank` (then no ring of it meets the rectangle). False when the cells
    /// cannot tell: a border cell, another feature there, more than `max_cells` cells, NaN.
    pub fn interior_over_rect(
        &self,
        lo: Coord<f64>,
        hi: Coord<f64>,
        rank: u32,
        index: u32,
        max_cells: usize,
    ) -> bool {
        let (c0, c1) = ((lo.x - self.x0) * self.inv, (hi.x - self.x0) * self.inv);
        let (r0, r1) = ((lo.y - self.y0) * self.inv, (hi.y - self.y0) * self.inv);
        // The whole rectangle must be in cells (NaN fails here too).
        if !(c0 >= 0.0 && r0 >= 0.0 && c1 < self.nx_f && r1 < self.ny_f && c0 <= c1 && r0 <= r1) {
            return false;
        }
        let (c0, c1, r0, r1) = (c0 as usize, c1 as usize, r0 as usize, r1 as usize);
        if (c1 - c0 + 1).saturating_mul(r1 - r0 + 1) > max_cells {
            return false;
        }
        let want = rank << RANK_SHIFT | INTERIOR | index;
        self.prefetch_offsets(r0..=r1, c0);
        (r0..=r1).all(|row| {
            (c0..=c1).all(|col| {
                let cell = self.cell(row * self.nx + col);
                // Sorted by rank then index, and an interior entry is alone in its rank.
                let k = cell.partition_point(|&e| rank_of(e) < rank);
                cell.get(k) == Some(&want)
            })
        })
    }

    /// The first of the chained ranks where a feature covers the point, by the border rule
    /// (interior beats border, then smallest index): `(rank, index, on_border)`.
    /// `position(rank, index)` is the exact test of the point against a candidate.
    #[inline]
    pub fn find_chained(
        &self,
        x: f64,
        y: f64,
        position: impl FnMut(u32, u32) -> CoordPos,
    ) -> Option<(u32, u32, bool)> {
        let entries = self.entries_at(x, y);
        first_covering(entries, 0, self.chained_ranks, position)
    }

    /// The feature of `rank` covering the point by the same rule: `(index, on_border)`.
    #[inline]
    pub fn find_in_rank(
        &self,
        x: f64,
        y: f64,
        rank: u32,
        position: impl FnMut(u32, u32) -> CoordPos,
    ) -> Option<(u32, bool)> {
        let entries = self.entries_at(x, y);
        first_covering(entries, rank, rank + 1, position).map(|(_, i, b)| (i, b))
    }
}

/// Walks the entries of ranks `from..to` (sorted by rank, then index) and answers at the first
/// rank holding a covering feature.
#[inline]
fn first_covering(
    entries: &[u32],
    from: u32,
    to: u32,
    mut position: impl FnMut(u32, u32) -> CoordPos,
) -> Option<(u32, u32, bool)> {
    let mut k = entries.partition_point(|&e| rank_of(e) < from);
    while let Some(&first) = entries.get(k) {
        let rank = rank_of(first);
        if rank >= to {
            break;
        }
        let mut border = None;
        while let Some(&e) = entries.get(k).filter(|&&e| rank_of(e) == rank) {
            k += 1;
            let i = e & INDEX_MASK;
            if e & INTERIOR != 0 {
                return Some((rank, i, false));
            }
            // Indices ascend: the first interior hit is the smallest, and so is the first
            // border hit, which counts only when no candidate holds the point inside.
            match position(rank, i) {
                CoordPos::Inside => return Some((rank, i, false)),
                CoordPos::OnBoundary => {
                    border.get_or_insert(i);
                }
                CoordPos::Outside => {}
            }
        }
        if let Some(i) = border {
            return Some((rank, i, true));
        }
    }
    None
}

fn finite(v: f64) -> bool {
    v.is_finite() && v.abs() <= MAX_COORD
}

fn check_input(ranks: &[Vec<Feature<'_>>]) -> Result<(), CellIndexError> {
    if ranks.len() > MAX_RANKS {
        return Err(CellIndexError::TooManyRanks(ranks.len()));
    }
    for (rank, features) in ranks.iter().enumerate() {
        for f in features {
            if f.index > INDEX_MASK {
                return Err(CellIndexError::IndexTooLarge(f.index));
            }
            let (lo, hi) = (f.bbox.min(), f.bbox.max());
            if ![lo.x, lo.y, hi.x, hi.y].into_iter().all(finite) {
                return Err(CellIndexError::BadCoordinate {
                    rank,
                    index: f.index,
                });
            }
        }
    }
    Ok(())
}

/// The cell grid: origin, scale, and the exact float edges of its columns and rows.
struct Frame {
    x0: f64,
    y0: f64,
    inv: f64,
    /// `xs[i]` is the smallest float mapped to column `i` or beyond; `xs[nx]` bounds the last.
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl Frame {
    fn fit(ranks: &[Vec<Feature<'_>>], params: CellParams) -> Result<Frame, CellIndexError> {
        let all = || ranks.iter().flatten();
        let Some(first) = all().next() else {
            return Ok(Frame {
                x0: 0.0,
                y0: 0.0,
                inv: 1.0,
                xs: Vec::new(),
                ys: Vec::new(),
            });
        };
        let mut bounds = first.bbox;
        for f in all() {
            let (lo, hi) = (f.bbox.min(), f.bbox.max());
            bounds = Rect::new(
                Coord {
                    x: bounds.min().x.min(lo.x),
                    y: bounds.min().y.min(lo.y),
                },
                Coord {
                    x: bounds.max().x.max(hi.x),
                    y: bounds.max().y.max(hi.y),
                },
            );
        }
        let size = cell_size(ranks, bounds, params);
        let inv = 1.0 / size;
        let (x0, y0) = (bounds.min().x, bounds.min().y);
        let xs = edges(x0, inv, size, bounds.max().x)?;
        let ys = edges(y0, inv, size, bounds.max().y)?;
        let cells = (xs.len() - 1).saturating_mul(ys.len() - 1);
        if cells >= u32::MAX as usize {
            return Err(CellIndexError::TooManyEntries(cells as u64));
        }
        Ok(Frame {
            x0,
            y0,
            inv,
            xs,
            ys,
        })
    }

    fn nx(&self) -> usize {
        self.xs.len().saturating_sub(1)
    }

    fn cells(&self) -> usize {
        self.nx() * self.ys.len().saturating_sub(1)
    }

    /// The closed rectangle of a cell (it holds every point mapped to the cell).
    fn rect(&self, col: usize, row: usize) -> Rect<f64> {
        Rect::new(
            Coord {
                x: self.xs[col],
                y: self.ys[row],
            },
            Coord {
                x: self.xs[col + 1],
                y: self.ys[row + 1],
            },
        )
    }

    fn centre(&self, col: usize, row: usize) -> Coord<f64> {
        // The float midpoint of two floats lies between them.
        Coord {
            x: (self.xs[col] + self.xs[col + 1]) / 2.0,
            y: (self.ys[row] + self.ys[row + 1]) / 2.0,
        }
    }
}

/// Cells of side `1 / cells_per_feature_side` of the average feature of the first non-empty
/// rank (the deepest grids), made larger until the cell count fits `max_cells`.
fn cell_size(ranks: &[Vec<Feature<'_>>], bounds: Rect<f64>, params: CellParams) -> f64 {
    let (w, h) = (bounds.width(), bounds.height());
    let typical = ranks
        .iter()
        .find(|r| !r.is_empty())
        .map(|r| {
            let sides: f64 = r.iter().map(|f| f.bbox.width().max(f.bbox.height())).sum();
            sides / r.len() as f64
        })
        .unwrap_or(0.0);
    let mut size = typical / params.cells_per_feature_side.max(1e-3);
    if !(size > 0.0 && size.is_finite()) {
        size = w.max(h) / 64.0;
    }
    if !(size > 0.0 && size.is_finite()) {
        size = 1.0;
    }
    // Never fewer than the bounds' extent over a million cells per side, never more cells
    // than allowed (each step grows the side by a quarter).
    size = size.max(w.max(h) / (1 << 20) as f64);
    let max_cells = params.max_cells.max(1) as f64;
    while (w / size + 2.0) * (h / size + 2.0) > max_cells && size < f64::MAX / 2.0 {
        size *= 1.25;
    }
    size
}

/// The column (or row) edges: `edges[i]` is the smallest float `x` with
/// `(x - origin) * inv >= i`, for every column up to and including the one holding `max`.
fn edges(origin: f64, inv: f64, size: f64, max: f64) -> Result<Vec<f64>, CellIndexError> {
    let last = ((max - origin) * inv).floor();
    if !(last >= 0.0 && last < (u32::MAX / 2) as f64) {
        return Err(CellIndexError::CellEdge(size));
    }
    let n = last as usize + 1;
    (0..=n)
        .map(|i| first_at_least(origin, inv, size, i as f64).ok_or(CellIndexError::CellEdge(size)))
        .collect()
}

/// The smallest float mapped to cell coordinate `t` or beyond: a bisection over the floats in
/// their order, between one that maps below and one that maps at or beyond (the mapping is
/// monotonic: subtraction and scaling round monotonically). Walking ulps from an estimate
/// would crawl near zero, where floats are dense.
fn first_at_least(origin: f64, inv: f64, size: f64, t: f64) -> Option<f64> {
    let reaches = |x: f64| (x - origin) * inv >= t;
    let guess = origin + t * size;
    let bracket = |sign: f64, want: bool| {
        let mut step = size;
        let mut x = guess;
        for _ in 0..64 {
            if reaches(x) == want {
                return Some(x);
            }
            x = guess + sign * step;
            step *= 2.0;
        }
        None
    };
    let below = bracket(-1.0, false).filter(|x| x.is_finite())?;
    let above = bracket(1.0, true).filter(|x| x.is_finite())?;
    let (mut lo, mut hi) = (ordered(below), ordered(above));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reaches(from_ordered(mid)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(from_ordered(hi))
}

/// A float as an integer of the same order (negative floats reversed below the positive).
fn ordered(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn from_ordered(k: u64) -> f64 {
    if k >> 63 == 1 {
        f64::from_bits(k & !(1 << 63))
    } else {
        f64::from_bits(!k)
    }
}

/// The columns (or rows) whose closed extent meets `[lo, hi]`, as an inclusive range.
fn span(edges: &[f64], lo: f64, hi: f64) -> Option<(usize, usize)> {
    let n = edges.len().checked_sub(1)?;
    // First i with edges[i + 1] >= lo; last i with edges[i] <= hi.
    let first = edges[1..].partition_point(|&e| e < lo);
    let last = edges[..n].partition_point(|&e| e <= hi).checked_sub(1)?;
    (first <= last && first < n).then_some((first, last))
}

/// A cell entry before assembly: `cell << 32 | entry`.
type Pair = u64;

fn pair(cell: usize, rank: usize, index: u32, interior: bool) -> Pair {
    let entry = (rank as u32) << RANK_SHIFT | if interior { INTERIOR } else { 0 } | index;
    (cell as u64) << 32 | entry as u64
}

/// Every (cell, entry) pair of every feature, classified on `threads` threads.
fn classify_all(
    frame: &Frame,
    ranks: &[Vec<Feature<'_>>],
    threads: usize,
) -> Result<Vec<Vec<Pair>>, CellIndexError> {
    let jobs: Vec<(usize, &Feature<'_>)> = ranks
        .iter()
        .enumerate()
        .flat_map(|(rank, fs)| fs.iter().map(move |f| (rank, f)))
        .collect();
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(part.len() * 6);
                    let mut scratch = Vec::new();
                    for &(rank, f) in part {
                        classify(frame, rank, f, &mut scratch, &mut out)?;
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// The pairs of one feature: a candidate where a ring meets the cell, interior where the cell
/// lies inside, nothing where it lies outside.
fn classify(
    frame: &Frame,
    rank: usize,
    f: &Feature<'_>,
    touched: &mut Vec<bool>,
    out: &mut Vec<Pair>,
) -> Result<(), CellIndexError> {
    let index = f.index;
    let (lo, hi) = (f.bbox.min(), f.bbox.max());
    let (Some((c0, c1)), Some((r0, r1))) =
        (span(&frame.xs, lo.x, hi.x), span(&frame.ys, lo.y, hi.y))
    else {
        return Ok(());
    };
    let w = c1 - c0 + 1;
    touched.clear();
    touched.resize(w * (r1 - r0 + 1), false);
    for ring in f
        .geometry
        .iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
    {
        for line in ring_lines(ring) {
            if ![line.start.x, line.start.y, line.end.x, line.end.y]
                .into_iter()
                .all(finite)
            {
                return Err(CellIndexError::BadCoordinate { rank, index });
            }
            mark(frame, line, (c0, c1, r0, r1), touched);
        }
    }
    let nx = frame.nx();
    for row in r0..=r1 {
        // Inside or outside, for the current run of untouched cells (constant along it).
        let mut run: Option<CoordPos> = None;
        for col in c0..=c1 {
            let cell = row * nx + col;
            if touched[(row - r0) * w + col - c0] {
                run = None;
                out.push(pair(cell, rank, index, false));
                continue;
            }
            let pos =
                *run.get_or_insert_with(|| f.geometry.coordinate_position(&frame.centre(col, row)));
            match pos {
                CoordPos::Inside => out.push(pair(cell, rank, index, true)),
                // Cannot happen for a cell no ring meets; a candidate is always safe.
                CoordPos::OnBoundary => out.push(pair(cell, rank, index, false)),
                CoordPos::Outside => {}
            }
        }
    }
    Ok(())
}

/// The segments of a ring; a one-point ring is a degenerate segment (geo puts a point equal
/// to it on the boundary).
fn ring_lines(ring: &LineString<f64>) -> impl Iterator<Item = Line<f64>> + '_ {
    let single = match ring.0.as_slice() {
        [p] => Some(Line::new(*p, *p)),
        _ => None,
    };
    single.into_iter().chain(ring.lines())
}

/// Marks the cells of the feature's span (c0..=c1 × r0..=r1) that the segment meets.
fn mark(
    frame: &Frame,
    line: Line<f64>,
    (c0, c1, r0, r1): (usize, usize, usize, usize),
    touched: &mut [bool],
) {
    let (Some((lc0, lc1)), Some((lr0, lr1))) = (
        span(
            &frame.xs,
            line.start.x.min(line.end.x),
            line.start.x.max(line.end.x),
        ),
        span(
            &frame.ys,
            line.start.y.min(line.end.y),
            line.start.y.max(line.end.y),
        ),
    ) else {
        return;
    };
    let w = c1 - c0 + 1;
    for row in lr0.max(r0)..=lr1.min(r1) {
        for col in lc0.max(c0)..=lc1.min(c1) {
            let t = &mut touched[(row - r0) * w + col - c0];
            if !*t && line.intersects(&frame.rect(col, row)) {
                *t = true;
            }
        }
    }
}

/// The CSR arrays from the pairs: grouped by cell (counting sort), each cell's entries sorted
/// by rank then index, the interior flag kept only where it is alone in its rank.
fn assemble(cells: usize, parts: Vec<Vec<Pair>>) -> (Vec<u32>, Vec<u32>) {
    let mut offsets = vec![0u32; cells + 1];
    for p in parts.iter().flatten() {
        offsets[(p >> 32) as usize + 1] += 1;
    }
    for c in 0..cells {
        offsets[c + 1] += offsets[c];
    }
    let mut fill: Vec<u32> = offsets[..cells].to_vec();
    let mut entries = vec![0u32; offsets[cells] as usize];
    for part in parts {
        for p in part {
            let c = (p >> 32) as usize;
            entries[fill[c] as usize] = p as u32;
            fill[c] += 1;
        }
    }
    drop(fill);
    // Compaction in place: the write cursor never passes the read cursor.
    let mut write = 0usize;
    let mut start = 0usize;
    for c in 0..cells {
        let end = offsets[c + 1] as usize;
        let kept = finish_cell(&mut entries[start..end]);
        entries.copy_within(start..start + kept, write);
        offsets[c] = write as u32;
        write += kept;
        start = end;
    }
    offsets[cells] = write as u32;
    entries.truncate(write);
    entries.shrink_to_fit();
    (offsets, entries)
}

/// Sorts one cell's entries and keeps the interior flag only where it is alone in its rank;
/// returns the count (all are kept: the shallower ranks under an interior one answer whether
/// a grid's border is near, see [`CellIndex::interior_over_rect`]).
fn finish_cell(cell: &mut [u32]) -> usize {
    cell.sort_unstable_by_key(|&e| e & !INTERIOR);
    let mut k = 0;
    while k < cell.len() {
        let rank = rank_of(cell[k]);
        let len = cell[k..]
            .iter()
            .take_while(|&&e| rank_of(e) == rank)
            .count();
        if len > 1 {
            for e in &mut cell[k..k + len] {
                *e &= !INTERIOR;
            }
        }
        k += len;
    }
    cell.len()
}

#[cfg(test)]
mod tests;
