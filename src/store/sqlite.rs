//! The embedded default store: one SQLite file, no server.

mod bulk;
mod history;
mod plans;

use futures_util::TryStreamExt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
};
use tokio::sync::mpsc;

use crate::sync::{Change, ChangeEvent, ChangeFeed};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use super::{
    AtlasVersion, Attributes, GridHistory, LeaderChange, PersonRef, PlanRecord, Store, StoreError,
    UpsertReport, Versioned, decode_multipolygon, encode_multipolygon, seed_starts,
    version_from_db,
};
use crate::model::{
    AtlasChanges, Building, Dataset, Grid, GridLevel, LeaderRole, Person, TeamMember, Workload,
};

/// Write transactions take SQLite's write lock when they begin: a deferred transaction that
/// reads first and writes later fails at once with "database is locked" when another writer
/// got in between, whereas BEGIN IMMEDIATE waits (up to the busy timeout) for its turn.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

pub struct SqliteStore {
    pool: SqlitePool,
    /// The database file, which whole-atlas reads open on connections of their own.
    path: std::path::PathBuf,
}

impl SqliteStore {
    /// Opens (creating the file and its folder when missing) and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let path = options.get_filename().to_path_buf();
        // Whole-atlas reads open the file again (see `bulk`): a private in-memory database
        // could not be reached from there.
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(StoreError::UnsupportedUrl(format!(
                "{url} (an in-memory SQLite database; give a file path)"
            )));
        }
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool, path })
    }
}

pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp '{s}': {e}")))
}

fn parse_json_list(s: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("bad {what} list: {e}")))
}

fn grid_from_row(row: &SqliteRow) -> Result<Grid, StoreError> {
    let level: String = row.try_get("level")?;
    let valid_to: Option<String> = row.try_get("valid_to")?;
    Ok(Grid {
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        level: GridLevel::from_str(&level).map_err(StoreError::Corrupt)?,
        parent_code: row.try_get("parent_code")?,
        geometry: decode_multipolygon(row.try_get::<&[u8], _>("geometry")?)?,
        valid_from: parse_timestamp(row.try_get("valid_from")?)?,
        valid_to: valid_to.as_deref().map(parse_timestamp).transpose()?,
    })
}

fn building_from_row(row: &SqliteRow) -> Result<Building, StoreError> {
    Ok(Building {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        aliases: parse_json_list(row.try_get("aliases")?, "aliases")?,
        addresses: parse_json_list(row.try_get("addresses")?, "addresses")?,
        grid_code: row.try_get("grid_code")?,
        footprint: decode_multipolygon(row.try_get::<&[u8], _>("footprint")?)?,
        workload: Workload {
            enterprises: row
                .try_get::<i64, _>("enterprises")?
                .try_into()
                .unwrap_or(0),
            employees: row.try_get::<i64, _>("employees")?.try_into().unwrap_or(0),
            party_members: row
                .try_get::<i64, _>("party_members")?
                .try_into()
                .unwrap_or(0),
            floor_area_m2: row.try_get("floor_area_m2")?,
        },
    })
}

async fn audit(
    tx: &mut Transaction<'_, Sqlite>,
    actor: &str,
    action: &str,
    subject: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject, before, after) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(timestamp(Utc::now()))
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(before.map(|v| v.to_string()))
    .bind(after.map(|v| v.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_person(tx: &mut Transaction<'_, Sqlite>, p: &Person) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO people (id, name, phone, email) VALUES (?, ?, ?, ?)")
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.contact.phone)
        .bind(&p.contact.email)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_building(tx: &mut Transaction<'_, Sqlite>, b: &Building) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO buildings (id, name, name_en, aliases, addresses, grid_code, footprint, \
         enterprises, employees, party_members, floor_area_m2) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, name_en = excluded.name_en, \
         aliases = excluded.aliases, addresses = excluded.addresses, grid_code = excluded.grid_code, \
         footprint = excluded.footprint, enterprises = excluded.enterprises, \
         employees = excluded.employees, party_members = excluded.party_members, \
         floor_area_m2 = excluded.floor_area_m2",
    )
    .bind(&b.id)
    .bind(&b.name)
    .bind(&b.name_en)
    .bind(json!(b.aliases).to_string())
    .bind(json!(b.addresses).to_string())
    .bind(&b.grid_code)
    .bind(encode_multipolygon(&b.footprint))
    .bind(i64::from(b.workload.enterprises))
    .bind(i64::from(b.workload.employees))
    .bind(i64::from(b.workload.party_members))
    .bind(b.workload.floor_area_m2)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn current_leaders(
    tx: &mut Transaction<'_, Sqlite>,
    grid_code: &str,
) -> Result<serde_json::Value, StoreError> {
    let rows = sqlx::query(
        "SELECT role, person_id FROM leader_assignments WHERE grid_code = ? AND valid_to IS NULL ORDER BY role",
    )
    .bind(grid_code)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = serde_json::Map::new();
    for row in rows {
        out.insert(
            row.try_get("role")?,
            json!(row.try_get::<String, _>("person_id")?),
        );
    }
    Ok(serde_json::Value::Object(out))
}

/// Appends the next version to the log (inside the caller's write transaction, which holds
/// SQLite's write lock: no other writer can take the same number).
async fn append_version(
    tx: &mut Transaction<'_, Sqlite>,
    at: &str,
    actor: &str,
    action: &str,
    plan_id: Option<i64>,
) -> Result<AtlasVersion, StoreError> {
    let row = sqlx::query(
        "INSERT INTO atlas_versions (version, at, actor, action, plan_id) \
         SELECT COALESCE(MAX(version), 0) + 1, ?, ?, ?, ? FROM atlas_versions \
         RETURNING version, at, actor, action, plan_id",
    )
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(plan_id)
    .fetch_one(&mut **tx)
    .await?;
    version_from_row(&row)
}

fn version_from_row(row: &SqliteRow) -> Result<AtlasVersion, StoreError> {
    Ok(AtlasVersion {
        version: version_from_db(row.try_get("version")?)?,
        at: parse_timestamp(row.try_get("at")?)?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        plan_id: row.try_get("plan_id")?,
    })
}

/// Ends a building's current building-grid assignment at `at` (when it has one) and begins
/// one to `grid_code` (none: the building belongs to no building grid from then on).
async fn move_building(
    tx: &mut Transaction<'_, Sqlite>,
    building_id: &str,
    grid_code: Option<&str>,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE building_grids SET valid_to = ? WHERE building_id = ? AND valid_to IS NULL",
    )
    .bind(at)
    .bind(building_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("INSERT INTO building_grids (building_id, grid_code, valid_from) VALUES (?, ?, ?)")
        .bind(building_id)
        .bind(grid_code)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Runs `query` on `conn` and decodes its rows as they stream in: holding every raw row of a
/// million-row table before decoding it doubled the peak memory of a load.
async fn collect_rows<T>(
    conn: &mut sqlx::SqliteConnection,
    query: Query<'_, Sqlite, SqliteArguments>,
    mut decode: impl FnMut(&SqliteRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    let mut rows = query.fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        out.push(decode(&row)?);
    }
    Ok(out)
}

/// How often the SQLite change feed looks for writes made by other processes.
const CHANGE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The tables an audited action changed, as the change feed reports them; `None` for actions
/// that change no atlas data (plan drafts), which the feed leaves out.
fn tables_of_action(action: &str) -> Option<&'static str> {
    match action {
        "replace_leaders" => Some("leader_assignments"),
        "upsert_buildings" => Some("buildings"),
        "create_plan" | "update_plan" => None,
        // A publish may change anything: reported as grids, which reloads in full.
        "publish" => Some("grids"),
        _ => Some("grids"),
    }
}

/// Follows the audit log (every write of gridatlas, from any process, adds a row) and turns
/// new rows into change events, so a server sees what `gridatlas import` did in another
/// process. SQLite has no LISTEN/NOTIFY: polling one indexed query is its cheap equivalent.
async fn follow_audit_log(
    pool: SqlitePool,
    mut last: i64,
    feed: mpsc::UnboundedSender<ChangeEvent>,
) {
    let mut tick = tokio::time::interval(CHANGE_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if feed.is_closed() {
            return;
        }
        let rows = match sqlx::query("SELECT id, action FROM audit_log WHERE id > ? ORDER BY id")
            .bind(last)
            .fetch_all(&pool)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the audit log for changes");
                continue;
            }
        };
        for row in rows {
            let (Ok(id), Ok(action)) = (
                row.try_get::<i64, _>("id"),
                row.try_get::<String, _>("action"),
            ) else {
                continue;
            };
            last = last.max(id);
            let Some(table) = tables_of_action(&action) else {
                continue;
            };
            let change = Change {
                table: table.to_string(),
                op: action,
            };
            if feed.send(ChangeEvent::Changed(change)).is_err() {
                return;
            }
        }
    }
}

/// SQLite's limit on bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER, 32766 since 3.32).
const MAX_BIND_PARAMETERS: usize = 32_766;

/// Inserts rows with multi-row `VALUES` statements, as many rows per statement as the
/// parameter limit allows: one statement per row costs a round trip to SQLite's worker
/// thread each, which made seeding a city take minutes.
async fn insert_rows<T>(
    tx: &mut Transaction<'_, Sqlite>,
    head: &'static str,
    columns: usize,
    rows: &[T],
    mut push_row: impl FnMut(&mut sqlx::query_builder::Separated<'_, Sqlite, &'static str>, &T),
) -> Result<(), StoreError> {
    for chunk in rows.chunks((MAX_BIND_PARAMETERS / columns).max(1)) {
        let mut query = sqlx::QueryBuilder::<Sqlite>::new(head);
        query.push_values(chunk, |mut row, item| push_row(&mut row, item));
        query.build().execute(&mut **tx).await?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grids")
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 0)
    }

    async fn load_at(&self, at: Option<DateTime<Utc>>) -> Result<Versioned, StoreError> {
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || {
            bulk::read_dataset(&path, at.map(timestamp).as_deref())
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("the atlas reader stopped: {e}")))??;
        Ok(Versioned {
            version: read.version,
            dataset: super::as_it_stood(read.dataset),
        })
    }

    async fn load_attributes(&self) -> Result<Attributes, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || bulk::read_attributes(&path))
            .await
            .map_err(|e| StoreError::Unavailable(format!("the atlas reader stopped: {e}")))?
    }

    async fn seed(&self, ds: &Dataset, actor: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grids")
            .fetch_one(&mut *tx)
            .await?;
        if existing > 0 {
            return Err(StoreError::Conflict(
                "the store already holds grids; seeding needs an empty database".into(),
            ));
        }
        let now = Utc::now();
        let starts = seed_starts(ds);
        let start_of = |code: Option<&str>| {
            timestamp(code.and_then(|c| starts.get(c)).copied().unwrap_or(now))
        };
        insert_rows(&mut tx, "INSERT INTO grids (code, name, name_en, level, parent_code, geometry, valid_from, valid_to) ", 8, &ds.grids, |row, g| {
            row.push_bind(g.code.clone())
                .push_bind(g.name.clone())
                .push_bind(g.name_en.clone())
                .push_bind(g.level.as_str())
                .push_bind(g.parent_code.clone())
                .push_bind(encode_multipolygon(&g.geometry))
                .push_bind(timestamp(g.valid_from))
                .push_bind(g.valid_to.map(timestamp));
        })
        .await?;
        insert_rows(&mut tx, "INSERT INTO buildings (id, name, name_en, aliases, addresses, grid_code, footprint, enterprises, employees, party_members, floor_area_m2) ", 11, &ds.buildings, |row, b| {
            row.push_bind(b.id.clone())
                .push_bind(b.name.clone())
                .push_bind(b.name_en.clone())
                .push_bind(json!(b.aliases).to_string())
                .push_bind(json!(b.addresses).to_string())
                .push_bind(b.grid_code.clone())
                .push_bind(encode_multipolygon(&b.footprint))
                .push_bind(i64::from(b.workload.enterprises))
                .push_bind(i64::from(b.workload.employees))
                .push_bind(i64::from(b.workload.party_members))
                .push_bind(b.workload.floor_area_m2);
        })
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO people (id, name, phone, email) ",
            4,
            &ds.people,
            |row, p| {
                row.push_bind(p.id.clone())
                    .push_bind(p.name.clone())
                    .push_bind(p.contact.phone.clone())
                    .push_bind(p.contact.email.clone());
            },
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO leader_assignments (grid_code, role, person_id, valid_from) ",
            4,
            &ds.leaders,
            |row, l| {
                row.push_bind(l.grid_code.clone())
                    .push_bind(l.role.as_str())
                    .push_bind(l.person_id.clone())
                    .push_bind(start_of(Some(&l.grid_code)));
            },
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO service_teams (id, name) ",
            2,
            &ds.teams,
            |row, t| {
                row.push_bind(t.id.clone()).push_bind(t.name.clone());
            },
        )
        .await?;
        let members: Vec<(&str, usize, &TeamMember)> = ds
            .teams
            .iter()
            .flat_map(|t| {
                t.members
                    .iter()
                    .enumerate()
                    .map(move |(i, m)| (t.id.as_str(), i, m))
            })
            .collect();
        insert_rows(&mut tx, "INSERT INTO team_members (team_id, position, name, department, specialty, phone, email) ", 7, &members, |row, (team, position, m)| {
            row.push_bind(team.to_string())
                .push_bind(*position as i64)
                .push_bind(m.name.clone())
                .push_bind(m.department.clone())
                .push_bind(m.specialty.clone())
                .push_bind(m.contact.phone.clone())
                .push_bind(m.contact.email.clone());
        })
        .await?;
        let assignments: Vec<(&str, &str)> = ds
            .teams
            .iter()
            .flat_map(|t| {
                t.grid_codes
                    .iter()
                    .map(move |c| (t.id.as_str(), c.as_str()))
            })
            .collect();
        insert_rows(
            &mut tx,
            "INSERT INTO team_assignments (team_id, grid_code, valid_from) ",
            3,
            &assignments,
            |row, (team, code)| {
                row.push_bind(team.to_string())
                    .push_bind(code.to_string())
                    .push_bind(start_of(Some(code)));
            },
        )
        .await?;
        insert_rows(
            &mut tx,
            "INSERT INTO building_grids (building_id, grid_code, valid_from) ",
            3,
            &ds.buildings,
            |row, b| {
                row.push_bind(b.id.clone())
                    .push_bind(b.grid_code.clone())
                    .push_bind(start_of(b.grid_code.as_deref()));
            },
        )
        .await?;
        let summary = json!({
            "grids": ds.grids.len(), "buildings": ds.buildings.len(), "people": ds.people.len(),
            "leaders": ds.leaders.len(), "teams": ds.teams.len(),
        });
        audit(&mut tx, actor, "seed", "atlas", None, Some(summary)).await?;
        append_version(&mut tx, &timestamp(now), actor, "seed", None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_leaders(
        &self,
        grid_code: &str,
        change: &LeaderChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let exists: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM grids WHERE code = ? AND valid_to IS NULL")
                .bind(grid_code)
                .fetch_one(&mut *tx)
                .await?;
        if exists == 0 {
            return Err(StoreError::Conflict(format!("no current grid {grid_code}")));
        }
        let before = current_leaders(&mut tx, grid_code).await?;
        let at = timestamp(at);
        sqlx::query(
            "UPDATE leader_assignments SET valid_to = ? WHERE grid_code = ? AND valid_to IS NULL",
        )
        .bind(&at)
        .bind(grid_code)
        .execute(&mut *tx)
        .await?;
        for (role, holder) in [
            (LeaderRole::BacConvener, &change.bac_convener),
            (LeaderRole::PartyWorker, &change.party_worker),
        ] {
            let Some(holder) = holder else { continue };
            let person_id = match holder {
                PersonRef::Existing(id) => id.clone(),
                PersonRef::New(p) => {
                    insert_person(&mut tx, p).await?;
                    p.id.clone()
                }
            };
            sqlx::query(
                "INSERT INTO leader_assignments (grid_code, role, person_id, valid_from) VALUES (?, ?, ?, ?)",
            )
            .bind(grid_code)
            .bind(role.as_str())
            .bind(&person_id)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        let after = current_leaders(&mut tx, grid_code).await?;
        audit(
            &mut tx,
            actor,
            "replace_leaders",
            grid_code,
            Some(before),
            Some(after),
        )
        .await?;
        append_version(&mut tx, &at, actor, "replace_leaders", None).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_buildings(
        &self,
        buildings: &[Building],
        actor: &str,
    ) -> Result<UpsertReport, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let now = timestamp(Utc::now());
        let mut report = UpsertReport::default();
        for b in buildings {
            let existing = sqlx::query("SELECT * FROM buildings WHERE id = ?")
                .bind(&b.id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| building_from_row(&row))
                .transpose()?;
            match existing {
                Some(old) if old == *b => report.unchanged += 1,
                Some(old) => {
                    insert_building(&mut tx, b).await?;
                    if old.grid_code != b.grid_code {
                        move_building(&mut tx, &b.id, b.grid_code.as_deref(), &now).await?;
                    }
                    report.updated += 1;
                }
                None => {
                    insert_building(&mut tx, b).await?;
                    move_building(&mut tx, &b.id, b.grid_code.as_deref(), &now).await?;
                    report.inserted += 1;
                }
            }
        }
        if report.inserted + report.updated > 0 {
            let after = json!({"inserted": report.inserted, "updated": report.updated});
            audit(
                &mut tx,
                actor,
                "upsert_buildings",
                "buildings",
                None,
                Some(after),
            )
            .await?;
            append_version(&mut tx, &now, actor, "upsert_buildings", None).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn change_point(&self, at: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        history::change_point(&self.pool, &timestamp(at)).await
    }

    async fn current_version(&self) -> Result<u64, StoreError> {
        let mut conn = self.pool.acquire().await?;
        history::current_version_on(&mut conn).await
    }

    async fn versions(&self) -> Result<Vec<AtlasVersion>, StoreError> {
        history::versions(&self.pool).await
    }

    async fn grid_history(&self, code: &str) -> Result<GridHistory, StoreError> {
        history::grid_history(&self.pool, code).await
    }

    async fn used_codes(&self) -> Result<Vec<String>, StoreError> {
        history::used_codes(&self.pool).await
    }

    async fn create_plan(
        &self,
        name: &str,
        base_version: u64,
        changes: &str,
        actor: &str,
    ) -> Result<PlanRecord, StoreError> {
        plans::create_plan(&self.pool, name, base_version, changes, actor).await
    }

    async fn plan(&self, id: i64) -> Result<Option<PlanRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        plans::plan_on(&mut conn, id).await
    }

    async fn plans(&self) -> Result<Vec<PlanRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        plans::plans(&mut conn).await
    }

    async fn update_plan(
        &self,
        id: i64,
        changes: &str,
        actor: &str,
    ) -> Result<Option<PlanRecord>, StoreError> {
        plans::update_plan(&self.pool, id, changes, actor).await
    }

    async fn publish(
        &self,
        plan_id: i64,
        base_version: u64,
        changes: &AtlasChanges,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<AtlasVersion, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
        let version = plans::publish(&mut tx, plan_id, base_version, changes, actor, at).await?;
        tx.commit().await?;
        Ok(version)
    }

    async fn subscribe_changes(&self) -> Result<Option<ChangeFeed>, StoreError> {
        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM audit_log")
            .fetch_one(&self.pool)
            .await?;
        let (sender, feed) = mpsc::unbounded_channel();
        tokio::spawn(follow_audit_log(self.pool.clone(), last, sender));
        Ok(Some(feed))
    }
}
