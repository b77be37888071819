//! The edits a planner makes inside a plan: each takes the plan's dataset and returns a new
//! one, or an error that names the problem. Nothing else of the dataset changes.
//!
//! Codes follow the hierarchy (a building group's code is its neighborhood's plus 2 digits, a
//! building grid's is its group's plus 3 digits; a neighborhood's is any string of digits) and
//! a new code is never one in `taken` (current or ever used) nor one the dataset holds, so a
//! retired code is never reused. A grid that changes parent therefore changes code: it is
//! re-coded under its new parent (keeping its last digits when they are free), and so are its
//! descendants; its geometry, names, leaders, service team and buildings go with it.
//!
//! Geometry comes as GeoJSON (Polygon or MultiPolygon) and is checked by the atlas' own rules
//! ([`crate::geometry::validity`]); it is never repaired. Edits do not redraw neighbouring
//! boundaries: after moving a building the planner recomputes the neighborhood
//! ([`super::redraw`]), and [`super::validation`] reports gaps and overlaps meanwhile.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use geo::{BooleanOps, MultiPolygon, unary_union};
use serde::Deserialize;
use serde_json::Value;

use crate::geometry::measure::geodesic_area_m2;
use crate::geometry::validity::{
    GeometryDefect, guarded, multipolygon_from_geojson, oriented_rfc7946, validate_multipolygon,
};
use crate::geometry::{bbox, boxes_intersect};
use crate::model::{Dataset, Grid, GridLevel, LeaderAssignment};

/// The start date a grid new in a plan carries until a publish sets the real one.
pub const PLANNED_FROM: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

/// One edit of a plan, as a planner sends it (`{"op": "rename", "code": …, "name": …}`).
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Edit {
    /// A new boundary for a grid.
    ReplaceGeometry {
        code: String,
        /// GeoJSON Polygon or MultiPolygon (WGS84 lon/lat).
        #[schema(value_type = Object)]
        geometry: Value,
    },
    /// New names; `name_en` replaces the English name (absent: none).
    Rename {
        code: String,
        name: String,
        #[serde(default)]
        name_en: Option<String>,
    },
    /// A new grid, its leader roles vacant.
    Add {
        code: String,
        name: String,
        #[serde(default)]
        name_en: Option<String>,
        /// neighborhood, building_group or building.
        #[schema(value_type = String)]
        level: GridLevel,
        /// Required for building groups and building grids, absent for neighborhoods.
        #[serde(default)]
        parent_code: Option<String>,
        /// GeoJSON Polygon or MultiPolygon (WGS84 lon/lat).
        #[schema(value_type = Object)]
        geometry: Value,
    },
    /// Replaces a grid by two or more parts of the same level and parent. Each child grid and
    /// each building goes to the part that holds the largest share of it; the parts are served
    /// by the split grid's service teams; their leader roles are vacant.
    Split { code: String, parts: Vec<SplitPart> },
    /// Replaces two or more grids of one level and one parent by their union under a new
    /// code. It keeps the leaders of the first listed grid and is served by every team that
    /// served any of them; children and buildings move under it.
    Merge {
        codes: Vec<String>,
        code: String,
        name: String,
    },
    /// Moves a building's building grid under another building group, with a new code. The
    /// boundaries are not redrawn: recompute the neighborhood afterwards.
    MoveBuilding { building: String, group: String },
    /// Retires a grid that has no current child grid and no building.
    Retire { code: String },
}

/// One part of a [`Edit::Split`].
#[derive(Debug, Clone, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitPart {
    pub code: String,
    pub name: String,
    /// GeoJSON Polygon or MultiPolygon (WGS84 lon/lat).
    #[schema(value_type = Object)]
    pub geometry: Value,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("no current grid has the code '{0}'")]
    UnknownGrid(String),
    #[error("no building has the id '{0}'")]
    UnknownBuilding(String),
    #[error("grid '{code}' is a {level} grid, not a {expected} grid")]
    WrongLevel {
        code: String,
        level: GridLevel,
        expected: GridLevel,
    },
    #[error("code '{0}' is already used or was used before (a grid code is never reused)")]
    CodeTaken(String),
    #[error("code '{code}' {reason}")]
    BadCode { code: String, reason: String },
    #[error("grid '{code}': {reason}")]
    BadParent { code: String, reason: String },
    #[error("the name of grid '{0}' is empty")]
    EmptyName(String),
    #[error("the geometry of grid '{code}' is not a GeoJSON geometry object: {message}")]
    NotGeoJson { code: String, message: String },
    #[error("the geometry of grid '{code}' is invalid: {defect}")]
    InvalidGeometry {
        code: String,
        defect: GeometryDefect,
    },
    #[error("grid '{code}' must be split into at least 2 parts, not {parts}")]
    TooFewParts { code: String, parts: usize },
    #[error("a merge needs at least 2 grids, not {0}")]
    TooFewToMerge(usize),
    #[error("'{0}' is named twice in the edit")]
    Repeated(String),
    #[error(
        "grids '{a}' ({level_a}) and '{b}' ({level_b}) are of different levels; only grids of one level can be merged"
    )]
    DifferentLevels {
        a: String,
        level_a: GridLevel,
        b: String,
        level_b: GridLevel,
    },
    #[error(
        "grids '{a}' (in {}) and '{b}' (in {}) have different parents; only grids of one parent can be merged",
        .parent_a.as_deref().unwrap_or("no parent"),
        .parent_b.as_deref().unwrap_or("no parent")
    )]
    DifferentParents {
        a: String,
        parent_a: Option<String>,
        b: String,
        parent_b: Option<String>,
    },
    #[error("merging {codes}: {reason}")]
    Union { codes: String, reason: String },
    #[error("building '{building}' has no building grid to move: {detail}")]
    NoBuildingGrid { building: String, detail: String },
    #[error("building '{building}' is already in building group '{group}'")]
    AlreadyInGroup { building: String, group: String },
    #[error("grid '{code}' still has current child grid(s): {}", .children.join(", "))]
    HasChildren { code: String, children: Vec<String> },
    #[error("grid '{code}' still has building(s): {}", .buildings.join(", "))]
    HasBuildings {
        code: String,
        buildings: Vec<String>,
    },
    #[error("no free code is left under '{0}'")]
    CodesExhausted(String),
}

/// Applies one edit to a plan's dataset. `taken` says whether a code is current or was ever
/// used in the atlas (history included); codes the dataset holds count as taken too.
pub fn apply(
    ds: &Dataset,
    edit: &Edit,
    taken: &dyn Fn(&str) -> bool,
) -> Result<Dataset, EditError> {
    match edit {
        Edit::ReplaceGeometry { code, geometry } => replace_geometry(ds, code, geometry),
        Edit::Rename {
            code,
            name,
            name_en,
        } => rename(ds, code, name, name_en.as_deref()),
        Edit::Add {
            code,
            name,
            name_en,
            level,
            parent_code,
            geometry,
        } => add(
            ds,
            NewGrid {
                code,
                name,
                name_en: name_en.as_deref(),
                level: *level,
                parent_code: parent_code.as_deref(),
                geometry,
            },
            taken,
        ),
        Edit::Split { code, parts } => split(ds, code, parts, taken),
        Edit::Merge { codes, code, name } => merge(ds, codes, code, name, taken),
        Edit::MoveBuilding { building, group } => move_building(ds, building, group, taken),
        Edit::Retire { code } => retire(ds, code),
    }
}

// --- the edits ---------------------------------------------------------------------------

fn replace_geometry(ds: &Dataset, code: &str, geometry: &Value) -> Result<Dataset, EditError> {
    let i = current(ds, code)?;
    let geometry = parse_geometry(code, geometry)?;
    let mut out = ds.clone();
    out.grids[i].geometry = geometry;
    Ok(out)
}

fn rename(
    ds: &Dataset,
    code: &str,
    name: &str,
    name_en: Option<&str>,
) -> Result<Dataset, EditError> {
    let i = current(ds, code)?;
    let name = checked_name(code, name)?;
    let mut out = ds.clone();
    out.grids[i].name = name;
    out.grids[i].name_en = optional_name(name_en);
    Ok(out)
}

struct NewGrid<'a> {
    code: &'a str,
    name: &'a str,
    name_en: Option<&'a str>,
    level: GridLevel,
    parent_code: Option<&'a str>,
    geometry: &'a Value,
}

fn add(ds: &Dataset, new: NewGrid, taken: &dyn Fn(&str) -> bool) -> Result<Dataset, EditError> {
    let parent = new
        .parent_code
        .map(|p| current(ds, p).map(|j| &ds.grids[j]))
        .transpose()?;
    check_code(new.code, new.level, parent)?;
    Codes::new(ds, taken).claim(new.code)?;
    let name = checked_name(new.code, new.name)?;
    let geometry = parse_geometry(new.code, new.geometry)?;
    let mut out = ds.clone();
    out.grids.push(Grid {
        code: new.code.to_string(),
        name,
        name_en: optional_name(new.name_en),
        level: new.level,
        parent_code: new.parent_code.map(str::to_string),
        geometry,
        valid_from: PLANNED_FROM,
        valid_to: None,
    });
    Ok(out)
}

fn split(
    ds: &Dataset,
    code: &str,
    parts: &[SplitPart],
    taken: &dyn Fn(&str) -> bool,
) -> Result<Dataset, EditError> {
    let whole = &ds.grids[current(ds, code)?];
    if parts.len() < 2 {
        return Err(EditError::TooFewParts {
            code: code.to_string(),
            parts: parts.len(),
        });
    }
    let parent = parent_of(ds, whole)?;
    let mut codes = Codes::new(ds, taken);
    let mut new_grids = Vec::with_capacity(parts.len());
    for part in parts {
        check_code(&part.code, whole.level, parent)?;
        codes.claim(&part.code)?;
        new_grids.push(Grid {
            code: part.code.clone(),
            name: checked_name(&part.code, &part.name)?,
            name_en: None,
            level: whole.level,
            parent_code: whole.parent_code.clone(),
            geometry: parse_geometry(&part.code, &part.geometry)?,
            valid_from: PLANNED_FROM,
            valid_to: None,
        });
    }
    let shapes: Vec<&MultiPolygon<f64>> = new_grids.iter().map(|g| &g.geometry).collect();
    let part_code = |shape: &MultiPolygon<f64>| parts[largest_share(shape, &shapes)].code.clone();
    let moves: Vec<(usize, String)> = children(ds, code)
        .into_iter()
        .map(|k| (k, part_code(&ds.grids[k].geometry)))
        .collect();

    let mut out = ds.clone();
    for b in out.buildings.iter_mut() {
        if b.grid_code.as_deref() == Some(code) {
            b.grid_code = Some(part_code(&b.footprint));
        }
    }
    for team in out.teams.iter_mut() {
        if team.grid_codes.iter().any(|c| c == code) {
            team.grid_codes.extend(parts.iter().map(|p| p.code.clone()));
        }
    }
    out.grids.extend(new_grids);
    recode(&mut out, moves, &mut codes)?;
    retire_codes(&mut out, &HashSet::from([code]));
    Ok(out)
}

fn merge(
    ds: &Dataset,
    merged: &[String],
    code: &str,
    name: &str,
    taken: &dyn Fn(&str) -> bool,
) -> Result<Dataset, EditError> {
    let grids = merged_grids(ds, merged)?;
    let first = grids[0];
    let parent = parent_of(ds, first)?;
    check_code(code, first.level, parent)?;
    let mut codes = Codes::new(ds, taken);
    codes.claim(code)?;
    let name = checked_name(code, name)?;
    let geometry = union(&grids)?;

    let gone: HashSet<&str> = merged.iter().map(String::as_str).collect();
    // Children in code order, whatever order the grids were listed in, so that those whose
    // last digits are free keep them predictably.
    let mut kids: Vec<usize> = merged.iter().flat_map(|m| children(ds, m)).collect();
    kids.sort_by(|&a, &b| ds.grids[a].code.cmp(&ds.grids[b].code));
    let moves: Vec<(usize, String)> = kids.into_iter().map(|k| (k, code.to_string())).collect();
    let mut out = ds.clone();
    out.grids.push(Grid {
        code: code.to_string(),
        name,
        name_en: None,
        level: first.level,
        parent_code: first.parent_code.clone(),
        geometry,
        valid_from: PLANNED_FROM,
        valid_to: None,
    });
    let kept: Vec<LeaderAssignment> = ds
        .leaders
        .iter()
        .filter(|l| l.grid_code == first.code)
        .map(|l| LeaderAssignment {
            grid_code: code.to_string(),
            ..l.clone()
        })
        .collect();
    out.leaders.extend(kept);
    for team in out.teams.iter_mut() {
        if team.grid_codes.iter().any(|c| gone.contains(c.as_str())) {
            team.grid_codes.push(code.to_string());
        }
    }
    for b in out.buildings.iter_mut() {
        if b.grid_code.as_deref().is_some_and(|c| gone.contains(c)) {
            b.grid_code = Some(code.to_string());
        }
    }
    recode(&mut out, moves, &mut codes)?;
    retire_codes(&mut out, &gone);
    Ok(out)
}

/// The grids a merge names: at least two, each once, current, of one level and one parent.
fn merged_grids<'a>(ds: &'a Dataset, merged: &[String]) -> Result<Vec<&'a Grid>, EditError> {
    if merged.len() < 2 {
        return Err(EditError::TooFewToMerge(merged.len()));
    }
    let mut seen = HashSet::new();
    let mut grids: Vec<&Grid> = Vec::with_capacity(merged.len());
    for c in merged {
        if !seen.insert(c.as_str()) {
            return Err(EditError::Repeated(c.clone()));
        }
        grids.push(&ds.grids[current(ds, c)?]);
    }
    let first = grids[0];
    for g in &grids[1..] {
        if g.level != first.level {
            return Err(EditError::DifferentLevels {
                a: first.code.clone(),
                level_a: first.level,
                b: g.code.clone(),
                level_b: g.level,
            });
        }
        if g.parent_code != first.parent_code {
            return Err(EditError::DifferentParents {
                a: first.code.clone(),
                parent_a: first.parent_code.clone(),
                b: g.code.clone(),
                parent_b: g.parent_code.clone(),
            });
        }
    }
    Ok(grids)
}

/// The union of the grids' geometries, which must be valid geometry itself.
fn union(grids: &[&Grid]) -> Result<MultiPolygon<f64>, EditError> {
    let codes = grids
        .iter()
        .map(|g| format!("'{}'", g.code))
        .collect::<Vec<_>>()
        .join(", ");
    // One orientation for all: unary_union reads the fill rule from the first ring.
    let oriented: Vec<MultiPolygon<f64>> = grids
        .iter()
        .map(|g| oriented_rfc7946(&g.geometry))
        .collect();
    let geometry = guarded(|| unary_union(oriented.iter())).ok_or_else(|| EditError::Union {
        codes: codes.clone(),
        reason: "the union of their geometries failed".into(),
    })?;
    validate_multipolygon(&geometry).map_err(|defect| EditError::Union {
        codes,
        reason: format!("the union of their geometries is not valid: {defect}"),
    })?;
    Ok(geometry)
}

fn move_building(
    ds: &Dataset,
    building: &str,
    group: &str,
    taken: &dyn Fn(&str) -> bool,
) -> Result<Dataset, EditError> {
    let b = ds
        .buildings
        .iter()
        .find(|b| b.id == building)
        .ok_or_else(|| EditError::UnknownBuilding(building.to_string()))?;
    let no_cell = |detail: String| EditError::NoBuildingGrid {
        building: building.to_string(),
        detail,
    };
    let cell_code = b
        .grid_code
        .as_deref()
        .ok_or_else(|| no_cell("it belongs to no grid".into()))?;
    let cell = current(ds, cell_code)
        .map_err(|_| no_cell(format!("its grid '{cell_code}' is not a current grid")))?;
    let level = ds.grids[cell].level;
    if level != GridLevel::Building {
        return Err(no_cell(format!(
            "it is attached directly to grid '{cell_code}', a {level} grid"
        )));
    }
    expect_level(ds, current(ds, group)?, GridLevel::BuildingGroup)?;
    if ds.grids[cell].parent_code.as_deref() == Some(group) {
        return Err(EditError::AlreadyInGroup {
            building: building.to_string(),
            group: group.to_string(),
        });
    }
    let mut codes = Codes::new(ds, taken);
    let mut out = ds.clone();
    recode(&mut out, vec![(cell, group.to_string())], &mut codes)?;
    Ok(out)
}

fn retire(ds: &Dataset, code: &str) -> Result<Dataset, EditError> {
    current(ds, code)?;
    let kids = children(ds, code);
    if !kids.is_empty() {
        let mut children: Vec<String> = kids.iter().map(|&k| ds.grids[k].code.clone()).collect();
        children.sort();
        return Err(EditError::HasChildren {
            code: code.to_string(),
            children,
        });
    }
    let mut buildings: Vec<String> = ds
        .buildings
        .iter()
        .filter(|b| b.grid_code.as_deref() == Some(code))
        .map(|b| b.id.clone())
        .collect();
    if !buildings.is_empty() {
        buildings.sort();
        return Err(EditError::HasBuildings {
            code: code.to_string(),
            buildings,
        });
    }
    let mut out = ds.clone();
    retire_codes(&mut out, &HashSet::from([code]));
    Ok(out)
}

// --- helpers -----------------------------------------------------------------------------

/// Index of the current grid with this code.
fn current(ds: &Dataset, code: &str) -> Result<usize, EditError> {
    ds.grids
        .iter()
        .position(|g| g.valid_to.is_none() && g.code == code)
        .ok_or_else(|| EditError::UnknownGrid(code.to_string()))
}

fn expect_level(ds: &Dataset, i: usize, expected: GridLevel) -> Result<(), EditError> {
    let g = &ds.grids[i];
    if g.level == expected {
        Ok(())
    } else {
        Err(EditError::WrongLevel {
            code: g.code.clone(),
            level: g.level,
            expected,
        })
    }
}

fn parent_of<'a>(ds: &'a Dataset, g: &Grid) -> Result<Option<&'a Grid>, EditError> {
    g.parent_code
        .as_deref()
        .map(|p| current(ds, p).map(|j| &ds.grids[j]))
        .transpose()
}

/// Indices of the current grids whose parent is `code`, in code order.
fn children(ds: &Dataset, code: &str) -> Vec<usize> {
    let mut kids: Vec<usize> = (0..ds.grids.len())
        .filter(|&k| {
            let g = &ds.grids[k];
            g.valid_to.is_none() && g.parent_code.as_deref() == Some(code)
        })
        .collect();
    kids.sort_by(|&a, &b| ds.grids[a].code.cmp(&ds.grids[b].code));
    kids
}

fn checked_name(code: &str, name: &str) -> Result<String, EditError> {
    let name = name.trim();
    if name.is_empty() {
        Err(EditError::EmptyName(code.to_string()))
    } else {
        Ok(name.to_string())
    }
}

fn optional_name(name: Option<&str>) -> Option<String> {
    name.map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// Digits a code adds to its parent's at this level.
fn suffix_digits(level: GridLevel) -> usize {
    match level {
        GridLevel::Neighborhood => 0,
        GridLevel::BuildingGroup => 2,
        GridLevel::Building => 3,
    }
}

/// The code of a new grid of `level` under `parent` follows the hierarchy.
fn check_code(code: &str, level: GridLevel, parent: Option<&Grid>) -> Result<(), EditError> {
    let bad = |reason: String| EditError::BadCode {
        code: code.to_string(),
        reason,
    };
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "is not a code: a grid code is a non-empty string of digits".into(),
        ));
    }
    let (parent, want) = match (level.parent_level(), parent) {
        (None, None) => return Ok(()),
        (None, Some(_)) => {
            return Err(EditError::BadParent {
                code: code.to_string(),
                reason: "a neighborhood grid has no parent".into(),
            });
        }
        (Some(_), None) => {
            return Err(EditError::BadParent {
                code: code.to_string(),
                reason: format!("a {level} grid needs a parent"),
            });
        }
        (Some(want), Some(parent)) => (parent, want),
    };
    if parent.level != want {
        return Err(EditError::WrongLevel {
            code: parent.code.clone(),
            level: parent.level,
            expected: want,
        });
    }
    let digits = suffix_digits(level);
    match code.strip_prefix(parent.code.as_str()) {
        Some(rest) if rest.len() == digits => Ok(()),
        _ => Err(bad(format!(
            "does not extend its parent's code '{}' by {digits} digits, as a {level} grid's code must",
            parent.code
        ))),
    }
}

/// Reads a GeoJSON Polygon or MultiPolygon and checks it by the atlas' rules.
fn parse_geometry(code: &str, value: &Value) -> Result<MultiPolygon<f64>, EditError> {
    let geometry = geojson::Geometry::deserialize(value).map_err(|e| EditError::NotGeoJson {
        code: code.to_string(),
        message: e.to_string(),
    })?;
    multipolygon_from_geojson(&geometry).map_err(|defect| EditError::InvalidGeometry {
        code: code.to_string(),
        defect,
    })
}

/// Index of the part holding the largest (geodesic) area of `shape`; the first part when
/// none overlaps it (validation then reports it outside its parent).
fn largest_share(shape: &MultiPolygon<f64>, parts: &[&MultiPolygon<f64>]) -> usize {
    let Some(sb) = bbox(shape) else { return 0 };
    let mut best = (0, 0.0);
    for (k, part) in parts.iter().enumerate() {
        if !bbox(part).is_some_and(|pb| boxes_intersect(&sb, &pb)) {
            continue;
        }
        let area = guarded(|| shape.intersection(*part))
            .map(|i| geodesic_area_m2(&i))
            .filter(|a| a.is_finite())
            .unwrap_or(0.0);
        if area > best.1 {
            best = (k, area);
        }
    }
    best.0
}

/// Which codes a new grid may take: not in `taken`, not held by the dataset, not chosen yet.
struct Codes<'a> {
    taken: &'a dyn Fn(&str) -> bool,
    present: HashSet<&'a str>,
    chosen: HashSet<String>,
}

impl<'a> Codes<'a> {
    fn new(ds: &'a Dataset, taken: &'a dyn Fn(&str) -> bool) -> Self {
        Codes {
            taken,
            present: ds.grids.iter().map(|g| g.code.as_str()).collect(),
            chosen: HashSet::new(),
        }
    }

    fn free(&self, code: &str) -> bool {
        !self.present.contains(code) && !self.chosen.contains(code) && !(self.taken)(code)
    }

    /// Takes a code the planner chose.
    fn claim(&mut self, code: &str) -> Result<(), EditError> {
        if self.chosen.contains(code) {
            return Err(EditError::Repeated(code.to_string()));
        }
        if !self.free(code) {
            return Err(EditError::CodeTaken(code.to_string()));
        }
        self.chosen.insert(code.to_string());
        Ok(())
    }

    /// Takes `prefix` + `preferred` when free, else the first free `prefix` + `digits` digits.
    fn next(
        &mut self,
        prefix: &str,
        digits: usize,
        preferred: Option<&str>,
    ) -> Result<String, EditError> {
        let limit = 10usize.pow(digits as u32);
        let code = preferred
            .map(|s| format!("{prefix}{s}"))
            .into_iter()
            .chain((1..limit).map(|n| format!("{prefix}{n:0digits$}")))
            .find(|c| self.free(c))
            .ok_or_else(|| EditError::CodesExhausted(prefix.to_string()))?;
        self.chosen.insert(code.clone());
        Ok(code)
    }
}

/// Moves grids under new parents: each `(grid index, new parent code)` gets a code under its
/// new parent (its own last digits when free), and its descendants follow under the new code.
/// Leader and team assignments and buildings that named an old code name the new one.
fn recode(
    ds: &mut Dataset,
    moves: Vec<(usize, String)>,
    codes: &mut Codes,
) -> Result<(), EditError> {
    if moves.is_empty() {
        return Ok(());
    }
    // Plan every new code first (the children index borrows the grids), then rewrite.
    let mut kids: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, g) in ds.grids.iter().enumerate() {
        if let (None, Some(p)) = (g.valid_to, g.parent_code.as_deref()) {
            kids.entry(p).or_default().push(k);
        }
    }
    let mut plan: Vec<(usize, String, String)> = Vec::new();
    let mut queue: VecDeque<(usize, String)> = moves.into();
    while let Some((i, parent)) = queue.pop_front() {
        let g = &ds.grids[i];
        let digits = suffix_digits(g.level);
        let own_suffix = g
            .parent_code
            .as_deref()
            .and_then(|p| g.code.strip_prefix(p))
            .filter(|s| s.len() == digits && s.bytes().all(|b| b.is_ascii_digit()));
        let code = codes.next(&parent, digits, own_suffix)?;
        let mut under: Vec<usize> = kids.get(g.code.as_str()).cloned().unwrap_or_default();
        under.sort_by(|&a, &b| ds.grids[a].code.cmp(&ds.grids[b].code));
        queue.extend(under.into_iter().map(|k| (k, code.clone())));
        plan.push((i, code, parent));
    }
    drop(kids);
    let mut renamed: HashMap<String, String> = HashMap::with_capacity(plan.len());
    for (i, code, parent) in plan {
        let g = &mut ds.grids[i];
        renamed.insert(std::mem::replace(&mut g.code, code.clone()), code);
        g.parent_code = Some(parent);
    }
    for l in ds.leaders.iter_mut() {
        if let Some(new) = renamed.get(&l.grid_code) {
            l.grid_code = new.clone();
        }
    }
    for team in ds.teams.iter_mut() {
        for c in team.grid_codes.iter_mut() {
            if let Some(new) = renamed.get(c) {
                *c = new.clone();
            }
        }
    }
    for b in ds.buildings.iter_mut() {
        if let Some(new) = b.grid_code.as_ref().and_then(|c| renamed.get(c)) {
            b.grid_code = Some(new.clone());
        }
    }
    Ok(())
}

/// Drops current grids from the plan with their leader and team assignments.
fn retire_codes(ds: &mut Dataset, codes: &HashSet<&str>) {
    ds.grids
        .retain(|g| !(g.valid_to.is_none() && codes.contains(g.code.as_str())));
    ds.leaders.retain(|l| !codes.contains(l.grid_code.as_str()));
    for team in ds.teams.iter_mut() {
        team.grid_codes.retain(|c| !codes.contains(c.as_str()));
    }
}

#[cfg(test)]
mod tests;
