//! Planners' drafts and their publish (SQLite).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, SqliteConnection, Transaction};

use super::{
    BEGIN_WRITE, append_version, audit, collect_rows, encode_multipolygon, history, move_building,
    parse_timestamp, timestamp,
};
use crate::model::{AtlasChanges, Grid};
use crate::store::{
    AtlasVersion, PlanRecord, PlanStatus, StoreError, plan_not_draft, plan_subject,
    publish_summary, retired_code_reused, version_from_db, version_to_db,
};

const PLAN_COLUMNS: &str = "id, name, base_version, status, created_at, created_by, updated_at, \
     published_version, changes";

fn plan_from_row(row: &SqliteRow) -> Result<PlanRecord, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(PlanRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        base_version: version_from_db(row.try_get("base_version")?)?,
        status: PlanStatus::from_str(&status).map_err(StoreError::Corrupt)?,
        created_at: parse_timestamp(row.try_get("created_at")?)?,
        created_by: row.try_get("created_by")?,
        updated_at: parse_timestamp(row.try_get("updated_at")?)?,
        published_version: row
            .try_get::<Option<i64>, _>("published_version")?
            .map(version_from_db)
            .transpose()?,
        changes: row.try_get("changes")?,
    })
}

pub(super) async fn plan_on(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<PlanRecord>, StoreError> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM plans WHERE id = ?");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(plan_from_row)
        .transpose()
}

pub(super) async fn plans(conn: &mut SqliteConnection) -> Result<Vec<PlanRecord>, StoreError> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM plans ORDER BY id DESC");
    collect_rows(conn, sqlx::query(sqlx::AssertSqlSafe(sql)), plan_from_row).await
}

pub(super) async fn create_plan(
    pool: &sqlx::SqlitePool,
    name: &str,
    base_version: u64,
    changes: &str,
    actor: &str,
) -> Result<PlanRecord, StoreError> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let now = timestamp(Utc::now());
    let sql = format!(
        "INSERT INTO plans (name, base_version, status, created_at, created_by, updated_at, changes) \
         VALUES (?, ?, 'draft', ?, ?, ?, ?) RETURNING {PLAN_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name)
        .bind(version_to_db(base_version)?)
        .bind(&now)
        .bind(actor)
        .bind(&now)
        .bind(changes)
        .fetch_one(&mut *tx)
        .await?;
    let plan = plan_from_row(&row)?;
    let after = json!({"name": name, "base_version": base_version});
    audit(
        &mut tx,
        actor,
        "create_plan",
        &plan_subject(plan.id),
        None,
        Some(after),
    )
    .await?;
    tx.commit().await?;
    Ok(plan)
}

pub(super) async fn update_plan(
    pool: &sqlx::SqlitePool,
    id: i64,
    changes: &str,
    actor: &str,
) -> Result<Option<PlanRecord>, StoreError> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    let Some(old) = plan_on(&mut tx, id).await? else {
        return Ok(None);
    };
    if old.status != PlanStatus::Draft {
        return Err(plan_not_draft(id, old.published_version));
    }
    let sql = format!(
        "UPDATE plans SET changes = ?, updated_at = ? WHERE id = ? RETURNING {PLAN_COLUMNS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(changes)
        .bind(timestamp(Utc::now()))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let plan = plan_from_row(&row)?;
    audit(
        &mut tx,
        actor,
        "update_plan",
        &plan_subject(id),
        Some(json!({"updated_at": timestamp(old.updated_at)})),
        Some(json!({"updated_at": timestamp(plan.updated_at)})),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(plan))
}

/// See [`crate::store::Store::publish`]. Runs inside the caller's write transaction; any
/// error leaves it to be rolled back.
pub(super) async fn publish(
    tx: &mut Transaction<'_, Sqlite>,
    plan_id: i64,
    base_version: u64,
    changes: &AtlasChanges,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<AtlasVersion, StoreError> {
    match plan_on(tx, plan_id).await? {
        Some(plan) if plan.status == PlanStatus::Draft => {}
        Some(plan) => return Err(plan_not_draft(plan_id, plan.published_version)),
        None => return Err(plan_not_draft(plan_id, None)),
    }
    let current = history::current_version_on(tx).await?;
    if current != base_version {
        return Err(StoreError::VersionMismatch {
            base: base_version,
            current,
        });
    }
    let at = timestamp(at);
    write_grids(tx, &changes.grids, &at).await?;
    retire_grids(tx, &changes.retired, &at).await?;
    for (code, role) in &changes.leaders_ended {
        sqlx::query(
            "UPDATE leader_assignments SET valid_to = ? \
             WHERE grid_code = ? AND role = ? AND valid_to IS NULL",
        )
        .bind(&at)
        .bind(code)
        .bind(role.as_str())
        .execute(&mut **tx)
        .await?;
    }
    for l in &changes.leaders_begun {
        sqlx::query(
            "INSERT INTO leader_assignments (grid_code, role, person_id, valid_from) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(&l.grid_code)
        .bind(l.role.as_str())
        .bind(&l.person_id)
        .bind(&at)
        .execute(&mut **tx)
        .await?;
    }
    for (team, code) in &changes.teams_ended {
        sqlx::query(
            "UPDATE team_assignments SET valid_to = ? \
             WHERE team_id = ? AND grid_code = ? AND valid_to IS NULL",
        )
        .bind(&at)
        .bind(team)
        .bind(code)
        .execute(&mut **tx)
        .await?;
    }
    for (team, code) in &changes.teams_begun {
        sqlx::query(
            "INSERT INTO team_assignments (team_id, grid_code, valid_from) VALUES (?, ?, ?)",
        )
        .bind(team)
        .bind(code)
        .bind(&at)
        .execute(&mut **tx)
        .await?;
    }
    move_buildings(tx, &changes.building_grids, &at).await?;
    let version = append_version(tx, &at, actor, "publish", Some(plan_id)).await?;
    sqlx::query(
        "UPDATE plans SET status = 'published', published_version = ?, updated_at = ? WHERE id = ?",
    )
    .bind(version_to_db(version.version)?)
    .bind(timestamp(Utc::now()))
    .bind(plan_id)
    .execute(&mut **tx)
    .await?;
    let summary = publish_summary(changes, version.version);
    audit(
        tx,
        actor,
        "publish",
        &plan_subject(plan_id),
        None,
        Some(summary),
    )
    .await?;
    Ok(version)
}

/// Whether a code has a current grid (`Some(true)`), only closed ones (`Some(false)`: retired)
/// or was never used (`None`).
async fn code_state(
    tx: &mut Transaction<'_, Sqlite>,
    code: &str,
) -> Result<Option<bool>, StoreError> {
    let state: Option<bool> =
        sqlx::query_scalar("SELECT MAX(valid_to IS NULL) FROM grids WHERE code = ?")
            .bind(code)
            .fetch_one(&mut **tx)
            .await?;
    Ok(state)
}

/// New grids and new versions of current ones, from `at`; a retired code is refused.
async fn write_grids(
    tx: &mut Transaction<'_, Sqlite>,
    grids: &[Grid],
    at: &str,
) -> Result<(), StoreError> {
    let mut current = Vec::with_capacity(grids.len());
    for g in grids {
        let state = code_state(tx, &g.code).await?;
        if state == Some(false) {
            return Err(retired_code_reused(&g.code));
        }
        current.push(state == Some(true));
    }
    for (g, is_current) in grids.iter().zip(current) {
        if is_current {
            close_grid(tx, &g.code, at).await?;
        }
        sqlx::query(
            "INSERT INTO grids (code, name, name_en, level, parent_code, geometry, valid_from) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.code)
        .bind(&g.name)
        .bind(&g.name_en)
        .bind(g.level.as_str())
        .bind(&g.parent_code)
        .bind(encode_multipolygon(&g.geometry))
        .bind(at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Closes the current version of a grid; false when it has none.
async fn close_grid(
    tx: &mut Transaction<'_, Sqlite>,
    code: &str,
    at: &str,
) -> Result<bool, StoreError> {
    let closed = sqlx::query("UPDATE grids SET valid_to = ? WHERE code = ? AND valid_to IS NULL")
        .bind(at)
        .bind(code)
        .execute(&mut **tx)
        .await?;
    Ok(closed.rows_affected() > 0)
}

/// Retires grids at `at`, with whatever leader and team assignments they still have.
async fn retire_grids(
    tx: &mut Transaction<'_, Sqlite>,
    codes: &[String],
    at: &str,
) -> Result<(), StoreError> {
    for code in codes {
        if !close_grid(tx, code, at).await? {
            return Err(StoreError::Conflict(format!(
                "grid {code} is not current and cannot be retired"
            )));
        }
        for sql in [
            "UPDATE leader_assignments SET valid_to = ? WHERE grid_code = ? AND valid_to IS NULL",
            "UPDATE team_assignments SET valid_to = ? WHERE grid_code = ? AND valid_to IS NULL",
        ] {
            sqlx::query(sql)
                .bind(at)
                .bind(code)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

/// Moves buildings to their new building grids at `at`.
async fn move_buildings(
    tx: &mut Transaction<'_, Sqlite>,
    moves: &[(String, Option<String>)],
    at: &str,
) -> Result<(), StoreError> {
    for (id, code) in moves {
        let updated = sqlx::query("UPDATE buildings SET grid_code = ? WHERE id = ?")
            .bind(code)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("there is no building {id}")));
        }
        move_building(tx, id, code.as_deref(), at).await?;
    }
    Ok(())
}
