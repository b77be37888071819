//! The snapshot: an immutable view of the whole atlas that answers every read.
//!
//! A snapshot has two halves held by `Arc`: [`Spatial`] (grids, footprints, R-trees, address
//! index) and [`Roster`] (leaders, people, teams). A committed change builds a new snapshot and
//! swaps it in atomically; readers holding the old one finish undisturbed.

pub mod answer;
pub mod cells;
pub mod history;
pub mod roster;
pub mod spatial;
mod tables;
pub mod texts;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::model::Dataset;
use crate::store::{Attributes, Store, StoreError, Versioned};

pub use answer::{Answer, Visibility};
pub use roster::Roster;
pub use spatial::Spatial;

pub struct Snapshot {
    pub spatial: Arc<Spatial>,
    pub roster: Arc<Roster>,
    /// Increases with every swap; part of every ETag.
    pub generation: u64,
    /// The atlas version (the store's version log) this snapshot was read at; a plan made
    /// from it records it as its base.
    pub version: u64,
    pub loaded_at: DateTime<Utc>,
}

impl Snapshot {
    pub fn from_dataset(ds: Dataset, generation: u64) -> Snapshot {
        Snapshot::from_versioned(
            Versioned {
                version: 0,
                dataset: ds,
            },
            generation,
        )
    }

    pub fn from_versioned(v: Versioned, generation: u64) -> Snapshot {
        let Versioned {
            version,
            dataset: ds,
        } = v;
        let Dataset {
            grids,
            buildings,
            people,
            leaders,
            teams,
        } = ds;
        // The roster needs only the grids' positions: it is built while the address index is.
        let (spatial, roster) = Spatial::build_with(grids, buildings, |grids| {
            Roster::build_for(
                grids,
                Attributes {
                    people,
                    leaders,
                    teams,
                },
            )
        });
        Snapshot {
            spatial: Arc::new(spatial),
            roster: Arc::new(roster),
            generation,
            version,
            loaded_at: Utc::now(),
        }
    }

    /// The atlas this snapshot answers from, as plain data again (for a plan to start from).
    pub fn to_dataset(&self) -> Dataset {
        let spatial = &self.spatial;
        let grids = (0..spatial.grids.len() as u32)
            .map(|i| (spatial.grid(i), i))
            .map(|(g, i)| crate::model::Grid {
                code: g.code.to_string(),
                name: g.name.to_string(),
                name_en: g.name_en.map(str::to_string),
                level: g.level,
                parent_code: spatial.parent_code(i).map(str::to_string),
                geometry: spatial.grid_geometry(i),
                valid_from: g.valid_from,
                valid_to: None,
            })
            .collect();
        let buildings = (0..spatial.buildings.len() as u32)
            .map(|b| spatial.building_data(b))
            .collect();
        let Attributes {
            people,
            leaders,
            teams,
        } = self.roster.to_attributes(spatial);
        Dataset {
            grids,
            buildings,
            people,
            leaders,
            teams,
        }
    }
}

/// The current snapshot, swapped atomically; readers never wait for writers.
pub struct Atlas {
    current: ArcSwap<Snapshot>,
    generation: AtomicU64,
    /// Reloads run one at a time, so an attribute reload never pairs new people with an
    /// older spatial half that a concurrent full reload is replacing.
    reloading: tokio::sync::Mutex<()>,
}

impl Atlas {
    pub fn new(snapshot: Snapshot) -> Atlas {
        let generation = AtomicU64::new(snapshot.generation);
        Atlas {
            current: ArcSwap::from_pointee(snapshot),
            generation,
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// Loads the whole atlas from the store.
    pub async fn load(store: &dyn Store) -> Result<Atlas, StoreError> {
        let started = Instant::now();
        let ds = store.load_at(None).await?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "store read"
        );
        let snapshot = tokio::task::spawn_blocking(move || built(Snapshot::from_versioned(ds, 1)))
            .await
            .map_err(|e| StoreError::Unavailable(format!("snapshot build failed: {e}")))?;
        log_snapshot(&snapshot, started);
        Ok(Atlas::new(snapshot))
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Rebuilds everything (after a change of geometry or buildings).
    pub async fn reload(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _one_at_a_time = self.reloading.lock().await;
        let started = Instant::now();
        let ds = store.load_at(None).await?;
        let generation = self.next_generation();
        let snapshot =
            tokio::task::spawn_blocking(move || built(Snapshot::from_versioned(ds, generation)))
                .await
                .map_err(|e| StoreError::Unavailable(format!("snapshot build failed: {e}")))?;
        log_snapshot(&snapshot, started);
        self.current.store(Arc::new(snapshot));
        Ok(())
    }

    /// Rebuilds only the roster (after a leader or team edit); the spatial half is shared.
    pub async fn reload_attributes(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _one_at_a_time = self.reloading.lock().await;
        let attributes = store.load_attributes().await?;
        let version = store.current_version().await?;
        let spatial = self.snapshot().spatial.clone();
        let roster = Arc::new(Roster::build(&spatial, attributes));
        self.current.store(Arc::new(Snapshot {
            spatial,
            roster,
            generation: self.next_generation(),
            version,
            loaded_at: Utc::now(),
        }));
        Ok(())
    }
}

/// A snapshot just built, its input dropped on this thread: the freed memory goes back to
/// the system here, before the thread goes idle with it.
fn built(snapshot: Snapshot) -> Snapshot {
    crate::memory::release();
    snapshot
}

/// Times the phases of a snapshot build, as `snapshot phase` debug events: wall time, and
/// the time the thread spent on a CPU (from /proc/thread-self/schedstat, Linux only).
pub(crate) struct Phases {
    last: Instant,
    last_cpu: Option<u64>,
}

/// Nanoseconds this thread has run on a CPU, when debug events are on and Linux tells.
fn thread_cpu_ns() -> Option<u64> {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return None;
    }
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Phases {
    pub(crate) fn start() -> Phases {
        Phases {
            last: Instant::now(),
            last_cpu: thread_cpu_ns(),
        }
    }

    /// The time since the previous mark (or the start), under `phase`.
    pub(crate) fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        let cpu = thread_cpu_ns();
        tracing::debug!(
            phase,
            ms = (now - self.last).as_secs_f64() * 1e3,
            cpu_ms = match (cpu, self.last_cpu) {
                (Some(c), Some(l)) => c.saturating_sub(l) as f64 / 1e6,
                _ => f64::NAN,
            },
            "snapshot phase"
        );
        self.last = now;
        self.last_cpu = cpu;
    }
}

fn log_snapshot(s: &Snapshot, started: Instant) {
    tracing::info!(
        grids = s.spatial.grids.len(),
        buildings = s.spatial.buildings.len(),
        addresses = s.spatial.addresses.len(),
        people = s.roster.people_count(),
        teams = s.roster.team_count(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "snapshot loaded"
    );
    for (id, address, reason) in &s.spatial.address_warnings {
        tracing::warn!(building = %id, %address, %reason, "address not indexed");
    }
    for d in &s.roster.dangling {
        tracing::warn!("{d}");
    }
}
