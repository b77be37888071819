//! The answer to "who is responsible here?": grid chain, building, dual grid leaders with
//! territorial fallback, service team, escalation chain and border evidence.
//!
//! Contact details are copied into an answer only when the caller may see them
//! ([`Visibility::contacts`]); a public answer cannot leak them because they are never put in.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::model::{GridLevel, LeaderRole, ServiceTeam};

use super::roster::PersonRef;
use super::texts::TextRange;

use super::Snapshot;

/// Grids of other codes within this many metres of a point are listed in `border.nearby`.
pub const DEFAULT_BORDER_TOLERANCE_M: f64 = 20.0;
/// The largest tolerance a caller may ask for (a bigger window would scan half a district).
pub const MAX_BORDER_TOLERANCE_M: f64 = 500.0;
/// At most this many nearby grids are listed, nearest first.
const MAX_NEARBY: usize = 10;

/// What the caller is allowed to see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Visibility {
    pub contacts: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GridRef<'a> {
    pub code: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_en: Option<&'a str>,
    #[schema(value_type = String, example = "building")]
    pub level: GridLevel,
    pub valid_from: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuildingRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_en: Option<&'a str>,
    #[schema(value_type = Vec<String>)]
    pub addresses: TextRange<'a>,
}

/// A person holding a leader role. `phone`/`email` only for authorised callers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeaderRef<'a> {
    pub name: &'a str,
    /// The grid where the role is held (an ancestor when inherited).
    pub grid_code: &'a str,
    /// True when the role is vacant in the asked grid and was taken from an ancestor.
    pub inherited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Leaders<'a> {
    /// The grid the leaders answer for (the innermost grid of the chain).
    pub grid_code: &'a str,
    /// True when either role came from an ancestor (territorial fallback).
    pub inherited: bool,
    pub bac_convener: Option<LeaderRef<'a>>,
    pub party_worker: Option<LeaderRef<'a>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberRef<'a> {
    pub name: &'a str,
    pub department: &'a str,
    pub specialty: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// The grid the team is assigned to (an ancestor when inherited).
    pub grid_code: &'a str,
    pub inherited: bool,
    pub members: Vec<MemberRef<'a>>,
}

/// One step of the escalation chain: a grid and the leaders it holds itself.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationStep<'a> {
    pub grid_code: &'a str,
    pub name: &'a str,
    #[schema(value_type = String)]
    pub level: GridLevel,
    pub bac_convener: Option<LeaderRef<'a>>,
    pub party_worker: Option<LeaderRef<'a>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NearbyGrid<'a> {
    pub code: &'a str,
    #[schema(value_type = String)]
    pub level: GridLevel,
    pub distance_m: f64,
}

/// Evidence for dispatchers: how close the point is to the edge of its innermost grid.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Border<'a> {
    /// Metres from the point to the nearest border of the innermost grid.
    pub distance_m: f64,
    /// True when the point lies exactly on that border (resolved by the border rule).
    pub on_border: bool,
    pub tolerance_m: f64,
    /// Grids outside the answer's chain within `tolerance_m` of the point, nearest first.
    pub nearby: Vec<NearbyGrid<'a>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Location {
    pub lon: f64,
    pub lat: f64,
}

/// For an address query: what the query was understood as, so a dispatcher can check it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Matched {
    /// `address` or `name`.
    pub kind: &'static str,
    /// The canonical address or the building name that matched.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Answer<'a> {
    /// Present for address queries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<Matched>,
    /// The point resolved, in WGS84.
    pub location: Location,
    /// Outermost first.
    pub grids: Vec<GridRef<'a>>,
    pub building: Option<BuildingRef<'a>>,
    pub leaders: Leaders<'a>,
    pub service_team: Option<TeamRef<'a>>,
    /// Leader pairs from the innermost grid up to the neighborhood grid.
    pub escalation: Vec<EscalationStep<'a>>,
    pub border: Border<'a>,
}

impl Snapshot {
    /// The answer for a WGS84 point, or `None` when no grid covers it.
    pub fn answer_point(
        &self,
        lon: f64,
        lat: f64,
        tolerance_m: f64,
        vis: Visibility,
    ) -> Option<Answer<'_>> {
        let hit = self.spatial.locate(lon, lat)?;
        let building = self.spatial.building_at(lon, lat);
        Some(self.answer_at(
            lon,
            lat,
            hit.grid,
            hit.on_border,
            building,
            tolerance_m,
            vis,
        ))
    }

    /// The answer for a building: its grid chain, answered at a point inside its footprint.
    pub fn answer_building(
        &self,
        building: u32,
        tolerance_m: f64,
        vis: Visibility,
    ) -> Option<Answer<'_>> {
        let entry = self.spatial.buildings.get(building as usize)?;
        let (lon, lat) = (entry.anchor.x, entry.anchor.y);
        let (grid, on_border) = match entry.grid {
            Some(g) => (g, false),
            None => {
                let hit = self.spatial.locate(lon, lat)?;
                (hit.grid, hit.on_border)
            }
        };
        Some(self.answer_at(lon, lat, grid, on_border, Some(building), tolerance_m, vis))
    }

    #[allow(clippy::too_many_arguments)]
    fn answer_at(
        &self,
        lon: f64,
        lat: f64,
        grid: u32,
        on_border: bool,
        building: Option<u32>,
        tolerance_m: f64,
        vis: Visibility,
    ) -> Answer<'_> {
        let chain = self.spatial.chain(grid);
        // The rows, texts and people an answer reads lie scattered over a city's gigabyte:
        // each level of them is asked for ahead, while the border work runs.
        self.spatial.prefetch_rows(&chain, building);
        self.roster.prefetch_slots(&chain);
        let distance_m = if on_border {
            0.0
        } else {
            self.spatial.border_distance_m(grid, lon, lat)
        };
        self.spatial.prefetch_texts(&chain, building);
        self.roster.prefetch_people(&chain);
        let border = self.border(lon, lat, on_border, distance_m, &chain, tolerance_m);
        self.roster.prefetch_people_texts(&chain);
        let grids = chain
            .iter()
            .rev()
            .map(|&g| {
                let e = self.spatial.grid(g);
                GridRef {
                    code: e.code,
                    name: e.name,
                    name_en: e.name_en,
                    level: e.level,
                    valid_from: e.valid_from,
                }
            })
            .collect();
        let building = building.map(|b| {
            let b = self.spatial.building(b);
            BuildingRef {
                id: b.id,
                name: b.name,
                name_en: b.name_en,
                addresses: b.addresses,
            }
        });
        let leaders = self.leaders_for_chain(&chain, vis);
        Answer {
            matched: None,
            location: Location { lon, lat },
            grids,
            building,
            leaders,
            service_team: self.team_with_fallback(&chain, vis),
            escalation: chain
                .iter()
                .map(|&g| self.escalation_step(g, vis))
                .collect(),
            border,
        }
    }

    /// The grid's leaders, each role filled from the nearest ancestor when vacant.
    pub fn leaders_of(&self, grid: u32, vis: Visibility) -> Leaders<'_> {
        self.leaders_for_chain(&self.spatial.chain(grid), vis)
    }

    /// The grid's service team, from the nearest ancestor when it has none.
    pub fn team_of(&self, grid: u32, vis: Visibility) -> Option<TeamRef<'_>> {
        self.team_with_fallback(&self.spatial.chain(grid), vis)
    }

    fn leaders_for_chain(&self, chain: &[u32], vis: Visibility) -> Leaders<'_> {
        let bac = self.leader_with_fallback(chain, LeaderRole::BacConvener, vis);
        let party = self.leader_with_fallback(chain, LeaderRole::PartyWorker, vis);
        Leaders {
            grid_code: chain.first().map_or("", |&g| self.spatial.grid_code(g)),
            inherited: [&bac, &party]
                .iter()
                .any(|l| l.as_ref().is_some_and(|l| l.inherited)),
            bac_convener: bac,
            party_worker: party,
        }
    }

    fn leader_ref<'a>(
        &'a self,
        person: PersonRef<'a>,
        grid: u32,
        inherited: bool,
        vis: Visibility,
    ) -> LeaderRef<'a> {
        LeaderRef {
            name: person.name,
            grid_code: self.spatial.grid_code(grid),
            inherited,
            phone: visible(vis, person.phone),
            email: visible(vis, person.email),
        }
    }

    /// Territorial fallback: the role as held in the innermost grid that has it filled.
    fn leader_with_fallback(
        &self,
        chain: &[u32],
        role: LeaderRole,
        vis: Visibility,
    ) -> Option<LeaderRef<'_>> {
        chain.iter().enumerate().find_map(|(depth, &g)| {
            self.roster
                .leader(g, role)
                .map(|p| self.leader_ref(p, g, depth > 0, vis))
        })
    }

    fn team_with_fallback(&self, chain: &[u32], vis: Visibility) -> Option<TeamRef<'_>> {
        chain.iter().enumerate().find_map(|(depth, &g)| {
            self.roster
                .team(g)
                .map(|t| team_ref(t, self.spatial.grid_code(g), depth > 0, vis))
        })
    }

    pub fn escalation_step(&self, grid: u32, vis: Visibility) -> EscalationStep<'_> {
        let e = self.spatial.grid(grid);
        let own = |role| {
            self.roster
                .leader(grid, role)
                .map(|p| self.leader_ref(p, grid, false, vis))
        };
        EscalationStep {
            grid_code: e.code,
            name: e.name,
            level: e.level,
            bac_convener: own(LeaderRole::BacConvener),
            party_worker: own(LeaderRole::PartyWorker),
        }
    }

    fn border(
        &self,
        lon: f64,
        lat: f64,
        on_border: bool,
        distance_m: f64,
        chain: &[u32],
        tolerance_m: f64,
    ) -> Border<'_> {
        let candidates = self
            .spatial
            .grids_near(lon, lat, tolerance_m, chain, distance_m);
        let nearby = candidates
            .into_iter()
            .take(MAX_NEARBY)
            .map(|(g, d)| NearbyGrid {
                code: self.spatial.grid_code(g),
                level: self.spatial.grids[g as usize].level,
                distance_m: round_cm(d),
            })
            .collect();
        Border {
            distance_m: round_cm(distance_m),
            on_border,
            tolerance_m,
            nearby,
        }
    }
}

pub fn team_ref<'a>(
    team: &'a ServiceTeam,
    grid_code: &'a str,
    inherited: bool,
    vis: Visibility,
) -> TeamRef<'a> {
    TeamRef {
        id: &team.id,
        name: &team.name,
        grid_code,
        inherited,
        members: team
            .members
            .iter()
            .map(|m| MemberRef {
                name: &m.name,
                department: &m.department,
                specialty: &m.specialty,
                phone: visible(vis, m.contact.phone.as_deref()),
                email: visible(vis, m.contact.email.as_deref()),
            })
            .collect(),
    }
}

/// A contact detail, only when the caller may see contacts.
fn visible(vis: Visibility, value: Option<&str>) -> Option<&str> {
    value.filter(|_| vis.contacts)
}

/// Centimetres are the honest precision of a border distance; more digits are noise.
fn round_cm(m: f64) -> f64 {
    (m * 100.0).round() / 100.0
}
