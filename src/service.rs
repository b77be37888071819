//! Start-up: open the store, seed an empty one from a data folder, load the snapshot.
//! Used by `serve`, by the other commands, and by the tests (so they run what users run).

use std::path::Path;
use std::sync::Arc;

use crate::atlas::Atlas;
use crate::import::{ImportError, geodata};
use crate::model::Dataset;
use crate::rules::{Violation, check_dataset};
use crate::store::{self, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("the data breaks {} rule(s) of the atlas:\n{}", .0.len(), list(.0))]
    Rules(Vec<Violation>),
}

fn list(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("  - {}", v.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads a data folder and checks every rule; the dataset is returned only when valid.
pub fn read_valid_folder(dir: &Path) -> Result<Dataset, ServiceError> {
    let ds = geodata::read_folder(dir)?;
    let violations = check_dataset(&ds);
    if violations.is_empty() {
        Ok(ds)
    } else {
        Err(ServiceError::Rules(violations))
    }
}

/// Opens the store and, when it holds no grid yet and a seed folder is given, seeds it.
pub async fn open_store(
    database_url: &str,
    seed: Option<&Path>,
) -> Result<Arc<dyn Store>, ServiceError> {
    let store = store::open(database_url).await?;
    if let Some(dir) = seed
        && store.is_empty().await?
    {
        tracing::info!(folder = %dir.display(), "empty store: seeding from the data folder");
        let ds = read_valid_folder(dir)?;
        match store.seed(&ds, "seed").await {
            Ok(()) => {}
            // Another instance starting at the same moment seeded it first: nothing to do.
            Err(StoreError::Conflict(why)) => tracing::info!(%why, "store seeded meanwhile"),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(store)
}

/// Opens (and seeds) the store and loads the first snapshot. When the store has a change
/// feed (PostgreSQL), a background task keeps the snapshot in step with changes committed
/// anywhere; it ends with the runtime.
pub async fn start(
    database_url: &str,
    seed: Option<&Path>,
) -> Result<(Arc<dyn Store>, Arc<Atlas>), ServiceError> {
    let store = open_store(database_url, seed).await?;
    let (atlas, _listener) = crate::sync::load_and_listen(store.clone()).await?;
    Ok((store, atlas))
}
