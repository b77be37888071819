//! The attribute half of the snapshot: who leads and who serves each grid.
//!
//! Indexed by the grid positions of a [`Spatial`], so that resolving a lookup never hashes a
//! string. Rebuilding it is O(grids + people), which is why a leader edit never rebuilds the
//! spatial index: it builds a new roster against the same `Arc<Spatial>`.

use crate::model::{Contact, LeaderAssignment, LeaderRole, Person, ServiceTeam};
use crate::store::Attributes;

use super::spatial::{GridCodes, Spatial};
use super::tables::{KeyIndex, keys_of};
use super::texts::TextTable;

pub struct Roster {
    /// Sorted by id.
    people: People,
    /// Per grid index: the person index holding [bac_convener, party_worker].
    leaders: Vec<[Slot; 2]>,
    teams: Vec<ServiceTeam>,
    /// Per grid index: the team assigned to that grid itself (first by team id when several).
    team_of_grid: Vec<Slot>,
    /// Assignments that name a grid or person the spatial half does not know (shown in /readyz).
    pub dangling: Vec<String>,
}

/// A position in the people or the teams, or none: four bytes where an `Option<u32>` takes
/// eight, for each of a city's million grids. No table reaches `u32::MAX` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot(u32);

impl Slot {
    const EMPTY: Slot = Slot(u32::MAX);

    fn get(self) -> Option<u32> {
        (self != Slot::EMPTY).then_some(self.0)
    }
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
        let person_by_id = KeyIndex::build(people.len(), keys_of(&people, |p| p.id.as_str()));
        let mut people_by_id = person_by_id.cursor(keys_of(&people, |p| p.id.as_str()));
        let mut grids_by_code = grids.cursor();
        let mut dangling = Vec::new();
        let mut leader_slots = vec![[Slot::EMPTY; 2]; grid_count];
        for a in &leaders {
            match (
                grids_by_code.index(&a.grid_code),
                people_by_id.get(&a.person_id),
            ) {
                (Some(g), Some(p)) => leader_slots[g as usize][role_slot(a.role)] = Slot(p),
                _ => dangling.push(format!(
                    "leader {} of grid {} names an unknown grid or person",
                    a.role.as_str(),
                    a.grid_code
                )),
            }
        }
        teams.sort_by(|a, b| a.id.cmp(&b.id));
        let mut team_of_grid = vec![Slot::EMPTY; grid_count];
        for (t, team) in teams.iter().enumerate() {
            for code in &team.grid_codes {
                match grids_by_code.index(code) {
                    Some(g) => {
                        let slot = &mut team_of_grid[g as usize];
                        if *slot == Slot::EMPTY {
                            *slot = Slot(t as u32);
                        }
                    }
                    None => dangling.push(format!(
                        "service team {} is assigned to unknown grid {code}",
                        team.id
                    )),
                }
            }
        }
        Roster {
            people: {
                drop(people_by_id); // its borrow of `people` ends here
                People::from_sorted(people)
            },
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
                let Some(person) = slots[role_slot(role)]
                    .get()
                    .and_then(|p| self.people.get(p as usize))
                else {
                    continue;
                };
                leaders.push(LeaderAssignment {
                    grid_code: spatial.grid_code(g as u32).to_string(),
                    role,
                    person_id: person.id.to_string(),
                });
            }
        }
        Attributes {
            people: (0..self.people.len())
                .filter_map(|i| self.people.get(i))
                .map(PersonRef::to_person)
                .collect(),
            leaders,
            teams: self.teams.clone(),
        }
    }

    /// Starts loading these grids' leader and team slots (see [`crate::memory::prefetch`]).
    pub fn prefetch_slots(&self, grids: &[u32]) {
        for &g in grids {
            if let Some(slots) = self.leaders.get(g as usize..) {
                crate::memory::prefetch(slots.as_ptr());
            }
            if let Some(team) = self.team_of_grid.get(g as usize..) {
                crate::memory::prefetch(team.as_ptr());
            }
        }
    }

    /// Starts loading the rows of these grids' leaders and their teams; reads the slots.
    pub fn prefetch_people(&self, grids: &[u32]) {
        for &g in grids {
            for p in self.leader_positions(g) {
                self.people.0.prefetch_row(p);
            }
            if let Some(team) = self.team(g) {
                crate::memory::prefetch(team);
            }
        }
    }

    /// Starts loading the texts of these grids' leaders and their teams' members; reads their
    /// rows and teams.
    pub fn prefetch_people_texts(&self, grids: &[u32]) {
        for &g in grids {
            for p in self.leader_positions(g) {
                self.people.0.prefetch_text(p);
            }
            if let Some(team) = self.team(g) {
                crate::memory::prefetch(team.members.as_ptr());
            }
        }
    }

    /// Where the people holding the grid's roles are in the people table.
    fn leader_positions(&self, grid: u32) -> impl Iterator<Item = usize> + '_ {
        let slots = self.leaders.get(grid as usize).into_iter().flatten();
        slots.filter_map(|s| s.get()).map(|p| p as usize)
    }

    /// The person holding `role` in the grid itself (no fallback).
    pub fn leader(&self, grid: u32, role: LeaderRole) -> Option<PersonRef<'_>> {
        let slot = self.leaders.get(grid as usize)?[role_slot(role)].get()?;
        self.people.get(slot as usize)
    }

    /// The team assigned to the grid itself (no fallback).
    pub fn team(&self, grid: u32) -> Option<&ServiceTeam> {
        let t = self.team_of_grid.get(grid as usize)?.get()?;
        self.teams.get(t as usize)
    }

    /// A person by id (people are sorted by id).
    pub fn person(&self, id: &str) -> Option<PersonRef<'_>> {
        self.people.find(id)
    }

    pub fn people_count(&self) -> usize {
        self.people.len()
    }

    pub fn team_count(&self) -> usize {
        self.teams.len()
    }
}

/// A person of the roster, borrowed from its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub phone: Option<&'a str>,
    pub email: Option<&'a str>,
}

impl PersonRef<'_> {
    pub fn to_person(self) -> Person {
        Person {
            id: self.id.to_string(),
            name: self.name.to_string(),
            contact: Contact {
                phone: self.phone.map(str::to_string),
                email: self.email.map(str::to_string),
            },
        }
    }
}

/// People in one text buffer ([`TextTable`]): a city has millions of leaders, and four strings
/// of their own each (id, name, phone, email) would cost more in headers and allocations than
/// in text.
struct People(TextTable<4>);

/// Positions of a person's strings in their row.
const PERSON_ID: usize = 0;
const PERSON_NAME: usize = 1;
const PERSON_PHONE: usize = 2;
const PERSON_EMAIL: usize = 3;

impl People {
    fn from_sorted(people: Vec<Person>) -> People {
        let bytes = people
            .iter()
            .map(|p| {
                p.id.len()
                    + p.name.len()
                    + p.contact.phone.as_ref().map_or(0, String::len)
                    + p.contact.email.as_ref().map_or(0, String::len)
            })
            .sum();
        let mut table = TextTable::with_capacity(people.len(), bytes);
        for p in &people {
            table.push([
                Some(p.id.as_str()),
                Some(&p.name),
                p.contact.phone.as_deref(),
                p.contact.email.as_deref(),
            ]);
        }
        People(table)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn get(&self, i: usize) -> Option<PersonRef<'_>> {
        if i >= self.len() {
            return None;
        }
        let row = self.0.row(i);
        Some(PersonRef {
            id: row[PERSON_ID].unwrap_or(""),
            name: row[PERSON_NAME].unwrap_or(""),
            phone: row[PERSON_PHONE],
            email: row[PERSON_EMAIL],
        })
    }

    /// By id (the table is sorted by id).
    fn find(&self, id: &str) -> Option<PersonRef<'_>> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let candidate = self.get(mid)?;
            match candidate.id.cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(candidate),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, name: &str, phone: Option<&str>, email: Option<&str>) -> Person {
        Person {
            id: id.into(),
            name: name.into(),
            contact: Contact {
                phone: phone.map(Into::into),
                email: email.map(Into::into),
            },
        }
    }

    #[test]
    fn people_read_back_as_stored_and_are_found_by_id() {
        let people = vec![
            person("p1", "王芳", Some("13800000001"), None),
            person("p2", "", None, Some("")),
            person("p3", "李雷", Some(""), Some("li@example.cn")),
            person("p4", "Zhang Wei", None, None),
        ];
        let table = People::from_sorted(people.clone());
        assert_eq!(table.len(), 4);
        for (i, p) in people.iter().enumerate() {
            let got = table.get(i).expect("stored");
            assert_eq!(got.to_person(), *p);
            assert_eq!(table.find(&p.id), Some(got));
        }
        assert_eq!(table.get(4), None);
        for missing in ["", "p0", "p25", "p5"] {
            assert_eq!(table.find(missing), None, "{missing}");
        }
        assert_eq!(People::from_sorted(Vec::new()).find("p1"), None);
    }
}
