//! A plan's content: the difference between the atlas it was made from and the plan.
//!
//! A plan is a draft atlas. It is stored as [`AtlasChanges`] (what publishing it writes), so
//! every operation on a plan materialises its dataset with [`apply`], changes it, and stores
//! the new difference with [`between`] and [`to_json`]. `apply(base, &between(base, plan))`
//! gives the plan back, in the canonical order of [`normalised`].
//!
//! Only current grids (`valid_to == None`) are compared; grids of the base that are not
//! current are carried over untouched. Buildings themselves (footprints, names, addresses),
//! people and teams are not part of a plan: only which grid a building belongs to, who holds
//! a leader role and which grids a team serves.
//!
//! Stored form ([`to_json`] / [`from_json`]; a list may be left out when empty):
//!
//! ```text
//! { "grids": [{ "code", "name", "name_en"?, "level", "parent_code", "valid_from",
//!               "geometry": GeoJSON MultiPolygon }],
//!   "retired": [code],
//!   "building_grids": [{ "building", "grid": code | null }],
//!   "leaders_ended": [{ "grid", "role" }],
//!   "leaders_begun": [{ "grid", "role", "person" }],
//!   "teams_ended": [{ "team", "grid" }],  "teams_begun": [{ "team", "grid" }] }
//! ```
//!
//! Coordinates are written in full (the shortest decimal that reads back to the same f64, and
//! serde_json's `float_roundtrip` reads them back exactly), so a plan stored and read again is
//! the same plan bit for bit.
//!
//! A city-sized atlas (a million grids) costs a few passes, never a quadratic scan: [`between`]
//! walks both sides sorted by code, id or assignment (sorting what is already sorted is
//! linear), and [`apply`] clones the base once and finds what the changes name by bisection.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use geo::MultiPolygon;
use geojson::GeometryValue;
use serde::{Deserialize, Serialize};

use crate::model::{
    AtlasChanges, Building, Dataset, Grid, GridLevel, LeaderAssignment, LeaderRole, ServiceTeam,
};

/// Why a set of changes does not fit the atlas it is applied to, or cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangesError {
    #[error("the plan retires grid '{0}', which is not a current grid of the atlas")]
    UnknownRetired(String),
    /// The same entry twice (a grid, a retired code, a building, an ended or begun assignment).
    #[error("the plan lists {0} twice")]
    Duplicate(String),
    #[error("the plan both retires grid '{0}' and gives it a new version")]
    RetiredAndChanged(String),
    #[error("the plan moves building '{0}', which the atlas does not have")]
    UnknownBuilding(String),
    #[error("{subject} names grid '{code}', which is not a current grid of the plan")]
    UnknownGrid { subject: String, code: String },
    #[error(
        "the plan ends the {role} leader assignment of grid '{grid}', which the atlas does not have"
    )]
    LeaderNotHeld { grid: String, role: &'static str },
    #[error("the plan gives the {role} role of grid '{grid}' to someone while it is still held")]
    LeaderAlreadyHeld { grid: String, role: &'static str },
    #[error(
        "the plan gives the {role} role of grid '{grid}' to person '{person}', whom the atlas does not have"
    )]
    UnknownPerson {
        grid: String,
        role: &'static str,
        person: String,
    },
    #[error("the plan names service team '{0}', which the atlas does not have")]
    UnknownTeam(String),
    #[error("the plan ends service team '{team}' serving grid '{grid}', which it does not serve")]
    TeamNotServing { team: String, grid: String },
    #[error(
        "the plan has service team '{team}' begin serving grid '{grid}', which it already serves"
    )]
    TeamAlreadyServing { team: String, grid: String },
    #[error("the plan retires grid '{code}' but {by} still names it")]
    RetiredStillReferenced { code: String, by: String },
    #[error("the plan's changes cannot be read: {0}")]
    Json(String),
    #[error("the plan's geometry of grid '{code}' cannot be read: {message}")]
    Geometry { code: String, message: String },
}

// ---------------------------------------------------------------------------------------------
// between

/// What turns `base` into `plan`, in a deterministic order (grids and retired codes by code,
/// buildings by id, leader slots by grid then role, team assignments by team then grid).
pub fn between(base: &Dataset, plan: &Dataset) -> AtlasChanges {
    let (grids, retired) = grid_changes(base, plan);
    let (leaders_ended, leaders_begun) = leader_changes(base, plan);
    let (teams_ended, teams_begun) = team_changes(base, plan);
    AtlasChanges {
        grids,
        retired,
        building_grids: building_changes(base, plan),
        leaders_ended,
        leaders_begun,
        teams_ended,
        teams_begun,
    }
}

/// References to `items` sorted by `key`: nearly linear when they already are (a dataset read
/// in order, or one [`apply`] made), so the walks below cost no hashing at all.
pub(super) fn sorted_by<'a, T, K: Ord>(
    items: impl Iterator<Item = &'a T>,
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut v: Vec<&T> = items.collect();
    v.sort_by_key(|x| key(x));
    v
}

/// One step of a walk over two sorted lists.
enum Side<'a, T> {
    Before(&'a T),
    After(&'a T),
    Both(&'a T, &'a T),
}

/// Visits two lists sorted by `key` in key order, pairing equal keys.
fn merge_walk<'a, T, K: Ord>(
    before: &[&'a T],
    after: &[&'a T],
    key: impl Fn(&'a T) -> K,
    mut visit: impl FnMut(Side<'a, T>),
) {
    let (mut i, mut j) = (0, 0);
    loop {
        match (before.get(i), after.get(j)) {
            (Some(&a), Some(&b)) => match key(a).cmp(&key(b)) {
                Ordering::Less => {
                    visit(Side::Before(a));
                    i += 1;
                }
                Ordering::Greater => {
                    visit(Side::After(b));
                    j += 1;
                }
                Ordering::Equal => {
                    visit(Side::Both(a, b));
                    i += 1;
                    j += 1;
                }
            },
            (Some(&a), None) => {
                visit(Side::Before(a));
                i += 1;
            }
            (None, Some(&b)) => {
                visit(Side::After(b));
                j += 1;
            }
            (None, None) => break,
        }
    }
}

pub(super) fn current_by_code(ds: &Dataset) -> Vec<&Grid> {
    sorted_by(ds.grids.iter().filter(|g| g.valid_to.is_none()), |g| {
        g.code.as_str()
    })
}

/// The same version of a grid: nothing a publish would record differs.
fn same_version(a: &Grid, b: &Grid) -> bool {
    a.name == b.name
        && a.name_en == b.name_en
        && a.level == b.level
        && a.parent_code == b.parent_code
        && a.geometry == b.geometry
}

fn grid_changes(base: &Dataset, plan: &Dataset) -> (Vec<Grid>, Vec<String>) {
    let (mut changed, mut retired) = (Vec::new(), Vec::new());
    merge_walk(
        &current_by_code(base),
        &current_by_code(plan),
        |g| g.code.as_str(),
        |side| match side {
            Side::Before(g) => retired.push(g.code.clone()),
            Side::After(g) => changed.push(g.clone()),
            Side::Both(a, b) if !same_version(a, b) => changed.push(b.clone()),
            Side::Both(..) => {}
        },
    );
    (changed, retired)
}

fn buildings_by_id(ds: &Dataset) -> Vec<&Building> {
    sorted_by(ds.buildings.iter(), |b| b.id.as_str())
}

fn building_changes(base: &Dataset, plan: &Dataset) -> Vec<(String, Option<String>)> {
    let mut moved = Vec::new();
    // A building on one side only is not something a plan can change.
    let (before, after) = (buildings_by_id(base), buildings_by_id(plan));
    merge_walk(
        &before,
        &after,
        |b| b.id.as_str(),
        |side| {
            if let Side::Both(a, b) = side
                && a.grid_code != b.grid_code
            {
                moved.push((b.id.clone(), b.grid_code.clone()));
            }
        },
    );
    moved
}

fn leader_key(l: &LeaderAssignment) -> (&str, LeaderRole, &str) {
    (l.grid_code.as_str(), l.role, l.person_id.as_str())
}

fn leader_changes(
    base: &Dataset,
    plan: &Dataset,
) -> (Vec<(String, LeaderRole)>, Vec<LeaderAssignment>) {
    let before = sorted_by(base.leaders.iter(), leader_key);
    let after = sorted_by(plan.leaders.iter(), leader_key);
    let (mut ended, mut begun) = (Vec::new(), Vec::new());
    // Walked by slot (grid, role): a slot whose person differs ends and begins again.
    merge_walk(
        &before,
        &after,
        |l| (l.grid_code.as_str(), l.role),
        |side| match side {
            Side::Before(a) => ended.push((a.grid_code.clone(), a.role)),
            Side::After(b) => begun.push(b.clone()),
            Side::Both(a, b) if a.person_id != b.person_id => {
                ended.push((a.grid_code.clone(), a.role));
                begun.push(b.clone());
            }
            Side::Both(..) => {}
        },
    );
    (ended, begun)
}

type TeamGrid = (String, String);

fn assignments(ds: &Dataset) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = ds
        .teams
        .iter()
        .flat_map(|t| t.grid_codes.iter().map(|c| (t.id.as_str(), c.as_str())))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn team_changes(base: &Dataset, plan: &Dataset) -> (Vec<TeamGrid>, Vec<TeamGrid>) {
    let before = assignments(base);
    let after = assignments(plan);
    let (mut ended, mut begun) = (Vec::new(), Vec::new());
    let owned = |&(t, g): &(&str, &str)| (t.to_string(), g.to_string());
    merge_walk(
        &before.iter().collect::<Vec<_>>(),
        &after.iter().collect::<Vec<_>>(),
        |&pair| pair,
        |side| match side {
            Side::Before(a) => ended.push(owned(a)),
            Side::After(b) => begun.push(owned(b)),
            Side::Both(..) => {}
        },
    );
    (ended, begun)
}

// ---------------------------------------------------------------------------------------------
// apply

/// A small set of codes: sorted, searched by bisection (cheaper than hashing every code of a
/// city-sized dataset against a handful of retired ones).
struct CodeSet<'a>(Vec<&'a str>);

impl<'a> CodeSet<'a> {
    fn new(codes: impl Iterator<Item = &'a str>) -> Self {
        let mut v: Vec<&str> = codes.collect();
        v.sort_unstable();
        CodeSet(v)
    }

    fn contains(&self, code: &str) -> bool {
        self.0.binary_search(&code).is_ok()
    }
}

/// Whether `code` is a current grid of `grids`, which are sorted by code.
fn is_current(grids: &[Grid], code: &str) -> bool {
    let start = grids.partition_point(|g| g.code.as_str() < code);
    grids
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take_while(|g| g.code == code)
        .any(|g| g.valid_to.is_none())
}

/// The plan's dataset: `base` with `changes` applied, in the canonical order of
/// [`normalised`] (except people and teams, which keep the base's order). Fails, naming the
/// entry, when the changes do not fit the base: something retired, ended or moved that the
/// base does not have, something begun that it already has, a reference to a grid that is not
/// current in the result, or a retired grid still named by an assignment, building or child.
pub fn apply(base: &Dataset, changes: &AtlasChanges) -> Result<Dataset, ChangesError> {
    let retired = retired_set(changes)?;
    let grids = apply_grids(base, changes, &retired)?;
    check_parents(changes, &grids)?;
    let buildings = apply_buildings(base, changes, &grids)?;
    let leaders = apply_leaders(base, changes, &grids)?;
    let teams = apply_teams(base, changes, &grids)?;
    check_retired_unnamed(&retired, &grids, &buildings, &leaders, &teams)?;
    Ok(Dataset {
        grids,
        buildings,
        people: base.people.clone(),
        leaders,
        teams,
    })
}

fn retired_set(changes: &AtlasChanges) -> Result<CodeSet<'_>, ChangesError> {
    let set = CodeSet::new(changes.retired.iter().map(String::as_str));
    if let Some(w) = set.0.windows(2).find(|w| w[0] == w[1]) {
        return Err(ChangesError::Duplicate(format!("retired grid '{}'", w[0])));
    }
    Ok(set)
}

fn apply_grids(
    base: &Dataset,
    changes: &AtlasChanges,
    retired: &CodeSet,
) -> Result<Vec<Grid>, ChangesError> {
    let replaced = CodeSet::new(changes.grids.iter().map(|g| g.code.as_str()));
    if let Some(w) = replaced.0.windows(2).find(|w| w[0] == w[1]) {
        return Err(ChangesError::Duplicate(format!("grid '{}'", w[0])));
    }
    if let Some(g) = changes.grids.iter().find(|g| retired.contains(&g.code)) {
        return Err(ChangesError::RetiredAndChanged(g.code.clone()));
    }
    let mut found = 0;
    let mut grids: Vec<Grid> = Vec::with_capacity(base.grids.len() + changes.grids.len());
    for g in &base.grids {
        if g.valid_to.is_none() && retired.contains(&g.code) {
            found += 1;
        } else if !(g.valid_to.is_none() && replaced.contains(&g.code)) {
            grids.push(g.clone());
        }
    }
    // The versions in the changes are the plan's current grids, whatever dates they carry.
    grids.extend(changes.grids.iter().map(|g| Grid {
        valid_to: None,
        ..g.clone()
    }));
    // Stable, and nearly linear when the base is already sorted.
    grids.sort_by(|a, b| a.code.cmp(&b.code));
    if found < retired.0.len() {
        let base_codes = current_by_code(base);
        let missing = retired.0.iter().find(|c| {
            base_codes
                .binary_search_by(|g| g.code.as_str().cmp(c))
                .is_err()
        });
        if let Some(code) = missing {
            return Err(ChangesError::UnknownRetired(code.to_string()));
        }
    }
    Ok(grids)
}

/// Every new or changed grid's parent is a current grid of the result.
fn check_parents(changes: &AtlasChanges, grids: &[Grid]) -> Result<(), ChangesError> {
    for g in &changes.grids {
        if let Some(parent) = &g.parent_code
            && !is_current(grids, parent)
        {
            return Err(ChangesError::UnknownGrid {
                subject: format!("the parent of grid '{}'", g.code),
                code: parent.clone(),
            });
        }
    }
    Ok(())
}

fn apply_buildings(
    base: &Dataset,
    changes: &AtlasChanges,
    grids: &[Grid],
) -> Result<Vec<Building>, ChangesError> {
    let mut buildings = base.buildings.clone();
    buildings.sort_by(|a, b| a.id.cmp(&b.id));
    let mut seen: HashSet<&str> = HashSet::with_capacity(changes.building_grids.len());
    for (id, code) in &changes.building_grids {
        let building = buildings
            .binary_search_by(|b| b.id.as_str().cmp(id))
            .ok()
            .and_then(|i| buildings.get_mut(i))
            .ok_or_else(|| ChangesError::UnknownBuilding(id.clone()))?;
        if !seen.insert(id.as_str()) {
            return Err(ChangesError::Duplicate(format!("building '{id}'")));
        }
        if let Some(code) = code
            && !is_current(grids, code)
        {
            return Err(ChangesError::UnknownGrid {
                subject: format!("building '{id}'"),
                code: code.clone(),
            });
        }
        building.grid_code = code.clone();
    }
    Ok(buildings)
}

type Slot<'a> = (&'a str, LeaderRole);

fn slot(l: &LeaderAssignment) -> Slot<'_> {
    (l.grid_code.as_str(), l.role)
}

fn apply_leaders(
    base: &Dataset,
    changes: &AtlasChanges,
    grids: &[Grid],
) -> Result<Vec<LeaderAssignment>, ChangesError> {
    let mut leaders = base.leaders.clone();
    leaders.sort_by(|a, b| slot(a).cmp(&slot(b)));
    let held = |s: Slot| leaders.binary_search_by(|l| slot(l).cmp(&s)).is_ok();
    let mut ended: HashSet<Slot> = HashSet::with_capacity(changes.leaders_ended.len());
    for (grid, role) in &changes.leaders_ended {
        let s = (grid.as_str(), *role);
        if !held(s) {
            return Err(ChangesError::LeaderNotHeld {
                grid: grid.clone(),
                role: role.as_str(),
            });
        }
        if !ended.insert(s) {
            return Err(ChangesError::Duplicate(format!(
                "the end of the {} role of grid '{grid}'",
                role.as_str()
            )));
        }
    }
    let people: HashSet<&str> = if changes.leaders_begun.is_empty() {
        HashSet::new()
    } else {
        base.people.iter().map(|p| p.id.as_str()).collect()
    };
    let mut begun: HashSet<Slot> = HashSet::with_capacity(changes.leaders_begun.len());
    for l in &changes.leaders_begun {
        let (s, role) = (slot(l), l.role.as_str());
        // A begun slot must be free: not held, or held and ended, and begun once.
        if (held(s) && !ended.contains(&s)) || !begun.insert(s) {
            return Err(ChangesError::LeaderAlreadyHeld {
                grid: l.grid_code.clone(),
                role,
            });
        }
        if !is_current(grids, &l.grid_code) {
            return Err(ChangesError::UnknownGrid {
                subject: format!("the {role} leader assignment"),
                code: l.grid_code.clone(),
            });
        }
        if !people.contains(l.person_id.as_str()) {
            return Err(ChangesError::UnknownPerson {
                grid: l.grid_code.clone(),
                role,
                person: l.person_id.clone(),
            });
        }
    }
    if !ended.is_empty() {
        leaders.retain(|l| !ended.contains(&slot(l)));
    }
    leaders.extend(changes.leaders_begun.iter().cloned());
    leaders.sort_by(|a, b| slot(a).cmp(&slot(b)));
    Ok(leaders)
}

fn apply_teams(
    base: &Dataset,
    changes: &AtlasChanges,
    grids: &[Grid],
) -> Result<Vec<ServiceTeam>, ChangesError> {
    let mut teams = base.teams.clone();
    if changes.teams_ended.is_empty() && changes.teams_begun.is_empty() {
        return Ok(teams);
    }
    let index: HashMap<&str, usize> = base
        .teams
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let team_at = |team: &str| {
        index
            .get(team)
            .copied()
            .ok_or_else(|| ChangesError::UnknownTeam(team.to_string()))
    };
    let before: HashSet<(&str, &str)> = assignments(base).into_iter().collect();
    let mut ended: HashSet<(&str, &str)> = HashSet::with_capacity(changes.teams_ended.len());
    for (team, grid) in &changes.teams_ended {
        team_at(team)?;
        let pair = (team.as_str(), grid.as_str());
        if !before.contains(&pair) {
            return Err(ChangesError::TeamNotServing {
                team: team.clone(),
                grid: grid.clone(),
            });
        }
        if !ended.insert(pair) {
            return Err(ChangesError::Duplicate(format!(
                "the end of service team '{team}' serving grid '{grid}'"
            )));
        }
    }
    let mut begun: Vec<(usize, &str)> = Vec::with_capacity(changes.teams_begun.len());
    let mut added: HashSet<(&str, &str)> = HashSet::with_capacity(changes.teams_begun.len());
    for (team, grid) in &changes.teams_begun {
        let at = team_at(team)?;
        let pair = (team.as_str(), grid.as_str());
        if (before.contains(&pair) && !ended.contains(&pair)) || !added.insert(pair) {
            return Err(ChangesError::TeamAlreadyServing {
                team: team.clone(),
                grid: grid.clone(),
            });
        }
        if !is_current(grids, grid) {
            return Err(ChangesError::UnknownGrid {
                subject: format!("service team '{team}'"),
                code: grid.clone(),
            });
        }
        begun.push((at, grid));
    }
    for team in teams.iter_mut() {
        let id = team.id.as_str();
        team.grid_codes
            .retain(|g| !ended.contains(&(id, g.as_str())));
    }
    for (at, grid) in begun {
        if let Some(team) = teams.get_mut(at) {
            team.grid_codes.push(grid.to_string());
        }
    }
    for team in teams.iter_mut() {
        team.grid_codes.sort();
    }
    Ok(teams)
}

/// A retired grid must not stay named by anything current: its assignments end with it, its
/// buildings and children go elsewhere.
fn check_retired_unnamed(
    retired: &CodeSet,
    grids: &[Grid],
    buildings: &[Building],
    leaders: &[LeaderAssignment],
    teams: &[ServiceTeam],
) -> Result<(), ChangesError> {
    let named = |code: &str, by: String| ChangesError::RetiredStillReferenced {
        code: code.to_string(),
        by,
    };
    // Leaders are sorted by grid: look the retired codes up.
    for &code in &retired.0 {
        let at = leaders.partition_point(|l| l.grid_code.as_str() < code);
        if let Some(l) = leaders.get(at).filter(|l| l.grid_code == code) {
            return Err(named(
                code,
                format!("its {} leader assignment", l.role.as_str()),
            ));
        }
    }
    if retired.0.is_empty() {
        return Ok(());
    }
    if let Some((g, p)) = grids
        .iter()
        .filter(|g| g.valid_to.is_none())
        .find_map(|g| Some((g, g.parent_code.as_deref().filter(|p| retired.contains(p))?)))
    {
        return Err(named(p, format!("grid '{}' (as its parent)", g.code)));
    }
    if let Some((b, c)) = buildings
        .iter()
        .find_map(|b| Some((b, b.grid_code.as_deref().filter(|c| retired.contains(c))?)))
    {
        return Err(named(c, format!("building '{}'", b.id)));
    }
    for t in teams {
        if let Some(c) = t.grid_codes.iter().find(|c| retired.contains(c)) {
            return Err(named(c, format!("service team '{}'", t.id)));
        }
    }
    Ok(())
}

/// The canonical order of a dataset: grids by code (then start), buildings and people by id,
/// leader assignments by grid then role (then person), teams by id with their grid codes
/// sorted. Two datasets that hold the same atlas are equal once normalised.
pub fn normalised(mut ds: Dataset) -> Dataset {
    ds.grids
        .sort_by(|a, b| (&a.code, a.valid_from).cmp(&(&b.code, b.valid_from)));
    ds.buildings.sort_by(|a, b| a.id.cmp(&b.id));
    ds.people.sort_by(|a, b| a.id.cmp(&b.id));
    ds.leaders.sort_by(|a, b| {
        (&a.grid_code, a.role, &a.person_id).cmp(&(&b.grid_code, b.role, &b.person_id))
    });
    ds.teams.sort_by(|a, b| a.id.cmp(&b.id));
    for t in &mut ds.teams {
        t.grid_codes.sort();
    }
    ds
}

// ---------------------------------------------------------------------------------------------
// JSON

/// The stored form. Field names are the model's; geometry is a GeoJSON MultiPolygon with
/// every coordinate written in full (shortest representation that reads back to the same
/// f64). `Cow` lets [`to_json`] borrow from the changes and [`from_json`] own what it reads.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangesJson<'a> {
    #[serde(default)]
    grids: Vec<GridJson<'a>>,
    #[serde(default)]
    retired: Vec<Cow<'a, str>>,
    #[serde(default)]
    building_grids: Vec<BuildingGridJson<'a>>,
    #[serde(default)]
    leaders_ended: Vec<SlotJson<'a>>,
    #[serde(default)]
    leaders_begun: Vec<LeaderJson<'a>>,
    #[serde(default)]
    teams_ended: Vec<TeamGridJson<'a>>,
    #[serde(default)]
    teams_begun: Vec<TeamGridJson<'a>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GridJson<'a> {
    code: Cow<'a, str>,
    name: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_en: Option<Cow<'a, str>>,
    level: GridLevel,
    #[serde(default)]
    parent_code: Option<Cow<'a, str>>,
    /// Kept so that the plan reads back exactly; a publish sets its own date.
    valid_from: DateTime<Utc>,
    geometry: geojson::Geometry,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildingGridJson<'a> {
    building: Cow<'a, str>,
    grid: Option<Cow<'a, str>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotJson<'a> {
    grid: Cow<'a, str>,
    role: LeaderRole,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeaderJson<'a> {
    grid: Cow<'a, str>,
    role: LeaderRole,
    person: Cow<'a, str>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamGridJson<'a> {
    team: Cow<'a, str>,
    grid: Cow<'a, str>,
}

fn b(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// The changes as JSON, for the store (the format is in the module documentation).
pub fn to_json(changes: &AtlasChanges) -> String {
    let json = ChangesJson {
        grids: changes.grids.iter().map(grid_json).collect(),
        retired: changes.retired.iter().map(|c| b(c)).collect(),
        building_grids: changes
            .building_grids
            .iter()
            .map(|(building, grid)| BuildingGridJson {
                building: b(building),
                grid: grid.as_deref().map(b),
            })
            .collect(),
        leaders_ended: changes
            .leaders_ended
            .iter()
            .map(|(grid, role)| SlotJson {
                grid: b(grid),
                role: *role,
            })
            .collect(),
        leaders_begun: changes
            .leaders_begun
            .iter()
            .map(|l| LeaderJson {
                grid: b(&l.grid_code),
                role: l.role,
                person: b(&l.person_id),
            })
            .collect(),
        teams_ended: team_grids_json(&changes.teams_ended),
        teams_begun: team_grids_json(&changes.teams_begun),
    };
    // Serialising strings, enums, dates and finite-or-null numbers into a String cannot fail.
    serde_json::to_string(&json).unwrap_or_default()
}

fn grid_json(g: &Grid) -> GridJson<'_> {
    GridJson {
        code: b(&g.code),
        name: b(&g.name),
        name_en: g.name_en.as_deref().map(b),
        level: g.level,
        parent_code: g.parent_code.as_deref().map(b),
        valid_from: g.valid_from,
        geometry: geojson::Geometry::new(GeometryValue::from(&g.geometry)),
    }
}

fn team_grids_json(pairs: &[(String, String)]) -> Vec<TeamGridJson<'_>> {
    pairs
        .iter()
        .map(|(team, grid)| TeamGridJson {
            team: b(team),
            grid: b(grid),
        })
        .collect()
}

/// Reads changes written by [`to_json`]. Geometry is read as stored (a Polygon is accepted
/// as a one-part MultiPolygon); it is not validated again, so a plan always reads back.
pub fn from_json(text: &str) -> Result<AtlasChanges, ChangesError> {
    let json: ChangesJson =
        serde_json::from_str(text).map_err(|e| ChangesError::Json(e.to_string()))?;
    let own = |c: Cow<str>| c.into_owned();
    Ok(AtlasChanges {
        grids: json
            .grids
            .into_iter()
            .map(grid_from_json)
            .collect::<Result<_, _>>()?,
        retired: json.retired.into_iter().map(own).collect(),
        building_grids: json
            .building_grids
            .into_iter()
            .map(|x| (own(x.building), x.grid.map(own)))
            .collect(),
        leaders_ended: json
            .leaders_ended
            .into_iter()
            .map(|x| (own(x.grid), x.role))
            .collect(),
        leaders_begun: json
            .leaders_begun
            .into_iter()
            .map(|x| LeaderAssignment {
                grid_code: own(x.grid),
                role: x.role,
                person_id: own(x.person),
            })
            .collect(),
        teams_ended: json
            .teams_ended
            .into_iter()
            .map(|x| (own(x.team), own(x.grid)))
            .collect(),
        teams_begun: json
            .teams_begun
            .into_iter()
            .map(|x| (own(x.team), own(x.grid)))
            .collect(),
    })
}

fn grid_from_json(g: GridJson) -> Result<Grid, ChangesError> {
    let code = g.code.into_owned();
    let geometry = multipolygon(&g.geometry.value).map_err(|message| ChangesError::Geometry {
        code: code.clone(),
        message,
    })?;
    Ok(Grid {
        code,
        name: g.name.into_owned(),
        name_en: g.name_en.map(Cow::into_owned),
        level: g.level,
        parent_code: g.parent_code.map(Cow::into_owned),
        geometry,
        valid_from: g.valid_from,
        valid_to: None,
    })
}

/// The geojson crate's conversion, after the one check it leaves to us: its conversion indexes
/// the first two numbers of every position.
fn multipolygon(value: &GeometryValue) -> Result<MultiPolygon<f64>, String> {
    let polygons: Vec<&geojson::PolygonType> = match value {
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        other => {
            return Err(format!(
                "a {} where a MultiPolygon is expected",
                other.type_name()
            ));
        }
    };
    let short = polygons
        .iter()
        .flat_map(|p| p.iter())
        .flat_map(|ring| ring.iter())
        .any(|pos| pos.len() < 2);
    if short {
        return Err("a position has fewer than two numbers".into());
    }
    match value {
        GeometryValue::Polygon { .. } => geo::Polygon::try_from(value)
            .map(|p| MultiPolygon::new(vec![p]))
            .map_err(|e| e.to_string()),
        _ => MultiPolygon::try_from(value).map_err(|e| e.to_string()),
    }
}

#[cfg(test)]
pub(crate) mod tests;
