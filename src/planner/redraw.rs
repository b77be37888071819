//! Redrawing one neighborhood of a plan: recompute its building-group and building grids from
//! the buildings' assignments, or rebalance its buildings into K groups and then recompute.
//!
//! Both take the plan's whole dataset (the proposed current atlas) and return a new one; the
//! store turns the difference into versions when the plan is published. Codes follow the
//! hierarchy (a child's code is its parent's code plus two digits for a group, three for a
//! building grid) and a new grid never takes a code in `taken` (current or retired), so a
//! retired code is never reused.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::rebalance::{self, Graph, Node, Params};
use super::recompute::{self, SiteBuilding, Tiling};
use crate::model::{Dataset, Grid, GridLevel, Workload};

/// The largest deviation from the mean weight a rebalanced group should have.
pub const MAX_DEVIATION: f64 = 0.10;

#[derive(Debug, thiserror::Error)]
pub enum RedrawError {
    #[error("no current grid has the code '{0}'")]
    UnknownGrid(String),
    #[error("grid '{0}' is a {1} grid, not a neighborhood grid")]
    NotANeighborhood(String, GridLevel),
    #[error("neighborhood '{0}' holds no building in any of its building groups")]
    NoBuildings(String),
    #[error("no free code is left under '{0}'")]
    CodesExhausted(String),
    #[error("recompute failed: {0}")]
    Recompute(#[from] recompute::RecomputeError),
    #[error("rebalance failed: {0}")]
    Rebalance(#[from] rebalance::RebalanceError),
}

/// Which workload figure a rebalance evens out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Weight {
    Employees,
    Enterprises,
    PartyMembers,
    FloorArea,
}

impl Weight {
    fn of(self, w: &Workload) -> f64 {
        match self {
            Weight::Employees => f64::from(w.employees),
            Weight::Enterprises => f64::from(w.enterprises),
            Weight::PartyMembers => f64::from(w.party_members),
            Weight::FloorArea => w.floor_area_m2,
        }
    }
}

/// One building group after a rebalance.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GroupOutcome {
    pub code: String,
    pub weight: f64,
    /// (weight − mean) / mean.
    pub deviation: f64,
    /// 4πA/P² of the group's region: 1 for a disc, near 0 for a long thin strip.
    pub polsby_popper: f64,
    pub buildings: usize,
    pub moved_in: usize,
    pub moved_out: usize,
    pub contiguous: bool,
}

/// A neighborhood's grids and buildings, indexed for the algorithms.
struct Hood {
    grid: usize,
    /// Current building-group grids under the neighborhood, by code.
    groups: Vec<usize>,
    /// Current building grids under those groups, by code.
    cells: Vec<usize>,
    /// (building index in the dataset, group position, cell position or None).
    buildings: Vec<(usize, usize, Option<usize>)>,
}

fn hood(ds: &Dataset, code: &str) -> Result<Hood, RedrawError> {
    let grid = ds
        .grids
        .iter()
        .position(|g| g.valid_to.is_none() && g.code == code)
        .ok_or_else(|| RedrawError::UnknownGrid(code.to_string()))?;
    if ds.grids[grid].level != GridLevel::Neighborhood {
        return Err(RedrawError::NotANeighborhood(
            code.to_string(),
            ds.grids[grid].level,
        ));
    }
    let children_of = |parent: &str, level: GridLevel| -> Vec<usize> {
        let mut v: Vec<usize> = (0..ds.grids.len())
            .filter(|&i| {
                let g = &ds.grids[i];
                g.valid_to.is_none() && g.level == level && g.parent_code.as_deref() == Some(parent)
            })
            .collect();
        v.sort_by(|&a, &b| ds.grids[a].code.cmp(&ds.grids[b].code));
        v
    };
    let groups = children_of(code, GridLevel::BuildingGroup);
    let mut cells = Vec::new();
    for &g in &groups {
        cells.extend(children_of(&ds.grids[g].code, GridLevel::Building));
    }
    let group_at: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(p, &g)| (ds.grids[g].code.as_str(), p))
        .collect();
    let cell_at: HashMap<&str, (usize, usize)> = cells
        .iter()
        .enumerate()
        .filter_map(|(p, &c)| {
            let parent = ds.grids[c].parent_code.as_deref()?;
            Some((
                ds.grids[c].code.as_str(),
                (group_at.get(parent).copied()?, p),
            ))
        })
        .collect();
    let buildings: Vec<(usize, usize, Option<usize>)> = ds
        .buildings
        .iter()
        .enumerate()
        .filter_map(|(b, building)| {
            let code = building.grid_code.as_deref()?;
            match (cell_at.get(code), group_at.get(code)) {
                (Some(&(group, cell)), _) => Some((b, group, Some(cell))),
                (None, Some(&group)) => Some((b, group, None)),
                (None, None) => None,
            }
        })
        .collect();
    if buildings.is_empty() {
        return Err(RedrawError::NoBuildings(code.to_string()));
    }
    Ok(Hood {
        grid,
        groups,
        cells,
        buildings,
    })
}

/// The partition of the neighborhood for the given group and cell of each building. Buildings
/// held by a group directly (no building grid) get a cell of their own that is not drawn.
fn tile(
    ds: &Dataset,
    h: &Hood,
    assignment: &[(usize, Option<usize>)],
    n_groups: usize,
    n_cells: usize,
) -> Result<Tiling, RedrawError> {
    let mut spare = n_cells;
    let sites: Vec<SiteBuilding> = h
        .buildings
        .iter()
        .zip(assignment)
        .map(|(&(b, _, _), &(group, cell))| SiteBuilding {
            footprint: ds.buildings[b].footprint.clone(),
            group,
            cell: cell.unwrap_or_else(|| {
                spare += 1;
                spare - 1
            }),
        })
        .collect();
    Ok(recompute::recompute(
        &ds.grids[h.grid].geometry,
        &sites,
        n_groups,
        spare,
    )?)
}

/// Replaces the geometry of the neighborhood's groups and cells with the tiling's; grids left
/// without any building are retired (dropped from the plan's current grids).
fn apply_tiling(ds: &mut Dataset, groups: &[usize], cells: &[usize], tiling: &Tiling) {
    let mut retire = Vec::new();
    for (pos, &g) in groups.iter().enumerate() {
        match tiling.groups.get(pos) {
            Some(mp) if !mp.0.is_empty() => ds.grids[g].geometry = mp.clone(),
            _ => retire.push(g),
        }
    }
    for (pos, &c) in cells.iter().enumerate() {
        match tiling.cells.get(pos) {
            Some(mp) if !mp.0.is_empty() => ds.grids[c].geometry = mp.clone(),
            _ => retire.push(c),
        }
    }
    retire_grids(ds, retire);
}

/// Drops grids from the plan, with their leader and team assignments.
fn retire_grids(ds: &mut Dataset, mut retire: Vec<usize>) {
    retire.sort_unstable();
    retire.dedup();
    let codes: Vec<String> = retire.iter().map(|&i| ds.grids[i].code.clone()).collect();
    for &i in retire.iter().rev() {
        ds.grids.remove(i);
    }
    ds.leaders.retain(|l| !codes.contains(&l.grid_code));
    for team in &mut ds.teams {
        team.grid_codes.retain(|c| !codes.contains(c));
    }
}

/// Redraws the neighborhood's building-group and building grids from the buildings'
/// current assignments, so that they tile it exactly.
pub fn recompute_neighborhood(ds: &Dataset, code: &str) -> Result<Dataset, RedrawError> {
    let h = hood(ds, code)?;
    let assignment: Vec<(usize, Option<usize>)> =
        h.buildings.iter().map(|&(_, g, c)| (g, c)).collect();
    let tiling = tile(ds, &h, &assignment, h.groups.len(), h.cells.len())?;
    let mut out = ds.clone();
    apply_tiling(&mut out, &h.groups, &h.cells, &tiling);
    Ok(out)
}

/// The first code `prefix` + `digits` digits that nothing has taken.
fn free_code(
    prefix: &str,
    digits: usize,
    taken: &dyn Fn(&str) -> bool,
) -> Result<String, RedrawError> {
    (1..10u32.pow(digits as u32))
        .map(|n| format!("{prefix}{n:0digits$}"))
        .find(|c| !taken(c))
        .ok_or_else(|| RedrawError::CodesExhausted(prefix.to_string()))
}

/// Splits the neighborhood's buildings into `k` contiguous building groups of balanced
/// `weight`, moving as few buildings as the balance allows, then recomputes the boundaries.
/// `taken` says whether a code is in use or was ever used (history included).
pub fn rebalance_neighborhood(
    ds: &Dataset,
    code: &str,
    k: usize,
    weight: Weight,
    taken: &dyn Fn(&str) -> bool,
) -> Result<(Dataset, Vec<GroupOutcome>), RedrawError> {
    let h = hood(ds, code)?;
    let assignment: Vec<(usize, Option<usize>)> =
        h.buildings.iter().map(|&(_, g, c)| (g, c)).collect();
    let before = tile(ds, &h, &assignment, h.groups.len(), h.cells.len())?;
    let adjacency = recompute::adjacency(&before);
    let graph = Graph {
        nodes: h
            .buildings
            .iter()
            .enumerate()
            .map(|(i, &(b, group, _))| Node {
                weight: weight.of(&ds.buildings[b].workload),
                current_group: Some(group as u32),
                area_m2: adjacency.area_m2.get(i).copied().unwrap_or(0.0),
                perimeter_m: adjacency.perimeter_m.get(i).copied().unwrap_or(0.0),
            })
            .collect(),
        edges: adjacency.edges.clone(),
    };
    let plan = rebalance::rebalance(
        &graph,
        &Params {
            k,
            max_deviation: MAX_DEVIATION,
        },
    )?;

    let mut out = ds.clone();
    let mut new_codes: Vec<String> = Vec::new();
    let is_taken = |c: &str, new: &[String]| taken(c) || new.iter().any(|n| n == c);
    // Labels below the old group count are the old groups; the others are new groups.
    let mut group_code: BTreeMap<u32, String> = BTreeMap::new();
    for &label in &plan.assignment {
        if group_code.contains_key(&label) {
            continue;
        }
        let code = match h.groups.get(label as usize) {
            Some(&g) => ds.grids[g].code.clone(),
            None => {
                let c = free_code(code, 2, &|c| is_taken(c, &new_codes))?;
                new_codes.push(c.clone());
                c
            }
        };
        group_code.insert(label, code);
    }
    let hood_grid = &ds.grids[h.grid];
    for (label, gcode) in &group_code {
        if h.groups.get(*label as usize).is_none() {
            out.grids.push(Grid {
                code: gcode.clone(),
                name: format!("{} 楼宇群网格 {}", hood_grid.name, &gcode[code.len()..]),
                name_en: None,
                level: GridLevel::BuildingGroup,
                parent_code: Some(code.to_string()),
                geometry: hood_grid.geometry.clone(),
                valid_from: hood_grid.valid_from,
                valid_to: None,
            });
        }
    }

    // A building grid whose buildings leave their group moves with them under the new group's
    // code (one grid per old cell and new group); its leaders and team move with it.
    let mut moved_cell: BTreeMap<(usize, u32), String> = BTreeMap::new();
    for (i, &(b, old_group, cell)) in h.buildings.iter().enumerate() {
        let label = plan.assignment[i];
        let Some(cell) = cell else {
            out.buildings[b].grid_code = group_code.get(&label).cloned();
            continue;
        };
        if label as usize == old_group {
            continue;
        }
        let old = &ds.grids[h.cells[cell]];
        let new_code = match moved_cell.get(&(cell, label)) {
            Some(c) => c.clone(),
            None => {
                let parent = group_code.get(&label).cloned().unwrap_or_default();
                let c = free_code(&parent, 3, &|c| is_taken(c, &new_codes))?;
                new_codes.push(c.clone());
                out.grids.push(Grid {
                    code: c.clone(),
                    parent_code: Some(parent),
                    ..old.clone()
                });
                carry_assignments(&mut out, &old.code, &c);
                moved_cell.insert((cell, label), c.clone());
                c
            }
        };
        out.buildings[b].grid_code = Some(new_code);
    }
    // Old cells that lost every building are retired; the recompute below retires groups
    // and cells left empty.
    let kept_cells: Vec<usize> = (0..h.cells.len())
        .filter(|&c| {
            h.buildings
                .iter()
                .zip(&plan.assignment)
                .any(|(&(_, g, cell), &l)| cell == Some(c) && l as usize == g)
        })
        .collect();
    let emptied: Vec<String> = (0..h.cells.len())
        .filter(|c| !kept_cells.contains(c))
        .map(|c| ds.grids[h.cells[c]].code.clone())
        .collect();
    let retire: Vec<usize> = (0..out.grids.len())
        .filter(|&i| out.grids[i].valid_to.is_none() && emptied.contains(&out.grids[i].code))
        .collect();
    retire_grids(&mut out, retire);

    let redrawn = recompute_neighborhood(&out, code)?;
    let outcome = plan
        .groups
        .iter()
        .map(|g| GroupOutcome {
            code: group_code.get(&g.label).cloned().unwrap_or_default(),
            weight: g.weight,
            deviation: g.deviation,
            polsby_popper: g.polsby_popper,
            buildings: g.nodes,
            moved_in: g.moved_in,
            moved_out: g.moved_out,
            contiguous: g.contiguous,
        })
        .collect();
    Ok((redrawn, outcome))
}

/// Leader and team assignments of grid `from` also name grid `to` (the grid moved).
fn carry_assignments(ds: &mut Dataset, from: &str, to: &str) {
    let leaders: Vec<_> = ds
        .leaders
        .iter()
        .filter(|l| l.grid_code == from)
        .map(|l| crate::model::LeaderAssignment {
            grid_code: to.to_string(),
            ..l.clone()
        })
        .collect();
    ds.leaders.extend(leaders);
    for team in &mut ds.teams {
        if team.grid_codes.iter().any(|c| c == from) {
            team.grid_codes.push(to.to_string());
        }
    }
}
