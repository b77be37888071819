//! Plain data of the atlas: what the store holds and the snapshot is built from.
//!
//! Nothing here knows about indexes, HTTP or SQL. Geometry is WGS84 lon/lat (EPSG:4326).

use chrono::{DateTime, Utc};
use geo::MultiPolygon;
use serde::{Deserialize, Serialize};

/// The three nested levels of the grid hierarchy, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridLevel {
    /// 街区网格: a block of the business district, bounded by roads.
    Neighborhood,
    /// 楼宇群网格: a few neighbouring commercial buildings.
    BuildingGroup,
    /// 楼宇网格: one building (its parcel).
    Building,
}

impl GridLevel {
    pub const ALL: [GridLevel; 3] = [
        GridLevel::Neighborhood,
        GridLevel::BuildingGroup,
        GridLevel::Building,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GridLevel::Neighborhood => "neighborhood",
            GridLevel::BuildingGroup => "building_group",
            GridLevel::Building => "building",
        }
    }

    /// 0 for neighborhood, 1 for building group, 2 for building.
    pub fn depth(self) -> usize {
        self as usize
    }

    /// The level a grid of this level must have as parent (`None` for neighborhoods).
    pub fn parent_level(self) -> Option<GridLevel> {
        match self {
            GridLevel::Neighborhood => None,
            GridLevel::BuildingGroup => Some(GridLevel::Neighborhood),
            GridLevel::Building => Some(GridLevel::BuildingGroup),
        }
    }
}

impl std::str::FromStr for GridLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "neighborhood" => Ok(GridLevel::Neighborhood),
            "building_group" => Ok(GridLevel::BuildingGroup),
            "building" => Ok(GridLevel::Building),
            other => Err(format!(
                "unknown grid level '{other}' (expected neighborhood, building_group or building)"
            )),
        }
    }
}

impl std::fmt::Display for GridLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One version of a grid. `valid_to == None` means the version is current.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub code: String,
    pub name: String,
    pub name_en: Option<String>,
    pub level: GridLevel,
    pub parent_code: Option<String>,
    pub geometry: MultiPolygon<f64>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// Figures planners balance between grid leaders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    pub enterprises: u32,
    pub employees: u32,
    pub party_members: u32,
    pub floor_area_m2: f64,
}

/// A building with its footprint. `grid_code` is the building grid it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Building {
    pub id: String,
    pub name: String,
    pub name_en: Option<String>,
    /// Other names people use (Chinese or English), e.g. "Plaza 66" for 恒隆广场.
    pub aliases: Vec<String>,
    /// Street addresses as written, e.g. "南京西路1266号"; the first is the main one.
    pub addresses: Vec<String>,
    pub grid_code: Option<String>,
    pub footprint: MultiPolygon<f64>,
    pub workload: Workload,
}

/// Contact details: personal data, shown only to authorised callers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        self.phone.is_none() && self.email.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub contact: Contact,
}

/// The two roles of the dual grid leader (双网格长).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaderRole {
    /// Convener of the Building Affairs Committee (楼委会召集人).
    BacConvener,
    /// Full-time Party-masses worker (专职党群工作者).
    PartyWorker,
}

impl LeaderRole {
    pub const ALL: [LeaderRole; 2] = [LeaderRole::BacConvener, LeaderRole::PartyWorker];

    pub fn as_str(self) -> &'static str {
        match self {
            LeaderRole::BacConvener => "bac_convener",
            LeaderRole::PartyWorker => "party_worker",
        }
    }
}

impl std::str::FromStr for LeaderRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bac_convener" => Ok(LeaderRole::BacConvener),
            "party_worker" => Ok(LeaderRole::PartyWorker),
            other => Err(format!(
                "unknown leader role '{other}' (expected bac_convener or party_worker)"
            )),
        }
    }
}

/// A person holding a leader role of a grid. A role with no assignment is vacant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderAssignment {
    pub grid_code: String,
    pub role: LeaderRole,
    pub person_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub name: String,
    pub department: String,
    /// e.g. industrial support, administrative approval, taxes and finance, talent services.
    pub specialty: String,
    #[serde(default, flatten)]
    pub contact: Contact,
}

/// 首席服务团队: backbone staff of district departments serving the grids it is assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTeam {
    pub id: String,
    pub name: String,
    pub members: Vec<TeamMember>,
    pub grid_codes: Vec<String>,
}

/// Everything the store holds, as loaded in one go to build a snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub grids: Vec<Grid>,
    pub buildings: Vec<Building>,
    pub people: Vec<Person>,
    pub leaders: Vec<LeaderAssignment>,
    pub teams: Vec<ServiceTeam>,
}

/// What publishing a plan writes: the difference between the atlas and the plan, computed by
/// [`crate::planner::changes`]. The store turns it into versions in one transaction: every
/// listed current row is closed (`valid_to`) and every new row opened (`valid_from`) at the
/// moment of the publish; nothing is deleted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AtlasChanges {
    /// New grids and new versions of existing grids (name, parent or geometry changed). Their
    /// `valid_from` / `valid_to` are ignored: the store sets them.
    pub grids: Vec<Grid>,
    /// Codes of current grids the plan retires. A retired code is never used again.
    pub retired: Vec<String>,
    /// Buildings whose building grid changes: (building id, new grid code or none).
    pub building_grids: Vec<(String, Option<String>)>,
    /// Leader assignments that end (grid code, role); retired grids' assignments are listed too.
    pub leaders_ended: Vec<(String, LeaderRole)>,
    /// Leader assignments that begin.
    pub leaders_begun: Vec<LeaderAssignment>,
    /// Team assignments that end: (team id, grid code).
    pub teams_ended: Vec<(String, String)>,
    /// Team assignments that begin: (team id, grid code).
    pub teams_begun: Vec<(String, String)>,
}

impl AtlasChanges {
    pub fn is_empty(&self) -> bool {
        self.grids.is_empty()
            && self.retired.is_empty()
            && self.building_grids.is_empty()
            && self.leaders_ended.is_empty()
            && self.leaders_begun.is_empty()
            && self.teams_ended.is_empty()
            && self.teams_begun.is_empty()
    }
}
