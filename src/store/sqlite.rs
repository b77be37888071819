//! The embedded default store: one SQLite file, no server.

use futures_util::TryStreamExt;
use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use tokio::sync::mpsc;

use crate::sync::{Change, ChangeEvent, ChangeFeed};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use super::{
    Attributes, LeaderChange, PersonRef, Store, StoreError, UpsertReport, decode_multipolygon,
    encode_multipolygon,
};
use crate::model::{
    Building, Contact, Dataset, Grid, GridLevel, LeaderAssignment, LeaderRole, Person, ServiceTeam,
    TeamMember, Workload,
};

/// Write transactions take SQLite's write lock when they begin: a deferred transaction that
/// reads first and writes later fails at once with "database is locked" when another writer
/// got in between, whereas BEGIN IMMEDIATE waits (up to the busy timeout) for its turn.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating the file and its folder when missing) and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true);
        let path = options.get_filename();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && path.to_str() != Some(":memory:")
        {
            std::fs::create_dir_all(dir)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
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

/// People, current leader assignments and teams, read on one connection (inside the caller's
/// transaction, so they are consistent with whatever else it reads).
/// Decodes rows as they stream in: holding every raw row of a million-row table before
/// decoding it doubled the peak memory of a load.
async fn collect_rows<T>(
    conn: &mut sqlx::SqliteConnection,
    sql: &'static str,
    mut decode: impl FnMut(&SqliteRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    let mut rows = sqlx::query(sql).fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        out.push(decode(&row)?);
    }
    Ok(out)
}

async fn attributes_from(conn: &mut sqlx::SqliteConnection) -> Result<Attributes, StoreError> {
    let people = collect_rows(
        conn,
        "SELECT id, name, phone, email FROM people ORDER BY id",
        |r| {
            Ok(Person {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                contact: Contact {
                    phone: r.try_get("phone")?,
                    email: r.try_get("email")?,
                },
            })
        },
    )
    .await?;
    let leaders = collect_rows(
        conn,
        "SELECT grid_code, role, person_id FROM leader_assignments WHERE valid_to IS NULL ORDER BY grid_code, role",
        |r| {
            let role: String = r.try_get("role")?;
            Ok(LeaderAssignment {
                grid_code: r.try_get("grid_code")?,
                role: LeaderRole::from_str(&role).map_err(StoreError::Corrupt)?,
                person_id: r.try_get("person_id")?,
            })
        },
    )
    .await?;
    // Three queries in all, grouped here: one query per team would cost tens of thousands of
    // round trips at city scale.
    let mut members: HashMap<String, Vec<TeamMember>> = HashMap::new();
    for m in sqlx::query(
        "SELECT team_id, name, department, specialty, phone, email FROM team_members \
         ORDER BY team_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        members
            .entry(m.try_get("team_id")?)
            .or_default()
            .push(TeamMember {
                name: m.try_get("name")?,
                department: m.try_get("department")?,
                specialty: m.try_get("specialty")?,
                contact: Contact {
                    phone: m.try_get("phone")?,
                    email: m.try_get("email")?,
                },
            });
    }
    let mut grid_codes: HashMap<String, Vec<String>> = HashMap::new();
    for a in sqlx::query(
        "SELECT team_id, grid_code FROM team_assignments WHERE valid_to IS NULL \
         ORDER BY team_id, grid_code",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        grid_codes
            .entry(a.try_get("team_id")?)
            .or_default()
            .push(a.try_get("grid_code")?);
    }
    let mut teams = Vec::new();
    for r in sqlx::query("SELECT id, name FROM service_teams ORDER BY id")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: String = r.try_get("id")?;
        teams.push(ServiceTeam {
            members: members.remove(&id).unwrap_or_default(),
            grid_codes: grid_codes.remove(&id).unwrap_or_default(),
            name: r.try_get("name")?,
            id,
        });
    }
    Ok(Attributes {
        people,
        leaders,
        teams,
    })
}

/// How often the SQLite change feed looks for writes made by other processes.
const CHANGE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The tables an audited action changed, as the change feed reports them.
fn tables_of_action(action: &str) -> &'static str {
    match action {
        "replace_leaders" => "leader_assignments",
        "upsert_buildings" => "buildings",
        _ => "grids",
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
            let change = Change {
                table: tables_of_action(&action).to_string(),
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

    async fn load(&self) -> Result<Dataset, StoreError> {
        // One read transaction: the snapshot never mixes data from before and after a write.
        let mut conn = self.pool.begin().await?;
        let grids = collect_rows(
            &mut conn,
            "SELECT code, name, name_en, level, parent_code, geometry, valid_from, valid_to \
             FROM grids WHERE valid_to IS NULL ORDER BY code",
            grid_from_row,
        )
        .await?;
        let buildings = collect_rows(
            &mut conn,
            "SELECT * FROM buildings ORDER BY id",
            building_from_row,
        )
        .await?;
        let Attributes {
            people,
            leaders,
            teams,
        } = attributes_from(&mut conn).await?;
        conn.commit().await?;
        Ok(Dataset {
            grids,
            buildings,
            people,
            leaders,
            teams,
        })
    }

    async fn load_attributes(&self) -> Result<Attributes, StoreError> {
        let mut tx = self.pool.begin().await?;
        let attributes = attributes_from(&mut tx).await?;
        tx.commit().await?;
        Ok(attributes)
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
        let now = timestamp(Utc::now());
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
                    .push_bind(now.clone());
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
                    .push_bind(now.clone());
            },
        )
        .await?;
        let summary = json!({
            "grids": ds.grids.len(), "buildings": ds.buildings.len(), "people": ds.people.len(),
            "leaders": ds.leaders.len(), "teams": ds.teams.len(),
        });
        audit(&mut tx, actor, "seed", "atlas", None, Some(summary)).await?;
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
        tx.commit().await?;
        Ok(())
    }

    async fn upsert_buildings(
        &self,
        buildings: &[Building],
        actor: &str,
    ) -> Result<UpsertReport, StoreError> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await?;
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
                Some(_) => {
                    insert_building(&mut tx, b).await?;
                    report.updated += 1;
                }
                None => {
                    insert_building(&mut tx, b).await?;
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
        }
        tx.commit().await?;
        Ok(report)
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
