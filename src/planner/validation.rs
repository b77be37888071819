//! Validation of a drafted plan: every problem listed with the region a map should show.
//!
//! A plan is a whole [`Dataset`] with the proposed current grids, buildings, people, leaders
//! and teams. [`validate`] lists its problems, each with the codes involved, the geodesic
//! area and the WGS84 region of the problem when it is an area, and a message for a person.
//! Only current grids (`valid_to == None`) take part; areas up to [`TOLERANCE_M2`] are noise.
//!
//! The checks, and what they cost:
//!
//! * The atlas rules ([`check_dataset`]): invalid geometry, duplicate codes and buildings,
//!   parents (unknown, wrong level, code not under the parent, child outside its parent),
//!   same-level overlaps, footprints outside their grid, unknown grids and people, duplicate
//!   leaders. Fast because its exact short-cuts avoid boolean operations for the common cases.
//!   Each violation becomes a problem; for an overlap, a child outside its parent and a
//!   footprint outside its grid, the region is computed afterwards with one boolean operation
//!   for each reported pair only.
//! * [`ProblemKind::Gap`]: for every grid with at least one child, the part of the parent not
//!   covered by the union of its children. One union of the children (i_overlay, through
//!   geo's `unary_union`) and one difference per parent, on all cores. Neighborhoods have no
//!   parent: nothing is checked above them. A gap in a neighborhood is an error (its groups
//!   must tile it); a gap in a building group is a warning, because a group's building grids
//!   are parcels and its streets, lanes and open ground belong to the group itself.
//! * [`ProblemKind::UncoveredBuilding`]: a building with no grid (the whole footprint), or a
//!   footprint not wholly inside its grid (from the rules, region = footprint − grid).
//! * [`ProblemKind::BuildingInTwoGrids`]: a footprint overlapping the interior of a grid of the
//!   deepest level present other than its own grid (and its own grid's descendants). One
//!   R-tree over the bounding boxes of that level; per candidate the rules' exact disjointness
//!   test, a boolean intersection only when it cannot decide.
//! * [`ProblemKind::VacantLeader`] (a warning: territorial fallback answers for a vacant
//!   role): one hash set of the assignments.
//! * [`ProblemKind::DisconnectedGrid`]: a grid whose polygons do not form one region joined by
//!   shared boundary segments of positive length (parts touching at a point are apart). Only
//!   grids of several polygons are looked at; an R-tree over their edges. In valid geometry
//!   parts may touch at points only, so every valid grid of several polygons is disconnected.
//!
//! Invalid geometries are reported once (as [`ProblemKind::InvalidGeometry`]) and left out of
//! every geometric check, as is a parent any of whose children is invalid (its gap would be
//! meaningless). Third-party boolean operations run under
//! [`guarded`](crate::geometry::validity::guarded): if one fails, the problem is reported
//! without area and geometry, saying that the check could not be made. Nothing here panics.

use std::collections::{HashMap, HashSet};

use geo::kernels::Orientation;
use geo::{BooleanOps, Coord, MultiPolygon, unary_union};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde::Serialize;
use serde_json::{Value, json};

use crate::geometry::measure::geodesic_area_m2;
use crate::geometry::validity::{guarded, oriented_rfc7946, validate_multipolygon};
use crate::geometry::{bbox, orient, ring_edges};
use crate::model::{Building, Dataset, Grid, GridLevel, LeaderRole};
use crate::rules::{TOLERANCE_M2, Violation, ViolationKind, check_dataset, overlap_area, par_map};

/// What is wrong. Problems are ordered by kind (in this order), then by codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Two grids of the same level overlap; the region is their intersection.
    Overlap,
    /// Part of a grid is covered by none of its children; the region is that part.
    Gap,
    /// Part of a child grid lies outside its parent; the region is that part.
    OutsideParent,
    /// A building has no grid, or part of its footprint lies outside its grid; the region is
    /// the uncovered part of the footprint.
    UncoveredBuilding,
    /// A footprint overlaps another grid of the deepest level than its own; the region is the
    /// part of the footprint in that other grid. Codes: building, own grid, other grid.
    BuildingInTwoGrids,
    /// A grid with no leader for one or both roles (a warning).
    VacantLeader,
    /// A grid that is not one connected region; the region is every part but the largest.
    DisconnectedGrid,
    InvalidGeometry,
    DuplicateCode,
    DuplicateBuilding,
    UnknownParent,
    WrongParentLevel,
    CodeNotUnderParent,
    /// A building, leader assignment or service team names a grid that is not current.
    UnknownGrid,
    /// A leader assignment names a person who does not exist.
    UnknownPerson,
    /// The same role assigned twice for one grid.
    DuplicateLeader,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        use ProblemKind::*;
        match self {
            Overlap => "overlap",
            Gap => "gap",
            OutsideParent => "outside_parent",
            UncoveredBuilding => "uncovered_building",
            BuildingInTwoGrids => "building_in_two_grids",
            VacantLeader => "vacant_leader",
            DisconnectedGrid => "disconnected_grid",
            InvalidGeometry => "invalid_geometry",
            DuplicateCode => "duplicate_code",
            DuplicateBuilding => "duplicate_building",
            UnknownParent => "unknown_parent",
            WrongParentLevel => "wrong_parent_level",
            CodeNotUnderParent => "code_not_under_parent",
            UnknownGrid => "unknown_grid",
            UnknownPerson => "unknown_person",
            DuplicateLeader => "duplicate_leader",
        }
    }

    /// [`Severity::Warning`] for a vacant leader role (territorial fallback covers it),
    /// [`Severity::Error`] for everything else.
    pub fn severity(self) -> Severity {
        match self {
            ProblemKind::VacantLeader => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ViolationKind> for ProblemKind {
    fn from(k: ViolationKind) -> Self {
        use ProblemKind as P;
        match k {
            ViolationKind::InvalidGeometry => P::InvalidGeometry,
            ViolationKind::DuplicateCode => P::DuplicateCode,
            ViolationKind::DuplicateBuilding => P::DuplicateBuilding,
            ViolationKind::UnknownParent => P::UnknownParent,
            ViolationKind::WrongParentLevel => P::WrongParentLevel,
            ViolationKind::CodeNotUnderParent => P::CodeNotUnderParent,
            ViolationKind::OutsideParent => P::OutsideParent,
            ViolationKind::Overlap => P::Overlap,
            ViolationKind::BuildingOutsideGrid => P::UncoveredBuilding,
            ViolationKind::UnknownGrid => P::UnknownGrid,
            ViolationKind::UnknownPerson => P::UnknownPerson,
            ViolationKind::DuplicateLeader => P::DuplicateLeader,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The plan must not be published with it.
    Error,
    /// Worth a look; does not block publishing.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One problem of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanProblem {
    pub kind: ProblemKind,
    pub severity: Severity,
    /// Grid codes and building ids involved, sorted; for
    /// [`ProblemKind::BuildingInTwoGrids`] in the order building, own grid, other grid.
    pub codes: Vec<String>,
    /// Geodesic m² of the problem region when it is an area (`None` when it is not, or when
    /// the geometry operation failed).
    pub area_m2: Option<f64>,
    /// WGS84 region of the problem; `None` for non-spatial problems.
    pub geometry: Option<MultiPolygon<f64>>,
    /// Names the features and the defect, for a person.
    pub message: String,
}

/// Every problem of a plan, by kind, then codes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub problems: Vec<PlanProblem>,
}

impl Report {
    /// No error-severity problem: the plan may be published.
    pub fn ok(&self) -> bool {
        self.errors() == 0
    }

    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    fn count(&self, s: Severity) -> usize {
        self.problems.iter().filter(|p| p.severity == s).count()
    }
}

/// JSON form of a problem for the HTTP API: `kind`, `severity`, `codes`, `area_m2` (number or
/// null), `message`, and `geometry`, an RFC 7946 geometry (exterior rings counter-clockwise)
/// or null.
pub fn problem_json(p: &PlanProblem) -> Value {
    let geometry = p
        .geometry
        .as_ref()
        .and_then(|mp| {
            serde_json::to_value(geojson::GeometryValue::from(&oriented_rfc7946(mp))).ok()
        })
        .unwrap_or(Value::Null);
    json!({
        "kind": p.kind.as_str(),
        "severity": p.severity.as_str(),
        "codes": p.codes,
        "area_m2": p.area_m2.filter(|a| a.is_finite()),
        "message": p.message,
        "geometry": geometry,
    })
}

/// Lists every problem of the plan `ds`. Deterministic: the same dataset gives the same
/// report, whatever the order of its grids, buildings and assignments (when codes and building
/// ids are unique; with duplicates, the first current grid with a code stands for it, as in
/// [`check_dataset`]).
pub fn validate(ds: &Dataset) -> Report {
    let violations = check_dataset(ds);
    let plan = Plan::new(ds);
    let mut problems = from_violations(&plan, violations);
    problems.extend(gaps(&plan));
    problems.extend(building_problems(&plan));
    problems.extend(vacant_leaders(&plan));
    problems.extend(disconnected(&plan));
    problems.sort_by(|a, b| {
        a.kind
            .cmp(&b.kind)
            .then_with(|| a.codes.cmp(&b.codes))
            .then_with(|| a.message.cmp(&b.message))
            .then_with(|| {
                let area = |p: &PlanProblem| p.area_m2.unwrap_or(f64::NEG_INFINITY);
                area(a).total_cmp(&area(b))
            })
    });
    Report { problems }
}

/// The current grids and buildings, with what the checks need to know about them.
struct Plan<'a> {
    ds: &'a Dataset,
    grids: Vec<&'a Grid>,
    /// Bounding box of each current grid whose geometry is valid.
    grid_box: Vec<Option<[f64; 4]>>,
    /// The first current grid with each code (as the rules use it).
    by_code: HashMap<&'a str, usize>,
    /// The first current grid with each code and a valid geometry.
    valid_by_code: HashMap<&'a str, usize>,
    /// Bounding box of each building whose footprint is valid.
    footprint_box: Vec<Option<[f64; 4]>>,
}

impl<'a> Plan<'a> {
    fn new(ds: &'a Dataset) -> Self {
        let grids: Vec<&Grid> = ds.grids.iter().filter(|g| g.valid_to.is_none()).collect();
        let valid_box = |mp: &MultiPolygon<f64>| {
            validate_multipolygon(mp).ok()?;
            bbox(mp)
        };
        let grid_box = par_map(grids.len(), |i| valid_box(&grids[i].geometry));
        let footprint_box = par_map(ds.buildings.len(), |i| {
            valid_box(&ds.buildings[i].footprint)
        });
        let mut by_code = HashMap::with_capacity(grids.len());
        let mut valid_by_code = HashMap::with_capacity(grids.len());
        for (i, g) in grids.iter().enumerate() {
            by_code.entry(g.code.as_str()).or_insert(i);
            if grid_box[i].is_some() {
                valid_by_code.entry(g.code.as_str()).or_insert(i);
            }
        }
        Plan {
            ds,
            grids,
            grid_box,
            by_code,
            valid_by_code,
            footprint_box,
        }
    }

    /// A current grid with this code and a valid geometry.
    fn valid_grid(&self, code: &str) -> Option<&'a Grid> {
        self.valid_by_code.get(code).map(|&i| self.grids[i])
    }

    /// Grid `i` lies below grid `ancestor` in the hierarchy (by parent codes).
    fn is_descendant(&self, i: usize, ancestor: usize) -> bool {
        let mut at = i;
        // Three levels; a few more steps tolerate wrong levels without looping on a cycle.
        for _ in 0..8 {
            let Some(p) = self.grids[at].parent_code.as_deref() else {
                return false;
            };
            match self.by_code.get(p) {
                Some(&j) if j == ancestor => return true,
                Some(&j) => at = j,
                None => return false,
            }
        }
        false
    }
}

fn level_name(level: GridLevel) -> &'static str {
    match level {
        GridLevel::Neighborhood => "neighborhood",
        GridLevel::BuildingGroup => "building-group",
        GridLevel::Building => "building",
    }
}

fn problem(
    kind: ProblemKind,
    codes: Vec<String>,
    area_m2: Option<f64>,
    geometry: Option<MultiPolygon<f64>>,
    message: String,
) -> PlanProblem {
    PlanProblem {
        kind,
        severity: kind.severity(),
        codes,
        area_m2,
        geometry: geometry.filter(|g| !g.0.is_empty()),
        message,
    }
}

/// Sorted, without repeats.
fn sorted_codes(mut codes: Vec<String>) -> Vec<String> {
    codes.sort();
    codes.dedup();
    codes
}

// ---------------------------------------------------------------------------------------------
// The atlas rules.

/// One problem per violation; the region of an overlap, of a child outside its parent and of
/// a footprint outside its grid is computed here, for the reported pairs only.
fn from_violations(plan: &Plan<'_>, violations: Vec<Violation>) -> Vec<PlanProblem> {
    // Which building each "footprint outside its grid" is about: the k-th violation of an
    // (id, grid) pair goes to the k-th building with that id, grid and a valid footprint (ids
    // are unique in a valid plan; duplicates are reported anyway).
    let wanted: HashSet<(&str, &str)> = violations
        .iter()
        .filter(|v| v.kind == ViolationKind::BuildingOutsideGrid)
        .map(|v| (v.subject.as_str(), v.other.as_deref().unwrap_or("")))
        .collect();
    let mut buildings_by_id: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    if !wanted.is_empty() {
        for (i, b) in plan.ds.buildings.iter().enumerate() {
            if let (Some(code), Some(_)) = (b.grid_code.as_deref(), plan.footprint_box[i])
                && wanted.contains(&(b.id.as_str(), code))
            {
                buildings_by_id.entry((&b.id, code)).or_default().push(i);
            }
        }
    }
    let mut taken: HashMap<(&str, &str), usize> = HashMap::new();
    let building_of: Vec<Option<usize>> = violations
        .iter()
        .map(|v| {
            if v.kind != ViolationKind::BuildingOutsideGrid {
                return None;
            }
            let key = (v.subject.as_str(), v.other.as_deref().unwrap_or(""));
            let k = taken.entry(key).or_insert(0);
            let found = buildings_by_id
                .get(&key)
                .and_then(|list| list.get(*k))
                .copied();
            *k += 1;
            found
        })
        .collect();

    par_map(violations.len(), |i| {
        let v = &violations[i];
        let other = v.other.as_deref().unwrap_or("");
        // Regions only where the rules measured an area (the operation did not fail).
        let geometry = v.area_m2.and_then(|_| match v.kind {
            ViolationKind::Overlap => {
                let (a, b) = (plan.valid_grid(&v.subject)?, plan.valid_grid(other)?);
                guarded(|| a.geometry.intersection(&b.geometry))
            }
            ViolationKind::OutsideParent => {
                let (child, parent) = (plan.valid_grid(&v.subject)?, plan.valid_grid(other)?);
                guarded(|| child.geometry.difference(&parent.geometry))
            }
            ViolationKind::BuildingOutsideGrid => {
                let b = &plan.ds.buildings[building_of[i]?];
                let grid = plan.valid_grid(other)?;
                guarded(|| b.footprint.difference(&grid.geometry))
            }
            _ => None,
        });
        let mut codes = vec![v.subject.clone()];
        codes.extend(v.other.clone());
        problem(
            v.kind.into(),
            sorted_codes(codes),
            v.area_m2,
            geometry,
            v.message.clone(),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Gaps.

/// For every grid with children, the part not covered by them.
fn gaps(plan: &Plan<'_>) -> Vec<PlanProblem> {
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, g) in plan.grids.iter().enumerate() {
        if let Some(&p) = g.parent_code.as_deref().and_then(|p| plan.by_code.get(p))
            && p != i
        {
            children.entry(p).or_default().push(i);
        }
    }
    let mut parents: Vec<(usize, Vec<usize>)> = children.into_iter().collect();
    parents.sort_unstable_by_key(|(p, _)| *p);
    // The union's input in code order, so that its output does not depend on the dataset's.
    for (_, kids) in &mut parents {
        kids.sort_by(|&a, &b| plan.grids[a].code.cmp(&plan.grids[b].code));
    }
    par_map(parents.len(), |k| gap_of(plan, parents[k].0, &parents[k].1))
        .into_iter()
        .flatten()
        .collect()
}

fn gap_of(plan: &Plan<'_>, parent: usize, kids: &[usize]) -> Option<PlanProblem> {
    // An invalid parent or child is reported as such; its gap would mean nothing.
    plan.grid_box[parent]?;
    if kids.iter().any(|&c| plan.grid_box[c].is_none()) {
        return None;
    }
    let p = plan.grids[parent];
    let what = format!("{} grid {} ({})", level_name(p.level), p.code, p.name);
    // One orientation for all (unary_union reads the fill rule from the first ring).
    let oriented: Vec<MultiPolygon<f64>> = kids
        .iter()
        .map(|&c| oriented_rfc7946(&plan.grids[c].geometry))
        .collect();
    let codes = vec![p.code.clone()];
    let Some(region) = guarded(|| p.geometry.difference(&unary_union(oriented.iter()))) else {
        return Some(problem(
            ProblemKind::Gap,
            codes,
            None,
            None,
            format!(
                "{what}: could not check that its {} child grid(s) cover it (geometry operation failed)",
                kids.len()
            ),
        ));
    };
    let area = geodesic_area_m2(&region);
    if area.is_nan() || area <= TOLERANCE_M2 {
        return None;
    }
    // Groups must tile their neighborhood; a group's parcels need not tile the group (its
    // streets, lanes and open ground belong to the group itself), so there a gap is a warning.
    let own_ground = p.level == GridLevel::BuildingGroup;
    let mut found = problem(
        ProblemKind::Gap,
        codes,
        Some(area),
        Some(region.clone()),
        format!(
            "{what}: {area:.1} m² in {} region(s) are covered by none of its {} child grid(s){}",
            region.0.len(),
            kids.len(),
            if own_ground {
                " (the group's own ground: streets, lanes, open space)"
            } else {
                ""
            }
        ),
    );
    if own_ground {
        found.severity = Severity::Warning;
    }
    Some(found)
}

// ---------------------------------------------------------------------------------------------
// Buildings.

/// Buildings with no grid, and footprints overlapping a second grid of the deepest level.
fn building_problems(plan: &Plan<'_>) -> Vec<PlanProblem> {
    let deepest = (0..plan.grids.len())
        .filter(|&i| plan.grid_box[i].is_some())
        .map(|i| plan.grids[i].level)
        .max();
    let entries: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = (0..plan.grids.len())
        .filter(|&i| Some(plan.grids[i].level) == deepest)
        .filter_map(|i| {
            plan.grid_box[i]
                .map(|b| GeomWithData::new(Rectangle::from_corners([b[0], b[1]], [b[2], b[3]]), i))
        })
        .collect();
    let tree = RTree::bulk_load(entries);
    let buildings = &plan.ds.buildings;
    par_map(buildings.len(), |i| {
        let Some(fb) = plan.footprint_box[i] else {
            return Vec::new();
        };
        let b = &buildings[i];
        match b.grid_code.as_deref() {
            None => vec![unassigned(plan, &tree, b, &fb)],
            Some(code) => match plan.by_code.get(code) {
                Some(&own) => in_other_grids(plan, &tree, b, &fb, own),
                // Reported by the rules as an unknown grid.
                None => Vec::new(),
            },
        }
    })
    .into_iter()
    .flatten()
    .collect()
}

type GridTree = RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>;

/// Grids of the tree (other than `skip`) whose interior the footprint overlaps by more than
/// the tolerance, with the area (`None` when the operation failed).
fn overlapped_grids(
    plan: &Plan<'_>,
    tree: &GridTree,
    b: &Building,
    fb: &[f64; 4],
    skip: impl Fn(usize) -> bool,
) -> Vec<(usize, Option<f64>)> {
    let mut candidates: Vec<usize> = tree
        .locate_in_envelope_intersecting(&AABB::from_corners([fb[0], fb[1]], [fb[2], fb[3]]))
        .map(|e| e.data)
        .filter(|&j| !skip(j))
        .collect();
    candidates.sort_unstable();
    candidates
        .into_iter()
        .filter_map(|j| {
            let gb = plan.grid_box[j]?;
            let area = overlap_area(&b.footprint, &plan.grids[j].geometry, fb, &gb);
            area.is_none_or(|a| a > TOLERANCE_M2).then_some((j, area))
        })
        .collect()
}

fn unassigned(plan: &Plan<'_>, tree: &GridTree, b: &Building, fb: &[f64; 4]) -> PlanProblem {
    let area = geodesic_area_m2(&b.footprint);
    let mut lies_in: Vec<&str> = overlapped_grids(plan, tree, b, fb, |_| false)
        .into_iter()
        .map(|(j, _)| plan.grids[j].code.as_str())
        .collect();
    lies_in.sort_unstable();
    let where_ = if lies_in.is_empty() {
        String::new()
    } else {
        format!("; its footprint lies in {}", lies_in.join(", "))
    };
    problem(
        ProblemKind::UncoveredBuilding,
        vec![b.id.clone()],
        Some(area),
        Some(b.footprint.clone()),
        format!(
            "building {} ({}) has no grid: its footprint ({area:.1} m²) is not covered{where_}",
            b.id, b.name
        ),
    )
}

fn in_other_grids(
    plan: &Plan<'_>,
    tree: &GridTree,
    b: &Building,
    fb: &[f64; 4],
    own: usize,
) -> Vec<PlanProblem> {
    let own_code = plan.grids[own].code.as_str();
    let skip = |j: usize| plan.grids[j].code == own_code || plan.is_descendant(j, own);
    overlapped_grids(plan, tree, b, fb, skip)
        .into_iter()
        .map(|(j, area)| {
            let other = plan.grids[j];
            let codes = vec![b.id.clone(), own_code.to_string(), other.code.clone()];
            let geometry = area.and_then(|_| guarded(|| b.footprint.intersection(&other.geometry)));
            let message = match area {
                Some(a) => format!(
                    "building {} ({}) of grid {own_code} reaches {a:.1} m² into {} grid {}",
                    b.id,
                    b.name,
                    level_name(other.level),
                    other.code
                ),
                None => format!(
                    "building {} ({}) of grid {own_code}: could not check whether it reaches into grid {} (geometry operation failed)",
                    b.id, b.name, other.code
                ),
            };
            problem(ProblemKind::BuildingInTwoGrids, codes, area, geometry, message)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Leaders.

/// One warning per current grid with a vacant role.
fn vacant_leaders(plan: &Plan<'_>) -> Vec<PlanProblem> {
    let filled: HashSet<(&str, LeaderRole)> = plan
        .ds
        .leaders
        .iter()
        .map(|l| (l.grid_code.as_str(), l.role))
        .collect();
    let mut out = Vec::new();
    for (i, g) in plan.grids.iter().enumerate() {
        if plan.by_code.get(g.code.as_str()) != Some(&i) {
            continue; // a duplicate code, reported by the rules
        }
        let vacant: Vec<&str> = LeaderRole::ALL
            .iter()
            .filter(|&&r| !filled.contains(&(g.code.as_str(), r)))
            .map(|r| r.as_str())
            .collect();
        if vacant.is_empty() {
            continue;
        }
        let fallback = match g.parent_code.as_deref() {
            Some(p) => format!("the enclosing grid {p} answers for it (territorial fallback)"),
            None => "there is no enclosing grid to fall back to".to_string(),
        };
        out.push(problem(
            ProblemKind::VacantLeader,
            vec![g.code.clone()],
            None,
            None,
            format!(
                "{} grid {} ({}) has no {}; {fallback}",
                level_name(g.level),
                g.code,
                g.name,
                vacant.join(" and no ")
            ),
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Connectedness.

/// Grids of several polygons that are not one connected region.
fn disconnected(plan: &Plan<'_>) -> Vec<PlanProblem> {
    let multi: Vec<usize> = (0..plan.grids.len())
        .filter(|&i| plan.grid_box[i].is_some() && plan.grids[i].geometry.0.len() > 1)
        .collect();
    par_map(multi.len(), |k| {
        let g = plan.grids[multi[k]];
        let parts = &g.geometry.0;
        let component = components(&g.geometry);
        let mut area_of: HashMap<usize, f64> = HashMap::new();
        let areas: Vec<f64> = parts
            .iter()
            .map(|p| geodesic_area_m2(&MultiPolygon::new(vec![p.clone()])))
            .collect();
        for (c, a) in component.iter().zip(&areas) {
            *area_of.entry(*c).or_insert(0.0) += a;
        }
        if area_of.len() < 2 {
            return None;
        }
        // The largest component stays; ties go to the one holding the first polygon.
        let mut ranked: Vec<(usize, f64)> = area_of.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let keep = ranked[0].0;
        let detached = MultiPolygon::new(
            parts
                .iter()
                .zip(&component)
                .filter(|(_, c)| **c != keep)
                .map(|(p, _)| p.clone())
                .collect(),
        );
        let area = geodesic_area_m2(&detached);
        Some(problem(
            ProblemKind::DisconnectedGrid,
            vec![g.code.clone()],
            Some(area),
            Some(detached.clone()),
            format!(
                "{} grid {} ({}) is not one connected region: it has {} separate parts; the {} apart from the largest cover {area:.1} m²",
                level_name(g.level),
                g.code,
                g.name,
                ranked.len(),
                detached.0.len()
            ),
        ))
    })
    .into_iter()
    .flatten()
    .collect()
}

/// For each polygon of `mp`, the id of its connected component (the smallest polygon index
/// in it): polygons are connected when their boundaries share a segment of positive length.
fn components(mp: &MultiPolygon<f64>) -> Vec<usize> {
    // Each edge with the polygon it belongs to.
    type Edge = GeomWithData<Rectangle<[f64; 2]>, (usize, Coord<f64>, Coord<f64>)>;
    let mut edges: Vec<Edge> = Vec::new();
    for (k, p) in mp.0.iter().enumerate() {
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            for (a, b) in ring_edges(&ring.0) {
                if a != b {
                    let r = Rectangle::from_corners([a.x, a.y], [b.x, b.y]);
                    edges.push(GeomWithData::new(r, (k, a, b)));
                }
            }
        }
    }
    let mut parent: Vec<usize> = (0..mp.0.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let tree = RTree::bulk_load(edges);
    for e in tree.iter() {
        let (k, a, b) = e.data;
        let env = AABB::from_corners([a.x.min(b.x), a.y.min(b.y)], [a.x.max(b.x), a.y.max(b.y)]);
        for f in tree.locate_in_envelope_intersecting(&env) {
            let (l, c, d) = f.data;
            if l <= k || find(&mut parent, k) == find(&mut parent, l) {
                continue;
            }
            if share_segment(a, b, c, d) {
                let (rk, rl) = (find(&mut parent, k), find(&mut parent, l));
                let (lo, hi) = (rk.min(rl), rk.max(rl));
                parent[hi] = lo;
            }
        }
    }
    (0..mp.0.len()).map(|k| find(&mut parent, k)).collect()
}

/// The segments `a–b` and `c–d` (each of positive length) overlap along a piece of positive
/// length. Exact: collinearity by robust orientation, then the overlap of the projections on
/// the dominant axis.
fn share_segment(a: Coord<f64>, b: Coord<f64>, c: Coord<f64>, d: Coord<f64>) -> bool {
    if orient(a, b, c) != Orientation::Collinear || orient(a, b, d) != Orientation::Collinear {
        return false;
    }
    let span = |u: f64, v: f64| (u.min(v), u.max(v));
    let along_x = (b.x - a.x).abs() >= (b.y - a.y).abs();
    let ((a0, a1), (c0, c1)) = if along_x {
        (span(a.x, b.x), span(c.x, d.x))
    } else {
        (span(a.y, b.y), span(c.y, d.y))
    };
    a1.min(c1) > a0.max(c0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{U, X0, Y0, building, grid, rect};
    use crate::model::{LeaderAssignment, Person, ServiceTeam};
    use ProblemKind::*;
    use chrono::{TimeZone, Utc};
    use geo::{Contains, LineString, Point, Polygon};
    use proptest::prelude::*;

    fn parts(rects: &[MultiPolygon<f64>]) -> MultiPolygon<f64> {
        MultiPolygon::new(rects.iter().flat_map(|r| r.0.clone()).collect())
    }

    fn m2(mp: &MultiPolygon<f64>) -> f64 {
        geodesic_area_m2(mp)
    }

    /// The problem region holds the point (in test units).
    fn holds(p: &PlanProblem, x: f64, y: f64) -> bool {
        p.geometry
            .as_ref()
            .is_some_and(|g| g.contains(&Point::new(X0 + x * U, Y0 + y * U)))
    }

    fn close(a: Option<f64>, want: f64) -> bool {
        a.is_some_and(|a| (a - want).abs() <= want * 1e-6 + 1e-3)
    }

    /// Two neighborhoods side by side; N1 tiled by two groups, N1G1 tiled by two building
    /// grids with one building each; N2 has one group. Every role of every grid is held.
    fn clean() -> Dataset {
        use GridLevel::*;
        let grids = vec![
            grid("N1", Neighborhood, None, rect(0., 0., 4., 4.)),
            grid("N2", Neighborhood, None, rect(4., 0., 8., 4.)),
            grid("N1G1", BuildingGroup, Some("N1"), rect(0., 0., 2., 4.)),
            grid("N1G2", BuildingGroup, Some("N1"), rect(2., 0., 4., 4.)),
            grid("N2G1", BuildingGroup, Some("N2"), rect(4., 0., 8., 4.)),
            grid("N1G1B1", Building, Some("N1G1"), rect(0., 0., 2., 2.)),
            grid("N1G1B2", Building, Some("N1G1"), rect(0., 2., 2., 4.)),
        ];
        let leaders = grids
            .iter()
            .flat_map(|g| {
                LeaderRole::ALL.map(|role| LeaderAssignment {
                    grid_code: g.code.clone(),
                    role,
                    person_id: match role {
                        LeaderRole::BacConvener => "p1".into(),
                        LeaderRole::PartyWorker => "p2".into(),
                    },
                })
            })
            .collect();
        Dataset {
            grids,
            buildings: vec![
                building("b1", Some("N1G1B1"), rect(0.5, 0.5, 1.5, 1.5)),
                building("b2", Some("N1G1B2"), rect(0.5, 2.5, 1.5, 3.5)),
            ],
            people: ["p1", "p2"]
                .map(|id| Person {
                    id: id.into(),
                    name: format!("person {id}"),
                    contact: Default::default(),
                })
                .to_vec(),
            leaders,
            teams: vec![ServiceTeam {
                id: "t1".into(),
                name: "team one".into(),
                members: vec![],
                grid_codes: vec!["N1".into()],
            }],
        }
    }

    fn set(ds: &mut Dataset, code: &str, mp: MultiPolygon<f64>) {
        for g in ds.grids.iter_mut().filter(|g| g.code == code) {
            g.geometry = mp.clone();
        }
    }

    fn kinds(r: &Report) -> Vec<ProblemKind> {
        r.problems.iter().map(|p| p.kind).collect()
    }

    fn codes(p: &PlanProblem) -> Vec<&str> {
        p.codes.iter().map(String::as_str).collect()
    }

    fn edited(edit: impl FnOnce(&mut Dataset)) -> Report {
        let mut ds = clean();
        edit(&mut ds);
        validate(&ds)
    }

    /// Applies `edit` to the clean dataset and expects exactly one problem, of `kind`.
    fn only(kind: ProblemKind, edit: impl FnOnce(&mut Dataset)) -> PlanProblem {
        let r = edited(edit);
        assert_eq!(kinds(&r), vec![kind], "{r:#?}");
        r.problems.into_iter().next().expect("one problem")
    }

    #[test]
    fn clean_plan_has_no_problem() {
        let r = validate(&clean());
        assert_eq!(r.problems, vec![], "{r:#?}");
        assert!(r.ok());
        assert_eq!((r.errors(), r.warnings()), (0, 0));
        assert!(validate(&Dataset::default()).ok());
    }

    #[test]
    fn gap_in_a_group() {
        let p = only(Gap, |ds| set(ds, "N1G1B2", rect(0., 2., 2., 3.5)));
        assert_eq!(codes(&p), ["N1G1"]);
        // The group's own ground: listed with its region, but not an error.
        assert_eq!(p.severity, Severity::Warning);
        assert!(p.message.contains("own ground"), "{}", p.message);
        assert!(close(p.area_m2, m2(&rect(0., 3.5, 2., 4.))), "{p:?}");
        assert!(holds(&p, 1., 3.75) && !holds(&p, 1., 3.));
        assert!(
            p.message.contains("N1G1") && p.message.contains("covered by none"),
            "{}",
            p.message
        );
    }

    #[test]
    fn gap_in_a_neighborhood_and_none_above_it() {
        // N1G2 loses its east half: N1 is not covered there.
        let p = only(Gap, |ds| set(ds, "N1G2", rect(2., 0., 3., 4.)));
        assert_eq!(codes(&p), ["N1"]);
        assert_eq!(
            p.severity,
            Severity::Error,
            "groups must tile their neighborhood"
        );
        assert!(close(p.area_m2, m2(&rect(3., 0., 4., 4.))), "{p:?}");
        assert!(holds(&p, 3.5, 2.));
        // Neighborhoods have no parent: space between them is no gap. Grids without children
        // (N1G2, N2G1, the building grids) are not checked either.
        let r = edited(|ds| {
            set(ds, "N2", rect(5., 0., 9., 4.));
            set(ds, "N2G1", rect(5., 0., 9., 4.));
        });
        assert_eq!(r.problems, vec![], "{r:#?}");
    }

    #[test]
    fn gap_made_of_several_regions_is_one_problem() {
        let p = only(Gap, |ds| {
            set(ds, "N1G1B1", rect(0., 0.5, 2., 2.));
            set(ds, "N1G1B2", rect(0., 2., 2., 3.5));
        });
        let want = m2(&rect(0., 0., 2., 0.5)) + m2(&rect(0., 3.5, 2., 4.));
        assert!(close(p.area_m2, want), "{p:?}");
        assert_eq!(p.geometry.as_ref().map(|g| g.0.len()), Some(2));
        assert!(holds(&p, 1., 0.25) && holds(&p, 1., 3.75));
        assert!(p.message.contains("2 region(s)"), "{}", p.message);
    }

    #[test]
    fn overlap_with_its_region() {
        let p = only(Overlap, |ds| set(ds, "N1G1B2", rect(0., 1.5, 2., 4.)));
        assert_eq!(codes(&p), ["N1G1B1", "N1G1B2"]);
        assert!(close(p.area_m2, m2(&rect(0., 1.5, 2., 2.))), "{p:?}");
        assert!(holds(&p, 1., 1.75) && !holds(&p, 1., 1.25) && !holds(&p, 1., 2.25));
        assert!(
            p.geometry
                .as_ref()
                .is_some_and(|g| (m2(g) - m2(&rect(0., 1.5, 2., 2.))).abs() < 1.0)
        );
    }

    #[test]
    fn outside_parent_with_its_region() {
        let p = only(OutsideParent, |ds| set(ds, "N1G1B2", rect(0., 2., 2., 4.5)));
        assert_eq!(codes(&p), ["N1G1", "N1G1B2"]);
        assert!(close(p.area_m2, m2(&rect(0., 4., 2., 4.5))), "{p:?}");
        assert!(holds(&p, 1., 4.25) && !holds(&p, 1., 3.75));
    }

    #[test]
    fn footprint_outside_its_grid() {
        // b1 reaches into N1G2, a group without building grids: uncovered, not in two grids.
        let p = only(UncoveredBuilding, |ds| {
            ds.buildings[0].footprint = rect(1.5, 0.5, 2.5, 1.5)
        });
        assert_eq!(codes(&p), ["N1G1B1", "b1"]);
        assert!(close(p.area_m2, m2(&rect(2., 0.5, 2.5, 1.5))), "{p:?}");
        assert!(holds(&p, 2.25, 1.) && !holds(&p, 1.75, 1.));
    }

    #[test]
    fn building_without_grid() {
        let p = only(UncoveredBuilding, |ds| ds.buildings[0].grid_code = None);
        assert_eq!(codes(&p), ["b1"]);
        assert!(close(p.area_m2, m2(&rect(0.5, 0.5, 1.5, 1.5))), "{p:?}");
        assert!(holds(&p, 1., 1.));
        assert!(
            p.message.contains("has no grid") && p.message.contains("lies in N1G1B1"),
            "{}",
            p.message
        );
        // Outside every building grid: the message says nothing about where it lies.
        let p = only(UncoveredBuilding, |ds| {
            ds.buildings
                .push(building("b3", None, rect(5., 1., 6., 2.)))
        });
        assert!(!p.message.contains("lies in"), "{}", p.message);
    }

    #[test]
    fn building_in_two_grids() {
        // b1 straddles the border between N1G1B1 and N1G1B2.
        let r = edited(|ds| ds.buildings[0].footprint = rect(0.5, 1.5, 1.5, 2.5));
        assert_eq!(
            kinds(&r),
            vec![UncoveredBuilding, BuildingInTwoGrids],
            "{r:#?}"
        );
        let (uncovered, two) = (&r.problems[0], &r.problems[1]);
        assert_eq!(codes(uncovered), ["N1G1B1", "b1"]);
        assert_eq!(codes(two), ["b1", "N1G1B1", "N1G1B2"]);
        let half = m2(&rect(0.5, 2., 1.5, 2.5));
        assert!(
            close(two.area_m2, half) && close(uncovered.area_m2, half),
            "{r:#?}"
        );
        assert!(holds(two, 1., 2.25) && !holds(two, 1., 1.75));
        assert!(two.message.contains("reaches"), "{}", two.message);
        // A sliver within the tolerance is no problem: 1e-9° ≈ 0.1 mm over 95 m.
        let r = edited(|ds| ds.buildings[0].footprint = rect(0.5, 1.5, 1.5, 2. + 1e-6));
        assert!(
            !kinds(&r).contains(&BuildingInTwoGrids) && !kinds(&r).contains(&UncoveredBuilding),
            "{r:#?}"
        );
    }

    #[test]
    fn building_of_a_group_is_not_in_two_grids_with_its_own_children() {
        // b1 assigned to the group N1G1 while N1G1 has building grids: its footprint lies in
        // N1G1B1, a child of its own grid, which is no second grid.
        let r = edited(|ds| ds.buildings[0].grid_code = Some("N1G1".into()));
        assert!(!kinds(&r).contains(&BuildingInTwoGrids), "{r:#?}");
    }

    #[test]
    fn vacant_roles_are_warnings() {
        let r = edited(|ds| {
            ds.leaders.retain(|l| {
                !(l.grid_code == "N1G1B1"
                    || (l.grid_code == "N2" && l.role == LeaderRole::PartyWorker))
            })
        });
        assert_eq!(kinds(&r), vec![VacantLeader, VacantLeader], "{r:#?}");
        assert!(r.ok());
        assert_eq!((r.errors(), r.warnings()), (0, 2));
        let (n1g1b1, n2) = (&r.problems[0], &r.problems[1]);
        assert_eq!((codes(n1g1b1), codes(n2)), (vec!["N1G1B1"], vec!["N2"]));
        assert!(n1g1b1.severity == Severity::Warning && n1g1b1.geometry.is_none());
        assert!(
            n1g1b1.message.contains("bac_convener")
                && n1g1b1.message.contains("party_worker")
                && n1g1b1.message.contains("N1G1 answers"),
            "{}",
            n1g1b1.message
        );
        assert!(
            n2.message.contains("party_worker")
                && !n2.message.contains("bac_convener")
                && n2.message.contains("no enclosing grid"),
            "{}",
            n2.message
        );
    }

    #[test]
    fn disconnected_grid() {
        // N1G1B1 gets a detached strip at the top of N1G1; N1G1B2 fills the space between.
        let p = only(DisconnectedGrid, |ds| {
            set(
                ds,
                "N1G1B1",
                parts(&[rect(0., 0., 2., 1.5), rect(0., 3.5, 2., 4.)]),
            );
            set(ds, "N1G1B2", rect(0., 1.5, 2., 3.5));
        });
        assert_eq!(codes(&p), ["N1G1B1"]);
        assert!(close(p.area_m2, m2(&rect(0., 3.5, 2., 4.))), "{p:?}");
        assert!(holds(&p, 1., 3.75) && !holds(&p, 1., 1.));
        assert!(p.message.contains("2 separate parts"), "{}", p.message);
    }

    #[test]
    fn parts_touching_at_a_point_are_disconnected() {
        use GridLevel::*;
        let ds = Dataset {
            grids: vec![grid(
                "A",
                Neighborhood,
                None,
                parts(&[rect(0., 0., 2., 2.), rect(2., 2., 3., 3.)]),
            )],
            ..Default::default()
        };
        let r = validate(&ds);
        let p = r
            .problems
            .iter()
            .find(|p| p.kind == DisconnectedGrid)
            .expect("disconnected");
        assert!(close(p.area_m2, m2(&rect(2., 2., 3., 3.))), "{p:?}");
        assert!(holds(p, 2.5, 2.5) && !holds(p, 1., 1.));
        // An island in a hole of the other part is apart too.
        let ring = |x0, y0, x1, y1| rect(x0, y0, x1, y1).0[0].exterior().clone();
        let donut = Polygon::new(ring(0., 0., 6., 6.), vec![ring(2., 2., 4., 4.)]);
        let island = rect(2.5, 2.5, 3.5, 3.5).0[0].clone();
        let ds = Dataset {
            grids: vec![grid(
                "A",
                Neighborhood,
                None,
                MultiPolygon::new(vec![island, donut]),
            )],
            ..Default::default()
        };
        let r = validate(&ds);
        assert_eq!(kinds(&r), vec![VacantLeader, DisconnectedGrid], "{r:#?}");
        assert!(holds(&r.problems[1], 3., 3.) && !holds(&r.problems[1], 1., 1.));
    }

    #[test]
    fn components_join_parts_sharing_a_segment() {
        // Not valid as one grid (parts may touch at points only), but the definition holds:
        // a shared piece of an edge joins, a shared corner does not.
        let mp = parts(&[
            rect(0., 0., 1., 1.),
            rect(1., 0.5, 2., 2.),  // shares x = 1, y 0.5..1 with the first
            rect(2., 2., 3., 3.),   // touches the second at a corner
            rect(3., 2.5, 4., 2.7), // shares x = 3, y 2.5..2.7 with the third
        ]);
        assert_eq!(components(&mp), vec![0, 0, 2, 2]);
        let c = |x: f64, y: f64| geo::coord! {x: x, y: y};
        assert!(share_segment(c(0., 0.), c(2., 0.), c(1., 0.), c(3., 0.)));
        assert!(share_segment(c(0., 0.), c(0., 2.), c(0., 2.), c(0., 1.)));
        assert!(!share_segment(c(0., 0.), c(1., 0.), c(1., 0.), c(2., 0.)));
        assert!(!share_segment(c(0., 0.), c(2., 0.), c(1., 0.), c(1., 1.)));
        assert!(!share_segment(c(0., 0.), c(2., 2.), c(0., 1.), c(2., 3.)));
    }

    #[test]
    fn rules_become_problems() {
        // Each edit breaks one atlas rule; the violation maps onto the problem kind.
        type Edit = Box<dyn Fn(&mut Dataset)>;
        let cases: Vec<(ProblemKind, Vec<&str>, Edit)> = vec![
            (
                DuplicateBuilding,
                vec!["b1"],
                Box::new(|ds| ds.buildings[1].id = "b1".into()),
            ),
            (
                UnknownParent,
                vec!["N2G1", "N9"],
                Box::new(|ds| ds.grids[4].parent_code = Some("N9".into())),
            ),
            (
                CodeNotUnderParent,
                vec!["N1", "X1G2"],
                Box::new(|ds| {
                    ds.grids[3].code = "X1G2".into();
                    for l in ds.leaders.iter_mut().filter(|l| l.grid_code == "N1G2") {
                        l.grid_code = "X1G2".into();
                    }
                }),
            ),
            (
                UnknownGrid,
                vec!["N7"],
                Box::new(|ds| ds.teams[0].grid_codes.push("N7".into())),
            ),
            (
                UnknownPerson,
                vec!["N2"],
                Box::new(|ds| {
                    if let Some(l) = ds.leaders.iter_mut().find(|l| l.grid_code == "N2") {
                        l.person_id = "p9".into();
                    }
                }),
            ),
            (
                DuplicateLeader,
                vec!["N2"],
                Box::new(|ds| {
                    ds.leaders.push(LeaderAssignment {
                        grid_code: "N2".into(),
                        role: LeaderRole::BacConvener,
                        person_id: "p2".into(),
                    })
                }),
            ),
        ];
        for (kind, want, edit) in cases {
            let p = only(kind, edit);
            assert_eq!(codes(&p), want, "{p:?}");
            assert!(p.geometry.is_none() && p.area_m2.is_none(), "{p:?}");
            assert!(!p.message.is_empty());
        }
        // A building grid directly under a neighborhood: wrong level (and N1 has a child that
        // overlaps its groups).
        let r = edited(|ds| {
            ds.grids.push(grid(
                "N2B1",
                GridLevel::Building,
                Some("N2"),
                rect(5., 1., 6., 2.),
            ));
        });
        assert!(kinds(&r).contains(&WrongParentLevel), "{r:#?}");
    }

    #[test]
    fn invalid_geometry_is_reported_once_and_skipped() {
        // A bow-tie for N1G1B2: invalid. Its parent's gap is not computed (it would be
        // meaningless); its building is not checked against it.
        let bow = MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                (X0, Y0 + 2. * U),
                (X0 + 2. * U, Y0 + 4. * U),
                (X0 + 2. * U, Y0 + 2. * U),
                (X0, Y0 + 4. * U),
                (X0, Y0 + 2. * U),
            ]),
            vec![],
        )]);
        let r = edited(|ds| set(ds, "N1G1B2", bow));
        assert_eq!(kinds(&r), vec![InvalidGeometry], "{r:#?}");
        assert_eq!(codes(&r.problems[0]), ["N1G1B2"]);
        // An invalid footprint.
        let r = edited(|ds| {
            ds.buildings[0].footprint = MultiPolygon::new(vec![]);
            ds.buildings[0].grid_code = None;
        });
        assert_eq!(kinds(&r), vec![InvalidGeometry], "{r:#?}");
    }

    #[test]
    fn superseded_grids_are_history() {
        let r = edited(|ds| {
            let mut old = grid(
                "N1G1B1",
                GridLevel::Building,
                Some("N1G1"),
                rect(0., 0., 3., 3.),
            );
            old.valid_to = Some(
                Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0)
                    .single()
                    .expect("date"),
            );
            ds.grids.push(old);
        });
        assert_eq!(r.problems, vec![]);
    }

    #[test]
    fn order_is_by_kind_then_codes_and_deterministic() {
        let mut ds = clean();
        set(&mut ds, "N1G1B2", rect(0., 1.5, 2., 3.5)); // overlap + gap in N1G1
        set(&mut ds, "N1G2", rect(2., 0., 3., 4.)); // gap in N1
        ds.buildings[1].grid_code = None;
        ds.leaders
            .retain(|l| l.grid_code != "N2G1" && l.grid_code != "N1");
        let r = validate(&ds);
        assert_eq!(
            kinds(&r),
            vec![
                Overlap,
                Gap,
                Gap,
                UncoveredBuilding,
                VacantLeader,
                VacantLeader
            ],
            "{r:#?}"
        );
        assert_eq!(codes(&r.problems[1]), ["N1"]);
        assert_eq!(codes(&r.problems[2]), ["N1G1"]);
        assert_eq!(codes(&r.problems[4]), ["N1"]);
        ds.grids.reverse();
        ds.buildings.reverse();
        ds.leaders.reverse();
        assert_eq!(validate(&ds), r);
    }

    #[test]
    fn json_form() {
        let r = edited(|ds| {
            set(ds, "N1G1B2", rect(0., 1.5, 2., 4.));
            ds.leaders.retain(|l| l.grid_code != "N2");
        });
        let overlap = problem_json(&r.problems[0]);
        assert_eq!(overlap["kind"], "overlap");
        assert_eq!(overlap["severity"], "error");
        assert_eq!(overlap["codes"], json!(["N1G1B1", "N1G1B2"]));
        assert!(overlap["area_m2"].as_f64().is_some_and(|a| a > 1000.0));
        assert!(
            overlap["message"]
                .as_str()
                .is_some_and(|m| m.contains("overlap"))
        );
        let g = &overlap["geometry"];
        assert_eq!(g["type"], "MultiPolygon");
        // RFC 7946: the exterior ring runs counter-clockwise.
        let ring: Vec<Coord<f64>> = g["coordinates"][0][0]
            .as_array()
            .expect("ring")
            .iter()
            .map(|c| geo::coord! {x: c[0].as_f64().unwrap_or(f64::NAN), y: c[1].as_f64().unwrap_or(f64::NAN)})
            .collect();
        assert_eq!(crate::geometry::validity::is_ccw(&ring), Some(true));
        let vacant = problem_json(&r.problems[1]);
        assert_eq!(vacant["kind"], "vacant_leader");
        assert_eq!(vacant["severity"], "warning");
        assert!(vacant["geometry"].is_null() && vacant["area_m2"].is_null());
        // Serde names agree with as_str.
        assert_eq!(
            serde_json::to_value(BuildingInTwoGrids).expect("json"),
            json!("building_in_two_grids")
        );
        assert_eq!(
            serde_json::to_value(Severity::Warning).expect("json"),
            json!("warning")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
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
                let own = (i % 2 == 0).then(|| format!("G{}", parents[i]));
                ds.buildings.push(building(&format!("b{}", i % 3), own.as_deref(), mp));
            }
            let r = validate(&ds);
            for p in &r.problems {
                let _ = problem_json(p);
            }
        }

        /// Valid small grids on a lattice: the reported areas match the regions.
        #[test]
        fn areas_match_regions(
            cells in prop::collection::vec((0i32..4, 0i32..4, 1i32..3, 1i32..3), 1..5),
        ) {
            use GridLevel::*;
            let mut ds = Dataset {
                grids: vec![grid("N1", Neighborhood, None, rect(0., 0., 4., 4.))],
                ..Default::default()
            };
            for (k, (x, y, w, h)) in cells.into_iter().enumerate() {
                let (x, y) = (f64::from(x), f64::from(y));
                let r = rect(x, y, x + f64::from(w), y + f64::from(h));
                ds.grids.push(grid(&format!("N1G{k}"), BuildingGroup, Some("N1"), r));
            }
            for p in validate(&ds).problems {
                if let (Some(a), Some(g)) = (p.area_m2, &p.geometry) {
                    prop_assert!((a - m2(g)).abs() <= 1.0 + a * 1e-6, "{p:?}");
                }
            }
        }
    }
}
