//! The store: the source of truth and the only thing that writes.
//!
//! One interface, [`Store`], with one implementation per database. The service above it never
//! knows which one it talks to. Every write is one transaction (all-or-nothing) and is recorded
//! in the audit log.

mod geometry_codec;
pub mod postgres;
pub mod sqlite;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{
    AtlasChanges, Building, Dataset, Grid, LeaderAssignment, LeaderRole, Person, ServiceTeam,
};

pub use geometry_codec::{decode_multipolygon, encode_multipolygon};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL '{0}' (expected sqlite://PATH or postgres://USER@HOST/DB)")]
    UnsupportedUrl(String),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
    /// A publish based on an atlas version that is no longer the current one.
    #[error("the atlas is at version {current}, the plan was made from version {base}")]
    VersionMismatch { base: u64, current: u64 },
    #[error("cannot create the database folder: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Whether the failure is the database being unreachable (as opposed to a bad request).
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Database(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // PostgreSQL: connection exceptions (class 08) and operator intervention
                // (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
                // SQLite: SQLITE_BUSY (5, 517) and SQLITE_LOCKED (6) after the busy timeout.
                sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                    c.starts_with("08") || c.starts_with("57P") || matches!(&*c, "5" | "6" | "517")
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

/// Who holds a leader role after an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonRef {
    /// A person the store already has.
    Existing(String),
    /// A person to create (their id is chosen by the caller).
    New(Person),
}

/// The new leaders of a grid; `None` leaves the role vacant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderChange {
    pub bac_convener: Option<PersonRef>,
    pub party_worker: Option<PersonRef>,
}

/// What a building upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UpsertReport {
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// The attribute part of the atlas: who leads and who serves, without geometry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes {
    pub people: Vec<Person>,
    pub leaders: Vec<LeaderAssignment>,
    pub teams: Vec<ServiceTeam>,
}

/// One entry of the atlas's version log. Every committed write of the atlas (seed, leader
/// change, building upsert, publish) makes one; versions only grow.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AtlasVersion {
    pub version: u64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// What made it: "seed", "replace_leaders", "upsert_buildings", "publish".
    pub action: String,
    /// The plan a publish came from.
    pub plan_id: Option<i64>,
}

/// A dataset and the atlas version it was read at (0 when the log is empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Versioned {
    pub version: u64,
    pub dataset: Dataset,
}

/// A period during which a person held a leader role of a grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderSpell {
    pub role: LeaderRole,
    pub person_id: String,
    pub person_name: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// A period during which a service team served a grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamSpell {
    pub team_id: String,
    pub team_name: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: Option<DateTime<Utc>>,
}

/// Everything the store remembers of one grid code, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GridHistory {
    pub versions: Vec<Grid>,
    pub leaders: Vec<LeaderSpell>,
    pub teams: Vec<TeamSpell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    Draft,
    Published,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Draft => "draft",
            PlanStatus::Published => "published",
        }
    }
}

impl std::str::FromStr for PlanStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "draft" => Ok(PlanStatus::Draft),
            "published" => Ok(PlanStatus::Published),
            other => Err(format!(
                "unknown plan status '{other}' (expected draft or published)"
            )),
        }
    }
}

/// A planner's draft as stored. `changes` is the plan's content as JSON (what
/// [`crate::planner`] serialises); the store keeps it as opaque text.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRecord {
    pub id: i64,
    pub name: String,
    pub base_version: u64,
    pub status: PlanStatus,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    /// The atlas version its publish made.
    pub published_version: Option<u64>,
    pub changes: String,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short name of the backend, for logs and /readyz.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// True when the store holds no grid at all (a fresh database to seed).
    async fn is_empty(&self) -> Result<bool, StoreError>;

    /// The current atlas: current grid versions, all buildings, people, current assignments
    /// ([`Store::load_at`] now, without the version).
    async fn load(&self) -> Result<Dataset, StoreError> {
        self.load_at(None).await.map(|v| v.dataset)
    }

    /// Only people, current leader assignments and teams (cheap: no geometry).
    async fn load_attributes(&self) -> Result<Attributes, StoreError>;

    /// Writes a whole dataset into an empty store, in one transaction.
    async fn seed(&self, dataset: &Dataset, actor: &str) -> Result<(), StoreError>;

    /// As [`Store::seed`], calling `progress(rows_written, rows_total)` as it goes (for an
    /// import's progress bar). Nothing is visible to readers before the final commit.
    async fn seed_with_progress(
        &self,
        dataset: &Dataset,
        actor: &str,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<(), StoreError> {
        let total = seed_rows(dataset);
        progress(0, total);
        self.seed(dataset, actor).await?;
        progress(total, total);
        Ok(())
    }

    /// Replaces both leader roles of a grid, closing the current assignments at `at`.
    async fn replace_leaders(
        &self,
        grid_code: &str,
        change: &LeaderChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Inserts or updates buildings by id, in one transaction.
    async fn upsert_buildings(
        &self,
        buildings: &[Building],
        actor: &str,
    ) -> Result<UpsertReport, StoreError>;

    /// The atlas as it stood at `at` (`None`: now) with the current version of the log: the
    /// grid versions, leader, team and building-grid assignments valid then (valid_from <= at <
    /// valid_to). Buildings' footprints, names and addresses, people and teams themselves are
    /// not versioned and are read as they are now. The grids come as they stood: `valid_to`
    /// is `None` (their later end is not part of the view). One read transaction.
    async fn load_at(&self, at: Option<DateTime<Utc>>) -> Result<Versioned, StoreError>;

    /// The latest moment at or before `at` when any versioned row began or ended (`None` when
    /// nothing had begun yet). The atlas at `at` equals the atlas at this moment, so it keys a
    /// cache of historical snapshots.
    async fn change_point(&self, at: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// The current atlas version (0 for an empty log).
    async fn current_version(&self) -> Result<u64, StoreError>;

    /// The whole version log, oldest first.
    async fn versions(&self) -> Result<Vec<AtlasVersion>, StoreError>;

    /// Every version of one grid code with its leader and team spells, oldest first; empty
    /// when the code was never used.
    async fn grid_history(&self, code: &str) -> Result<GridHistory, StoreError>;

    /// Every grid code ever used, current or retired (a retired code is never reused).
    async fn used_codes(&self) -> Result<Vec<String>, StoreError>;

    /// Stores a new draft plan made from `base_version`; returns it with its id.
    async fn create_plan(
        &self,
        name: &str,
        base_version: u64,
        changes: &str,
        actor: &str,
    ) -> Result<PlanRecord, StoreError>;

    async fn plan(&self, id: i64) -> Result<Option<PlanRecord>, StoreError>;

    /// All plans, newest first.
    async fn plans(&self) -> Result<Vec<PlanRecord>, StoreError>;

    /// Replaces a draft's content. `Conflict` when the plan is not a draft; `Ok(None)` when
    /// there is no such plan.
    async fn update_plan(
        &self,
        id: i64,
        changes: &str,
        actor: &str,
    ) -> Result<Option<PlanRecord>, StoreError>;

    /// Publishes a draft in one transaction: checks that the atlas is still at `base_version`
    /// (else `VersionMismatch`), that the plan is a draft (else `Conflict`) and that no new grid
    /// takes a retired code (else `Conflict`); closes and opens the rows `changes` lists at
    /// `at`; appends the version; marks the plan published; audits. Nothing is written when
    /// any step fails.
    async fn publish(
        &self,
        plan_id: i64,
        base_version: u64,
        changes: &AtlasChanges,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<AtlasVersion, StoreError>;

    /// Notifications of changes committed by anyone (another instance, SQL typed into the
    /// database), for [`crate::sync::spawn_change_listener`]. `None` when the backend has no
    /// such feed (SQLite: this process is the only writer). The channel closes when the feed's
    /// connection is lost for good; subscribe again (and reload in full) to resume.
    async fn subscribe_changes(&self) -> Result<Option<crate::sync::ChangeFeed>, StoreError> {
        Ok(None)
    }
}

/// The atlas as it stood at a moment: the grid versions valid then were open then, so their
/// later end (`valid_to`) is not part of the view. Everything downstream (snapshot, rules,
/// plans) takes `valid_to == None` to mean "in force".
pub(crate) fn as_it_stood(mut ds: Dataset) -> Dataset {
    for g in &mut ds.grids {
        g.valid_to = None;
    }
    ds
}

/// The rows a seed of `ds` writes (grids, buildings and their building-grid assignments,
/// people, leaders, teams, team members and team assignments): the total of
/// [`Store::seed_with_progress`].
pub fn seed_rows(ds: &Dataset) -> u64 {
    let team_rows: usize = ds
        .teams
        .iter()
        .map(|t| 1 + t.members.len() + t.grid_codes.len())
        .sum();
    (ds.grids.len() + 2 * ds.buildings.len() + ds.people.len() + ds.leaders.len() + team_rows)
        as u64
}

/// When a seed's assignments to each grid begin: the start of the grid they name (of its current
/// version, when the dataset holds several), so that the atlas at any moment between a grid's
/// start and the seed is whole. Assignments to a code the dataset lacks begin at the seed.
fn seed_starts(ds: &Dataset) -> std::collections::HashMap<&str, DateTime<Utc>> {
    let mut starts = std::collections::HashMap::new();
    for g in ds.grids.iter().filter(|g| g.valid_to.is_some()) {
        starts.insert(g.code.as_str(), g.valid_from);
    }
    for g in ds.grids.iter().filter(|g| g.valid_to.is_none()) {
        starts.insert(g.code.as_str(), g.valid_from);
    }
    starts
}

/// An atlas version or a plan's base version read from a signed integer column.
fn version_from_db(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative atlas version {n}")))
}

/// An atlas version to store in a signed integer column.
fn version_to_db(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Conflict(format!("atlas version {v} is out of range")))
}

/// The audit subject of a plan.
fn plan_subject(id: i64) -> String {
    format!("plan {id}")
}

/// Why a plan cannot be published or changed: it does not exist or is published already.
fn plan_not_draft(id: i64, published_version: Option<u64>) -> StoreError {
    match published_version {
        Some(v) => StoreError::Conflict(format!(
            "plan {id} is already published (atlas version {v})"
        )),
        None => StoreError::Conflict(format!("there is no plan {id}")),
    }
}

/// A new grid that takes a code used before.
fn retired_code_reused(code: &str) -> StoreError {
    StoreError::Conflict(format!(
        "grid code {code} was used before and is retired; a retired code is never reused"
    ))
}

/// The audit entry of a publish: how many rows of each kind it closed and opened.
fn publish_summary(changes: &AtlasChanges, version: u64) -> serde_json::Value {
    serde_json::json!({
        "version": version,
        "grids": changes.grids.len(),
        "retired": changes.retired.len(),
        "building_grids": changes.building_grids.len(),
        "leaders_ended": changes.leaders_ended.len(),
        "leaders_begun": changes.leaders_begun.len(),
        "teams_ended": changes.teams_ended.len(),
        "teams_begun": changes.teams_begun.len(),
    })
}

/// Opens the store a database URL names: `sqlite://PATH` (the embedded default) or
/// `postgres://…` / `postgresql://…` (PostgreSQL with PostGIS, shared by several instances).
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            postgres::PostgresStore::open(url).await?,
        ))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}

/// The default database URL: the SQLite file under `data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/gridatlas.db";
