//! Reading the whole atlas out of SQLite for a snapshot: rusqlite on blocking threads.
//!
//! sqlx's SQLite driver hands every row from its worker thread to the async side through a
//! channel, copying each column value on the way: at a million buildings that read took
//! 28 s, most of a start-up. Here the rows are decoded where SQLite steps them, straight from
//! its buffers, and grids, buildings and the attributes (people, leaders, teams) are read side
//! by side on three read-only connections.
//!
//! All connections see one committed state: each reads the version log's head inside its
//! read transaction, every write of the atlas appends to that log in the same transaction as
//! its changes, and a read whose connections disagree is read again.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, Row};

use super::{parse_json_list, parse_timestamp};
use crate::model::{
    Building, Contact, Dataset, Grid, GridLevel, LeaderAssignment, LeaderRole, Person, ServiceTeam,
    TeamMember, Workload,
};
use crate::store::{Attributes, StoreError, Versioned, decode_multipolygon, version_from_db};

/// Parallel reads tried before the last, sequential one (which cannot disagree with itself).
const PARALLEL_ATTEMPTS: usize = 3;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        match e {
            rusqlite::Error::SqliteFailure(code, _)
                if matches!(
                    code.code,
                    rusqlite::ErrorCode::DatabaseBusy
                        | rusqlite::ErrorCode::DatabaseLocked
                        | rusqlite::ErrorCode::CannotOpen
                ) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            other => StoreError::Corrupt(format!("reading the atlas: {other}")),
        }
    }
}

/// The atlas now (`at` `None`) or at `at` (a [`super::timestamp`]) with the version it was
/// read at. Blocking: call it from a blocking thread.
pub(super) fn read_dataset(path: &Path, at: Option<&str>) -> Result<Versioned, StoreError> {
    for _ in 0..PARALLEL_ATTEMPTS {
        if let Some(read) = read_in_parallel(path, at)? {
            return Ok(read);
        }
        tracing::debug!("the atlas changed during a parallel read; reading it again");
    }
    let conn = open_read_transaction(path)?;
    let version = head_version(&conn)?;
    let dataset = Dataset {
        grids: grids(&conn, at)?,
        buildings: buildings(&conn, at)?,
        ..attributes(&conn, at)?.into_dataset()
    };
    Ok(Versioned { version, dataset })
}

/// People, leader assignments and teams as they are now.
pub(super) fn read_attributes(path: &Path) -> Result<Attributes, StoreError> {
    let conn = open_read_transaction(path)?;
    attributes(&conn, None)
}

/// Grids, attributes and buildings each on a connection (and thread) of its own; `None` when
/// the connections saw different versions of the atlas.
fn read_in_parallel(path: &Path, at: Option<&str>) -> Result<Option<Versioned>, StoreError> {
    std::thread::scope(|scope| {
        let grids = scope.spawn(|| read_part(path, "grids", |conn| grids(conn, at)));
        let attributes = scope.spawn(|| read_part(path, "attributes", |conn| attributes(conn, at)));
        let buildings = read_part(path, "buildings", |conn| buildings(conn, at));
        let (version, grids) = joined(grids)?;
        let (attributes_version, attributes) = joined(attributes)?;
        let (buildings_version, buildings) = buildings?;
        let same = version == attributes_version && version == buildings_version;
        Ok(same.then(|| Versioned {
            version,
            dataset: Dataset {
                grids,
                buildings,
                ..attributes.into_dataset()
            },
        }))
    })
}

fn joined<T>(
    part: std::thread::ScopedJoinHandle<'_, Result<T, StoreError>>,
) -> Result<T, StoreError> {
    part.join()
        .map_err(|_| StoreError::Unavailable("an atlas reader panicked".into()))?
}

/// One part of a parallel read, on its own connection: the version it saw and the part.
fn read_part<T>(
    path: &Path,
    part: &'static str,
    read: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<(u64, T), StoreError> {
    let started = std::time::Instant::now();
    let conn = open_read_transaction(path)?;
    let version = head_version(&conn)?;
    let value = read(&conn)?;
    let ms = started.elapsed().as_millis() as u64;
    tracing::debug!(part, ms, version, "atlas part read");
    Ok((version, value))
}

impl Attributes {
    fn into_dataset(self) -> Dataset {
        Dataset {
            people: self.people,
            leaders: self.leaders,
            teams: self.teams,
            ..Dataset::default()
        }
    }
}

/// A read-only connection inside a read transaction (its snapshot starts at the first read).
fn open_read_transaction(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch("BEGIN")?;
    Ok(conn)
}

fn head_version(conn: &Connection) -> Result<u64, StoreError> {
    let v: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM atlas_versions",
        [],
        |r| r.get(0),
    )?;
    version_from_db(v)
}

/// Runs a query of versioned rows of `table`, current ones when `at` is `None`, else those
/// valid at `at` (bound as ?1), and decodes each row as SQLite steps it.
fn collect<T>(
    conn: &Connection,
    table: &str,
    current: &str,
    at_sql: &str,
    at: Option<&str>,
    mut decode: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let (sql, params): (&str, &[&dyn rusqlite::ToSql]) = match &at {
        None => (current, &[]),
        Some(t) => (at_sql, &[t]),
    };
    // Sized once from the table's row count (an upper bound): a vector of a million rows
    // grown by doubling copies itself into fresh memory again and again, and first touches of
    // fresh memory (the kernel zeroing pages) were the largest part of a city-sized read.
    let rows_in_table: i64 =
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::with_capacity(usize::try_from(rows_in_table).unwrap_or(0));
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}

fn text<'r>(row: &'r Row<'_>, i: usize) -> Result<&'r str, StoreError> {
    match row.get_ref(i)? {
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map_err(|e| StoreError::Corrupt(format!("column {i} is not UTF-8: {e}"))),
        other => Err(StoreError::Corrupt(format!(
            "column {i}: expected text, found {:?}",
            other.data_type()
        ))),
    }
}

fn optional_text<'r>(row: &'r Row<'_>, i: usize) -> Result<Option<&'r str>, StoreError> {
    match row.get_ref(i)? {
        ValueRef::Null => Ok(None),
        _ => text(row, i).map(Some),
    }
}

fn string(row: &Row<'_>, i: usize) -> Result<String, StoreError> {
    text(row, i).map(str::to_owned)
}

fn optional_string(row: &Row<'_>, i: usize) -> Result<Option<String>, StoreError> {
    Ok(optional_text(row, i)?.map(str::to_owned))
}

fn blob<'r>(row: &'r Row<'_>, i: usize) -> Result<&'r [u8], StoreError> {
    match row.get_ref(i)? {
        ValueRef::Blob(b) => Ok(b),
        other => Err(StoreError::Corrupt(format!(
            "column {i}: expected a blob, found {:?}",
            other.data_type()
        ))),
    }
}

/// A count column; negative values (never written) read as 0, as the sqlx reader does.
fn count(row: &Row<'_>, i: usize) -> Result<u32, StoreError> {
    let v: i64 = row.get(i)?;
    Ok(v.try_into().unwrap_or(0))
}

const GRID_COLUMNS: &str =
    "SELECT code, name, name_en, level, parent_code, geometry, valid_from, valid_to FROM grids";

fn grids(conn: &Connection, at: Option<&str>) -> Result<Vec<Grid>, StoreError> {
    collect(
        conn,
        "grids",
        &format!("{GRID_COLUMNS} WHERE valid_to IS NULL ORDER BY code"),
        &format!(
            "{GRID_COLUMNS} WHERE valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1) \
             ORDER BY code"
        ),
        at,
        |r| {
            Ok(Grid {
                code: string(r, 0)?,
                name: string(r, 1)?,
                name_en: optional_string(r, 2)?,
                level: GridLevel::from_str(text(r, 3)?).map_err(StoreError::Corrupt)?,
                parent_code: optional_string(r, 4)?,
                geometry: decode_multipolygon(blob(r, 5)?)?,
                valid_from: parse_timestamp(text(r, 6)?)?,
                valid_to: optional_text(r, 7)?.map(parse_timestamp).transpose()?,
            })
        },
    )
}

fn buildings(conn: &Connection, at: Option<&str>) -> Result<Vec<Building>, StoreError> {
    // A building's grid at a moment is its building-grid assignment then (none before the
    // first one began).
    collect(
        conn,
        "buildings",
        "SELECT id, name, name_en, aliases, addresses, grid_code, footprint, \
                enterprises, employees, party_members, floor_area_m2 \
         FROM buildings ORDER BY id",
        "SELECT b.id, b.name, b.name_en, b.aliases, b.addresses, bg.grid_code, b.footprint, \
                b.enterprises, b.employees, b.party_members, b.floor_area_m2 \
         FROM buildings b LEFT JOIN building_grids bg ON bg.building_id = b.id \
              AND bg.valid_from <= ?1 AND (bg.valid_to IS NULL OR bg.valid_to > ?1) \
         ORDER BY b.id",
        at,
        |r| {
            Ok(Building {
                id: string(r, 0)?,
                name: string(r, 1)?,
                name_en: optional_string(r, 2)?,
                aliases: parse_json_list(text(r, 3)?, "aliases")?,
                addresses: parse_json_list(text(r, 4)?, "addresses")?,
                grid_code: optional_string(r, 5)?,
                footprint: decode_multipolygon(blob(r, 6)?)?,
                workload: Workload {
                    enterprises: count(r, 7)?,
                    employees: count(r, 8)?,
                    party_members: count(r, 9)?,
                    floor_area_m2: r.get(10)?,
                },
            })
        },
    )
}

fn contact(row: &Row<'_>, phone: usize, email: usize) -> Result<Contact, StoreError> {
    Ok(Contact {
        phone: optional_string(row, phone)?,
        email: optional_string(row, email)?,
    })
}

/// People, leader assignments and teams (with members and grids) now or at `at`.
fn attributes(conn: &Connection, at: Option<&str>) -> Result<Attributes, StoreError> {
    let people = collect(
        conn,
        "people",
        "SELECT id, name, phone, email FROM people ORDER BY id",
        "SELECT id, name, phone, email FROM people ORDER BY id",
        None,
        |r| {
            Ok(Person {
                id: string(r, 0)?,
                name: string(r, 1)?,
                contact: contact(r, 2, 3)?,
            })
        },
    )?;
    let leaders = collect(
        conn,
        "leader_assignments",
        "SELECT grid_code, role, person_id FROM leader_assignments WHERE valid_to IS NULL \
         ORDER BY grid_code, role",
        "SELECT grid_code, role, person_id FROM leader_assignments \
         WHERE valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1) \
         ORDER BY grid_code, role",
        at,
        |r| {
            Ok(LeaderAssignment {
                grid_code: string(r, 0)?,
                role: LeaderRole::from_str(text(r, 1)?).map_err(StoreError::Corrupt)?,
                person_id: string(r, 2)?,
            })
        },
    )?;
    let mut members: HashMap<String, Vec<TeamMember>> = HashMap::new();
    let all_members = "SELECT team_id, name, department, specialty, phone, email \
                       FROM team_members ORDER BY team_id, position";
    for (team, member) in collect(conn, "team_members", all_members, all_members, None, |r| {
        Ok((
            string(r, 0)?,
            TeamMember {
                name: string(r, 1)?,
                department: string(r, 2)?,
                specialty: string(r, 3)?,
                contact: contact(r, 4, 5)?,
            },
        ))
    })? {
        members.entry(team).or_default().push(member);
    }
    let mut grid_codes: HashMap<String, Vec<String>> = HashMap::new();
    for (team, grid) in collect(
        conn,
        "team_assignments",
        "SELECT team_id, grid_code FROM team_assignments WHERE valid_to IS NULL \
         ORDER BY team_id, grid_code",
        "SELECT team_id, grid_code FROM team_assignments \
         WHERE valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1) \
         ORDER BY team_id, grid_code",
        at,
        |r| Ok((string(r, 0)?, string(r, 1)?)),
    )? {
        grid_codes.entry(team).or_default().push(grid);
    }
    let all_teams = "SELECT id, name FROM service_teams ORDER BY id";
    let teams = collect(conn, "service_teams", all_teams, all_teams, None, |r| {
        let id = string(r, 0)?;
        Ok(ServiceTeam {
            members: members.remove(&id).unwrap_or_default(),
            grid_codes: grid_codes.remove(&id).unwrap_or_default(),
            name: string(r, 1)?,
            id,
        })
    })?;
    Ok(Attributes {
        people,
        leaders,
        teams,
    })
}
