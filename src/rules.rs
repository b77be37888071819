//! The atlas rules, enforced on every import and edit.
//!
//! Only current grid versions (`valid_to == None`) take part; superseded versions are history.
//!
//! 1. Every grid boundary and building footprint is valid geometry
//!    ([`validate_multipolygon`](crate::geometry::validity::validate_multipolygon)).
//! 2. Grid codes are unique among current grids.
//! 3. Neighborhood grids have no parent; building-group grids have a neighborhood parent and
//!    building grids a building-group parent ([`GridLevel::parent_level`]), which exists.
//! 4. A child's code starts with its parent's code.
//! 5. A child lies inside its parent: the geodesic area of child − parent is at most
//!    [`TOLERANCE_M2`].
//! 6. Grids of the same level do not overlap (all grids of the level, not only siblings under
//!    one parent): the geodesic area of each intersection is at most [`TOLERANCE_M2`]. Grids
//!    that share a border touch; they do not overlap.
//! 7. Building ids are unique; a building's grid (when it has one) is a current grid of level
//!    building, and its footprint lies inside it (area outside ≤ [`TOLERANCE_M2`]).
//! 8. Leader assignments and service teams name current grids and known people; no grid has
//!    the same role assigned twice.
//!
//! Speed: pairs of same-level grids are found with an R-tree over bounding boxes, never by
//! comparing all pairs. For each candidate pair (and each child/parent pair) an exact test
//! with robust predicates settles the common cases — neighbours that share a border, a child
//! inside its parent or sharing part of its border — without building any geometry; only
//! when it cannot decide are the exact boolean operations (geo's `BooleanOps`, i_overlay) and
//! the geodesic area of the result computed.
//! The per-feature work runs on all available cores (scoped std threads); the result does not
//! depend on it. Measured: 100,000 neighbouring (non-axis-aligned) quads in about 0.35 s, and a
//! 1,000,000-building hierarchy (1.01 M grids + 1 M footprints) in 7–10 s on 2 cores.

use std::collections::{HashMap, HashSet};
use std::fmt;

use geo::kernels::Orientation;
use geo::{BooleanOps, Coord, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::Serialize;

use crate::geometry::measure::geodesic_area_m2;
use crate::geometry::validity::{guarded, validate_multipolygon};
use crate::geometry::{
    Location, bbox, boxes_intersect, cross_properly, locate_in_multipolygon, locate_in_ring,
    orient, ring_bbox, ring_edges, strictly_within_segment,
};
use crate::model::{Dataset, Grid, GridLevel};

/// Overlaps between grids, and parts of a child outside its parent (or of a footprint outside
/// its grid), up to this many square metres (geodesic) are floating-point noise from
/// digitising and conversions, and are allowed. Half a square metre is far below anything a
/// surveyor draws and far above the noise of coordinates stored with 7+ decimals.
pub const TOLERANCE_M2: f64 = 0.5;

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// The grid code or building id the violation is about.
    pub subject: String,
    pub kind: ViolationKind,
    /// Names the feature and the defect, for a person.
    pub message: String,
    /// The other grid code, for overlaps and parent relations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
    /// The offending area (overlap, or part outside), geodesic m².
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_m2: Option<f64>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    InvalidGeometry,
    DuplicateCode,
    DuplicateBuilding,
    UnknownParent,
    WrongParentLevel,
    CodeNotUnderParent,
    OutsideParent,
    Overlap,
    BuildingOutsideGrid,
    /// A building, leader assignment or service team names a grid that is not a current grid.
    UnknownGrid,
    /// A leader assignment names a person who does not exist.
    UnknownPerson,
    /// The same role assigned twice for one grid.
    DuplicateLeader,
}

impl ViolationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::InvalidGeometry => "invalid_geometry",
            ViolationKind::DuplicateCode => "duplicate_code",
            ViolationKind::DuplicateBuilding => "duplicate_building",
            ViolationKind::UnknownParent => "unknown_parent",
            ViolationKind::WrongParentLevel => "wrong_parent_level",
            ViolationKind::CodeNotUnderParent => "code_not_under_parent",
            ViolationKind::OutsideParent => "outside_parent",
            ViolationKind::Overlap => "overlap",
            ViolationKind::BuildingOutsideGrid => "building_outside_grid",
            ViolationKind::UnknownGrid => "unknown_grid",
            ViolationKind::UnknownPerson => "unknown_person",
            ViolationKind::DuplicateLeader => "duplicate_leader",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn violation(kind: ViolationKind, subject: &str, message: String) -> Violation {
    Violation {
        subject: subject.to_string(),
        kind,
        message,
        other: None,
        area_m2: None,
    }
}

fn level_name(level: GridLevel) -> &'static str {
    match level {
        GridLevel::Neighborhood => "neighborhood",
        GridLevel::BuildingGroup => "building-group",
        GridLevel::Building => "building",
    }
}

/// Checks every rule; an empty list means the dataset is valid. Sorted by subject, then kind
/// (then the other code and the message), so the result is deterministic.
pub fn check_dataset(ds: &Dataset) -> Vec<Violation> {
    use ViolationKind::*;
    let mut out = Vec::new();
    let grids: Vec<&Grid> = ds.grids.iter().filter(|g| g.valid_to.is_none()).collect();

    // 1. Geometry of grids.
    let checked: Vec<Result<Option<Shape>, Violation>> = par_map(grids.len(), |i| {
        let g = grids[i];
        match validate_multipolygon(&g.geometry) {
            Ok(()) => Ok(Shape::of(&g.geometry)),
            Err(e) => Err(violation(
                InvalidGeometry,
                &g.code,
                format!("grid {} ({}): invalid geometry: {e}", g.code, g.name),
            )),
        }
    });
    let mut grid_box: Vec<Option<Shape>> = Vec::with_capacity(grids.len());
    for c in checked {
        match c {
            Ok(b) => grid_box.push(b),
            Err(v) => {
                out.push(v);
                grid_box.push(None);
            }
        }
    }

    // 2. Unique codes. Later rules use the first current grid with a code.
    let mut by_code: HashMap<&str, usize> = HashMap::with_capacity(grids.len());
    let mut code_count: HashMap<&str, usize> = HashMap::new();
    for (i, g) in grids.iter().enumerate() {
        match by_code.entry(&g.code) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                *code_count.entry(&g.code).or_insert(1) += 1
            }
        }
    }
    for (code, n) in &code_count {
        out.push(violation(
            DuplicateCode,
            code,
            format!("grid code {code} is used by {n} current grids"),
        ));
    }

    // 3–5. Parents.
    let parent_violations = par_map(grids.len(), |i| {
        check_parent(&grids, &grid_box, &by_code, i)
    });
    out.extend(parent_violations.into_iter().flatten());

    // 6. No overlap between grids of the same level.
    for level in GridLevel::ALL {
        let members: Vec<usize> = (0..grids.len())
            .filter(|&i| grids[i].level == level && grid_box[i].is_some())
            .collect();
        let tree = RTree::bulk_load(
            members
                .iter()
                .filter_map(|&i| {
                    grid_box[i].map(|s| {
                        GeomWithData::new(
                            Rectangle::from_corners([s.bbox[0], s.bbox[1]], [s.bbox[2], s.bbox[3]]),
                            i,
                        )
                    })
                })
                .collect::<Vec<_>>(),
        );
        let overlaps = par_map(members.len(), |k| {
            let i = members[k];
            let mut found = Vec::new();
            let Some(Shape { bbox: bi, .. }) = grid_box[i] else {
                return found;
            };
            let mut candidates: Vec<usize> = tree
                .locate_in_envelope_intersecting(&AABB::from_corners(
                    [bi[0], bi[1]],
                    [bi[2], bi[3]],
                ))
                .map(|e| e.data)
                .filter(|&j| j > i && grids[j].code != grids[i].code)
                .collect();
            candidates.sort_unstable();
            for j in candidates {
                let Some(Shape { bbox: bj, .. }) = grid_box[j] else {
                    continue;
                };
                let area = overlap_area(&grids[i].geometry, &grids[j].geometry, &bi, &bj);
                if area.is_none_or(|a| a > TOLERANCE_M2) {
                    let (a, b) = if grids[i].code <= grids[j].code {
                        (i, j)
                    } else {
                        (j, i)
                    };
                    let (ca, cb) = (&grids[a].code, &grids[b].code);
                    let mut v = violation(
                        Overlap,
                        ca,
                        match area {
                            Some(m2) => format!(
                                "{} grids {ca} and {cb} overlap by {m2:.1} m²",
                                level_name(level)
                            ),
                            None => format!(
                                "{} grids {ca} and {cb}: could not check that they do not overlap (geometry operation failed)",
                                level_name(level)
                            ),
                        },
                    );
                    v.other = Some(cb.clone());
                    v.area_m2 = area;
                    found.push(v);
                }
            }
            found
        });
        out.extend(overlaps.into_iter().flatten());
    }

    // 7. Buildings.
    let mut building_count: HashMap<&str, usize> = HashMap::with_capacity(ds.buildings.len());
    for b in &ds.buildings {
        *building_count.entry(&b.id).or_insert(0) += 1;
    }
    for (id, n) in &building_count {
        if *n > 1 {
            out.push(violation(
                DuplicateBuilding,
                id,
                format!("building id {id} is used by {n} buildings"),
            ));
        }
    }
    let building_violations = par_map(ds.buildings.len(), |i| {
        check_building(&ds.buildings[i], &grids, &grid_box, &by_code)
    });
    out.extend(building_violations.into_iter().flatten());

    // 8. Leaders and teams.
    let people: HashSet<&str> = ds.people.iter().map(|p| p.id.as_str()).collect();
    let mut holders: HashMap<(&str, crate::model::LeaderRole), Vec<&str>> = HashMap::new();
    for l in &ds.leaders {
        let role = l.role.as_str();
        if !by_code.contains_key(l.grid_code.as_str()) {
            out.push(violation(
                UnknownGrid,
                &l.grid_code,
                format!(
                    "leader assignment {role} of grid {} (person {}): {} is not a current grid",
                    l.grid_code, l.person_id, l.grid_code
                ),
            ));
        }
        if !people.contains(l.person_id.as_str()) {
            out.push(violation(
                UnknownPerson,
                &l.grid_code,
                format!(
                    "leader assignment {role} of grid {} names person {}, who is not known",
                    l.grid_code, l.person_id
                ),
            ));
        }
        holders
            .entry((&l.grid_code, l.role))
            .or_default()
            .push(&l.person_id);
    }
    for ((code, role), persons) in &holders {
        if persons.len() > 1 {
            out.push(violation(
                DuplicateLeader,
                code,
                format!(
                    "grid {code} has {} {} assignments ({}); each role is held by one person",
                    persons.len(),
                    role.as_str(),
                    persons.join(", ")
                ),
            ));
        }
    }
    for t in &ds.teams {
        for code in &t.grid_codes {
            if !by_code.contains_key(code.as_str()) {
                out.push(violation(
                    UnknownGrid,
                    code,
                    format!(
                        "service team {} ({}) serves grid {code}, which is not a current grid",
                        t.id, t.name
                    ),
                ));
            }
        }
    }

    out.sort_by(|a, b| {
        a.subject
            .cmp(&b.subject)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.other.cmp(&b.other))
            .then_with(|| a.message.cmp(&b.message))
    });
    out
}

/// Rules 3–5 for grid `i`: parent exists and has the right level, code under the parent's,
/// geometry inside the parent.
fn check_parent(
    grids: &[&Grid],
    grid_box: &[Option<Shape>],
    by_code: &HashMap<&str, usize>,
    i: usize,
) -> Vec<Violation> {
    use ViolationKind::*;
    let g = grids[i];
    let level = g.level;
    let mut out = Vec::new();
    let with_other = |mut v: Violation, other: &str| {
        v.other = Some(other.to_string());
        v
    };
    match (level.parent_level(), g.parent_code.as_deref()) {
        (None, None) => {}
        (None, Some(p)) => out.push(with_other(
            violation(
                WrongParentLevel,
                &g.code,
                format!(
                    "neighborhood grid {} must have no parent, but names {p}",
                    g.code
                ),
            ),
            p,
        )),
        (Some(want), None) => out.push(violation(
            UnknownParent,
            &g.code,
            format!(
                "{} grid {} names no parent; it must lie in a {} grid",
                level_name(level),
                g.code,
                level_name(want)
            ),
        )),
        (Some(want), Some(p)) => {
            let Some(&j) = by_code.get(p) else {
                out.push(with_other(
                    violation(
                        UnknownParent,
                        &g.code,
                        format!(
                            "{} grid {} names parent {p}, which is not a current grid",
                            level_name(level),
                            g.code
                        ),
                    ),
                    p,
                ));
                return out;
            };
            let parent = grids[j];
            if parent.level != want {
                out.push(with_other(
                    violation(
                        WrongParentLevel,
                        &g.code,
                        format!(
                            "{} grid {} has parent {p}, a {} grid; its parent must be a {} grid",
                            level_name(level),
                            g.code,
                            level_name(parent.level),
                            level_name(want)
                        ),
                    ),
                    p,
                ));
            }
            if !g.code.starts_with(p) {
                out.push(with_other(
                    violation(
                        CodeNotUnderParent,
                        &g.code,
                        format!(
                            "grid code {} does not start with its parent's code {p}",
                            g.code
                        ),
                    ),
                    p,
                ));
            }
            if let (Some(cs), Some(ps)) = (&grid_box[i], &grid_box[j]) {
                let outside = area_outside(&g.geometry, &parent.geometry, &cs.bbox, ps);
                if outside.is_none_or(|a| a > TOLERANCE_M2) {
                    let message = match outside {
                        Some(a) => format!(
                            "{} grid {} extends {a:.1} m² outside its parent {p}",
                            level_name(level),
                            g.code
                        ),
                        None => format!(
                            "{} grid {}: could not check that it lies inside its parent {p} (geometry operation failed)",
                            level_name(level),
                            g.code
                        ),
                    };
                    let mut v = with_other(violation(OutsideParent, &g.code, message), p);
                    v.area_m2 = outside;
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Rule 7 for one building (except uniqueness): valid footprint, existing building grid,
/// footprint inside it.
fn check_building(
    b: &crate::model::Building,
    grids: &[&Grid],
    grid_box: &[Option<Shape>],
    by_code: &HashMap<&str, usize>,
) -> Vec<Violation> {
    use ViolationKind::*;
    let mut out = Vec::new();
    let footprint_box = match validate_multipolygon(&b.footprint) {
        Ok(()) => bbox(&b.footprint),
        Err(e) => {
            out.push(violation(
                InvalidGeometry,
                &b.id,
                format!("building {} ({}): invalid footprint: {e}", b.id, b.name),
            ));
            None
        }
    };
    let Some(code) = b.grid_code.as_deref() else {
        return out;
    };
    let Some(&j) = by_code.get(code) else {
        let mut v = violation(
            UnknownGrid,
            &b.id,
            format!(
                "building {} ({}) names grid {code}, which is not a current grid",
                b.id, b.name
            ),
        );
        v.other = Some(code.to_string());
        out.push(v);
        return out;
    };
    let grid = grids[j];
    if let (Some(fb), Some(gs)) = (&footprint_box, &grid_box[j]) {
        let outside = area_outside(&b.footprint, &grid.geometry, fb, gs);
        if outside.is_none_or(|a| a > TOLERANCE_M2) {
            let message = match outside {
                Some(a) => format!(
                    "building {} ({}): {a:.1} m² of its footprint lie outside its grid {code}",
                    b.id, b.name
                ),
                None => format!(
                    "building {} ({}): could not check that its footprint lies inside its grid {code} (geometry operation failed)",
                    b.id, b.name
                ),
            };
            let mut v = violation(BuildingOutsideGrid, &b.id, message);
            v.other = Some(code.to_string());
            v.area_m2 = outside;
            out.push(v);
        }
    }
    out
}

/// `f` over `0..n` on the available cores (contiguous chunks), results in index order. Falls
/// back to the calling thread for small inputs or when a thread cannot be started.
pub(crate) fn par_map<R: Send>(n: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(16);
    if threads < 2 || n < 2048 {
        return (0..n).map(f).collect();
    }
    let chunk = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * chunk).min(n)..((t + 1) * chunk).min(n);
                let work = range.clone();
                let handle = std::thread::Builder::new()
                    .name("atlas-rules".into())
                    .spawn_scoped(scope, move || work.map(f).collect::<Vec<R>>());
                (range, handle)
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for (range, handle) in handles {
            match handle {
                Ok(h) => match h.join() {
                    Ok(part) => out.extend(part),
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                Err(_) => out.extend(range.map(f)),
            }
        }
        out
    })
}

// ---------------------------------------------------------------------------------------------
// Areas between valid multipolygons, with exact short-cuts.

/// Above this many edge pairs the short-cut tests give way to the boolean operations, whose
/// cost grows as n log n rather than n·m.
const SHORTCUT_BUDGET: usize = 1 << 20;

fn edge_count(mp: &MultiPolygon<f64>) -> usize {
    mp.0.iter()
        .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
        .sum()
}

/// Geodesic m² of `child` outside `parent` (both valid). `None` when the boolean operation
/// failed.
fn area_outside(
    child: &MultiPolygon<f64>,
    parent: &MultiPolygon<f64>,
    child_box: &[f64; 4],
    parent_shape: &Shape,
) -> Option<f64> {
    if box_within(child_box, &parent_shape.bbox) {
        if parent_shape.convex {
            // A convex parent holds the child when it holds the child's corners.
            let ring = &parent.0[0].exterior().0;
            if child.0.iter().all(|c| {
                c.exterior()
                    .0
                    .iter()
                    .all(|&v| locate_in_ring(v, ring) != Location::Outside)
            }) {
                return Some(0.0);
            }
        } else if edge_count(child).saturating_mul(edge_count(parent)) <= SHORTCUT_BUDGET
            && child
                .0
                .iter()
                .all(|c| region_covered(&c.exterior().0, parent))
        {
            return Some(0.0);
        }
    }
    guarded(|| child.difference(parent)).map(|d| geodesic_area_m2(&d))
}

/// Geodesic m² of the intersection of two valid multipolygons. `None` when the boolean
/// operation failed.
pub(crate) fn overlap_area(
    a: &MultiPolygon<f64>,
    b: &MultiPolygon<f64>,
    a_box: &[f64; 4],
    b_box: &[f64; 4],
) -> Option<f64> {
    // Boxes that do not overlap, or only along a line, cannot hold overlapping interiors.
    if a_box[0].max(b_box[0]) >= a_box[2].min(b_box[2])
        || a_box[1].max(b_box[1]) >= a_box[3].min(b_box[3])
    {
        return Some(0.0);
    }
    if edge_count(a).saturating_mul(edge_count(b)) <= SHORTCUT_BUDGET && parts_disjoint(a, b) {
        return Some(0.0);
    }
    guarded(|| a.intersection(b)).map(|i| geodesic_area_m2(&i))
}

/// What the short-cuts need to know about a valid grid, computed once.
#[derive(Debug, Clone, Copy)]
struct Shape {
    bbox: [f64; 4],
    /// One polygon, no hole, convex exterior.
    convex: bool,
}

impl Shape {
    fn of(mp: &MultiPolygon<f64>) -> Option<Shape> {
        let bbox = bbox(mp)?;
        let convex = match mp.0.as_slice() {
            [p] if p.interiors().is_empty() => ring_is_convex(&p.exterior().0),
            _ => false,
        };
        Some(Shape { bbox, convex })
    }
}

/// A simple closed ring turns the same way at every corner (straight corners allowed).
fn ring_is_convex(ring: &[Coord<f64>]) -> bool {
    // A repeated vertex would make both corners around it look straight and hide the turn
    // between them: compare the distinct vertices only.
    let mut corners: Vec<Coord<f64>> = ring.to_vec();
    corners.dedup();
    if corners.len() > 1 && corners.first() == corners.last() {
        corners.pop();
    }
    let n = corners.len();
    if n < 3 {
        return false;
    }
    let (mut left, mut right) = (false, false);
    for k in 0..n {
        let (p, q, r) = (corners[k], corners[(k + 1) % n], corners[(k + 2) % n]);
        match orient(p, q, r) {
            Orientation::CounterClockwise => left = true,
            Orientation::Clockwise => right = true,
            Orientation::Collinear => {}
        }
        if left && right {
            return false;
        }
    }
    left || right
}

/// Some edge line of one ring has the whole of that ring on one side (closed half-plane) and
/// the whole other ring on the other: the regions' interiors are then disjoint. Settles
/// convex neighbours with a handful of orientation tests.
fn separated_by_an_edge(r: &[Coord<f64>], s: &[Coord<f64>]) -> bool {
    fn sides(a: Coord<f64>, b: Coord<f64>, pts: &[Coord<f64>]) -> (bool, bool) {
        let (mut left, mut right) = (false, false);
        for &v in pts {
            match orient(a, b, v) {
                Orientation::CounterClockwise => left = true,
                Orientation::Clockwise => right = true,
                Orientation::Collinear => {}
            }
            if left && right {
                break;
            }
        }
        (left, right)
    }
    let try_edges = |own: &[Coord<f64>], other: &[Coord<f64>]| {
        ring_edges(own).any(|(a, b)| {
            if a == b {
                return false;
            }
            let (own_left, own_right) = sides(a, b, own);
            if own_left == own_right {
                return false;
            }
            let (other_left, other_right) = sides(a, b, other);
            if own_left { !other_left } else { !other_right }
        })
    };
    try_edges(r, s) || try_edges(s, r)
}

fn box_within(inner: &[f64; 4], outer: &[f64; 4]) -> bool {
    inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3]
}

fn segment_box(a: Coord<f64>, b: Coord<f64>) -> [f64; 4] {
    [a.x.min(b.x), a.y.min(b.y), a.x.max(b.x), a.y.max(b.y)]
}

/// Every edge of every ring of a multipolygon.
fn all_edges(mp: &MultiPolygon<f64>) -> impl Iterator<Item = (Coord<f64>, Coord<f64>)> + '_ {
    mp.0.iter().flat_map(|p| {
        std::iter::once(p.exterior())
            .chain(p.interiors())
            .flat_map(|r| ring_edges(&r.0))
    })
}

fn collinear_on(u: Coord<f64>, v: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    // u–v lies on c–d: both endpoints on the closed segment c–d.
    let on = |p: Coord<f64>| {
        p.x >= c.x.min(d.x)
            && p.x <= c.x.max(d.x)
            && p.y >= c.y.min(d.y)
            && p.y <= c.y.max(d.y)
            && orient(c, d, p) == Orientation::Collinear
    };
    on(u) && on(v)
}

/// Walks the edge a–b against a set of "other" edges: returns `None` if an other edge crosses
/// it properly; otherwise calls `visit` with the vertex `a` and then with each piece of a–b
/// between consecutive split points (other vertices lying on a–b), as `(u, v, on_other)` where
/// `on_other` says the piece runs along an other edge. `visit` returning `false` stops the
/// walk with `None`.
fn walk_edge<'e, I>(
    a: Coord<f64>,
    b: Coord<f64>,
    others: impl Fn() -> I,
    splits: &mut Vec<(f64, Coord<f64>)>,
    collinear: &mut Vec<(Coord<f64>, Coord<f64>)>,
    mut visit: impl FnMut(Coord<f64>, Option<(Coord<f64>, Coord<f64>, bool)>) -> bool,
) -> Option<()>
where
    I: Iterator<Item = (Coord<f64>, Coord<f64>)> + 'e,
{
    splits.clear();
    collinear.clear();
    let eb = segment_box(a, b);
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    for (c, d) in others() {
        if !boxes_intersect(&eb, &segment_box(c, d)) {
            continue;
        }
        if cross_properly(a, b, c, d) {
            return None;
        }
        if strictly_within_segment(c, a, b) {
            splits.push(((c.x - a.x) * dx + (c.y - a.y) * dy, c));
        }
        if strictly_within_segment(d, a, b) {
            splits.push(((d.x - a.x) * dx + (d.y - a.y) * dy, d));
        }
        if orient(a, b, c) == Orientation::Collinear && orient(a, b, d) == Orientation::Collinear {
            collinear.push((c, d));
        }
    }
    if !visit(a, None) {
        return None;
    }
    splits.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut u = a;
    for k in 0..=splits.len() {
        let v = splits.get(k).map_or(b, |s| s.1);
        if v == u {
            continue;
        }
        let on_other = collinear.iter().any(|&(c, d)| collinear_on(u, v, c, d));
        if !visit(u, Some((u, v, on_other))) {
            return None;
        }
        u = v;
    }
    Some(())
}

fn midpoint(u: Coord<f64>, v: Coord<f64>) -> Coord<f64> {
    geo::coord! {x: u.x + (v.x - u.x) / 2.0, y: u.y + (v.y - u.y) / 2.0}
}

/// Proves that the region bounded by `ring` lies inside `parent` (closures), or returns
/// `false` when it cannot tell. Exact up to the rounding of piece midpoints.
///
/// The region F is inside P when (1) the boundary of F lies in P — every vertex and every
/// piece of every edge (split at P's vertices, with no proper crossing of P's edges) is inside
/// or on P —, (2) no piece of P's boundary enters the interior of F, and (3) some point of F's
/// boundary is strictly inside P (so F's interior, which then does not meet P's boundary, is on
/// P's inside rather than outside, as a hole of P would be).
fn region_covered(ring: &[Coord<f64>], parent: &MultiPolygon<f64>) -> bool {
    let Some(rb) = ring_bbox(ring) else {
        return false;
    };
    // No edge of the parent meets the ring's box: the box is wholly inside the parent or
    // wholly outside it, and one corner of the ring tells which.
    if !all_edges(parent).any(|(c, d)| boxes_intersect(&rb, &segment_box(c, d))) {
        return ring
            .first()
            .is_some_and(|&v| locate_in_multipolygon(v, parent) == Location::Inside);
    }
    let mut splits = Vec::new();
    let mut collinear = Vec::new();
    let mut strictly_inside = false;
    // (1)
    for (a, b) in ring_edges(ring) {
        let ok = walk_edge(
            a,
            b,
            || all_edges(parent),
            &mut splits,
            &mut collinear,
            |vertex, piece| match piece {
                None => match locate_in_multipolygon(vertex, parent) {
                    Location::Outside => false,
                    Location::Inside => {
                        strictly_inside = true;
                        true
                    }
                    Location::Boundary => true,
                },
                Some((_, _, true)) => true,
                Some((u, v, false)) => match locate_in_multipolygon(midpoint(u, v), parent) {
                    Location::Inside => {
                        strictly_inside = true;
                        true
                    }
                    _ => false,
                },
            },
        );
        if ok.is_none() {
            return false;
        }
    }
    if !strictly_inside {
        return false;
    }
    // (2)
    for (c, d) in all_edges(parent) {
        if !boxes_intersect(&rb, &segment_box(c, d)) {
            continue;
        }
        let ok = walk_edge(
            c,
            d,
            || ring_edges(ring),
            &mut splits,
            &mut collinear,
            |vertex, piece| match piece {
                None => locate_in_ring(vertex, ring) != Location::Inside,
                Some((_, _, true)) => true,
                Some((u, v, false)) => locate_in_ring(midpoint(u, v), ring) == Location::Outside,
            },
        );
        if ok.is_none() {
            return false;
        }
    }
    true
}

/// Proves that no polygon of `a` overlaps a polygon of `b` (their interiors are disjoint), or
/// returns `false` when it cannot tell. Works on the regions bounded by exterior rings, so a
/// polygon lying in another's hole is left to the boolean operations.
fn parts_disjoint(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> bool {
    let b_boxes: Vec<Option<[f64; 4]>> = b.0.iter().map(|p| ring_bbox(&p.exterior().0)).collect();
    let mut splits = Vec::new();
    let mut collinear = Vec::new();
    for pa in &a.0 {
        let Some(ba) = ring_bbox(&pa.exterior().0) else {
            return false;
        };
        for (pb, bb) in b.0.iter().zip(&b_boxes) {
            let Some(bb) = bb else { return false };
            if !boxes_intersect(&ba, bb)
                || separated_by_an_edge(&pa.exterior().0, &pb.exterior().0)
                || regions_disjoint(
                    &pa.exterior().0,
                    &pb.exterior().0,
                    &mut splits,
                    &mut collinear,
                )
            {
                continue;
            }
            return false;
        }
    }
    true
}

/// The regions bounded by rings `r` and `s` have disjoint interiors (proved), or `false`.
///
/// As in [`region_covered`]: if no piece of either boundary enters the other's interior, then
/// R's interior is either wholly inside S or wholly outside it; a point of R's boundary
/// strictly outside S settles it.
fn regions_disjoint(
    r: &[Coord<f64>],
    s: &[Coord<f64>],
    splits: &mut Vec<(f64, Coord<f64>)>,
    collinear: &mut Vec<(Coord<f64>, Coord<f64>)>,
) -> bool {
    let mut strictly_outside = false;
    for (a, b) in ring_edges(r) {
        let ok = walk_edge(
            a,
            b,
            || ring_edges(s),
            splits,
            collinear,
            |vertex, piece| match piece {
                None => match locate_in_ring(vertex, s) {
                    Location::Inside => false,
                    Location::Outside => {
                        strictly_outside = true;
                        true
                    }
                    Location::Boundary => true,
                },
                Some((_, _, true)) => true,
                Some((u, v, false)) => match locate_in_ring(midpoint(u, v), s) {
                    Location::Outside => {
                        strictly_outside = true;
                        true
                    }
                    _ => false,
                },
            },
        );
        if ok.is_none() {
            return false;
        }
    }
    if !strictly_outside {
        return false;
    }
    for (c, d) in ring_edges(s) {
        let ok = walk_edge(
            c,
            d,
            || ring_edges(r),
            splits,
            collinear,
            |vertex, piece| match piece {
                None => locate_in_ring(vertex, r) != Location::Inside,
                Some((_, _, true)) => true,
                Some((u, v, false)) => locate_in_ring(midpoint(u, v), r) == Location::Outside,
            },
        );
        if ok.is_none() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{U, X0, Y0, building, grid, rect};
    use crate::model::{LeaderAssignment, LeaderRole, Person, ServiceTeam};
    use ViolationKind::*;
    use chrono::{TimeZone, Utc};
    use geo::{LineString, Polygon};
    use proptest::prelude::*;

    /// Two neighborhoods side by side; the first split into two building groups that share
    /// its border; the first group split into two building grids, each with a building.
    fn valid() -> Dataset {
        use GridLevel::*;
        Dataset {
            grids: vec![
                grid("N1", Neighborhood, None, rect(0., 0., 4., 4.)),
                grid("N2", Neighborhood, None, rect(4., 0., 8., 4.)),
                grid("N1G1", BuildingGroup, Some("N1"), rect(0., 0., 2., 4.)),
                grid("N1G2", BuildingGroup, Some("N1"), rect(2., 0., 4., 4.)),
                grid("N2G1", BuildingGroup, Some("N2"), rect(4., 0., 8., 4.)),
                grid("N1G1B1", Building, Some("N1G1"), rect(0., 0., 2., 2.)),
                grid("N1G1B2", Building, Some("N1G1"), rect(0., 2., 2., 4.)),
            ],
            buildings: vec![
                building("b1", Some("N1G1B1"), rect(0.5, 0.5, 1.5, 1.5)),
                // A footprint filling its whole grid.
                building("b2", Some("N1G1B2"), rect(0., 2., 2., 4.)),
                building("b3", None, rect(5., 1., 6., 2.)),
            ],
            people: vec![
                Person {
                    id: "p1".into(),
                    name: "Li".into(),
                    contact: Default::default(),
                },
                Person {
                    id: "p2".into(),
                    name: "Wang".into(),
                    contact: Default::default(),
                },
            ],
            leaders: vec![
                LeaderAssignment {
                    grid_code: "N1".into(),
                    role: LeaderRole::BacConvener,
                    person_id: "p1".into(),
                },
                LeaderAssignment {
                    grid_code: "N1".into(),
                    role: LeaderRole::PartyWorker,
                    person_id: "p2".into(),
                },
                LeaderAssignment {
                    grid_code: "N1G1B1".into(),
                    role: LeaderRole::PartyWorker,
                    person_id: "p2".into(),
                },
            ],
            teams: vec![ServiceTeam {
                id: "t1".into(),
                name: "team one".into(),
                members: vec![],
                grid_codes: vec!["N1".into(), "N1G1".into()],
            }],
        }
    }

    fn kinds(v: &[Violation]) -> Vec<ViolationKind> {
        v.iter().map(|v| v.kind).collect()
    }

    /// Applies `edit` to the valid dataset and expects exactly one violation, of `kind`.
    fn only(kind: ViolationKind, edit: impl FnOnce(&mut Dataset)) -> Violation {
        let mut ds = valid();
        edit(&mut ds);
        let v = check_dataset(&ds);
        assert_eq!(kinds(&v), vec![kind], "{v:#?}");
        v.into_iter().next().expect("one violation")
    }

    #[test]
    fn valid_nested_dataset_has_no_violation() {
        assert_eq!(check_dataset(&valid()), vec![]);
        assert_eq!(check_dataset(&Dataset::default()), vec![]);
    }

    #[test]
    fn superseded_versions_are_ignored() {
        let mut ds = valid();
        let mut old = grid("N1", GridLevel::Neighborhood, None, rect(1., 1., 9., 9.));
        old.valid_to = Some(
            Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0)
                .single()
                .expect("date"),
        );
        ds.grids.push(old.clone());
        // Even a broken old version is history, not a violation.
        old.code = "OLD".into();
        old.parent_code = Some("nowhere".into());
        ds.grids.push(old);
        assert_eq!(check_dataset(&ds), vec![]);
    }

    #[test]
    fn invalid_geometry() {
        let v = only(InvalidGeometry, |ds| {
            let bow = Polygon::new(
                LineString::from(vec![
                    (X0 + 5. * U, Y0),
                    (X0 + 6. * U, Y0 + U),
                    (X0 + 6. * U, Y0),
                    (X0 + 5. * U, Y0 + U),
                    (X0 + 5. * U, Y0),
                ]),
                vec![],
            );
            ds.buildings[2].footprint = MultiPolygon::new(vec![bow]);
        });
        assert_eq!(v.subject, "b3");
        assert!(
            v.message.contains("b3") && v.message.contains("intersects itself"),
            "{}",
            v.message
        );
        // A broken grid is reported once; its geometric relations are not checked further.
        let v = only(InvalidGeometry, |ds| {
            ds.grids[1].geometry = MultiPolygon::new(vec![])
        });
        assert_eq!(v.subject, "N2");
    }

    #[test]
    fn duplicate_code() {
        let v = only(DuplicateCode, |ds| {
            ds.grids.push(grid(
                "N2",
                GridLevel::Neighborhood,
                None,
                rect(10., 0., 12., 2.),
            ));
        });
        assert_eq!(v.subject, "N2");
        assert!(v.message.contains("2 current grids"));
    }

    #[test]
    fn duplicate_building() {
        let v = only(DuplicateBuilding, |ds| {
            let mut b = ds.buildings[0].clone();
            b.name = "again".into();
            ds.buildings.push(b);
        });
        assert_eq!(v.subject, "b1");
    }

    #[test]
    fn unknown_parent() {
        let v = only(UnknownParent, |ds| {
            ds.grids[4].parent_code = Some("N9".into())
        });
        assert_eq!(
            (v.subject.as_str(), v.other.as_deref()),
            ("N2G1", Some("N9"))
        );
        assert!(v.message.contains("N9") && v.message.contains("not a current grid"));
        let v = only(UnknownParent, |ds| ds.grids[4].parent_code = None);
        assert!(v.message.contains("names no parent"), "{}", v.message);
    }

    #[test]
    fn wrong_parent_level() {
        // A building grid directly under a neighborhood.
        let v = only(WrongParentLevel, |ds| {
            ds.grids.push(grid(
                "N2B1",
                GridLevel::Building,
                Some("N2"),
                rect(6., 2., 7., 3.),
            ));
        });
        assert_eq!(v.subject, "N2B1");
        assert!(v.message.contains("building-group"), "{}", v.message);
        // A neighborhood with a parent.
        let v = only(WrongParentLevel, |ds| {
            ds.grids[1].parent_code = Some("N1".into())
        });
        assert_eq!(v.subject, "N2");
    }

    #[test]
    fn code_not_under_parent() {
        let v = only(CodeNotUnderParent, |ds| {
            ds.grids[4].code = "X2G1".into();
        });
        assert_eq!(
            (v.subject.as_str(), v.other.as_deref()),
            ("X2G1", Some("N2"))
        );
    }

    #[test]
    fn outside_parent() {
        let v = only(OutsideParent, |ds| {
            ds.grids[4].geometry = rect(4., 0., 8., 4.5)
        });
        assert_eq!(
            (v.subject.as_str(), v.other.as_deref()),
            ("N2G1", Some("N2"))
        );
        // 4 × 0.5 units: about 380 m × 55 m.
        let a = v.area_m2.expect("area");
        assert!((19_000.0..23_000.0).contains(&a), "{a}");
        assert!(v.message.contains("outside its parent N2"), "{}", v.message);
    }

    #[test]
    fn overlap() {
        let v = only(Overlap, |ds| {
            ds.grids.push(grid(
                "N3",
                GridLevel::Neighborhood,
                None,
                rect(7., 3., 9., 5.),
            ));
        });
        assert_eq!((v.subject.as_str(), v.other.as_deref()), ("N2", Some("N3")));
        let a = v.area_m2.expect("area");
        assert!((9_000.0..12_000.0).contains(&a), "{a}");
        // Grids of the same level under different parents overlap too.
        let v = only(Overlap, |ds| {
            ds.grids.push(grid(
                "N2G2",
                GridLevel::BuildingGroup,
                Some("N2"),
                rect(4., 0., 5., 1.),
            ));
            ds.grids[3].geometry = rect(2., 0., 4., 4.);
            ds.grids[2].geometry = rect(0., 0., 2.5, 4.);
            ds.grids.remove(3);
        });
        assert_eq!(v.other.as_deref(), Some("N2G2"));
    }

    #[test]
    fn building_outside_grid() {
        let v = only(BuildingOutsideGrid, |ds| {
            ds.buildings[0].footprint = rect(1.5, 1.5, 2.5, 2.5)
        });
        assert_eq!(
            (v.subject.as_str(), v.other.as_deref()),
            ("b1", Some("N1G1B1"))
        );
        assert!(v.area_m2.is_some_and(|a| a > 1000.0));
    }

    #[test]
    fn unknown_grid() {
        let v = only(UnknownGrid, |ds| {
            ds.buildings[2].grid_code = Some("N7G7B7".into())
        });
        assert_eq!(v.subject, "b3");
        let v = only(UnknownGrid, |ds| ds.leaders[0].grid_code = "N7".into());
        assert_eq!(v.subject, "N7");
        let v = only(UnknownGrid, |ds| ds.teams[0].grid_codes.push("N8".into()));
        assert!(v.message.contains("t1") && v.message.contains("N8"));
    }

    #[test]
    fn unknown_person() {
        let v = only(UnknownPerson, |ds| ds.leaders[2].person_id = "p9".into());
        assert_eq!(v.subject, "N1G1B1");
        assert!(v.message.contains("p9"));
    }

    #[test]
    fn duplicate_leader() {
        let v = only(DuplicateLeader, |ds| {
            ds.leaders.push(LeaderAssignment {
                grid_code: "N1".into(),
                role: LeaderRole::PartyWorker,
                person_id: "p1".into(),
            });
        });
        assert_eq!(v.subject, "N1");
        assert!(
            v.message.contains("party_worker")
                && v.message.contains("p1")
                && v.message.contains("p2")
        );
    }

    #[test]
    fn serialises_for_clients() {
        let mut ds = valid();
        ds.grids.push(grid(
            "N3",
            GridLevel::Neighborhood,
            None,
            rect(7., 3., 9., 5.),
        ));
        ds.leaders[2].person_id = "p9".into();
        let v = check_dataset(&ds);
        let j = serde_json::to_value(&v).expect("json");
        let by_kind = |k: &str| {
            j.as_array()
                .and_then(|a| a.iter().find(|v| v["kind"] == k))
                .cloned()
                .expect(k)
        };
        let o = by_kind("overlap");
        assert_eq!((&o["subject"], &o["other"]), (&"N2".into(), &"N3".into()));
        assert!(o["area_m2"].as_f64().is_some_and(|a| a > 0.0));
        let p = by_kind("unknown_person");
        assert!(p.get("other").is_none() && p.get("area_m2").is_none());
    }

    #[test]
    fn results_are_sorted_and_deterministic() {
        let mut ds = valid();
        ds.grids.push(grid(
            "N3",
            GridLevel::Neighborhood,
            None,
            rect(7., 3., 9., 5.),
        ));
        ds.grids.push(grid(
            "A0",
            GridLevel::Neighborhood,
            None,
            rect(-1., -1., 1., 1.),
        ));
        ds.leaders[0].grid_code = "ZZ".into();
        ds.leaders[0].person_id = "nobody".into();
        let v = check_dataset(&ds);
        let mut sorted = v.clone();
        sorted.sort_by(|a, b| (&a.subject, a.kind).cmp(&(&b.subject, b.kind)));
        assert_eq!(v, sorted);
        assert_eq!(
            kinds(&v),
            vec![Overlap, Overlap, UnknownGrid, UnknownPerson]
        );
        ds.grids.reverse();
        assert_eq!(check_dataset(&ds), v);
    }

    #[test]
    fn tiny_slivers_are_within_tolerance() {
        // N2 shifted west by 1e-9° (0.1 mm): overlaps N1 by about 0.05 m² along a 444 m border.
        let mut ds = valid();
        ds.grids[1].geometry = rect(4. - 1e-6, 0., 8., 4.);
        ds.grids[4].geometry = rect(4., 0., 8., 4.);
        assert_eq!(check_dataset(&ds), vec![]);
        // A little more than the tolerance is reported: 1e-7° ≈ 5 m² along the border.
        ds.grids[1].geometry = rect(4. - 1e-4, 0., 8., 4.);
        let v = check_dataset(&ds);
        assert_eq!(kinds(&v), vec![Overlap]);
        assert!(
            v[0].area_m2.is_some_and(|a| a > TOLERANCE_M2 && a < 10.0),
            "{v:?}"
        );
    }

    #[test]
    fn holes_single_children_and_shared_borders() {
        use GridLevel::*;
        let ring =
            |x0: f64, y0: f64, x1: f64, y1: f64| rect(x0, y0, x1, y1).0[0].exterior().clone();
        let donut = MultiPolygon::new(vec![Polygon::new(
            ring(0., 0., 6., 6.),
            vec![ring(2., 2., 4., 4.)],
        )]);
        let ds = Dataset {
            grids: vec![
                grid("A", Neighborhood, None, donut.clone()),
                // A neighborhood filling the hole: touches, does not overlap.
                grid("B", Neighborhood, None, rect(2., 2., 4., 4.)),
                // A single child equal to its parent: covered.
                grid("BG", BuildingGroup, Some("B"), rect(2., 2., 4., 4.)),
                // A child in a corner of the donut, sharing two sides with it.
                grid("AG", BuildingGroup, Some("A"), rect(0., 0., 2., 2.)),
                // A child that is the donut itself, hole included.
                grid(
                    "AH",
                    BuildingGroup,
                    Some("A"),
                    MultiPolygon::new(vec![Polygon::new(ring(2., 0., 6., 6.), vec![])]),
                ),
            ],
            ..Default::default()
        };
        let v = check_dataset(&ds);
        // AH covers A's hole (outside A) and overlaps BG there.
        assert_eq!(kinds(&v), vec![OutsideParent, Overlap], "{v:#?}");
        assert_eq!(v[0].subject, "AH");
        assert_eq!(
            (v[1].subject.as_str(), v[1].other.as_deref()),
            ("AH", Some("BG"))
        );
    }

    // --- the short-cuts agree with the boolean operations ---

    #[test]
    fn shortcuts_settle_the_common_cases() {
        let parent = rect(0., 0., 4., 4.);
        // Children inside, sharing one, two or three sides, or split by a parent vertex.
        for child in [
            rect(1., 1., 2., 2.),
            rect(0., 1., 2., 2.),
            rect(0., 0., 2., 2.),
            rect(0., 0., 2., 4.),
        ] {
            assert!(
                region_covered(&child.0[0].exterior().0, &parent),
                "{child:?}"
            );
        }
        // A U-shaped parent: the left arm is covered; a strip across the top, passing through
        // the corners of the notch, is not.
        let u: Vec<(f64, f64)> = [
            (0., 0.),
            (4., 0.),
            (4., 4.),
            (3., 4.),
            (3., 1.),
            (1., 1.),
            (1., 4.),
            (0., 4.),
            (0., 0.),
        ]
        .iter()
        .map(|&(x, y)| (X0 + x * U, Y0 + y * U))
        .collect();
        let u_shape = MultiPolygon::new(vec![Polygon::new(LineString::from(u), vec![])]);
        assert!(validate_multipolygon(&u_shape).is_ok());
        assert!(region_covered(
            &rect(0., 0., 1., 4.).0[0].exterior().0,
            &u_shape
        ));
        assert!(!region_covered(
            &rect(0., 3., 4., 4.).0[0].exterior().0,
            &u_shape
        ));
        let (c, p) = (rect(0., 3., 4., 4.), u_shape.clone());
        let a = area_outside(
            &c,
            &p,
            &bbox(&c).expect("box"),
            &Shape::of(&p).expect("shape"),
        );
        assert!(a.is_some_and(|a| a > 10_000.0), "{a:?}");
        // Something in the notch touches the U on three sides without overlapping it.
        assert!(parts_disjoint(&u_shape, &rect(1., 1., 3., 4.)));
        // Not covered.
        assert!(!region_covered(
            &rect(3., 3., 5., 5.).0[0].exterior().0,
            &parent
        ));
        // Equal: cannot tell without the boolean operation.
        assert!(!region_covered(&parent.0[0].exterior().0, &parent));
        // Neighbours sharing a side, a part of a side, or a corner are disjoint.
        for other in [
            rect(4., 0., 8., 4.),
            rect(4., 1., 5., 2.),
            rect(4., 4., 5., 5.),
            rect(-1., 4., 5., 5.),
        ] {
            assert!(parts_disjoint(&parent, &other), "{other:?}");
            assert!(parts_disjoint(&other, &parent), "{other:?}");
        }
        assert!(!parts_disjoint(&parent, &rect(3., 3., 5., 5.)));
        assert!(!parts_disjoint(&parent, &rect(1., 1., 2., 2.)));
        assert!(!parts_disjoint(&parent, &parent));
        // Convexity and separating edges.
        assert!(ring_is_convex(&parent.0[0].exterior().0));
        assert!(!ring_is_convex(&u_shape.0[0].exterior().0));
        // A repeated vertex right after a reflex corner must not hide it (found by the
        // property test below: the short-cut then called an uncovered child covered).
        let repeated: Vec<Coord<f64>> =
            [(0., 0.), (3., 2.), (2., 2.), (2., 2.), (1., 3.), (0., 0.)]
                .iter()
                .map(|&(x, y)| Coord { x, y })
                .collect();
        assert!(!ring_is_convex(&repeated));
        let square_with_repeat: Vec<Coord<f64>> =
            [(0., 0.), (1., 0.), (1., 0.), (1., 1.), (0., 1.), (0., 0.)]
                .iter()
                .map(|&(x, y)| Coord { x, y })
                .collect();
        assert!(ring_is_convex(&square_with_repeat));
        let ext = |mp: &MultiPolygon<f64>| mp.0[0].exterior().0.clone();
        assert!(separated_by_an_edge(
            &ext(&parent),
            &ext(&rect(4., 0., 8., 4.))
        ));
        assert!(separated_by_an_edge(
            &ext(&parent),
            &ext(&rect(4., 4., 5., 5.))
        ));
        assert!(!separated_by_an_edge(
            &ext(&parent),
            &ext(&rect(3., 3., 5., 5.))
        ));
        assert!(!separated_by_an_edge(
            &ext(&u_shape),
            &ext(&rect(1., 1., 3., 4.))
        ));
    }

    fn small_ring() -> impl Strategy<Value = Vec<(f64, f64)>> {
        prop::collection::vec((0i32..5, 0i32..5), 3..7).prop_map(|pts| {
            let mut r: Vec<(f64, f64)> = pts
                .into_iter()
                .map(|(x, y)| (X0 + f64::from(x) * U, Y0 + f64::from(y) * U))
                .collect();
            r.push(r[0]);
            r
        })
    }

    fn valid_mp(r: Vec<(f64, f64)>) -> Option<MultiPolygon<f64>> {
        let mp = MultiPolygon::new(vec![Polygon::new(LineString::from(r), vec![])]);
        validate_multipolygon(&mp).is_ok().then_some(mp)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn shortcuts_are_sound(a in small_ring(), b in small_ring()) {
            let (Some(a), Some(b)) = (valid_mp(a), valid_mp(b)) else { return Ok(()) };
            let (ba, bb) = (bbox(&a).expect("box"), bbox(&b).expect("box"));
            if box_within(&ba, &bb) && region_covered(&a.0[0].exterior().0, &b) {
                let outside = geodesic_area_m2(&a.difference(&b));
                prop_assert!(outside <= TOLERANCE_M2, "covered but {outside} m² outside: {a:?} {b:?}");
            }
            if parts_disjoint(&a, &b) {
                let overlap = geodesic_area_m2(&a.intersection(&b));
                prop_assert!(overlap <= TOLERANCE_M2, "disjoint but {overlap} m² overlap: {a:?} {b:?}");
            }
            // And the results with short-cuts equal the boolean operations' verdicts.
            let full_out = geodesic_area_m2(&a.difference(&b)) > TOLERANCE_M2;
            let shape_b = Shape::of(&b).expect("shape");
            prop_assert_eq!(area_outside(&a, &b, &ba, &shape_b).is_none_or(|x| x > TOLERANCE_M2), full_out);
            if separated_by_an_edge(&a.0[0].exterior().0, &b.0[0].exterior().0) {
                let overlap = geodesic_area_m2(&a.intersection(&b));
                prop_assert!(overlap <= TOLERANCE_M2, "separated but {overlap} m² overlap: {a:?} {b:?}");
            }
            let full_overlap = geodesic_area_m2(&a.intersection(&b)) > TOLERANCE_M2;
            prop_assert_eq!(overlap_area(&a, &b, &ba, &bb).is_none_or(|x| x > TOLERANCE_M2), full_overlap);
        }

        #[test]
        fn never_panics(
            rings in prop::collection::vec(prop::collection::vec((prop_oneof![Just(f64::NAN), -200.0f64..200.0, (0i32..5).prop_map(|v| X0 + f64::from(v) * U)], prop_oneof![Just(f64::INFINITY), -100.0f64..100.0, (0i32..5).prop_map(|v| Y0 + f64::from(v) * U)]), 0..6), 1..8),
            levels in prop::collection::vec(0usize..3, 8),
            parents in prop::collection::vec(0usize..9, 8),
        ) {
            let mut ds = Dataset::default();
            for (i, r) in rings.into_iter().enumerate() {
                let mp = MultiPolygon::new(vec![Polygon::new(LineString::from(r), vec![])]);
                let level = GridLevel::ALL[levels[i]];
                let parent = (parents[i] < 8).then(|| format!("G{}", parents[i]));
                ds.grids.push(grid(&format!("G{i}"), level, parent.as_deref(), mp.clone()));
                ds.buildings.push(building(&format!("b{}", i % 3), Some(&format!("G{}", parents[i])), mp));
            }
            let _ = check_dataset(&ds);
        }
    }
}
