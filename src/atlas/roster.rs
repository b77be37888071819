//! The attribute half of the snapshot: who leads and who serves each grid.
//!
//! Indexed by the grid positions of a [`Spatial`], so that resolving a lookup never hashes a
//! string. Rebuilding it is O(grids + people), which is why a leader edit never rebuilds the
//! spatial index: it builds a new roster against the same `Arc<Spatial>`.

use crate::model::{LeaderAssignment, LeaderRole, Person, ServiceTeam};
use crate::store::Attributes;

use super::spatial::{GridCodes, Spatial};
use super::tables::KeyIndex;

pub struct Roster {
    people: Vec<Person>,
    /// Per grid index: the person index holding [bac_convener, party_worker].
    leaders: Vec<[Option<u32>; 2]>,
    teams: Vec<ServiceTeam>,
    /// Per grid index: the team assigned to that grid itself (first by team id when several).
    team_of_grid: Vec<Option<u32>>,
    /// Assignments that name a grid or person the spatial half does not know (shown in /readyz).
    pub dangling: Vec<String>,
}

fn role_slot(role: LeaderRole) -> usize {
    match role {
        LeaderRole::BacConvener => 0,
        LeaderRole::PartyWorker => 1,
    }
}

impl Roster {
    pub fn build(spatial: &Spatial, attributes: Attributes) -> Roster {
        Roster::build_for(spatial.grid_codes(), attributes)
    }

    /// The roster of the grids `grids` indexes (while their spatial half is being built).
    pub fn build_for(grids: GridCodes<'_>, attributes: Attributes) -> Roster {
        let Attributes {
            mut people,
            leaders,
            mut teams,
        } = attributes;
        people.sort_by(|a, b| a.id.cmp(&b.id));
        let grid_count = grids.len();
        let person_by_id = KeyIndex::build(&people, |p| &p.id);
        let mut people_by_id = person_by_id.cursor(&people, |p| &p.id);
        let mut grids_by_code = grids.cursor();
        let mut dangling = Vec::new();
        let mut leader_slots = vec![[None, None]; grid_count];
        for a in &leaders {
            match (
                grids_by_code.index(&a.grid_code),
                people_by_id.get(&a.person_id),
            ) {
                (Some(g), Some(p)) => leader_slots[g as usize][role_slot(a.role)] = Some(p),
                _ => dangling.push(format!(
                    "leader {} of grid {} names an unknown grid or person",
                    a.role.as_str(),
                    a.grid_code
                )),
            }
        }
        teams.sort_by(|a, b| a.id.cmp(&b.id));
        let mut team_of_grid = vec![None; grid_count];
        for (t, team) in teams.iter().enumerate() {
            for code in &team.grid_codes {
                match grids_by_code.index(code) {
                    Some(g) => {
                        team_of_grid[g as usize].get_or_insert(t as u32);
                    }
                    None => dangling.push(format!(
                        "service team {} is assigned to unknown grid {code}",
                        team.id
                    )),
                }
            }
        }
        Roster {
            people,
            leaders: leader_slots,
            teams,
            team_of_grid,
            dangling,
        }
    }

    /// The roster as plain data again (assignments that named an unknown grid or person are
    /// not kept).
    pub fn to_attributes(&self, spatial: &Spatial) -> Attributes {
        let mut leaders = Vec::new();
        for (g, slots) in self.leaders.iter().enumerate() {
            for role in LeaderRole::ALL {
                let Some(person) = slots[role_slot(role)].and_then(|p| self.people.get(p as usize))
                else {
                    continue;
                };
                leaders.push(LeaderAssignment {
                    grid_code: spatial.grid(g as u32).code.clone(),
                    role,
                    person_id: person.id.clone(),
                });
            }
        }
        Attributes {
            people: self.people.clone(),
            leaders,
            teams: self.teams.clone(),
        }
    }

    /// The person holding `role` in the grid itself (no fallback).
    pub fn leader(&self, grid: u32, role: LeaderRole) -> Option<&Person> {
        let slot = self.leaders.get(grid as usize)?[role_slot(role)]?;
        self.people.get(slot as usize)
    }

    /// The team assigned to the grid itself (no fallback).
    pub fn team(&self, grid: u32) -> Option<&ServiceTeam> {
        let t = (*self.team_of_grid.get(grid as usize)?)?;
        self.teams.get(t as usize)
    }

    /// A person by id (people are sorted by id).
    pub fn person(&self, id: &str) -> Option<&Person> {
        let i = self
            .people
            .binary_search_by(|p| p.id.as_str().cmp(id))
            .ok()?;
        self.people.get(i)
    }

    pub fn people_count(&self) -> usize {
        self.people.len()
    }

    pub fn team_count(&self) -> usize {
        self.teams.len()
    }
}
