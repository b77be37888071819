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

use crate::model::{Building, Dataset, LeaderAssignment, Person, ServiceTeam};

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

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A short name of the backend, for logs and /readyz.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// True when the store holds no grid at all (a fresh database to seed).
    async fn is_empty(&self) -> Result<bool, StoreError>;

    /// The current atlas: current grid versions, all buildings, people, current assignments.
    async fn load(&self) -> Result<Dataset, StoreError>;

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

    /// Notifications of changes committed by anyone (another instance, SQL typed into the
    /// database), for [`crate::sync::spawn_change_listener`]. `None` when the backend has no
    /// such feed (SQLite: this process is the only writer). The channel closes when the feed's
    /// connection is lost for good; subscribe again (and reload in full) to resume.
    async fn subscribe_changes(&self) -> Result<Option<crate::sync::ChangeFeed>, StoreError> {
        Ok(None)
    }
}

/// The rows a seed of `ds` writes (grids, buildings, people, leaders, teams, team members and
/// team assignments): the total of [`Store::seed_with_progress`].
pub fn seed_rows(ds: &Dataset) -> u64 {
    let team_rows: usize = ds
        .teams
        .iter()
        .map(|t| 1 + t.members.len() + t.grid_codes.len())
        .sum();
    (ds.grids.len() + ds.buildings.len() + ds.people.len() + ds.leaders.len() + team_rows) as u64
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
