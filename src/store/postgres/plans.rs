//! Planners' drafts and their publish (PostgreSQL).

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, Row, Transaction};

use super::{append_version, audit, encode_multipolygon, history, move_buildings};
use crate::model::{AtlasChanges, Grid, LeaderAssignment, LeaderRole};
use crate::store::{
    AtlasVersion, PlanRecord, PlanStatus, StoreError, plan_not_draft, plan_subject,
    publish_summary, retired_code_reused, version_from_db, version_to_db,
};
use crate::sync::CHANGES_CHANNEL;

const PLAN_COLUMNS: &str = "id, name, base_version, status, created_at, created_by, updated_at, \
     published_version, changes";

fn plan_from_row(row: &PgRow) -> Result<PlanRecord, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(PlanRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        base_version: version_from_db(row.try_get("base_version")?)?,
        status: PlanStatus::from_str(&status).map_err(StoreError::Corrupt)?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        published_version: row
            .try_get::<Option<i64>, _>("published_version")?
            .map(version_from_db)
            .transpose()?,
        changes: row.try_get("changes")?,
    })
}

/// One plan; `lock`: locked until the end of the caller's transaction.
pub(super) async fn plan_on(
    conn: &mut PgConnection,
    id: i64,
    lock: bool,
) -> Result<Option<PlanRecord>, StoreError> {
    let sql = format!(
        "SELECT {PLAN_COLUMNS} FROM plans WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(plan_from_row)
        .transpose()
}

pub(super) async fn plans(pool: &PgPool) -> Result<Vec<PlanRecord>, StoreError> {
    let sql = format!("SELECT {PLAN_COLUMNS} FROM plans ORDER BY id DESC");
    sqlx::query(AssertSqlSafe(sql))
        .fetch_all(pool)
        .await?
        .iter()
        .map(plan_from_row)
        .collect()
}

pub(super) async fn create_plan(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
    base_version: u64,
    changes: &str,
    actor: &str,
) -> Result<PlanRecord, StoreError> {
    let sql = format!(
        "INSERT INTO plans (name, base_version, status, created_at, created_by, updated_at, changes) \
         VALUES ($1, $2, 'draft', now(), $3, now(), $4) RETURNING {PLAN_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(name)
        .bind(version_to_db(base_version)?)
        .bind(actor)
        .bind(changes)
        .fetch_one(&mut **tx)
        .await?;
    let plan = plan_from_row(&row)?;
    let after = json!({"name": name, "base_version": base_version});
    audit(
        tx,
        actor,
        "create_plan",
        &plan_subject(plan.id),
        None,
        Some(after),
    )
    .await?;
    Ok(plan)
}

pub(super) async fn update_plan(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    changes: &str,
    actor: &str,
) -> Result<Option<PlanRecord>, StoreError> {
    // Locked: a concurrent publish of the same plan either waits for this update or has made
    // the plan published by the time this reads it.
    let Some(old) = plan_on(tx, id, true).await? else {
        return Ok(None);
    };
    if old.status != PlanStatus::Draft {
        return Err(plan_not_draft(id, old.published_version));
    }
    let sql = format!(
        "UPDATE plans SET changes = $1, updated_at = now() WHERE id = $2 RETURNING {PLAN_COLUMNS}"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(changes)
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let plan = plan_from_row(&row)?;
    audit(
        tx,
        actor,
        "update_plan",
        &plan_subject(id),
        Some(json!({"updated_at": old.updated_at})),
        Some(json!({"updated_at": plan.updated_at})),
    )
    .await?;
    Ok(Some(plan))
}

/// See [`crate::store::Store::publish`]. Runs inside the caller's atlas write transaction
/// (which holds the version log's lock); any error leaves it to be rolled back.
pub(super) async fn publish(
    tx: &mut Transaction<'_, Postgres>,
    plan_id: i64,
    base_version: u64,
    changes: &AtlasChanges,
    actor: &str,
    at: DateTime<Utc>,
) -> Result<AtlasVersion, StoreError> {
    match plan_on(tx, plan_id, true).await? {
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
    write_grids(tx, &changes.grids, at).await?;
    retire_grids(tx, &changes.retired, at).await?;
    end_leaders(tx, &changes.leaders_ended, at).await?;
    begin_leaders(tx, &changes.leaders_begun, at).await?;
    end_teams(tx, &changes.teams_ended, at).await?;
    begin_teams(tx, &changes.teams_begun, at).await?;
    regrid_buildings(tx, &changes.building_grids, at).await?;
    let version = append_version(tx, at, actor, "publish", Some(plan_id)).await?;
    sqlx::query(
        "UPDATE plans SET status = 'published', published_version = $1, updated_at = now() \
         WHERE id = $2",
    )
    .bind(version_to_db(version.version)?)
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
    // Every instance reloads in full at commit, whatever tables the publish touched (the
    // triggers notify per table; this says "the atlas changed as a whole").
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGES_CHANNEL)
        .bind(json!({"table": "grids", "op": "PUBLISH"}).to_string())
        .execute(&mut **tx)
        .await?;
    Ok(version)
}

/// New grids and new versions of current ones, from `at`; a retired code is refused.
async fn write_grids(
    tx: &mut Transaction<'_, Postgres>,
    grids: &[Grid],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if grids.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = grids.iter().map(|g| g.code.as_str()).collect();
    // Per code: whether it has a current version (absent: never used).
    let states: HashMap<String, bool> = sqlx::query_as(
        "SELECT code, bool_or(valid_to IS NULL) FROM grids WHERE code = ANY($1) GROUP BY code",
    )
    .bind(&codes)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    if let Some(code) = codes.iter().find(|c| states.get(**c) == Some(&false)) {
        return Err(retired_code_reused(code));
    }
    let current: Vec<&str> = codes
        .iter()
        .copied()
        .filter(|c| states.get(*c) == Some(&true))
        .collect();
    sqlx::query("UPDATE grids SET valid_to = $1 WHERE code = ANY($2) AND valid_to IS NULL")
        .bind(at)
        .bind(&current)
        .execute(&mut **tx)
        .await?;
    let names: Vec<&str> = grids.iter().map(|g| g.name.as_str()).collect();
    let names_en: Vec<Option<&str>> = grids.iter().map(|g| g.name_en.as_deref()).collect();
    let levels: Vec<&str> = grids.iter().map(|g| g.level.as_str()).collect();
    let parents: Vec<Option<&str>> = grids.iter().map(|g| g.parent_code.as_deref()).collect();
    let shapes: Vec<Vec<u8>> = grids
        .iter()
        .map(|g| encode_multipolygon(&g.geometry))
        .collect();
    sqlx::query(
        "INSERT INTO grids (code, name, name_en, level, parent_code, geom, valid_from) \
         SELECT u.code, u.name, u.name_en, u.level, u.parent_code, \
                ST_Multi(ST_GeomFromWKB(u.wkb, 4326)), $7 \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bytea[]) \
              AS u(code, name, name_en, level, parent_code, wkb)",
    )
    .bind(&codes)
    .bind(&names)
    .bind(&names_en)
    .bind(&levels)
    .bind(&parents)
    .bind(&shapes)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Retires grids at `at`, with whatever leader and team assignments they still have.
async fn retire_grids(
    tx: &mut Transaction<'_, Postgres>,
    codes: &[String],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if codes.is_empty() {
        return Ok(());
    }
    let closed: Vec<String> = sqlx::query_scalar(
        "UPDATE grids SET valid_to = $1 WHERE code = ANY($2) AND valid_to IS NULL RETURNING code",
    )
    .bind(at)
    .bind(codes)
    .fetch_all(&mut **tx)
    .await?;
    if let Some(code) = codes.iter().find(|c| !closed.contains(c)) {
        return Err(StoreError::Conflict(format!(
            "grid {code} is not current and cannot be retired"
        )));
    }
    for sql in [
        "UPDATE leader_assignments SET valid_to = $1 WHERE grid_code = ANY($2) AND valid_to IS NULL",
        "UPDATE team_assignments SET valid_to = $1 WHERE grid_code = ANY($2) AND valid_to IS NULL",
    ] {
        sqlx::query(sql)
            .bind(at)
            .bind(codes)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn end_leaders(
    tx: &mut Transaction<'_, Postgres>,
    ended: &[(String, LeaderRole)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if ended.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = ended.iter().map(|(c, _)| c.as_str()).collect();
    let roles: Vec<&str> = ended.iter().map(|(_, r)| r.as_str()).collect();
    sqlx::query(
        "UPDATE leader_assignments la SET valid_to = $1 \
         FROM UNNEST($2::text[], $3::text[]) AS u(grid_code, role) \
         WHERE la.grid_code = u.grid_code AND la.role = u.role AND la.valid_to IS NULL",
    )
    .bind(at)
    .bind(&codes)
    .bind(&roles)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn begin_leaders(
    tx: &mut Transaction<'_, Postgres>,
    begun: &[LeaderAssignment],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if begun.is_empty() {
        return Ok(());
    }
    let codes: Vec<&str> = begun.iter().map(|l| l.grid_code.as_str()).collect();
    let roles: Vec<&str> = begun.iter().map(|l| l.role.as_str()).collect();
    let people: Vec<&str> = begun.iter().map(|l| l.person_id.as_str()).collect();
    sqlx::query(
        "INSERT INTO leader_assignments (grid_code, role, person_id, valid_from) \
         SELECT u.grid_code, u.role, u.person_id, $4 \
         FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(grid_code, role, person_id)",
    )
    .bind(&codes)
    .bind(&roles)
    .bind(&people)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// (team id, grid code) pairs as two arrays.
fn team_columns(pairs: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    pairs
        .iter()
        .map(|(team, code)| (team.as_str(), code.as_str()))
        .unzip()
}

async fn end_teams(
    tx: &mut Transaction<'_, Postgres>,
    ended: &[(String, String)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if ended.is_empty() {
        return Ok(());
    }
    let (teams, codes) = team_columns(ended);
    sqlx::query(
        "UPDATE team_assignments ta SET valid_to = $1 \
         FROM UNNEST($2::text[], $3::text[]) AS u(team_id, grid_code) \
         WHERE ta.team_id = u.team_id AND ta.grid_code = u.grid_code AND ta.valid_to IS NULL",
    )
    .bind(at)
    .bind(&teams)
    .bind(&codes)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn begin_teams(
    tx: &mut Transaction<'_, Postgres>,
    begun: &[(String, String)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if begun.is_empty() {
        return Ok(());
    }
    let (teams, codes) = team_columns(begun);
    sqlx::query(
        "INSERT INTO team_assignments (team_id, grid_code, valid_from) \
         SELECT u.team_id, u.grid_code, $3 FROM UNNEST($1::text[], $2::text[]) AS u(team_id, grid_code)",
    )
    .bind(&teams)
    .bind(&codes)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Moves buildings to their new building grids at `at`: the current value and the history.
async fn regrid_buildings(
    tx: &mut Transaction<'_, Postgres>,
    moves: &[(String, Option<String>)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    if moves.is_empty() {
        return Ok(());
    }
    let moves: Vec<(&str, Option<&str>)> = moves
        .iter()
        .map(|(id, code)| (id.as_str(), code.as_deref()))
        .collect();
    let (ids, codes): (Vec<&str>, Vec<Option<&str>>) = moves.iter().copied().unzip();
    let missing: Option<String> = sqlx::query_scalar(
        "SELECT u.id FROM UNNEST($1::text[]) AS u(id) \
         WHERE NOT EXISTS (SELECT 1 FROM buildings b WHERE b.id = u.id) LIMIT 1",
    )
    .bind(&ids)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(id) = missing {
        return Err(StoreError::Conflict(format!("there is no building {id}")));
    }
    sqlx::query(
        "UPDATE buildings b SET grid_code = u.code \
         FROM UNNEST($1::text[], $2::text[]) AS u(id, code) WHERE b.id = u.id",
    )
    .bind(&ids)
    .bind(&codes)
    .execute(&mut **tx)
    .await?;
    move_buildings(tx, &moves, at).await
}
