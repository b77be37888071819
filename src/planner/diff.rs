//! What a plan changes, for the people concerned: grids added, removed and changed (with the
//! area each changed grid gains and loses), buildings that change building group, and every
//! building whose responsible leaders or service team would change, with its addresses so that
//! the people there can be told.
//!
//! Leaders appear by name and role only: contact details never enter the report.
//!
//! Cost: hash maps by code, one walk over the buildings (each building's chain compared
//! without allocating; only impacted buildings are written out), and boolean operations only
//! for grids whose geometry actually changed.

use std::collections::{HashMap, HashSet};

use geo::{BooleanOps, MultiPolygon};
use serde::Serialize;
use utoipa::ToSchema;

use crate::geometry::measure::geodesic_area_m2;
use crate::geometry::validity::guarded;
use crate::model::{Building, Dataset, Grid, GridLevel, LeaderRole, ServiceTeam};

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
    let before = Atlas::new(base);
    let after = Atlas::new(plan);
    let (grids_added, grids_removed, grids_changed) = grid_diff(&before, &after);
    let (buildings_moved, impact) = building_diff(base, &before, plan, &after);
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
    before: &Atlas,
    after: &Atlas,
) -> (Vec<GridAdded>, Vec<GridRemoved>, Vec<GridChanged>) {
    let mut added: Vec<GridAdded> = after
        .grids
        .values()
        .filter(|g| !before.grids.contains_key(g.code.as_str()))
        .map(|g| GridAdded {
            code: g.code.clone(),
            level: g.level,
            name: g.name.clone(),
            parent_code: g.parent_code.clone(),
            area_m2: geodesic_area_m2(&g.geometry),
        })
        .collect();
    added.sort_by(|a, b| a.code.cmp(&b.code));
    let mut removed: Vec<GridRemoved> = before
        .grids
        .values()
        .filter(|g| !after.grids.contains_key(g.code.as_str()))
        .map(|g| GridRemoved {
            code: g.code.clone(),
            level: g.level,
            name: g.name.clone(),
            area_m2: geodesic_area_m2(&g.geometry),
        })
        .collect();
    removed.sort_by(|a, b| a.code.cmp(&b.code));
    let mut changed: Vec<GridChanged> = after
        .grids
        .values()
        .filter_map(|g| {
            let old = before.grids.get(g.code.as_str())?;
            changed_grid(old, g)
        })
        .collect();
    changed.sort_by(|a, b| a.code.cmp(&b.code));
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

/// One side of the diff, indexed by grid code.
struct Atlas<'a> {
    grids: HashMap<&'a str, &'a Grid>,
    /// Leaders of a grid as (role, person's name), in role order.
    leaders: HashMap<&'a str, Vec<(LeaderRole, &'a str)>>,
    /// The team serving a grid (the smallest id when several do).
    team: HashMap<&'a str, &'a ServiceTeam>,
}

impl<'a> Atlas<'a> {
    fn new(ds: &'a Dataset) -> Self {
        let grids: HashMap<&str, &Grid> = ds
            .grids
            .iter()
            .filter(|g| g.valid_to.is_none())
            .map(|g| (g.code.as_str(), g))
            .collect();
        let names: HashMap<&str, &str> = ds
            .people
            .iter()
            .map(|p| (p.id.as_str(), p.name.as_str()))
            .collect();
        let mut leaders: HashMap<&str, Vec<(LeaderRole, &str)>> = HashMap::new();
        for l in &ds.leaders {
            // A person the dataset lacks is shown by id: never by anything else about them.
            let name = names
                .get(l.person_id.as_str())
                .copied()
                .unwrap_or(l.person_id.as_str());
            leaders
                .entry(l.grid_code.as_str())
                .or_default()
                .push((l.role, name));
        }
        for v in leaders.values_mut() {
            v.sort_unstable();
        }
        let mut team: HashMap<&str, &ServiceTeam> = HashMap::new();
        for t in &ds.teams {
            for c in &t.grid_codes {
                let e = team.entry(c.as_str()).or_insert(t);
                if t.id < e.id {
                    *e = t;
                }
            }
        }
        Atlas {
            grids,
            leaders,
            team,
        }
    }

    /// The current grids from `code` outwards.
    fn chain<'b>(&'b self, code: Option<&'b str>) -> impl Iterator<Item = &'a Grid> + 'b {
        let mut next = code;
        std::iter::from_fn(move || {
            let g = *self.grids.get(next?)?;
            next = g.parent_code.as_deref();
            Some(g)
        })
        .take(MAX_CHAIN)
    }

    /// Leaders of the chain as (grid, role, name), innermost grid first.
    fn leaders_of<'b>(
        &'b self,
        code: Option<&'b str>,
    ) -> impl Iterator<Item = (&'a str, LeaderRole, &'a str)> + 'b {
        self.chain(code).flat_map(move |g| {
            self.leaders
                .get(g.code.as_str())
                .into_iter()
                .flatten()
                .map(move |&(role, name)| (g.code.as_str(), role, name))
        })
    }

    fn team_of(&self, code: Option<&str>) -> Option<&'a ServiceTeam> {
        self.chain(code)
            .find_map(|g| self.team.get(g.code.as_str()).copied())
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

fn building_diff(
    base: &Dataset,
    before: &Atlas,
    plan: &Dataset,
    after: &Atlas,
) -> (Vec<BuildingMoved>, Vec<Impact>) {
    let old: HashMap<&str, &Building> = base.buildings.iter().map(|b| (b.id.as_str(), b)).collect();
    let mut moved = Vec::new();
    let mut impact = Vec::new();
    for b in &plan.buildings {
        let was = old.get(b.id.as_str()).and_then(|o| o.grid_code.as_deref());
        let is = b.grid_code.as_deref();
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
