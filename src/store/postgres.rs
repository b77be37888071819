//! The production store: PostgreSQL with PostGIS, shared by several gridatlas instances (and by
//! GIS analysts working in QGIS or plain SQL on the same database).
//!
//! Same semantics as the SQLite store: every write is one transaction and writes one audit
//! entry; grid versions and assignments are closed (`valid_to`), never deleted. Geometry is
//! `geometry(MultiPolygon, 4326)`: read as `ST_AsBinary(…)` and decoded with
//! [`decode_multipolygon`], written with `ST_Multi(ST_GeomFromWKB($1, 4326))` (or as EWKB in a
//! `COPY`, for seeding big data). Triggers of migrations/postgres notify
//! [`crate::sync::CHANGES_CHANNEL`] on every write; [`Store::subscribe_changes`] listens.

mod history;
mod plans;

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use serde_json::json;
use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgConnection, PgListener, PgPoolOptions, PgRow,
};
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgPool, Postgres, Row, Transaction};
use tokio::sync::mpsc;

use super::{
    AtlasVersion, Attributes, GridHistory, LeaderChange, PersonRef, PlanRecord, Store, StoreError,
    UpsertReport, Versioned, decode_multipolygon, encode_multipolygon, seed_rows, seed_starts,
    version_from_db,
};
use crate::model::{
    AtlasChanges, Building, Contact, Dataset, Grid, GridLevel, LeaderAssignment, LeaderRole,
    Person, ServiceTeam, TeamMember, Workload,
};
use crate::sync::{CHANGES_CHANNEL, ChangeEvent, ChangeFeed, parse_payload};

/// How long a request waits for a connection before the store reports itself unavailable: an
/// outage of PostgreSQL fails writes fast instead of hanging them.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Connections per instance.
const MAX_CONNECTIONS: u32 = 8;

/// How long the change listener may hear nothing before it checks its connection (a probe
/// that must answer within [`ACQUIRE_TIMEOUT`]).
const LISTENER_HEARTBEAT: Duration = Duration::from_secs(30);

/// Rows per `UNNEST` statement of an upsert.
const UPSERT_CHUNK: usize = 5_000;

/// Bytes of COPY data sent at a time.
const COPY_CHUNK: usize = 1 << 20;

/// The actor recorded when a caller gives none.
const DEFAULT_ACTOR: &str = "gridatlas";

pub struct PostgresStore {
    pool: PgPool,
    options: PgConnectOptions,
    operation_timeout: Duration,
    listener_heartbeat: Duration,
}

/// Longest wait for a short operation (an edit, the attribute load) before the store reports
/// itself unavailable. A connection whose peer vanished without closing it (a network
/// partition) would otherwise hang the request until TCP gives up, many minutes later.
/// Upserts get 10 ms more per building; `load` and `seed`, which may move millions of rows, have
/// no limit.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// Longest wait for a ping (`/readyz`).
const PING_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `work`, or reports the store unavailable when it takes longer than `limit`.
async fn bounded<T>(
    limit: Duration,
    what: &str,
    work: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Unavailable(format!(
            "PostgreSQL did not answer {what} within {:.1} s",
            limit.as_secs_f64()
        ))),
    }
}

impl PostgresStore {
    /// Connects to `postgres://…` and migrates the database (migrations/postgres; needs the
    /// right to `CREATE EXTENSION postgis` unless it exists already).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        Self::open_with(options).await
    }

    /// As [`PostgresStore::open`], from connection options.
    pub async fn open_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let options = options.application_name("gridatlas");
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection killed under us (server restart, failover) is found on acquire
            // and replaced, instead of failing the request that drew it.
            .test_before_acquire(true)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PostgresStore {
            pool,
            options,
            operation_timeout: OPERATION_TIMEOUT,
            listener_heartbeat: LISTENER_HEARTBEAT,
        })
    }

    /// Changes [`OPERATION_TIMEOUT`] (tests stage network partitions with short ones).
    pub fn with_operation_timeout(mut self, limit: Duration) -> Self {
        self.operation_timeout = limit;
        self
    }

    /// Changes how long the change listener may hear nothing before it checks its connection
    /// (30 s by default).
    pub fn with_listener_heartbeat(mut self, every: Duration) -> Self {
        self.listener_heartbeat = every;
        self
    }

    /// The connection pool (for tools and tests that run their own SQL).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction. `gridatlas.actor` marks it as ours: the SQL audit triggers skip
    /// it, since we write our own audit entry.
    async fn begin_write(&self, actor: &str) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let actor = if actor.trim().is_empty() {
            DEFAULT_ACTOR
        } else {
            actor
        };
        sqlx::query("SELECT set_config('gridatlas.actor', $1, true)")
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// A write transaction of the atlas: [`PostgresStore::begin_write`], then the version log
    /// locked until commit, so that atlas writers of every instance take their turns and each
    /// appends the next version. Taken first, before any row lock, by every atlas write: one
    /// lock order, no deadlock. Readers are not blocked.
    async fn begin_atlas_write(
        &self,
        actor: &str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.begin_write(actor).await?;
        sqlx::query("LOCK TABLE atlas_versions IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// A consistent read-only view of the whole database (one snapshot for every query).
    async fn begin_read(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?)
    }
}

/// Writes COPY text format (tab-separated, `\N` for NULL, backslash escapes).
#[derive(Default)]
struct CopyWriter {
    buf: Vec<u8>,
    fields: usize,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl CopyWriter {
    fn separate(&mut self) {
        if self.fields > 0 {
            self.buf.push(b'\t');
        }
        self.fields += 1;
    }

    fn text(&mut self, s: &str) {
        self.separate();
        for &b in s.as_bytes() {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                _ => self.buf.push(b),
            }
        }
    }

    fn null(&mut self) {
        self.separate();
        self.buf.extend_from_slice(b"\\N");
    }

    fn opt_text(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    fn int(&mut self, n: i64) {
        self.separate();
        self.buf.extend_from_slice(n.to_string().as_bytes());
    }

    fn float(&mut self, x: f64) {
        self.separate();
        // Rust prints the shortest representation that reads back exactly; PostgreSQL's
        // spellings of the non-finite values differ.
        let s = if x.is_nan() {
            "NaN".to_string()
        } else if x.is_infinite() {
            if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
        } else {
            x.to_string()
        };
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn timestamp(&mut self, t: Option<DateTime<Utc>>) {
        match t {
            Some(t) => {
                self.separate();
                self.buf
                    .extend_from_slice(t.to_rfc3339_opts(SecondsFormat::Micros, true).as_bytes());
            }
            None => self.null(),
        }
    }

    /// Hex EWKB with SRID 4326, the text form PostGIS reads for a geometry column.
    fn geometry(&mut self, mp: &geo::MultiPolygon<f64>) {
        self.separate();
        let wkb = encode_multipolygon(mp);
        let mut push = |bytes: &[u8]| {
            for b in bytes {
                self.buf.push(HEX[usize::from(b >> 4)]);
                self.buf.push(HEX[usize::from(b & 0x0f)]);
            }
        };
        // ISO WKB from encode_multipolygon: byte order 1 (little endian), type u32, body.
        // EWKB adds the SRID flag to the type and the SRID after it.
        if wkb.len() >= 5 && wkb[0] == 1 {
            let kind = u32::from_le_bytes([wkb[1], wkb[2], wkb[3], wkb[4]]);
            push(&[1]);
            push(&(kind | 0x2000_0000).to_le_bytes());
            push(&4326u32.to_le_bytes());
            push(&wkb[5..]);
        } else {
            // The column's SRID applies to a geometry without one.
            push(&wkb);
        }
    }

    fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.fields = 0;
    }
}

/// Streams `items` into `COPY … FROM STDIN` on `conn` (inside the caller's transaction).
///
/// A big load (at least [`BULK_LOAD_ROWS`] rows, into a table the seed requires to be empty)
/// drops the table's secondary indexes and disables its SQL-audit trigger first, and rebuilds
/// and re-enables them after: building an index once is several times faster than maintaining
/// it row by row. All of it is inside the transaction: a failure rolls the DDL back too, and a
/// unique index rebuilt over duplicates fails the seed as the index itself would have.
async fn copy_rows<T>(
    conn: &mut PgConnection,
    table: &str,
    statement: &str,
    items: &[T],
    progress: &mut (dyn FnMut(usize) + Send),
    write: impl Fn(&mut CopyWriter, &T),
) -> Result<u64, StoreError> {
    if items.is_empty() {
        return Ok(0);
    }
    let suspended = if items.len() >= BULK_LOAD_ROWS {
        Some(Suspended::begin(conn, table).await?)
    } else {
        None
    };
    let rows = copy_in(conn, statement, items, progress, write).await?;
    if let Some(suspended) = suspended {
        suspended.end(conn).await?;
    }
    Ok(rows)
}

/// Rows from which a seed suspends a table's indexes and audit trigger (see [`copy_rows`]).
const BULK_LOAD_ROWS: usize = 10_000;

/// A table's secondary indexes and SQL-audit trigger, set aside for a bulk load.
struct Suspended {
    table: String,
    indexes: Vec<String>,
    trigger: Option<String>,
}

impl Suspended {
    async fn begin(conn: &mut PgConnection, table: &str) -> Result<Suspended, StoreError> {
        let indexes: Vec<(String, String)> = sqlx::query_as(
            "SELECT x.indexrelid::regclass::text, pg_get_indexdef(x.indexrelid) \
             FROM pg_index x \
             WHERE x.indrelid = to_regclass($1) \
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        )
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
        for (name, _) in &indexes {
            // `name` is regclass text: already quoted where it needs to be.
            sqlx::query(AssertSqlSafe(format!("DROP INDEX {name}")))
                .execute(&mut *conn)
                .await?;
        }
        let audit_trigger = format!("{table}_audit_sql");
        let trigger: Option<String> = sqlx::query_scalar(
            "SELECT tgname::text FROM pg_trigger \
             WHERE tgrelid = to_regclass($1) AND tgname = $2 AND tgenabled <> 'D'",
        )
        .bind(table)
        .bind(&audit_trigger)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(t) = &trigger {
            sqlx::query(AssertSqlSafe(format!(
                "ALTER TABLE {} DISABLE TRIGGER {}",
                quote_ident(table),
                quote_ident(t)
            )))
            .execute(&mut *conn)
            .await?;
        }
        tracing::debug!(
            table,
            indexes = indexes.len(),
            "indexes suspended for a bulk load"
        );
        Ok(Suspended {
            table: table.to_string(),
            indexes: indexes.into_iter().map(|(_, def)| def).collect(),
            trigger,
        })
    }

    async fn end(self, conn: &mut PgConnection) -> Result<(), StoreError> {
        for def in self.indexes {
            sqlx::query(AssertSqlSafe(def)).execute(&mut *conn).await?;
        }
        if let Some(t) = &self.trigger {
            sqlx::query(AssertSqlSafe(format!(
                "ALTER TABLE {} ENABLE TRIGGER {}",
                quote_ident(&self.table),
                quote_ident(t)
            )))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn copy_in<T>(
    conn: &mut PgConnection,
    statement: &str,
    items: &[T],
    progress: &mut (dyn FnMut(usize) + Send),
    write: impl Fn(&mut CopyWriter, &T),
) -> Result<u64, StoreError> {
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut w = CopyWriter {
        buf: Vec::with_capacity(COPY_CHUNK + 64 * 1024),
        fields: 0,
    };
    let mut pending = 0usize;
    for item in items {
        write(&mut w, item);
        w.end_row();
        pending += 1;
        if w.buf.len() >= COPY_CHUNK {
            let chunk = std::mem::replace(&mut w.buf, Vec::with_capacity(COPY_CHUNK + 64 * 1024));
            copy.send(chunk).await?;
            progress(std::mem::take(&mut pending));
        }
    }
    if !w.buf.is_empty() {
        copy.send(std::mem::take(&mut w.buf)).await?;
    }
    let rows = copy.finish().await?;
    progress(pending);
    Ok(rows)
}

fn to_u32(n: i64, what: &str) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {n}")))
}

fn grid_from_row(row: &PgRow) -> Result<Grid, StoreError> {
    let level: String = row.try_get("level")?;
    Ok(Grid {
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        level: GridLevel::from_str(&level).map_err(StoreError::Corrupt)?,
        parent_code: row.try_get("parent_code")?,
        geometry: decode_multipolygon(row.try_get::<&[u8], _>("geom")?)?,
        valid_from: row.try_get("valid_from")?,
        valid_to: row.try_get("valid_to")?,
    })
}

const BUILDING_COLUMNS: &str = "id, name, name_en, aliases, addresses, grid_code, \
     ST_AsBinary(footprint) AS footprint, enterprises, employees, party_members, floor_area_m2";

fn building_from_row(row: &PgRow) -> Result<Building, StoreError> {
    Ok(Building {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        name_en: row.try_get("name_en")?,
        aliases: row.try_get::<Json<Vec<String>>, _>("aliases")?.0,
        addresses: row.try_get::<Json<Vec<String>>, _>("addresses")?.0,
        grid_code: row.try_get("grid_code")?,
        footprint: decode_multipolygon(row.try_get::<&[u8], _>("footprint")?)?,
        workload: Workload {
            enterprises: to_u32(row.try_get("enterprises")?, "enterprises")?,
            employees: to_u32(row.try_get("employees")?, "employees")?,
            party_members: to_u32(row.try_get("party_members")?, "party_members")?,
            floor_area_m2: row.try_get("floor_area_m2")?,
        },
    })
}

async fn audit(
    tx: &mut Transaction<'_, Postgres>,
    actor: &str,
    action: &str,
    subject: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject, before, after) \
         VALUES (clock_timestamp(), $1, $2, $3, $4, $5)",
    )
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(before.map(Json))
    .bind(after.map(Json))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_person(tx: &mut Transaction<'_, Postgres>, p: &Person) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO people (id, name, phone, email) VALUES ($1, $2, $3, $4)")
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.contact.phone)
        .bind(&p.contact.email)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn current_leaders(
    tx: &mut Transaction<'_, Postgres>,
    grid_code: &str,
) -> Result<serde_json::Value, StoreError> {
    let rows = sqlx::query(
        "SELECT role, person_id FROM leader_assignments \
         WHERE grid_code = $1 AND valid_to IS NULL ORDER BY role",
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

/// The rows of a versioned table valid now (`at` `None`) or at `at` (bound as $1 by
/// [`valid_at`]), as a condition on its own columns, `prefix` naming the table.
fn valid_rows(at: Option<DateTime<Utc>>, prefix: &str) -> String {
    match at {
        None => format!("{prefix}valid_to IS NULL"),
        Some(_) => format!(
            "{prefix}valid_from <= $1 AND ({prefix}valid_to IS NULL OR {prefix}valid_to > $1)"
        ),
    }
}

/// A query built with [`valid_rows`], with `at` bound as $1 when there is one.
fn valid_at(sql: String, at: Option<DateTime<Utc>>) -> Query<'static, Postgres, PgArguments> {
    let query = sqlx::query(AssertSqlSafe(sql));
    match at {
        Some(t) => query.bind(t),
        None => query,
    }
}

/// The version of every grid valid now (`at` `None`) or at `at`, in no particular order.
async fn load_grids(
    conn: &mut PgConnection,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<Grid>, StoreError> {
    let filter = valid_rows(at, "");
    let count: i64 = valid_at(format!("SELECT count(*) FROM grids WHERE {filter}"), at)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    let mut grids = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let sql = format!(
        "SELECT code, name, name_en, level, parent_code, ST_AsBinary(geom) AS geom, \
                valid_from, valid_to \
         FROM grids WHERE {filter}"
    );
    let mut rows = valid_at(sql, at).fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        grids.push(grid_from_row(&row)?);
    }
    Ok(grids)
}

/// Every building, in no particular order, with its building grid now (`at` `None`) or at `at`
/// (none before its first building-grid assignment began).
async fn load_buildings(
    conn: &mut PgConnection,
    at: Option<DateTime<Utc>>,
) -> Result<Vec<Building>, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM buildings")
        .fetch_one(&mut *conn)
        .await?;
    let mut buildings = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let sql = match at {
        None => format!("SELECT {BUILDING_COLUMNS} FROM buildings"),
        Some(_) => format!(
            "SELECT b.id, b.name, b.name_en, b.aliases, b.addresses, bg.grid_code, \
                    ST_AsBinary(b.footprint) AS footprint, b.enterprises, b.employees, \
                    b.party_members, b.floor_area_m2 \
             FROM buildings b LEFT JOIN building_grids bg \
                  ON bg.building_id = b.id AND {}",
            valid_rows(at, "bg.")
        ),
    };
    let mut rows = valid_at(sql, at).fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        buildings.push(building_from_row(&row)?);
    }
    Ok(buildings)
}

/// People, leaders and teams (with their grids) now (`at` `None`) or at `at`, read on `conn`
/// (inside the caller's read transaction).
async fn load_attributes_on(
    conn: &mut PgConnection,
    at: Option<DateTime<Utc>>,
) -> Result<Attributes, StoreError> {
    let people =
        sqlx::query(r#"SELECT id, name, phone, email FROM people ORDER BY id COLLATE "C""#)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok(Person {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    contact: Contact {
                        phone: r.try_get("phone")?,
                        email: r.try_get("email")?,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
    let leaders = valid_at(
        format!(
            r#"SELECT grid_code, role, person_id FROM leader_assignments WHERE {}
               ORDER BY grid_code COLLATE "C", role COLLATE "C""#,
            valid_rows(at, "")
        ),
        at,
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let role: String = r.try_get("role")?;
        Ok(LeaderAssignment {
            grid_code: r.try_get("grid_code")?,
            role: LeaderRole::from_str(&role).map_err(StoreError::Corrupt)?,
            person_id: r.try_get("person_id")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let mut teams = Vec::new();
    let mut team_index: HashMap<String, usize> = HashMap::new();
    for r in sqlx::query(r#"SELECT id, name FROM service_teams ORDER BY id COLLATE "C""#)
        .fetch_all(&mut *conn)
        .await?
    {
        let id: String = r.try_get("id")?;
        team_index.insert(id.clone(), teams.len());
        teams.push(ServiceTeam {
            id,
            name: r.try_get("name")?,
            members: Vec::new(),
            grid_codes: Vec::new(),
        });
    }
    for m in sqlx::query(
        "SELECT team_id, name, department, specialty, phone, email FROM team_members \
         ORDER BY team_id, position",
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let team_id: String = m.try_get("team_id")?;
        let Some(&t) = team_index.get(&team_id) else {
            return Err(StoreError::Corrupt(format!(
                "team member of unknown team {team_id}"
            )));
        };
        teams[t].members.push(TeamMember {
            name: m.try_get("name")?,
            department: m.try_get("department")?,
            specialty: m.try_get("specialty")?,
            contact: Contact {
                phone: m.try_get("phone")?,
                email: m.try_get("email")?,
            },
        });
    }
    for a in valid_at(
        format!(
            r#"SELECT team_id, grid_code FROM team_assignments WHERE {}
               ORDER BY team_id, grid_code COLLATE "C""#,
            valid_rows(at, "")
        ),
        at,
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let team_id: String = a.try_get("team_id")?;
        let Some(&t) = team_index.get(&team_id) else {
            return Err(StoreError::Corrupt(format!(
                "assignment of unknown team {team_id}"
            )));
        };
        teams[t].grid_codes.push(a.try_get("grid_code")?);
    }
    Ok(Attributes {
        people,
        leaders,
        teams,
    })
}

/// Appends the next version to the log. The caller holds the log's lock
/// ([`PostgresStore::begin_atlas_write`]), so no other writer can take the same number.
async fn append_version(
    tx: &mut Transaction<'_, Postgres>,
    at: DateTime<Utc>,
    actor: &str,
    action: &str,
    plan_id: Option<i64>,
) -> Result<AtlasVersion, StoreError> {
    let row = sqlx::query(
        "INSERT INTO atlas_versions (version, at, actor, action, plan_id) \
         SELECT COALESCE(max(version), 0) + 1, $1, $2, $3, $4 FROM atlas_versions \
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

fn version_from_row(row: &PgRow) -> Result<AtlasVersion, StoreError> {
    Ok(AtlasVersion {
        version: version_from_db(row.try_get("version")?)?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        plan_id: row.try_get("plan_id")?,
    })
}

/// Ends the current building-grid assignment of each building listed (when it has one) at
/// `at`, and begins its new one (none: the building belongs to no building grid from then
/// on). A building listed twice is an error (two current assignments).
async fn move_buildings(
    tx: &mut Transaction<'_, Postgres>,
    moves: &[(&str, Option<&str>)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in moves.chunks(UPSERT_CHUNK) {
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| *id).collect();
        let codes: Vec<Option<&str>> = chunk.iter().map(|(_, code)| *code).collect();
        sqlx::query(
            "UPDATE building_grids SET valid_to = $1 \
             WHERE building_id = ANY($2) AND valid_to IS NULL",
        )
        .bind(at)
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO building_grids (building_id, grid_code, valid_from) \
             SELECT u.id, u.code, $3 FROM UNNEST($1::text[], $2::text[]) AS u(id, code)",
        )
        .bind(&ids)
        .bind(&codes)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Writes buildings (insert or update by id) with one `UNNEST` statement per chunk.
async fn write_buildings(
    tx: &mut Transaction<'_, Postgres>,
    buildings: &[&Building],
) -> Result<(), StoreError> {
    for chunk in buildings.chunks(UPSERT_CHUNK) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut names = Vec::with_capacity(chunk.len());
        let mut names_en = Vec::with_capacity(chunk.len());
        let mut aliases = Vec::with_capacity(chunk.len());
        let mut addresses = Vec::with_capacity(chunk.len());
        let mut grid_codes = Vec::with_capacity(chunk.len());
        let mut footprints = Vec::with_capacity(chunk.len());
        let mut enterprises = Vec::with_capacity(chunk.len());
        let mut employees = Vec::with_capacity(chunk.len());
        let mut party_members = Vec::with_capacity(chunk.len());
        let mut floor_areas = Vec::with_capacity(chunk.len());
        for b in chunk {
            ids.push(b.id.as_str());
            names.push(b.name.as_str());
            names_en.push(b.name_en.as_deref());
            aliases.push(json!(b.aliases).to_string());
            addresses.push(json!(b.addresses).to_string());
            grid_codes.push(b.grid_code.as_deref());
            footprints.push(encode_multipolygon(&b.footprint));
            enterprises.push(i64::from(b.workload.enterprises));
            employees.push(i64::from(b.workload.employees));
            party_members.push(i64::from(b.workload.party_members));
            floor_areas.push(b.workload.floor_area_m2);
        }
        sqlx::query(
            "INSERT INTO buildings (id, name, name_en, aliases, addresses, grid_code, footprint, \
                 enterprises, employees, party_members, floor_area_m2) \
             SELECT u.id, u.name, u.name_en, u.aliases::jsonb, u.addresses::jsonb, u.grid_code, \
                 ST_Multi(ST_GeomFromWKB(u.wkb, 4326)), u.enterprises, u.employees, \
                 u.party_members, u.floor_area_m2 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::bytea[], $8::int8[], $9::int8[], $10::int8[], $11::float8[]) \
                 AS u(id, name, name_en, aliases, addresses, grid_code, wkb, enterprises, \
                      employees, party_members, floor_area_m2) \
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, name_en = EXCLUDED.name_en, \
                 aliases = EXCLUDED.aliases, addresses = EXCLUDED.addresses, \
                 grid_code = EXCLUDED.grid_code, footprint = EXCLUDED.footprint, \
                 enterprises = EXCLUDED.enterprises, employees = EXCLUDED.employees, \
                 party_members = EXCLUDED.party_members, floor_area_m2 = EXCLUDED.floor_area_m2",
        )
        .bind(&ids)
        .bind(&names)
        .bind(&names_en)
        .bind(&aliases)
        .bind(&addresses)
        .bind(&grid_codes)
        .bind(&footprints)
        .bind(&enterprises)
        .bind(&employees)
        .bind(&party_members)
        .bind(&floor_areas)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Owns the LISTEN connection of one subscription and forwards its notifications until the
/// subscriber goes away or the connection is lost for good.
async fn forward_changes(
    mut listener: PgListener,
    tx: mpsc::UnboundedSender<ChangeEvent>,
    heartbeat: Duration,
) {
    loop {
        let next = tokio::select! {
            _ = tx.closed() => return,
            next = listener.try_recv() => Some(next),
            _ = tokio::time::sleep(heartbeat) => None,
        };
        let Some(next) = next else {
            // Quiet for a while. A connection whose peer vanished without closing it (network
            // partition, host power loss) never reports an error: ask it something.
            let probe = tokio::time::timeout(
                ACQUIRE_TIMEOUT,
                sqlx::query("SELECT 1").execute(&mut listener),
            )
            .await;
            match probe {
                Ok(Ok(_)) => continue,
                Ok(Err(e)) => tracing::warn!(error = %e, "change listener connection is dead"),
                Err(_) => tracing::warn!("change listener connection does not answer"),
            }
            return;
        };
        let event = match next {
            Ok(Some(notification)) => parse_payload(notification.payload()),
            // The connection was lost; the listener reconnected and listens again, but
            // whatever was notified in between is gone.
            Ok(None) => {
                tracing::warn!("change listener connection was lost and re-established");
                ChangeEvent::Reconnected
            }
            Err(e) => {
                tracing::warn!(error = %e, "change listener connection lost");
                return;
            }
        };
        if tx.send(event).is_err() {
            return;
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let work = async {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        };
        bounded(self.operation_timeout.min(PING_TIMEOUT), "ping", work).await
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let work = async {
            let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM grids)")
                .fetch_one(&self.pool)
                .await?;
            Ok(!any)
        };
        bounded(self.operation_timeout, "is_empty", work).await
    }

    async fn load_at(&self, at: Option<DateTime<Utc>>) -> Result<Versioned, StoreError> {
        // Grids and buildings are read (and decoded) in parallel, on two connections that
        // share one snapshot of the database: the exporting transaction hands its snapshot to
        // the second, so both see exactly the same committed state.
        let mut grids_tx = self.begin_read().await?;
        let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *grids_tx)
            .await?;
        if !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(StoreError::Corrupt(format!(
                "unexpected snapshot id {snapshot:?}"
            )));
        }
        let mut buildings_tx = self.begin_read().await?;
        sqlx::query(AssertSqlSafe(format!(
            "SET TRANSACTION SNAPSHOT '{snapshot}'"
        )))
        .execute(&mut *buildings_tx)
        .await?;

        let buildings = tokio::spawn(async move {
            let result = load_buildings(&mut buildings_tx, at).await;
            (buildings_tx, result)
        });
        let mut grids = load_grids(&mut grids_tx, at).await?;
        let Attributes {
            people,
            leaders,
            teams,
        } = load_attributes_on(&mut grids_tx, at).await?;
        let version = history::current_version_on(&mut grids_tx).await?;
        let (buildings_tx, buildings) = buildings
            .await
            .map_err(|e| StoreError::Corrupt(format!("reading buildings failed: {e}")))?;
        let mut buildings = buildings?;
        buildings_tx.commit().await?;
        grids_tx.commit().await?;

        // Sorted here rather than by the server (no sort spilling to disk for a city), by
        // bytes, as COLLATE "C" and the SQLite store do.
        grids.sort_unstable_by(|a, b| a.code.cmp(&b.code));
        buildings.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        Ok(Versioned {
            version,
            dataset: super::as_it_stood(Dataset {
                grids,
                buildings,
                people,
                leaders,
                teams,
            }),
        })
    }

    async fn load_attributes(&self) -> Result<Attributes, StoreError> {
        let work = async {
            let mut tx = self.begin_read().await?;
            let attributes = load_attributes_on(&mut tx, None).await?;
            tx.commit().await?;
            Ok(attributes)
        };
        bounded(self.operation_timeout, "load_attributes", work).await
    }

    async fn seed(&self, dataset: &Dataset, actor: &str) -> Result<(), StoreError> {
        self.seed_with_progress(dataset, actor, &|_, _| {}).await
    }

    async fn seed_with_progress(
        &self,
        ds: &Dataset,
        actor: &str,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_atlas_write(actor).await?;
        // One seed at a time; other instances keep reading.
        sqlx::query("LOCK TABLE grids IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let existing: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM grids)")
            .fetch_one(&mut *tx)
            .await?;
        if existing {
            return Err(StoreError::Conflict(
                "the store already holds grids; seeding needs an empty database".into(),
            ));
        }
        let now = Utc::now();
        let starts = seed_starts(ds);
        let start_of =
            |code: Option<&str>| code.and_then(|c| starts.get(c)).copied().unwrap_or(now);
        let members: Vec<(&str, i32, &TeamMember)> = ds
            .teams
            .iter()
            .flat_map(|t| {
                t.members
                    .iter()
                    .enumerate()
                    .map(move |(i, m)| (t.id.as_str(), i as i32, m))
            })
            .collect();
        let team_grids: Vec<(&str, &str)> = ds
            .teams
            .iter()
            .flat_map(|t| {
                t.grid_codes
                    .iter()
                    .map(move |c| (t.id.as_str(), c.as_str()))
            })
            .collect();
        let total = seed_rows(ds);
        let mut done = 0u64;
        progress(done, total);
        let conn: &mut PgConnection = &mut tx;

        let mut step = |n: usize| {
            done += n as u64;
            progress(done, total);
        };
        copy_rows(
            conn,
            "grids",
            "COPY grids (code, name, name_en, level, parent_code, geom, valid_from, valid_to) FROM STDIN",
            &ds.grids,
            &mut step,
            |w, g| {
                w.text(&g.code);
                w.text(&g.name);
                w.opt_text(g.name_en.as_deref());
                w.text(g.level.as_str());
                w.opt_text(g.parent_code.as_deref());
                w.geometry(&g.geometry);
                w.timestamp(Some(g.valid_from));
                w.timestamp(g.valid_to);
            },
        )
        .await?;
        copy_rows(
            conn,
            "buildings",
            "COPY buildings (id, name, name_en, aliases, addresses, grid_code, footprint, \
             enterprises, employees, party_members, floor_area_m2) FROM STDIN",
            &ds.buildings,
            &mut step,
            |w, b| {
                w.text(&b.id);
                w.text(&b.name);
                w.opt_text(b.name_en.as_deref());
                w.text(&json!(b.aliases).to_string());
                w.text(&json!(b.addresses).to_string());
                w.opt_text(b.grid_code.as_deref());
                w.geometry(&b.footprint);
                w.int(i64::from(b.workload.enterprises));
                w.int(i64::from(b.workload.employees));
                w.int(i64::from(b.workload.party_members));
                w.float(b.workload.floor_area_m2);
            },
        )
        .await?;
        copy_rows(
            conn,
            "people",
            "COPY people (id, name, phone, email) FROM STDIN",
            &ds.people,
            &mut step,
            |w, p| {
                w.text(&p.id);
                w.text(&p.name);
                w.opt_text(p.contact.phone.as_deref());
                w.opt_text(p.contact.email.as_deref());
            },
        )
        .await?;
        copy_rows(
            conn,
            "leader_assignments",
            "COPY leader_assignments (grid_code, role, person_id, valid_from) FROM STDIN",
            &ds.leaders,
            &mut step,
            |w, l| {
                w.text(&l.grid_code);
                w.text(l.role.as_str());
                w.text(&l.person_id);
                w.timestamp(Some(start_of(Some(&l.grid_code))));
            },
        )
        .await?;
        copy_rows(
            conn,
            "service_teams",
            "COPY service_teams (id, name) FROM STDIN",
            &ds.teams,
            &mut step,
            |w, t| {
                w.text(&t.id);
                w.text(&t.name);
            },
        )
        .await?;
        copy_rows(
            conn,
            "team_members",
            "COPY team_members (team_id, position, name, department, specialty, phone, email) FROM STDIN",
            &members,
            &mut step,
            |w, (team, position, m)| {
                w.text(team);
                w.int(i64::from(*position));
                w.text(&m.name);
                w.text(&m.department);
                w.text(&m.specialty);
                w.opt_text(m.contact.phone.as_deref());
                w.opt_text(m.contact.email.as_deref());
            },
        )
        .await?;
        copy_rows(
            conn,
            "team_assignments",
            "COPY team_assignments (team_id, grid_code, valid_from) FROM STDIN",
            &team_grids,
            &mut step,
            |w, (team, code)| {
                w.text(team);
                w.text(code);
                w.timestamp(Some(start_of(Some(code))));
            },
        )
        .await?;
        copy_rows(
            conn,
            "building_grids",
            "COPY building_grids (building_id, grid_code, valid_from) FROM STDIN",
            &ds.buildings,
            &mut step,
            |w, b| {
                w.text(&b.id);
                w.opt_text(b.grid_code.as_deref());
                w.timestamp(Some(start_of(b.grid_code.as_deref())));
            },
        )
        .await?;
        let summary = json!({
            "grids": ds.grids.len(), "buildings": ds.buildings.len(), "people": ds.people.len(),
            "leaders": ds.leaders.len(), "teams": ds.teams.len(),
        });
        audit(&mut tx, actor, "seed", "atlas", None, Some(summary)).await?;
        append_version(&mut tx, now, actor, "seed", None).await?;
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
        let work = async {
            // The version log's lock serialises concurrent edits of the atlas (from this or
            // another instance): the second waits, then sees the first's assignments.
            let mut tx = self.begin_atlas_write(actor).await?;
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT version_id FROM grids WHERE code = $1 AND valid_to IS NULL FOR UPDATE",
            )
            .bind(grid_code)
            .fetch_optional(&mut *tx)
            .await?;
            if exists.is_none() {
                return Err(StoreError::Conflict(format!("no current grid {grid_code}")));
            }
            let before = current_leaders(&mut tx, grid_code).await?;
            sqlx::query(
            "UPDATE leader_assignments SET valid_to = $1 WHERE grid_code = $2 AND valid_to IS NULL",
        )
        .bind(at)
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
                    "INSERT INTO leader_assignments (grid_code, role, person_id, valid_from) \
                 VALUES ($1, $2, $3, $4)",
                )
                .bind(grid_code)
                .bind(role.as_str())
                .bind(&person_id)
                .bind(at)
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
            append_version(&mut tx, at, actor, "replace_leaders", None).await?;
            tx.commit().await?;
            Ok(())
        };
        bounded(self.operation_timeout, "replace_leaders", work).await
    }

    async fn upsert_buildings(
        &self,
        buildings: &[Building],
        actor: &str,
    ) -> Result<UpsertReport, StoreError> {
        let work = async {
            let mut tx = self.begin_atlas_write(actor).await?;
            let now = Utc::now();
            // The stored versions of the buildings named, locked until commit.
            let mut current: HashMap<String, Building> = HashMap::new();
            let ids: Vec<&str> = buildings.iter().map(|b| b.id.as_str()).collect();
            let sql =
                format!("SELECT {BUILDING_COLUMNS} FROM buildings WHERE id = ANY($1) FOR UPDATE");
            for chunk in ids.chunks(UPSERT_CHUNK) {
                let rows = sqlx::query(AssertSqlSafe(sql.clone()))
                    .bind(chunk)
                    .fetch_all(&mut *tx)
                    .await?;
                for row in &rows {
                    let b = building_from_row(row)?;
                    current.insert(b.id.clone(), b);
                }
            }
            // Building grids as stored: a building whose final grid differs (or that is new)
            // moves.
            let stored_grids: HashMap<String, Option<String>> = current
                .iter()
                .map(|(id, b)| (id.clone(), b.grid_code.clone()))
                .collect();
            // In order, as the SQLite store does: a building named twice counts twice.
            let mut report = UpsertReport::default();
            let mut changed: Vec<&str> = Vec::new();
            for b in buildings {
                match current.get(&b.id) {
                    Some(old) if old == b => report.unchanged += 1,
                    Some(_) => report.updated += 1,
                    None => report.inserted += 1,
                }
                if current.get(&b.id) != Some(b) {
                    changed.push(b.id.as_str());
                    current.insert(b.id.clone(), b.clone());
                }
            }
            changed.sort_unstable();
            changed.dedup();
            let finals: Vec<&Building> = changed.iter().filter_map(|id| current.get(*id)).collect();
            write_buildings(&mut tx, &finals).await?;
            let moved: Vec<(&str, Option<&str>)> = finals
                .iter()
                .filter(|b| {
                    stored_grids.get(b.id.as_str()).map(Option::as_deref)
                        != Some(b.grid_code.as_deref())
                })
                .map(|b| (b.id.as_str(), b.grid_code.as_deref()))
                .collect();
            move_buildings(&mut tx, &moved, now).await?;
            if report.inserted + report.updated > 0 {
                let mut after = json!({"inserted": report.inserted, "updated": report.updated});
                if changed.len() <= 1000 {
                    after["ids"] = json!(changed);
                }
                audit(
                    &mut tx,
                    actor,
                    "upsert_buildings",
                    "buildings",
                    None,
                    Some(after),
                )
                .await?;
                append_version(&mut tx, now, actor, "upsert_buildings", None).await?;
            }
            tx.commit().await?;
            Ok(report)
        };
        bounded(
            self.operation_timeout + Duration::from_millis(10) * buildings.len() as u32,
            "upsert_buildings",
            work,
        )
        .await
    }

    async fn change_point(&self, at: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        let work = history::change_point(&self.pool, at);
        bounded(self.operation_timeout, "change_point", work).await
    }

    async fn current_version(&self) -> Result<u64, StoreError> {
        let work = async {
            let mut conn = self.pool.acquire().await?;
            history::current_version_on(&mut conn).await
        };
        bounded(self.operation_timeout, "current_version", work).await
    }

    async fn versions(&self) -> Result<Vec<AtlasVersion>, StoreError> {
        bounded(
            self.operation_timeout,
            "versions",
            history::versions(&self.pool),
        )
        .await
    }

    async fn grid_history(&self, code: &str) -> Result<GridHistory, StoreError> {
        let work = async {
            let mut tx = self.begin_read().await?;
            let found = history::grid_history(&mut tx, code).await?;
            tx.commit().await?;
            Ok(found)
        };
        bounded(self.operation_timeout, "grid_history", work).await
    }

    async fn used_codes(&self) -> Result<Vec<String>, StoreError> {
        bounded(
            self.operation_timeout,
            "used_codes",
            history::used_codes(&self.pool),
        )
        .await
    }

    async fn create_plan(
        &self,
        name: &str,
        base_version: u64,
        changes: &str,
        actor: &str,
    ) -> Result<PlanRecord, StoreError> {
        let work = async {
            // Not an atlas write: no version, no lock of the log.
            let mut tx = self.begin_write(actor).await?;
            let plan = plans::create_plan(&mut tx, name, base_version, changes, actor).await?;
            tx.commit().await?;
            Ok(plan)
        };
        bounded(self.operation_timeout, "create_plan", work).await
    }

    async fn plan(&self, id: i64) -> Result<Option<PlanRecord>, StoreError> {
        let work = async {
            let mut conn = self.pool.acquire().await?;
            plans::plan_on(&mut conn, id, false).await
        };
        bounded(self.operation_timeout, "plan", work).await
    }

    async fn plans(&self) -> Result<Vec<PlanRecord>, StoreError> {
        bounded(self.operation_timeout, "plans", plans::plans(&self.pool)).await
    }

    async fn update_plan(
        &self,
        id: i64,
        changes: &str,
        actor: &str,
    ) -> Result<Option<PlanRecord>, StoreError> {
        let work = async {
            let mut tx = self.begin_write(actor).await?;
            let plan = plans::update_plan(&mut tx, id, changes, actor).await?;
            tx.commit().await?;
            Ok(plan)
        };
        bounded(self.operation_timeout, "update_plan", work).await
    }

    async fn publish(
        &self,
        plan_id: i64,
        base_version: u64,
        changes: &AtlasChanges,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<AtlasVersion, StoreError> {
        let work = async {
            // The log's lock first: two publishes (of any instance) take turns, and the second
            // finds the version the first made.
            let mut tx = self.begin_atlas_write(actor).await?;
            let version =
                plans::publish(&mut tx, plan_id, base_version, changes, actor, at).await?;
            tx.commit().await?;
            Ok(version)
        };
        let rows = changes.grids.len()
            + changes.retired.len()
            + changes.building_grids.len()
            + changes.leaders_ended.len()
            + changes.leaders_begun.len()
            + changes.teams_ended.len()
            + changes.teams_begun.len();
        bounded(
            self.operation_timeout + Duration::from_millis(10) * rows as u32,
            "publish",
            work,
        )
        .await
    }

    async fn subscribe_changes(&self) -> Result<Option<ChangeFeed>, StoreError> {
        // Its own single connection, outside the request pool, kept open indefinitely.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(self.options.clone().application_name("gridatlas-listener"));
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.ignore_pool_close_event(true);
        listener.listen(CHANGES_CHANNEL).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(forward_changes(listener, tx, self.listener_heartbeat));
        Ok(Some(rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn copy_text_is_escaped() {
        let mut w = CopyWriter::default();
        w.text("a\tb\\c\nd\re");
        w.opt_text(None);
        w.int(-3);
        w.float(0.5);
        w.float(f64::INFINITY);
        w.end_row();
        assert_eq!(
            String::from_utf8_lossy(&w.buf),
            "a\\tb\\\\c\\nd\\re\t\\N\t-3\t0.5\tInfinity\n"
        );
    }

    #[test]
    fn copy_geometry_is_hex_ewkb_with_srid() {
        let mp = geo::MultiPolygon(vec![polygon![
            (x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)
        ]]);
        let mut w = CopyWriter::default();
        w.geometry(&mp);
        let hex = String::from_utf8_lossy(&w.buf).to_string();
        // little endian, MultiPolygon with the SRID flag, SRID 4326
        assert!(hex.starts_with("0106000020e6100000"), "{hex}");
    }
}
