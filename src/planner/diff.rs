//! What a plan changes, for the people concerned: grids added, removed and changed (with the
//! area each changed grid gains and loses), buildings that change building group, and every
//! building whose responsible leaders or service team would change, with its addresses so that
//! the people there can be told.
//!
//! Leaders appear by name and role only: contact details never enter the report.
//!
//! Cost: the plan's changes ([`changes::between`], merge walks over sorted data), then one walk
//! over the buildings in which a building is looked at closely only when its grid changes or
//! its chain holds a grid whose parent, leaders or team changed (compared without allocating;
//! only impacted buildings are written out); boolean operations only for grids whose geometry
//! actually changed.

use std::collections::{HashMap, HashSet};

use geo::{BooleanOps, MultiPolygon};
use serde::Serialize;
use utoipa::ToSchema;

use super::changes;
use crate::geometry::measure::geodesic_area_m2;
use crate::geometry::validity::guarded;
use crate::model::{
    AtlasChanges, Dataset, Grid, GridLevel, LeaderAssignment, LeaderRole, Person, ServiceTeam,
};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DiffReport {
    pub summary: DiffSummary,
    pub grids_added: Vec<GridAdded>,
    pub grids_removed: Vec<GridRemoved>,
    pub grids_changed: Vec<GridChanged>,
    pub buildings_moved: Vec<BuildingMoved>,
    pub impact: Vec<Impact>,
}

/// How many of each; `addresses_impacted` counts distinct addresses of impacted buildings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DiffSummary {
    pub grids_added: usize,
    pub grids_removed: usize,
    pub grids_changed: usize,
    pub buildings_moved: usize,
    pub buildings_impacted: usize,
    pub addresses_impacted: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GridAdded {
    pub code: String,
    #[schema(value_type = String)]
    pub level: GridLevel,
    pub name: String,
    pub parent_code: Option<String>,
    /// Geodesic area, m².
    pub area_m2: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GridRemoved {
    pub code: String,
    #[schema(value_type = String)]
    pub level: GridLevel,
    pub name: String,
    /// Geodesic area, m².
    pub area_m2: f64,
}

/// A grid kept under its code with a new name, parent, level or boundary.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GridChanged {
    pub code: String,
    #[schema(value_type = String)]
    pub level: GridLevel,
    pub name_before: String,
    pub name_after: String,
    pub parent_before: Option<String>,
    pub parent_after: Option<String>,
    pub area_before_m2: f64,
    pub area_after_m2: f64,
    /// Area inside the new boundary and outside the old one (0 when the boundary is the same;
    /// null when the geometry operation failed).
    pub area_gained_m2: Option<f64>,
    /// Area inside the old boundary and outside the new one.
    pub area_lost_m2: Option<f64>,
}

/// A building whose building group changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BuildingMoved {
    pub building: String,
    pub name: String,
    /// Building-group codes before and after.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Building-grid codes before and after.
    pub grid_before: Option<String>,
    pub grid_after: Option<String>,
}

/// A building whose responsible leaders or service team change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Impact {
    pub building: String,
    pub name: String,
    /// Every address of the building, so that the people there can be told.
    pub addresses: Vec<String>,
    pub before: Responsibility,
    pub after: Responsibility,
}

/// Who is responsible for a building.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Responsibility {
    /// The innermost grid (the building's grid).
    pub grid: Option<String>,
    /// Grid codes, innermost first.
    pub chain: Vec<String>,
    /// The leaders of every grid of the chain, innermost grid first; names only.
    pub leaders: Vec<LeaderName>,
    /// The team of the innermost grid of the chain that has one.
    pub team: Option<TeamName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LeaderName {
    pub grid: String,
    #[schema(value_type = String)]
    pub role: LeaderRole,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TeamName {
    pub id: String,
    pub name: String,
}

/// What `plan` changes with respect to `base`.
pub fn report(base: &Dataset, plan: &Dataset) -> DiffReport {
    // The same difference a publish writes: the report and the publish always agree.
    let changes = changes::between(base, plan);
    let before = Atlas::new(base);
    let after = Atlas::new(plan);
    let (grids_added, grids_removed, grids_changed) = grid_diff(&changes, &before);
    let (buildings_moved, impact) = building_diff(base, &before, plan, &after, &changes);
    let addresses: HashSet<&str> = impact
        .iter()
        .flat_map(|i| i.addresses.iter().map(String::as_str))
        .collect();
    DiffReport {
        summary: DiffSummary {
            grids_added: grids_added.len(),
            grids_removed: grids_removed.len(),
            grids_changed: grids_changed.len(),
            buildings_moved: buildings_moved.len(),
            buildings_impacted: impact.len(),
            addresses_impacted: addresses.len(),
        },
        grids_added,
        grids_removed,
        grids_changed,
        buildings_moved,
        impact,
    }
}

// --- grids ---------------------------------------------------------------------------------

fn grid_diff(
    changes: &AtlasChanges,
    before: &Atlas,
) -> (Vec<GridAdded>, Vec<GridRemoved>, Vec<GridChanged>) {
    let (mut added, mut changed) = (Vec::new(), Vec::new());
    for g in &changes.grids {
        match before.grid(&g.code) {
            Some(old) => changed.extend(changed_grid(old, g)),
            None => added.push(GridAdded {
                code: g.code.clone(),
                level: g.level,
                name: g.name.clone(),
                parent_code: g.parent_code.clone(),
                area_m2: geodesic_area_m2(&g.geometry),
            }),
        }
    }
    let removed = changes
        .retired
        .iter()
        .filter_map(|code| before.grid(code))
        .map(|g| GridRemoved {
            code: g.code.clone(),
            level: g.level,
            name: g.name.clone(),
            area_m2: geodesic_area_m2(&g.geometry),
        })
        .collect();
    (added, removed, changed)
}

/// The change of one grid kept under its code; `None` when nothing a publish records differs.
fn changed_grid(old: &Grid, new: &Grid) -> Option<GridChanged> {
    let same_geometry = old.geometry == new.geometry;
    if same_geometry
        && old.name == new.name
        && old.name_en == new.name_en
        && old.level == new.level
        && old.parent_code == new.parent_code
    {
        return None;
    }
    let (gained, lost) = if same_geometry {
        (Some(0.0), Some(0.0))
    } else {
        (
            area_of_difference(&new.geometry, &old.geometry),
            area_of_difference(&old.geometry, &new.geometry),
        )
    };
    Some(GridChanged {
        code: new.code.clone(),
        level: new.level,
        name_before: old.name.clone(),
        name_after: new.name.clone(),
        parent_before: old.parent_code.clone(),
        parent_after: new.parent_code.clone(),
        area_before_m2: geodesic_area_m2(&old.geometry),
        area_after_m2: geodesic_area_m2(&new.geometry),
        area_gained_m2: gained,
        area_lost_m2: lost,
    })
}

/// Geodesic area of `a` minus `b`; `None` when the operation fails.
fn area_of_difference(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> Option<f64> {
    guarded(|| a.difference(b)).map(|d| geodesic_area_m2(&d))
}

// --- buildings -----------------------------------------------------------------------------

/// Grids deeper than this are not followed: a chain has 3 levels, a longer one is a cycle.
const MAX_CHAIN: usize = 8;

/// One side of the diff: current grids, leader assignments, people and team assignments,
/// sorted for bisection. Sorting what is already sorted (a dataset read in order, or one a
/// plan materialised) is linear, and nothing is hashed per grid.
struct Atlas<'a> {
    grids: Vec<&'a Grid>,
    /// By grid, then role, then person.
    leaders: Vec<&'a LeaderAssignment>,
    people: Vec<&'a Person>,
    /// (grid code, team) by grid code, then team id.
    teams: Vec<(&'a str, &'a ServiceTeam)>,
}

impl<'a> Atlas<'a> {
    fn new(ds: &'a Dataset) -> Self {
        let mut teams: Vec<(&str, &ServiceTeam)> = ds
            .teams
            .iter()
            .flat_map(|t| t.grid_codes.iter().map(move |c| (c.as_str(), t)))
            .collect();
        teams.sort_by(|a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
        Atlas {
            grids: changes::current_by_code(ds),
            leaders: changes::sorted_by(ds.leaders.iter(), |l| {
                (l.grid_code.as_str(), l.role, l.person_id.as_str())
            }),
            people: changes::sorted_by(ds.people.iter(), |p| p.id.as_str()),
            teams,
        }
    }

    fn grid(&self, code: &str) -> Option<&'a Grid> {
        let i = self
            .grids
            .binary_search_by(|g| g.code.as_str().cmp(code))
            .ok()?;
        self.grids.get(i).copied()
    }

    /// A person's name; a person the dataset lacks is shown by id, never by anything else.
    fn name(&self, person: &'a str) -> &'a str {
        self.people
            .binary_search_by(|p| p.id.as_str().cmp(person))
            .ok()
            .and_then(|i| self.people.get(i))
            .map_or(person, |p| p.name.as_str())
    }

    /// The current grids from `code` outwards.
    fn chain<'b>(&'b self, code: Option<&'b str>) -> impl Iterator<Item = &'a Grid> + 'b {
        let mut next = code;
        std::iter::from_fn(move || {
            let g = self.grid(next?)?;
            next = g.parent_code.as_deref();
            Some(g)
        })
        .take(MAX_CHAIN)
    }

    /// Leaders of the chain as (grid, role, name), innermost grid first, in role order.
    fn leaders_of<'b>(
        &'b self,
        code: Option<&'b str>,
    ) -> impl Iterator<Item = (&'a str, LeaderRole, &'a str)> + 'b {
        self.chain(code).flat_map(move |g| {
            let code = g.code.as_str();
            let at = self
                .leaders
                .partition_point(|l| l.grid_code.as_str() < code);
            self.leaders
                .get(at..)
                .unwrap_or_default()
                .iter()
                .take_while(move |l| l.grid_code == code)
                .map(move |l| (code, l.role, self.name(&l.person_id)))
        })
    }

    /// The team of the innermost grid of the chain that has one (the smallest id when
    /// several serve it).
    fn team_of(&self, code: Option<&str>) -> Option<&'a ServiceTeam> {
        self.chain(code).find_map(|g| {
            let code = g.code.as_str();
            let at = self.teams.partition_point(|&(c, _)| c < code);
            self.teams
                .get(at)
                .filter(|&&(c, _)| c == code)
                .map(|&(_, t)| t)
        })
    }

    /// The code of the grid of `level` in the chain.
    fn at_level(&self, code: Option<&str>, level: GridLevel) -> Option<&'a str> {
        self.chain(code)
            .find(|g| g.level == level)
            .map(|g| g.code.as_str())
    }

    fn responsibility(&self, code: Option<&str>) -> Responsibility {
        let chain: Vec<String> = self.chain(code).map(|g| g.code.clone()).collect();
        Responsibility {
            grid: chain.first().cloned(),
            chain,
            leaders: self
                .leaders_of(code)
                .map(|(grid, role, name)| LeaderName {
                    grid: grid.to_string(),
                    role,
                    name: name.to_string(),
                })
                .collect(),
            team: self.team_of(code).map(|t| TeamName {
                id: t.id.clone(),
                name: t.name.clone(),
            }),
        }
    }
}

/// Same leaders (grid, role, name) and same team, compared without allocating.
fn same_responsibility(
    before: &Atlas,
    code_before: Option<&str>,
    after: &Atlas,
    code_after: Option<&str>,
) -> bool {
    team_key(before, code_before) == team_key(after, code_after)
        && before
            .leaders_of(code_before)
            .eq(after.leaders_of(code_after))
}

fn team_key<'a>(atlas: &Atlas<'a>, code: Option<&str>) -> Option<(&'a str, &'a str)> {
    atlas
        .team_of(code)
        .map(|t| (t.id.as_str(), t.name.as_str()))
}

/// Codes whose grid, parent, leaders or team changed (or that appear or go): a building whose
/// chain avoids them all, in a grid it keeps, keeps its responsibility.
fn dirty_codes(changes: &AtlasChanges) -> HashSet<&str> {
    let grids = changes.grids.iter().map(|g| g.code.as_str());
    let retired = changes.retired.iter().map(String::as_str);
    let ended = changes.leaders_ended.iter().map(|(g, _)| g.as_str());
    let begun = changes.leaders_begun.iter().map(|l| l.grid_code.as_str());
    let teams = (changes.teams_ended.iter())
        .chain(&changes.teams_begun)
        .map(|(_, g)| g.as_str());
    grids
        .chain(retired)
        .chain(ended)
        .chain(begun)
        .chain(teams)
        .collect()
}

/// No code of the chain from `code` outwards (including a parent code that is not a current
/// grid) is dirty.
fn clean(after: &Atlas, code: Option<&str>, dirty: &HashSet<&str>) -> bool {
    let mut next = code;
    for _ in 0..MAX_CHAIN {
        let Some(c) = next else { return true };
        if dirty.contains(c) {
            return false;
        }
        next = after.grid(c).and_then(|g| g.parent_code.as_deref());
    }
    // A cycle: compare in full.
    false
}

/// A plan cannot change people or teams themselves; if the two sides still differ there, every
/// building is compared in full rather than trusting the dirty codes.
fn same_people_and_teams(base: &Dataset, plan: &Dataset) -> bool {
    let teams = |ds: &Dataset| -> Vec<(String, String)> {
        let mut v: Vec<_> = ds
            .teams
            .iter()
            .map(|t| (t.id.clone(), t.name.clone()))
            .collect();
        v.sort();
        v
    };
    base.people == plan.people && teams(base) == teams(plan)
}

fn building_diff(
    base: &Dataset,
    before: &Atlas,
    plan: &Dataset,
    after: &Atlas,
    changes: &AtlasChanges,
) -> (Vec<BuildingMoved>, Vec<Impact>) {
    let dirty = dirty_codes(changes);
    let compare_all = !same_people_and_teams(base, plan);
    // The base grid of each building the plan moves; every other keeps its grid.
    let moved_ids: HashSet<&str> = changes
        .building_grids
        .iter()
        .map(|(id, _)| id.as_str())
        .collect();
    let was_in: HashMap<&str, Option<&str>> = if moved_ids.is_empty() {
        HashMap::new()
    } else {
        base.buildings
            .iter()
            .filter(|b| moved_ids.contains(b.id.as_str()))
            .map(|b| (b.id.as_str(), b.grid_code.as_deref()))
            .collect()
    };
    let mut moved = Vec::new();
    let mut impact = Vec::new();
    for b in &plan.buildings {
        let is = b.grid_code.as_deref();
        let was = was_in.get(b.id.as_str()).copied().unwrap_or(is);
        if !compare_all && was == is && clean(after, is, &dirty) {
            continue;
        }
        let from = before.at_level(was, GridLevel::BuildingGroup);
        let to = after.at_level(is, GridLevel::BuildingGroup);
        if from != to {
            moved.push(BuildingMoved {
                building: b.id.clone(),
                name: b.name.clone(),
                from: from.map(str::to_string),
                to: to.map(str::to_string),
                grid_before: before
                    .at_level(was, GridLevel::Building)
                    .map(str::to_string),
                grid_after: after.at_level(is, GridLevel::Building).map(str::to_string),
            });
        }
        if !same_responsibility(before, was, after, is) {
            impact.push(Impact {
                building: b.id.clone(),
                name: b.name.clone(),
                addresses: b.addresses.clone(),
                before: before.responsibility(was),
                after: after.responsibility(is),
            });
        }
    }
    moved.sort_by(|a, b| a.building.cmp(&b.building));
    impact.sort_by(|a, b| a.building.cmp(&b.building));
    (moved, impact)
}

#[cfg(test)]
mod tests;
