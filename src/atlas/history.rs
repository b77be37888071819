//! Snapshots of the atlas as it stood at an earlier moment, for `at=` on reads.
//!
//! The store never deletes a version, so the atlas at a moment `t` is fixed forever once `t`
//! is past the latest change: it equals the atlas at the store's *change point* of `t` (the
//! last moment at or before `t` when any versioned row began or ended). Snapshots are cached
//! by that change point, so every `at=` inside the same stretch of history shares one
//! snapshot. The cache holds a few snapshots and forgets the least recently used; a snapshot
//! of a city is large, so the bound is small and set by the operator.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use super::{Atlas, Snapshot};
use crate::store::{Store, StoreError, Versioned};

/// Default number of historical snapshots kept in memory.
pub const DEFAULT_HISTORY_SNAPSHOTS: usize = 4;

type Slot = Arc<OnceCell<Arc<Snapshot>>>;

/// A moment after every change: the end of year 9999 (later years do not fit the stores'
/// timestamp formats).
fn far_future() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or_default()
}

/// Historical snapshots by change point, least recently used first (a handful of entries: a
/// linear search beats hashing).
pub struct HistoryCache {
    capacity: usize,
    slots: Mutex<Vec<(DateTime<Utc>, Slot)>>,
}

impl HistoryCache {
    pub fn new(capacity: usize) -> HistoryCache {
        HistoryCache {
            capacity: capacity.max(1),
            slots: Mutex::new(Vec::new()),
        }
    }

    /// The atlas at `at`: the current snapshot when nothing changed since `at`, else a
    /// snapshot of the store as it stood then (built once, shared by concurrent callers).
    pub async fn snapshot_at(
        &self,
        atlas: &Atlas,
        store: &dyn Store,
        at: DateTime<Utc>,
    ) -> Result<Arc<Snapshot>, StoreError> {
        let current = atlas.snapshot();
        let point = store.change_point(at).await?;
        let latest = store.change_point(far_future()).await?;
        if point == latest {
            return Ok(current);
        }
        // Before anything began the atlas was empty; that stretch is keyed by the earliest
        // representable moment.
        let key = point.unwrap_or(DateTime::<Utc>::MIN_UTC);
        let slot = self.slot(key);
        let snapshot = slot
            .get_or_try_init(|| async {
                let started = Instant::now();
                let loaded = match point {
                    Some(t) => store.load_at(Some(t)).await?,
                    None => Versioned::default(),
                };
                let snapshot =
                    tokio::task::spawn_blocking(move || Snapshot::from_versioned(loaded, 0))
                        .await
                        .map_err(|e| {
                            StoreError::Unavailable(format!("snapshot build failed: {e}"))
                        })?;
                tracing::info!(
                    at = %key,
                    grids = snapshot.spatial.grids.len(),
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "historical snapshot loaded"
                );
                Ok::<_, StoreError>(Arc::new(snapshot))
            })
            .await?;
        Ok(snapshot.clone())
    }

    /// The slot for `key`, made most recently used; the least recently used one is dropped
    /// when the cache is full.
    fn slot(&self, key: DateTime<Utc>) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match slots.iter().position(|(k, _)| *k == key) {
            Some(i) => slots.remove(i).1,
            None => Slot::default(),
        };
        slots.push((key, slot.clone()));
        if slots.len() > self.capacity {
            slots.remove(0);
        }
        slot
    }

    /// How many historical snapshots are held (for /readyz and tests).
    pub fn len(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.iter().filter(|(_, s)| s.initialized()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for HistoryCache {
    fn default() -> Self {
        HistoryCache::new(DEFAULT_HISTORY_SNAPSHOTS)
    }
}
