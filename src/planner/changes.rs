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
//! Everything here is linear (hash maps keyed by code, id or assignment) plus a sort of what
//! changed, so a city-sized atlas (a million grids) costs a few passes, not a quadratic scan.

use std::borrow::Cow;
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

fn current_grids(ds: &Dataset) -> HashMap<&str, &Grid> {
    ds.grids
        .iter()
        .filter(|g| g.valid_to.is_none())
        .map(|g| (g.code.as_str(), g))
        .collect()
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
    let before = current_grids(base);
    let after = current_grids(plan);
    // Sort references, then clone only what changed.
    let mut changed: Vec<&Grid> = after
        .values()
        .filter(|g| {
            before
                .get(g.code.as_str())
                .is_none_or(|b| !same_version(b, g))
        })
        .copied()
        .collect();
    changed.sort_unstable_by(|a, b| a.code.cmp(&b.code));
    let mut retired: Vec<String> = before
        .keys()
        .filter(|code| !after.contains_key(*code))
        .map(|code| code.to_string())
        .collect();
    retired.sort_unstable();
    (changed.into_iter().cloned().collect(), retired)
}

fn building_changes(base: &Dataset, plan: &Dataset) -> Vec<(String, Option<String>)> {
    let before: HashMap<&str, Option<&str>> = base
        .buildings
        .iter()
        .map(|b| (b.id.as_str(), b.grid_code.as_deref()))
        .collect();
    // A building on one side only is not something a plan can change.
    let mut moved: Vec<(String, Option<String>)> = plan
        .buildings
        .iter()
        .filter(|b| {
            before
                .get(b.id.as_str())
                .is_some_and(|&was| was != b.grid_code.as_deref())
        })
        .map(|b| (b.id.clone(), b.grid_code.clone()))
        .collect();
    moved.sort_unstable();
    moved
}

type Slot<'a> = (&'a str, LeaderRole);

fn held(ds: &Dataset) -> HashMap<Slot<'_>, &str> {
    ds.leaders
        .iter()
        .map(|l| ((l.grid_code.as_str(), l.role), l.person_id.as_str()))
        .collect()
}

fn leader_changes(
    base: &Dataset,
    plan: &Dataset,
) -> (Vec<(String, LeaderRole)>, Vec<LeaderAssignment>) {
    let before = held(base);
    let after = held(plan);
    let mut ended: Vec<(String, LeaderRole)> = before
        .iter()
        .filter(|(slot, person)| after.get(*slot) != Some(*person))
        .map(|(&(grid, role), _)| (grid.to_string(), role))
        .collect();
    ended.sort_unstable();
    let mut begun: Vec<LeaderAssignment> = after
        .iter()
        .filter(|(slot, person)| before.get(*slot) != Some(*person))
        .map(|(&(grid, role), &person)| LeaderAssignment {
            grid_code: grid.to_string(),
            role,
            person_id: person.to_string(),
        })
        .collect();
    begun.sort_unstable_by(|a, b| (&a.grid_code, a.role).cmp(&(&b.grid_code, b.role)));
    (ended, begun)
}

fn serving(ds: &Dataset) -> HashSet<(&str, &str)> {
    ds.teams
        .iter()
        .flat_map(|t| t.grid_codes.iter().map(|c| (t.id.as_str(), c.as_str())))
        .collect()
}

type TeamGrid = (String, String);

fn team_changes(base: &Dataset, plan: &Dataset) -> (Vec<TeamGrid>, Vec<TeamGrid>) {
    let before = serving(base);
    let after = serving(plan);
    let owned = |set: &HashSet<(&str, &str)>, other: &HashSet<(&str, &str)>| {
        let mut v: Vec<TeamGrid> = set
            .difference(other)
            .map(|&(t, g)| (t.to_string(), g.to_string()))
            .collect();
        v.sort_unstable();
        v
    };
    (owned(&before, &after), owned(&after, &before))
}

// ---------------------------------------------------------------------------------------------
// apply

/// The plan's dataset: `base` with `changes` applied, in the canonical order of
/// [`normalised`] (except people and teams, which keep the base's order). Fails, naming the
/// entry, when the changes do not fit the base: something retired, ended or moved that the
/// base does not have, something begun that it already has, a reference to a grid that is not
/// current in the result, or a retired grid still named by an assignment, building or child.
pub fn apply(base: &Dataset, changes: &AtlasChanges) -> Result<Dataset, ChangesError> {
    let retired = retired_set(base, changes)?;
    let grids = apply_grids(base, changes, &retired)?;
    let codes: HashSet<&str> = grids
        .iter()
        .filter(|g| g.valid_to.is_none())
        .map(|g| g.code.as_str())
        .collect();
    check_parents(changes, &codes)?;
    let buildings = apply_buildings(base, changes, &codes)?;
    let leaders = apply_leaders(base, changes, &codes)?;
    let teams = apply_teams(base, changes, &codes)?;
    check_retired_unnamed(&retired, &grids, &buildings, &leaders, &teams)?;
    drop(codes);
    Ok(Dataset {
        grids,
        buildings,
        people: base.people.clone(),
        leaders,
        teams,
    })
}

fn retired_set<'a>(
    base: &Dataset,
    changes: &'a AtlasChanges,
) -> Result<HashSet<&'a str>, ChangesError> {
    let current = current_grids(base);
    let mut retired = HashSet::with_capacity(changes.retired.len());
    for code in &changes.retired {
        if !current.contains_key(code.as_str()) {
            return Err(ChangesError::UnknownRetired(code.clone()));
        }
        if !retired.insert(code.as_str()) {
            return Err(ChangesError::Duplicate(format!("retired grid '{code}'")));
        }
    }
    Ok(retired)
}

fn apply_grids(
    base: &Dataset,
    changes: &AtlasChanges,
    retired: &HashSet<&str>,
) -> Result<Vec<Grid>, ChangesError> {
    let mut replaced: HashSet<&str> = HashSet::with_capacity(changes.grids.len());
    for g in &changes.grids {
        if retired.contains(g.code.as_str()) {
            return Err(ChangesError::RetiredAndChanged(g.code.clone()));
        }
        if !replaced.insert(g.code.as_str()) {
            return Err(ChangesError::Duplicate(format!("grid '{}'", g.code)));
        }
    }
    let gone = |g: &Grid| {
        g.valid_to.is_none()
            && (retired.contains(g.code.as_str()) || replaced.contains(g.code.as_str()))
    };
    let mut grids: Vec<Grid> = Vec::with_capacity(base.grids.len() + changes.grids.len());
    grids.extend(base.grids.iter().filter(|g| !gone(g)).cloned());
    // The versions in the changes are the plan's current grids, whatever dates they carry.
    grids.extend(changes.grids.iter().map(|g| Grid {
        valid_to: None,
        ..g.clone()
    }));
    // Stable, and nearly linear when the base is already sorted.
    grids.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(grids)
}

/// Every new or changed grid's parent is a current grid of the result.
fn check_parents(changes: &AtlasChanges, codes: &HashSet<&str>) -> Result<(), ChangesError> {
    for g in &changes.grids {
        if let Some(parent) = &g.parent_code
            && !codes.contains(parent.as_str())
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
    codes: &HashSet<&str>,
) -> Result<Vec<Building>, ChangesError> {
    let mut buildings = base.buildings.clone();
    let index: HashMap<&str, usize> = base
        .buildings
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let mut seen: HashSet<&str> = HashSet::with_capacity(changes.building_grids.len());
    for (id, code) in &changes.building_grids {
        let building = index
            .get(id.as_str())
            .and_then(|&i| buildings.get_mut(i))
            .ok_or_else(|| ChangesError::UnknownBuilding(id.clone()))?;
        if !seen.insert(id.as_str()) {
            return Err(ChangesError::Duplicate(format!("building '{id}'")));
        }
        if let Some(code) = code
            && !codes.contains(code.as_str())
        {
            return Err(ChangesError::UnknownGrid {
                subject: format!("building '{id}'"),
                code: code.clone(),
            });
        }
        building.grid_code = code.clone();
    }
    buildings.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(buildings)
}

fn apply_leaders(
    base: &Dataset,
    changes: &AtlasChanges,
    codes: &HashSet<&str>,
) -> Result<Vec<LeaderAssignment>, ChangesError> {
    let before = held(base);
    let mut ended: HashSet<Slot> = HashSet::with_capacity(changes.leaders_ended.len());
    for (grid, role) in &changes.leaders_ended {
        let slot = (grid.as_str(), *role);
        if !before.contains_key(&slot) {
            return Err(ChangesError::LeaderNotHeld {
                grid: grid.clone(),
                role: role.as_str(),
            });
        }
        if !ended.insert(slot) {
            return Err(ChangesError::Duplicate(format!(
                "the end of the {} role of grid '{grid}'",
                role.as_str()
            )));
        }
    }
    let people: HashSet<&str> = base.people.iter().map(|p| p.id.as_str()).collect();
    // Slots held once the ended ones are gone; a begun one must be free.
    let mut occupied: HashSet<Slot> = before
        .keys()
        .filter(|slot| !ended.contains(*slot))
        .copied()
        .collect();
    for l in &changes.leaders_begun {
        let role = l.role.as_str();
        if !occupied.insert((l.grid_code.as_str(), l.role)) {
            return Err(ChangesError::LeaderAlreadyHeld {
                grid: l.grid_code.clone(),
                role,
            });
        }
        if !codes.contains(l.grid_code.as_str()) {
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
    let mut leaders: Vec<LeaderAssignment> = base
        .leaders
        .iter()
        .filter(|l| !ended.contains(&(l.grid_code.as_str(), l.role)))
        .chain(&changes.leaders_begun)
        .cloned()
        .collect();
    leaders.sort_by(|a, b| (&a.grid_code, a.role).cmp(&(&b.grid_code, b.role)));
    Ok(leaders)
}

fn apply_teams(
    base: &Dataset,
    changes: &AtlasChanges,
    codes: &HashSet<&str>,
) -> Result<Vec<ServiceTeam>, ChangesError> {
    let teams: HashSet<&str> = base.teams.iter().map(|t| t.id.as_str()).collect();
    let known = |team: &str| {
        if teams.contains(team) {
            Ok(())
        } else {
            Err(ChangesError::UnknownTeam(team.to_string()))
        }
    };
    let before = serving(base);
    let mut ended: HashSet<(&str, &str)> = HashSet::with_capacity(changes.teams_ended.len());
    for (team, grid) in &changes.teams_ended {
        known(team)?;
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
    let mut begun: HashMap<&str, Vec<String>> = HashMap::new();
    let mut added: HashSet<(&str, &str)> = HashSet::with_capacity(changes.teams_begun.len());
    for (team, grid) in &changes.teams_begun {
        known(team)?;
        let pair = (team.as_str(), grid.as_str());
        if (before.contains(&pair) && !ended.contains(&pair)) || !added.insert(pair) {
            return Err(ChangesError::TeamAlreadyServing {
                team: team.clone(),
                grid: grid.clone(),
            });
        }
        if !codes.contains(grid.as_str()) {
            return Err(ChangesError::UnknownGrid {
                subject: format!("service team '{team}'"),
                code: grid.clone(),
            });
        }
        begun.entry(team.as_str()).or_default().push(grid.clone());
    }
    let mut out = base.teams.clone();
    for team in &mut out {
        let id = team.id.as_str();
        team.grid_codes
            .retain(|g| !ended.contains(&(id, g.as_str())));
        if let Some(new) = begun.remove(id) {
            team.grid_codes.extend(new);
        }
        team.grid_codes.sort();
    }
    Ok(out)
}

/// A retired grid must not stay named by anything current: its assignments end with it, its
/// buildings and children go elsewhere.
fn check_retired_unnamed(
    retired: &HashSet<&str>,
    grids: &[Grid],
    buildings: &[Building],
    leaders: &[LeaderAssignment],
    teams: &[ServiceTeam],
) -> Result<(), ChangesError> {
    if retired.is_empty() {
        return Ok(());
    }
    let named = |code: &str, by: String| ChangesError::RetiredStillReferenced {
        code: code.to_string(),
        by,
    };
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
    if let Some(l) = leaders
        .iter()
        .find(|l| retired.contains(l.grid_code.as_str()))
    {
        return Err(named(
            &l.grid_code,
            format!("its {} leader assignment", l.role.as_str()),
        ));
    }
    for t in teams {
        if let Some(c) = t.grid_codes.iter().find(|c| retired.contains(c.as_str())) {
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

/// The changes as JSON, for the store (see the module documentation for the exact format).
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
mod tests;
