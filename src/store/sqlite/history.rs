//! The atlas at a moment, the version log and the history of one grid (SQLite).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{collect_rows, grid_from_row, parse_timestamp, version_from_row};
use crate::model::LeaderRole;
use crate::store::{
    AtlasVersion, GridHistory, LeaderSpell, StoreError, TeamSpell, version_from_db,
};

pub(super) async fn current_version_on(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    let v: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM atlas_versions")
        .fetch_one(&mut *conn)
        .await?;
    version_from_db(v)
}

pub(super) async fn versions(pool: &SqlitePool) -> Result<Vec<AtlasVersion>, StoreError> {
    let mut conn = pool.acquire().await?;
    collect_rows(
        &mut conn,
        sqlx::query(
            "SELECT version, at, actor, action, plan_id FROM atlas_versions ORDER BY version",
        ),
        version_from_row,
    )
    .await
}

/// The latest valid_from or valid_to at or before `at` over every versioned table: one probe
/// of an index per column (the scalar subqueries walk the index backwards from `at`).
pub(super) async fn change_point(
    pool: &SqlitePool,
    at: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let point: Option<String> = sqlx::query_scalar(
        "SELECT MAX(t) FROM ( \
           SELECT (SELECT valid_from FROM grids WHERE valid_from <= ?1 \
                   ORDER BY valid_from DESC LIMIT 1) AS t \
           UNION ALL SELECT (SELECT valid_to FROM grids WHERE valid_to <= ?1 \
                   ORDER BY valid_to DESC LIMIT 1) \
           UNION ALL SELECT (SELECT valid_from FROM leader_assignments WHERE valid_from <= ?1 \
                   ORDER BY valid_from DESC LIMIT 1) \
           UNION ALL SELECT (SELECT valid_to FROM leader_assignments WHERE valid_to <= ?1 \
                   ORDER BY valid_to DESC LIMIT 1) \
           UNION ALL SELECT (SELECT valid_from FROM team_assignments WHERE valid_from <= ?1 \
                   ORDER BY valid_from DESC LIMIT 1) \
           UNION ALL SELECT (SELECT valid_to FROM team_assignments WHERE valid_to <= ?1 \
                   ORDER BY valid_to DESC LIMIT 1) \
           UNION ALL SELECT (SELECT valid_from FROM building_grids WHERE valid_from <= ?1 \
                   ORDER BY valid_from DESC LIMIT 1) \
           UNION ALL SELECT (SELECT valid_to FROM building_grids WHERE valid_to <= ?1 \
                   ORDER BY valid_to DESC LIMIT 1))",
    )
    .bind(at)
    .fetch_one(pool)
    .await?;
    point.as_deref().map(parse_timestamp).transpose()
}

pub(super) async fn grid_history(pool: &SqlitePool, code: &str) -> Result<GridHistory, StoreError> {
    // One read transaction: versions and spells from the same state.
    let mut tx = pool.begin().await?;
    let versions = collect_rows(
        &mut tx,
        sqlx::query(
            "SELECT code, name, name_en, level, parent_code, geometry, valid_from, valid_to \
             FROM grids WHERE code = ? ORDER BY valid_from, version_id",
        )
        .bind(code.to_string()),
        grid_from_row,
    )
    .await?;
    let leaders = collect_rows(
        &mut tx,
        sqlx::query(
            "SELECT la.role, la.person_id, p.name AS person_name, la.valid_from, la.valid_to \
             FROM leader_assignments la JOIN people p ON p.id = la.person_id \
             WHERE la.grid_code = ? ORDER BY la.valid_from, la.role, la.id",
        )
        .bind(code.to_string()),
        |r| {
            let role: String = r.try_get("role")?;
            let valid_to: Option<String> = r.try_get("valid_to")?;
            Ok(LeaderSpell {
                role: LeaderRole::from_str(&role).map_err(StoreError::Corrupt)?,
                person_id: r.try_get("person_id")?,
                person_name: r.try_get("person_name")?,
                valid_from: parse_timestamp(r.try_get("valid_from")?)?,
                valid_to: valid_to.as_deref().map(parse_timestamp).transpose()?,
            })
        },
    )
    .await?;
    let teams = collect_rows(
        &mut tx,
        sqlx::query(
            "SELECT ta.team_id, st.name AS team_name, ta.valid_from, ta.valid_to \
             FROM team_assignments ta JOIN service_teams st ON st.id = ta.team_id \
             WHERE ta.grid_code = ? ORDER BY ta.valid_from, ta.team_id, ta.id",
        )
        .bind(code.to_string()),
        |r| {
            let valid_to: Option<String> = r.try_get("valid_to")?;
            Ok(TeamSpell {
                team_id: r.try_get("team_id")?,
                team_name: r.try_get("team_name")?,
                valid_from: parse_timestamp(r.try_get("valid_from")?)?,
                valid_to: valid_to.as_deref().map(parse_timestamp).transpose()?,
            })
        },
    )
    .await?;
    tx.commit().await?;
    Ok(GridHistory {
        versions,
        leaders,
        teams,
    })
}

pub(super) async fn used_codes(pool: &SqlitePool) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT DISTINCT code FROM grids ORDER BY code")
            .fetch_all(pool)
            .await?,
    )
}
