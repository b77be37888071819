//! The version log and the history of one grid (PostgreSQL).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{PgConnection, PgPool, Row};

use super::{grid_from_row, version_from_row};
use crate::model::LeaderRole;
use crate::store::{
    AtlasVersion, GridHistory, LeaderSpell, StoreError, TeamSpell, version_from_db,
};

pub(super) async fn current_version_on(conn: &mut PgConnection) -> Result<u64, StoreError> {
    let v: i64 = sqlx::query_scalar("SELECT COALESCE(max(version), 0) FROM atlas_versions")
        .fetch_one(&mut *conn)
        .await?;
    version_from_db(v)
}

pub(super) async fn versions(pool: &PgPool) -> Result<Vec<AtlasVersion>, StoreError> {
    sqlx::query("SELECT version, at, actor, action, plan_id FROM atlas_versions ORDER BY version")
        .fetch_all(pool)
        .await?
        .iter()
        .map(version_from_row)
        .collect()
}

/// The latest valid_from or valid_to at or before `at` over every versioned table: one probe
/// of an index per column (each subquery walks an index backwards from `at`).
pub(super) async fn change_point(
    pool: &PgPool,
    at: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT max(t) FROM ( \
           (SELECT valid_from AS t FROM grids WHERE valid_from <= $1 \
            ORDER BY valid_from DESC LIMIT 1) \
           UNION ALL (SELECT valid_to FROM grids WHERE valid_to <= $1 \
            ORDER BY valid_to DESC LIMIT 1) \
           UNION ALL (SELECT valid_from FROM leader_assignments WHERE valid_from <= $1 \
            ORDER BY valid_from DESC LIMIT 1) \
           UNION ALL (SELECT valid_to FROM leader_assignments WHERE valid_to <= $1 \
            ORDER BY valid_to DESC LIMIT 1) \
           UNION ALL (SELECT valid_from FROM team_assignments WHERE valid_from <= $1 \
            ORDER BY valid_from DESC LIMIT 1) \
           UNION ALL (SELECT valid_to FROM team_assignments WHERE valid_to <= $1 \
            ORDER BY valid_to DESC LIMIT 1) \
           UNION ALL (SELECT valid_from FROM building_grids WHERE valid_from <= $1 \
            ORDER BY valid_from DESC LIMIT 1) \
           UNION ALL (SELECT valid_to FROM building_grids WHERE valid_to <= $1 \
            ORDER BY valid_to DESC LIMIT 1)) AS points",
    )
    .bind(at)
    .fetch_one(pool)
    .await?)
}

/// Every version of `code` and its leader and team spells, oldest first, read on `conn`
/// (inside the caller's read transaction, so that they agree).
pub(super) async fn grid_history(
    conn: &mut PgConnection,
    code: &str,
) -> Result<GridHistory, StoreError> {
    let mut versions = Vec::new();
    let mut rows = sqlx::query(
        "SELECT code, name, name_en, level, parent_code, ST_AsBinary(geom) AS geom, \
                valid_from, valid_to \
         FROM grids WHERE code = $1 ORDER BY valid_from, version_id",
    )
    .bind(code)
    .fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        versions.push(grid_from_row(&row)?);
    }
    drop(rows);
    let leaders = sqlx::query(
        "SELECT la.role, la.person_id, p.name AS person_name, la.valid_from, la.valid_to \
         FROM leader_assignments la JOIN people p ON p.id = la.person_id \
         WHERE la.grid_code = $1 ORDER BY la.valid_from, la.role, la.id",
    )
    .bind(code)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let role: String = r.try_get("role")?;
        Ok(LeaderSpell {
            role: LeaderRole::from_str(&role).map_err(StoreError::Corrupt)?,
            person_id: r.try_get("person_id")?,
            person_name: r.try_get("person_name")?,
            valid_from: r.try_get("valid_from")?,
            valid_to: r.try_get("valid_to")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let teams = sqlx::query(
        "SELECT ta.team_id, st.name AS team_name, ta.valid_from, ta.valid_to \
         FROM team_assignments ta JOIN service_teams st ON st.id = ta.team_id \
         WHERE ta.grid_code = $1 ORDER BY ta.valid_from, ta.team_id, ta.id",
    )
    .bind(code)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(TeamSpell {
            team_id: r.try_get("team_id")?,
            team_name: r.try_get("team_name")?,
            valid_from: r.try_get("valid_from")?,
            valid_to: r.try_get("valid_to")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(GridHistory {
        versions,
        leaders,
        teams,
    })
}

pub(super) async fn used_codes(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar(r#"SELECT code FROM grids GROUP BY code ORDER BY code COLLATE "C""#)
            .fetch_all(pool)
            .await?,
    )
}
