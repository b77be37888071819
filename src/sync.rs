//! Change propagation: every instance serving from one database answers from the new data soon
//! after a change is committed anywhere.
//!
//! The store publishes a feed of change notifications ([`Store::subscribe_changes`]; PostgreSQL
//! through LISTEN/NOTIFY on [`CHANGES_CHANNEL`], fed by triggers on every table, so SQL typed
//! straight into the database propagates too). [`spawn_change_listener`] turns the feed into
//! snapshot reloads:
//!
//! * a burst of notifications is coalesced: whatever is pending when a reload starts is drained
//!   first, and one reload covers it all;
//! * a change to people, leaders or teams only rebuilds the roster
//!   ([`Atlas::reload_attributes`]); anything else rebuilds everything ([`Atlas::reload`]);
//! * notifications sent while the connection is down are lost, so every (re)subscription is
//!   followed by a full reload;
//! * while the database is down the listener retries with exponential backoff, and the atlas
//!   keeps answering from its last snapshot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::atlas::Atlas;
use crate::store::{Store, StoreError};

/// The PostgreSQL NOTIFY channel the triggers of migrations/postgres publish on.
pub const CHANGES_CHANNEL: &str = "gridatlas_changes";

/// Tables whose changes affect only the roster (people, leaders, teams), not the geometry.
pub const ATTRIBUTE_TABLES: [&str; 5] = [
    "people",
    "leader_assignments",
    "service_teams",
    "team_members",
    "team_assignments",
];

/// Tables whose changes never affect a snapshot.
pub const IGNORED_TABLES: [&str; 1] = ["audit_log"];

/// One committed change, as the database trigger reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The table written, e.g. `leader_assignments`.
    pub table: String,
    /// `INSERT`, `UPDATE`, `DELETE` or `TRUNCATE`.
    pub op: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEvent {
    /// A statement that changed `table` was committed.
    Changed(Change),
    /// The feed's connection was lost and re-established: notifications sent in between are
    /// lost, so the subscriber must reload in full.
    Reconnected,
}

/// A feed of change notifications. Closed when its connection is lost for good.
pub type ChangeFeed = mpsc::UnboundedReceiver<ChangeEvent>;

/// What a batch of events asks of the atlas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReloadNeed {
    #[default]
    Nothing,
    Attributes,
    Full,
}

impl ReloadNeed {
    pub fn of(event: &ChangeEvent) -> ReloadNeed {
        match event {
            ChangeEvent::Reconnected => ReloadNeed::Full,
            ChangeEvent::Changed(c) if IGNORED_TABLES.contains(&c.table.as_str()) => {
                ReloadNeed::Nothing
            }
            ChangeEvent::Changed(c) if ATTRIBUTE_TABLES.contains(&c.table.as_str()) => {
                ReloadNeed::Attributes
            }
            ChangeEvent::Changed(_) => ReloadNeed::Full,
        }
    }
}

/// Parses a notification payload (`{"table": …, "op": …}`). A payload that cannot be read
/// still means "something changed": it is reported as a change of an unknown table, which
/// triggers a full reload.
pub fn parse_payload(payload: &str) -> ChangeEvent {
    match serde_json::from_str::<Change>(payload) {
        Ok(change) => ChangeEvent::Changed(change),
        Err(e) => {
            tracing::warn!(%payload, error = %e, "unreadable change notification; reloading in full");
            ChangeEvent::Changed(Change {
                table: "?".into(),
                op: "?".into(),
            })
        }
    }
}

/// Exponential backoff between reconnection attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    initial: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            next: initial,
            initial,
            max,
        }
    }

    /// The delay to wait now; doubles the next one, up to the maximum.
    pub fn step(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

/// Backoff of the listener: 200 ms, 400 ms, … up to 5 s between attempts.
const BACKOFF_INITIAL: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Keeps `atlas` in step with changes committed to the store by anyone, until the task is
/// aborted. Returns at once (the task ends) when the store has no change feed (SQLite).
///
/// Call it right after loading the atlas. Every subscription, the first included, is followed
/// by a full reload, because a change committed before the feed was listening is otherwise
/// missed; [`load_and_listen`] subscribes before the first load and so avoids that second load.
pub fn spawn_change_listener(store: Arc<dyn Store>, atlas: Arc<Atlas>) -> JoinHandle<()> {
    tokio::spawn(listen(store, atlas, None))
}

/// Subscribes to the store's changes, loads the atlas, then keeps it in step (as
/// [`spawn_change_listener`], without the redundant first reload). The listener handle is
/// `None` when the store has no change feed.
pub async fn load_and_listen(
    store: Arc<dyn Store>,
) -> Result<(Arc<Atlas>, Option<JoinHandle<()>>), StoreError> {
    let feed = store.subscribe_changes().await?;
    let atlas = Arc::new(Atlas::load(store.as_ref()).await?);
    let handle = feed.map(|feed| tokio::spawn(listen(store, atlas.clone(), Some(feed))));
    Ok((atlas, handle))
}

async fn listen(store: Arc<dyn Store>, atlas: Arc<Atlas>, mut initial: Option<ChangeFeed>) {
    let backend = store.backend();
    let mut backoff = Backoff::new(BACKOFF_INITIAL, BACKOFF_MAX);
    let mut first = true;
    loop {
        // 1. A feed: the one given, or a new subscription.
        let (mut feed, fresh) = match initial.take() {
            Some(feed) => (feed, false),
            None => match store.subscribe_changes().await {
                Ok(Some(feed)) => (feed, true),
                Ok(None) => {
                    tracing::info!(
                        backend,
                        "store has no change feed; change listener not needed"
                    );
                    return;
                }
                Err(e) => {
                    let delay = backoff.step();
                    tracing::warn!(
                        backend,
                        error = %e,
                        unavailable = e.is_unavailable(),
                        retry_in_ms = delay.as_millis() as u64,
                        "cannot listen for changes; serving the last snapshot"
                    );
                    tokio::time::sleep(delay).await;
                    continue;
                }
            },
        };
        if first {
            tracing::info!(backend, channel = CHANGES_CHANNEL, "listening for changes");
        } else {
            tracing::info!(backend, "change listener reconnected");
        }

        // 2. Notifications sent while nobody listened are lost: reload in full.
        let mut need = if fresh {
            ReloadNeed::Full
        } else {
            ReloadNeed::Nothing
        };
        let mut reason = "subscribed";
        first = false;

        // 3. Reload on every burst of changes until the feed closes or a reload fails.
        loop {
            if need > ReloadNeed::Nothing {
                // Coalesce: everything already pending is covered by this reload.
                let mut coalesced = 0usize;
                while let Ok(event) = feed.try_recv() {
                    need = need.max(ReloadNeed::of(&event));
                    coalesced += 1;
                }
                match apply(store.as_ref(), &atlas, need, reason, coalesced).await {
                    Ok(()) => backoff.reset(),
                    Err(e) => {
                        let delay = backoff.step();
                        tracing::warn!(
                            backend,
                            error = %e,
                            unavailable = e.is_unavailable(),
                            retry_in_ms = delay.as_millis() as u64,
                            "reload after a change failed; serving the last snapshot"
                        );
                        tokio::time::sleep(delay).await;
                        // Start over: resubscribe, then reload in full.
                        break;
                    }
                }
                need = ReloadNeed::Nothing;
            }
            match feed.recv().await {
                Some(event) => {
                    reason = match event {
                        ChangeEvent::Reconnected => "reconnected",
                        ChangeEvent::Changed(_) => "change",
                    };
                    need = need.max(ReloadNeed::of(&event));
                }
                None => {
                    let delay = backoff.step();
                    tracing::warn!(
                        backend,
                        retry_in_ms = delay.as_millis() as u64,
                        "change feed lost its connection; serving the last snapshot"
                    );
                    tokio::time::sleep(delay).await;
                    break;
                }
            }
        }
    }
}

async fn apply(
    store: &dyn Store,
    atlas: &Atlas,
    need: ReloadNeed,
    reason: &str,
    coalesced: usize,
) -> Result<(), StoreError> {
    let started = Instant::now();
    match need {
        ReloadNeed::Nothing => return Ok(()),
        ReloadNeed::Attributes => atlas.reload_attributes(store).await?,
        ReloadNeed::Full => atlas.reload(store).await?,
    }
    tracing::info!(
        kind = if need == ReloadNeed::Full {
            "full"
        } else {
            "attributes"
        },
        reason,
        coalesced,
        elapsed_ms = started.elapsed().as_millis() as u64,
        generation = atlas.snapshot().generation,
        "snapshot reloaded to follow the store"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_map_to_the_reload_they_need() {
        let e = parse_payload(r#"{"table" : "leader_assignments", "op" : "UPDATE"}"#);
        assert_eq!(ReloadNeed::of(&e), ReloadNeed::Attributes);
        let e = parse_payload(r#"{"table": "grids", "op": "INSERT"}"#);
        assert_eq!(ReloadNeed::of(&e), ReloadNeed::Full);
        let e = parse_payload(r#"{"table": "audit_log", "op": "INSERT"}"#);
        assert_eq!(ReloadNeed::of(&e), ReloadNeed::Nothing);
        assert_eq!(ReloadNeed::of(&parse_payload("garbage")), ReloadNeed::Full);
        assert_eq!(ReloadNeed::of(&ChangeEvent::Reconnected), ReloadNeed::Full);
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let steps: Vec<u128> = (0..4).map(|_| b.step().as_millis()).collect();
        assert_eq!(steps, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.step().as_millis(), 100);
    }
}
