//! One conformance suite for every store: the same checks run against SQLite (a temporary
//! file, always) and against PostgreSQL/PostGIS (a fresh database per check, when
//! `GRIDATLAS_TEST_POSTGRES_URL` names a server, e.g. `postgres://postgres@127.0.0.1:5432/postgres`;
//! `scripts/postgis-setup` prepares one).
//!
//! Without the variable the PostgreSQL checks print a loud SKIPPED line and pass, unless
//! `GRIDATLAS_REQUIRE_POSTGRES=1` (CI), which makes a missing variable a failure.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use geo::{LineString, MultiPolygon, Polygon};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::sqlite::SqlitePool;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

use gridatlas::model::{
    AtlasChanges, Building, Contact, Dataset, Grid, GridLevel, LeaderAssignment, LeaderRole,
    Person, ServiceTeam, TeamMember, Workload,
};
use gridatlas::store::postgres::PostgresStore;
use gridatlas::store::{
    AtlasVersion, Attributes, LeaderChange, LeaderSpell, PersonRef, PlanStatus, Store, StoreError,
    TeamSpell, UpsertReport, Versioned,
};
use gridatlas::sync::ReloadNeed;

// ---------------------------------------------------------------------------------------------
// A small hand-made atlas: one neighborhood, two building groups, two building grids.

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// An axis-aligned box, exterior ring counter-clockwise.
fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
    Polygon::new(
        LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
        vec![],
    )
}

fn mp(p: Polygon<f64>) -> MultiPolygon<f64> {
    MultiPolygon(vec![p])
}

fn grid(code: &str, name: &str, level: GridLevel, parent: Option<&str>, p: Polygon<f64>) -> Grid {
    Grid {
        code: code.into(),
        name: name.into(),
        name_en: Some(format!("{code} (en)")),
        level,
        parent_code: parent.map(Into::into),
        geometry: mp(p),
        valid_from: t0(),
        valid_to: None,
    }
}

fn person(id: &str, name: &str, phone: Option<&str>, email: Option<&str>) -> Person {
    Person {
        id: id.into(),
        name: name.into(),
        contact: Contact {
            phone: phone.map(Into::into),
            email: email.map(Into::into),
        },
    }
}

fn building_b1() -> Building {
    // A courtyard building: a footprint with a hole, and odd coordinates.
    let outer = LineString::from(vec![
        (121.4401234567891, 31.2201),
        (121.4449, 31.2201),
        (121.4449, 31.2249),
        (121.4401234567891, 31.2249),
        (121.4401234567891, 31.2201),
    ]);
    let hole = LineString::from(vec![
        (121.442, 31.222),
        (121.442, 31.223),
        (121.443, 31.223),
        (121.443, 31.222),
        (121.442, 31.222),
    ]);
    Building {
        id: "b1".into(),
        name: "静安嘉里中心".into(),
        name_en: Some("Jing'an Kerry Centre".into()),
        aliases: vec!["嘉里中心".into(), "Kerry\tCentre \\ tab".into()],
        addresses: vec!["南京西路1515号".into(), "延安中路1218号".into()],
        grid_code: Some("B-001".into()),
        footprint: mp(Polygon::new(outer, vec![hole])),
        workload: Workload {
            enterprises: 120,
            employees: 15_000,
            party_members: 300,
            floor_area_m2: 123_456.75,
        },
    }
}

fn building_b2() -> Building {
    // Two towers: a multipolygon of two parts.
    Building {
        id: "b2".into(),
        name: "恒隆广场".into(),
        name_en: None,
        aliases: vec!["Plaza 66".into()],
        addresses: vec!["南京西路1266号".into()],
        grid_code: Some("B-002".into()),
        footprint: MultiPolygon(vec![
            rect(121.4501, 31.2201, 121.4520, 31.2240),
            rect(121.4530, 31.2201, 121.4549, 31.2240),
        ]),
        workload: Workload {
            enterprises: 80,
            employees: 9_000,
            party_members: 0,
            floor_area_m2: 0.1,
        },
    }
}

fn sample() -> Dataset {
    Dataset {
        grids: vec![
            grid(
                "B-001",
                "嘉里楼宇网格",
                GridLevel::Building,
                Some("G-001"),
                rect(121.440, 31.220, 121.445, 31.225),
            ),
            grid(
                "B-002",
                "恒隆楼宇网格",
                GridLevel::Building,
                Some("G-002"),
                rect(121.450, 31.220, 121.455, 31.225),
            ),
            grid(
                "G-001",
                "西区楼宇群",
                GridLevel::BuildingGroup,
                Some("N-001"),
                rect(121.440, 31.220, 121.450, 31.230),
            ),
            grid(
                "G-002",
                "东区楼宇群",
                GridLevel::BuildingGroup,
                Some("N-001"),
                rect(121.450, 31.220, 121.460, 31.230),
            ),
            grid(
                "N-001",
                "静安寺街区",
                GridLevel::Neighborhood,
                None,
                rect(121.440, 31.220, 121.460, 31.230),
            ),
        ],
        buildings: vec![building_b1(), building_b2()],
        people: vec![
            person("p1", "张伟", Some("13800000001"), None),
            person("p2", "李娜", None, Some("li.na@example.org")),
            person("p3", "王芳", Some("13800000003"), Some("wang@example.org")),
            person("p4", "刘洋", None, None),
        ],
        leaders: vec![
            LeaderAssignment {
                grid_code: "B-001".into(),
                role: LeaderRole::PartyWorker,
                person_id: "p4".into(),
            },
            LeaderAssignment {
                grid_code: "G-001".into(),
                role: LeaderRole::BacConvener,
                person_id: "p3".into(),
            },
            LeaderAssignment {
                grid_code: "N-001".into(),
                role: LeaderRole::BacConvener,
                person_id: "p1".into(),
            },
            LeaderAssignment {
                grid_code: "N-001".into(),
                role: LeaderRole::PartyWorker,
                person_id: "p2".into(),
            },
        ],
        teams: vec![ServiceTeam {
            id: "t1".into(),
            name: "南京西路首席服务团队".into(),
            members: vec![
                TeamMember {
                    name: "陈静".into(),
                    department: "区商务委".into(),
                    specialty: "industrial support".into(),
                    contact: Contact {
                        phone: Some("021-0000001".into()),
                        email: None,
                    },
                },
                TeamMember {
                    name: "赵磊".into(),
                    department: "区税务局".into(),
                    specialty: "taxes and finance".into(),
                    contact: Contact::default(),
                },
            ],
            grid_codes: vec!["G-001".into(), "N-001".into()],
        }],
    }
}

fn attributes_of(ds: &Dataset) -> Attributes {
    Attributes {
        people: ds.people.clone(),
        leaders: ds.leaders.clone(),
        teams: ds.teams.clone(),
    }
}

fn leaders_of(attrs: &Attributes, grid: &str) -> Vec<(LeaderRole, String)> {
    attrs
        .leaders
        .iter()
        .filter(|l| l.grid_code == grid)
        .map(|l| (l.role, l.person_id.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Looking into the database behind the store (history and audit are not part of the interface).

enum Inspect {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

struct AuditRow {
    actor: String,
    subject: String,
    before: Option<Value>,
    after: Option<Value>,
}

impl Inspect {
    /// A second store on the same database, as after a restart.
    async fn reopen(&self) -> Arc<dyn Store> {
        match self {
            Inspect::Sqlite(p) => {
                let path = p.connect_options().get_filename().to_path_buf();
                gridatlas::store::open(&format!("sqlite://{}", path.display()))
                    .await
                    .expect("reopen the SQLite file")
            }
            Inspect::Postgres(p) => Arc::new(
                PostgresStore::open_with((*p.connect_options()).clone())
                    .await
                    .expect("reopen the PostgreSQL store"),
            ),
        }
    }

    async fn closed_leader_assignments(&self, grid: &str) -> i64 {
        let r = match self {
            Inspect::Sqlite(p) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM leader_assignments WHERE grid_code = ? AND valid_to IS NOT NULL",
            )
            .bind(grid)
            .fetch_one(p)
            .await,
            Inspect::Postgres(p) => sqlx::query_scalar(
                "SELECT COUNT(*) FROM leader_assignments WHERE grid_code = $1 AND valid_to IS NOT NULL",
            )
            .bind(grid)
            .fetch_one(p)
            .await,
        };
        r.expect("count closed assignments")
    }

    async fn audit_count(&self) -> i64 {
        let r = match self {
            Inspect::Sqlite(p) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
                    .fetch_one(p)
                    .await
            }
            Inspect::Postgres(p) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
                    .fetch_one(p)
                    .await
            }
        };
        r.expect("count audit entries")
    }

    async fn audit(&self, action: &str) -> Vec<AuditRow> {
        match self {
            Inspect::Sqlite(p) => sqlx::query(
                "SELECT actor, subject, before, after FROM audit_log WHERE action = ? ORDER BY id",
            )
            .bind(action)
            .fetch_all(p)
            .await
            .expect("read audit log")
            .iter()
            .map(|r| {
                let parse = |s: Option<String>| {
                    s.map(|s| serde_json::from_str(&s).expect("audit entries hold JSON"))
                };
                AuditRow {
                    actor: r.get("actor"),
                    subject: r.get("subject"),
                    before: parse(r.get("before")),
                    after: parse(r.get("after")),
                }
            })
            .collect(),
            Inspect::Postgres(p) => sqlx::query(
                "SELECT actor, subject, before, after FROM audit_log WHERE action = $1 ORDER BY id",
            )
            .bind(action)
            .fetch_all(p)
            .await
            .expect("read audit log")
            .iter()
            .map(|r| AuditRow {
                actor: r.get("actor"),
                subject: r.get("subject"),
                before: r
                    .get::<Option<sqlx::types::Json<Value>>, _>("before")
                    .map(|j| j.0),
                after: r
                    .get::<Option<sqlx::types::Json<Value>>, _>("after")
                    .map(|j| j.0),
            })
            .collect(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The suite.

/// A fresh store is empty; a seeded one loads back exactly what was seeded, geometry included.
async fn seed_and_load_round_trip(store: Arc<dyn Store>, inspect: &Inspect) {
    assert!(
        store.is_empty().await.expect("is_empty"),
        "a fresh store is empty"
    );
    assert_eq!(store.load().await.expect("load"), Dataset::default());
    store.ping().await.expect("ping");

    let ds = sample();
    store.seed(&ds, "tester").await.expect("seed");
    assert!(!store.is_empty().await.expect("is_empty"));

    let loaded = store.load().await.expect("load");
    for (a, b) in loaded.grids.iter().zip(&ds.grids) {
        assert_eq!(
            a.geometry, b.geometry,
            "geometry of grid {} round-trips exactly",
            b.code
        );
    }
    for (a, b) in loaded.buildings.iter().zip(&ds.buildings) {
        assert_eq!(
            a.footprint, b.footprint,
            "footprint of building {} round-trips exactly",
            b.id
        );
    }
    assert_eq!(loaded, ds, "load returns what seed wrote");
    assert_eq!(
        store.load_attributes().await.expect("load_attributes"),
        attributes_of(&ds)
    );

    let seeds = inspect.audit("seed").await;
    assert_eq!(seeds.len(), 1, "the seed is audited once");
    assert_eq!(seeds[0].actor, "tester");

    let again = store.seed(&ds, "tester").await;
    assert!(
        again.is_err(),
        "seeding a store that holds grids is refused"
    );
    assert_eq!(
        store.load().await.expect("load"),
        ds,
        "a refused seed changes nothing"
    );
}

/// Replacing leaders closes the old assignments (history is kept) and audits before/after.
async fn replace_leaders_keeps_history_and_audits(store: Arc<dyn Store>, inspect: &Inspect) {
    store.seed(&sample(), "tester").await.expect("seed");
    let change = LeaderChange {
        bac_convener: Some(PersonRef::New(person(
            "p9",
            "周杰",
            Some("13900000009"),
            None,
        ))),
        party_worker: Some(PersonRef::Existing("p3".into())),
    };
    let at = Utc::now();
    store
        .replace_leaders("N-001", &change, "admin:alice", at)
        .await
        .expect("replace_leaders");

    let attrs = store.load_attributes().await.expect("load_attributes");
    assert_eq!(
        leaders_of(&attrs, "N-001"),
        vec![
            (LeaderRole::BacConvener, "p9".into()),
            (LeaderRole::PartyWorker, "p3".into())
        ]
    );
    assert!(
        attrs
            .people
            .iter()
            .any(|p| p.id == "p9" && p.name == "周杰"),
        "the new person is stored"
    );
    assert_eq!(
        leaders_of(&attrs, "G-001"),
        vec![(LeaderRole::BacConvener, "p3".into())],
        "other grids untouched"
    );
    assert_eq!(
        inspect.closed_leader_assignments("N-001").await,
        2,
        "both old assignments closed, not deleted"
    );

    let entries = inspect.audit("replace_leaders").await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.actor, "admin:alice");
    assert_eq!(e.subject, "N-001");
    assert_eq!(
        e.before,
        Some(json!({"bac_convener": "p1", "party_worker": "p2"}))
    );
    assert_eq!(
        e.after,
        Some(json!({"bac_convener": "p9", "party_worker": "p3"}))
    );

    // Vacating a role.
    let vacate = LeaderChange {
        bac_convener: None,
        party_worker: Some(PersonRef::Existing("p3".into())),
    };
    store
        .replace_leaders("N-001", &vacate, "admin:alice", Utc::now())
        .await
        .expect("replace_leaders");
    let attrs = store.load_attributes().await.expect("load_attributes");
    assert_eq!(
        leaders_of(&attrs, "N-001"),
        vec![(LeaderRole::PartyWorker, "p3".into())]
    );
    assert_eq!(inspect.closed_leader_assignments("N-001").await, 4);
}

/// A failing edit changes nothing: unknown grid, or a new person whose id is taken.
async fn replace_leaders_failures_change_nothing(store: Arc<dyn Store>, inspect: &Inspect) {
    let ds = sample();
    store.seed(&ds, "tester").await.expect("seed");
    let audits = inspect.audit_count().await;

    let change = LeaderChange {
        bac_convener: Some(PersonRef::Existing("p1".into())),
        party_worker: None,
    };
    let err = store
        .replace_leaders("NO-SUCH-GRID", &change, "admin", Utc::now())
        .await
        .expect_err("an unknown grid is an error");
    assert!(
        !err.is_unavailable(),
        "an unknown grid is not an outage: {err}"
    );

    // Fails after the old assignments were closed: the transaction must undo that too.
    let clash = LeaderChange {
        bac_convener: Some(PersonRef::New(person("p2", "重复的人", None, None))),
        party_worker: None,
    };
    let err = store
        .replace_leaders("N-001", &clash, "admin", Utc::now())
        .await
        .expect_err("a new person with a taken id is an error");
    assert!(
        !err.is_unavailable(),
        "a constraint violation is not an outage: {err}"
    );

    assert_eq!(
        store.load().await.expect("load"),
        ds,
        "failed edits change nothing"
    );
    assert_eq!(inspect.closed_leader_assignments("N-001").await, 0);
    assert_eq!(
        inspect.audit_count().await,
        audits,
        "failed edits write no audit entry"
    );
}

/// Upserting buildings counts inserted, updated and unchanged ones.
async fn upsert_buildings_counts(store: Arc<dyn Store>, inspect: &Inspect) {
    let ds = sample();
    store.seed(&ds, "tester").await.expect("seed");
    let unchanged = building_b1();
    let mut updated = building_b2();
    updated.name = "恒隆广场 (Plaza 66)".into();
    updated.workload.employees += 1;
    updated.footprint = mp(rect(121.4501, 31.2201, 121.4549, 31.2249));
    let inserted = Building {
        id: "b3".into(),
        name: "越洋广场".into(),
        name_en: Some("Park Place".into()),
        aliases: vec![],
        addresses: vec!["南京西路1601号".into()],
        grid_code: None,
        footprint: mp(rect(121.4455, 31.2255, 121.4460, 31.2260)),
        workload: Workload::default(),
    };
    let batch = vec![unchanged.clone(), updated.clone(), inserted.clone()];
    let report = store
        .upsert_buildings(&batch, "importer")
        .await
        .expect("upsert");
    assert_eq!(
        report,
        UpsertReport {
            inserted: 1,
            updated: 1,
            unchanged: 1
        }
    );

    let loaded = store.load().await.expect("load");
    assert_eq!(
        loaded.buildings, batch,
        "the stored buildings are the upserted ones"
    );
    assert_eq!(loaded.grids, ds.grids);

    let report = store
        .upsert_buildings(&batch, "importer")
        .await
        .expect("upsert");
    assert_eq!(
        report,
        UpsertReport {
            inserted: 0,
            updated: 0,
            unchanged: 3
        }
    );
    let entries = inspect.audit("upsert_buildings").await;
    assert_eq!(entries.len(), 1, "a no-op upsert writes no audit entry");
    assert_eq!(entries[0].actor, "importer");
    assert_eq!(
        entries[0].after.as_ref().and_then(|a| a.get("inserted")),
        Some(&json!(1))
    );
}

/// A seed that fails midway (a duplicate person id, after grids and buildings are written)
/// leaves the store empty.
async fn failed_seed_leaves_store_empty(store: Arc<dyn Store>, inspect: &Inspect) {
    let mut ds = sample();
    ds.people.push(person("p1", "同号的人", None, None));
    let err = store
        .seed(&ds, "tester")
        .await
        .expect_err("a duplicate id fails the seed");
    assert!(!err.is_unavailable(), "a duplicate is not an outage: {err}");
    assert!(
        store.is_empty().await.expect("is_empty"),
        "nothing of a failed seed remains"
    );
    assert_eq!(store.load().await.expect("load"), Dataset::default());
    assert_eq!(inspect.audit_count().await, 0);

    // Also when the failure is in the last table written.
    let mut ds = sample();
    ds.teams[0].grid_codes = vec!["G-001".into(), "G-001".into()];
    store
        .seed(&ds, "tester")
        .await
        .expect_err("a duplicate team assignment fails the seed");
    assert!(store.is_empty().await.expect("is_empty"));
    assert_eq!(store.load().await.expect("load"), Dataset::default());

    // And the store still works after that.
    store
        .seed(&sample(), "tester")
        .await
        .expect("seed after failures");
    assert_eq!(store.load().await.expect("load"), sample());
}

// ---------------------------------------------------------------------------------------------
// Versions, history and plans.

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// When the sample plan is published.
fn t_pub() -> DateTime<Utc> {
    day(2025, 6, 1)
}

/// B-001 redrawn smaller.
fn b001_redrawn() -> MultiPolygon<f64> {
    mp(rect(121.440, 31.220, 121.4445, 31.225))
}

/// A plan that redraws B-001, retires B-002 and replaces it by B-003 (building b2 moves
/// there), changes B-001's party worker, gives B-003 a convener, and moves team t1 from G-001
/// to B-003.
fn sample_changes() -> AtlasChanges {
    let mut b001 = sample().grids[0].clone();
    b001.geometry = b001_redrawn();
    let b003 = grid(
        "B-003",
        "恒隆新楼宇网格",
        GridLevel::Building,
        Some("G-002"),
        rect(121.450, 31.220, 121.456, 31.226),
    );
    AtlasChanges {
        grids: vec![b001, b003],
        retired: vec!["B-002".into()],
        building_grids: vec![("b2".into(), Some("B-003".into()))],
        leaders_ended: vec![("B-001".into(), LeaderRole::PartyWorker)],
        leaders_begun: vec![
            LeaderAssignment {
                grid_code: "B-001".into(),
                role: LeaderRole::PartyWorker,
                person_id: "p1".into(),
            },
            LeaderAssignment {
                grid_code: "B-003".into(),
                role: LeaderRole::BacConvener,
                person_id: "p2".into(),
            },
        ],
        teams_ended: vec![("t1".into(), "G-001".into())],
        teams_begun: vec![("t1".into(), "B-003".into())],
    }
}

/// The sample as it stood before the plan's publish, seen from a moment before it.
/// The grids come as they stood then: the versions the publish closed have no end in that
/// view (their `valid_to` lives in the history).
fn sample_before_publish() -> Dataset {
    sample()
}

/// The sample after the plan's publish.
fn sample_after_publish() -> Dataset {
    let mut ds = sample();
    let changes = sample_changes();
    ds.grids.retain(|g| g.code != "B-001" && g.code != "B-002");
    for mut g in changes.grids {
        g.valid_from = t_pub();
        ds.grids.push(g);
    }
    ds.grids.sort_by(|a, b| a.code.cmp(&b.code));
    ds.buildings[1].grid_code = Some("B-003".into());
    ds.leaders[0].person_id = "p1".into();
    ds.leaders.insert(
        1,
        LeaderAssignment {
            grid_code: "B-003".into(),
            role: LeaderRole::BacConvener,
            person_id: "p2".into(),
        },
    );
    ds.teams[0].grid_codes = vec!["B-003".into(), "N-001".into()];
    ds
}

/// The sample with no versioned row valid: buildings, people and teams without grids.
fn sample_before_any_grid() -> Dataset {
    let mut ds = sample();
    ds.grids.clear();
    ds.leaders.clear();
    for b in &mut ds.buildings {
        b.grid_code = None;
    }
    ds.teams[0].grid_codes.clear();
    ds
}

fn assert_conflict(err: StoreError, naming: &str) {
    match &err {
        StoreError::Conflict(message) => assert!(
            message.contains(naming),
            "the conflict names {naming}: {message}"
        ),
        other => panic!("expected a conflict naming {naming}, got {other:?}"),
    }
}

/// Everything a refused write must leave as it was.
#[derive(Debug, PartialEq)]
struct Everything {
    atlas: Versioned,
    versions: Vec<AtlasVersion>,
    used_codes: Vec<String>,
    plans: Vec<gridatlas::store::PlanRecord>,
    audits: i64,
}

async fn everything(store: &dyn Store, inspect: &Inspect) -> Everything {
    Everything {
        atlas: store.load_at(None).await.expect("load_at"),
        versions: store.versions().await.expect("versions"),
        used_codes: store.used_codes().await.expect("used_codes"),
        plans: store.plans().await.expect("plans"),
        audits: inspect.audit_count().await,
    }
}

/// Every atlas write appends one version; a write that changes nothing and plan writes
/// append none.
async fn versions_count_atlas_writes(store: Arc<dyn Store>, inspect: &Inspect) {
    assert_eq!(store.current_version().await.expect("current_version"), 0);
    assert_eq!(store.versions().await.expect("versions"), vec![]);
    assert_eq!(
        store.load_at(None).await.expect("load_at"),
        Versioned::default()
    );

    store.seed(&sample(), "tester").await.expect("seed");
    assert_eq!(store.current_version().await.expect("current_version"), 1);
    let at = day(2025, 3, 1);
    let change = LeaderChange {
        bac_convener: Some(PersonRef::Existing("p3".into())),
        party_worker: None,
    };
    store
        .replace_leaders("G-002", &change, "admin:alice", at)
        .await
        .expect("replace_leaders");
    assert_eq!(store.current_version().await.expect("current_version"), 2);

    let unchanged = store
        .upsert_buildings(&[building_b1(), building_b2()], "importer")
        .await
        .expect("upsert");
    assert_eq!(unchanged.unchanged, 2);
    assert_eq!(
        store.current_version().await.expect("current_version"),
        2,
        "an upsert that changes nothing appends no version"
    );

    // A building leaves its building grid: the current value changes, the history keeps it.
    let before_upsert = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mut moved = building_b1();
    moved.grid_code = None;
    store
        .upsert_buildings(&[moved], "importer")
        .await
        .expect("upsert");
    assert_eq!(store.current_version().await.expect("current_version"), 3);

    let plan = store
        .create_plan("draft", 3, "{}", "planner:bo")
        .await
        .expect("create_plan");
    store
        .update_plan(plan.id, r#"{"x":1}"#, "planner:bo")
        .await
        .expect("update_plan");
    assert_eq!(
        store.current_version().await.expect("current_version"),
        3,
        "plan writes are not atlas writes"
    );

    let log = store.versions().await.expect("versions");
    let summary: Vec<(u64, &str, &str)> = log
        .iter()
        .map(|v| (v.version, v.action.as_str(), v.actor.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, "seed", "tester"),
            (2, "replace_leaders", "admin:alice"),
            (3, "upsert_buildings", "importer"),
        ]
    );
    assert_eq!(log[1].at, at, "a leader change is versioned at its moment");
    assert!(log.iter().all(|v| v.plan_id.is_none()));

    let now = store.load_at(None).await.expect("load_at");
    assert_eq!(now.version, 3);
    assert_eq!(now.dataset.buildings[0].grid_code, None);
    assert_eq!(
        now.dataset,
        store.load().await.expect("load"),
        "load is load_at(None)"
    );
    let then = store
        .load_at(Some(before_upsert))
        .await
        .expect("load_at before the upsert");
    assert_eq!(then.version, 3, "the version is always the current one");
    assert_eq!(
        then.dataset.buildings[0].grid_code.as_deref(),
        Some("B-001"),
        "before the upsert b1 was in B-001"
    );
    assert_eq!(
        leaders_of(&attributes_of(&then.dataset), "G-002"),
        vec![(LeaderRole::BacConvener, "p3".into())]
    );
    let before_leader_change = store.load_at(Some(day(2025, 2, 1))).await.expect("load_at");
    assert_eq!(
        leaders_of(&attributes_of(&before_leader_change.dataset), "G-002"),
        vec![],
        "G-002 had no leader before the change"
    );
    assert_eq!(inspect.audit("upsert_buildings").await.len(), 1);
}

/// The atlas at a moment before and after a publish, change points, grid history, used codes.
async fn load_at_and_history_around_a_publish(store: Arc<dyn Store>, inspect: &Inspect) {
    store.seed(&sample(), "tester").await.expect("seed");
    let changes = sample_changes();
    let plan = store
        .create_plan(
            "B-002 becomes B-003",
            1,
            r#"{"plan":"redraw"}"#,
            "planner:bo",
        )
        .await
        .expect("create_plan");
    let version = store
        .publish(plan.id, 1, &changes, "planner:bo", t_pub())
        .await
        .expect("publish");
    assert_eq!(
        version,
        AtlasVersion {
            version: 2,
            at: t_pub(),
            actor: "planner:bo".into(),
            action: "publish".into(),
            plan_id: Some(plan.id),
        }
    );
    assert_eq!(
        store.versions().await.expect("versions").last(),
        Some(&version)
    );

    let published = store
        .plan(plan.id)
        .await
        .expect("plan")
        .expect("the plan exists");
    assert_eq!(published.status, PlanStatus::Published);
    assert_eq!(published.published_version, Some(2));
    assert_eq!(published.changes, r#"{"plan":"redraw"}"#);

    let day_before = t_pub() - chrono::Duration::days(1);
    let before = store.load_at(Some(day_before)).await.expect("load_at");
    assert_eq!(before.version, 2);
    assert_eq!(before.dataset, sample_before_publish(), "the atlas before");
    let after = sample_after_publish();
    for moment in [
        Some(t_pub()),
        Some(t_pub() + chrono::Duration::days(30)),
        None,
    ] {
        let loaded = store.load_at(moment).await.expect("load_at");
        assert_eq!(loaded.version, 2);
        assert_eq!(loaded.dataset, after, "the atlas at {moment:?}");
    }
    let just_before = store
        .load_at(Some(t_pub() - chrono::Duration::milliseconds(1)))
        .await
        .expect("load_at");
    assert_eq!(just_before.dataset, sample_before_publish());
    let b001 = |ds: &Dataset| {
        ds.grids
            .iter()
            .find(|g| g.code == "B-001")
            .map(|g| g.geometry.clone())
    };
    assert_eq!(
        b001(&before.dataset),
        Some(sample().grids[0].geometry.clone())
    );
    assert_eq!(b001(&after), Some(b001_redrawn()));
    let nothing_yet = store
        .load_at(Some(t0() - chrono::Duration::days(1)))
        .await
        .expect("load_at");
    assert_eq!(nothing_yet.dataset, sample_before_any_grid());

    // Change points.
    assert_eq!(
        store
            .change_point(t_pub() + chrono::Duration::days(10))
            .await
            .expect("change_point"),
        Some(t_pub())
    );
    assert_eq!(
        store.change_point(t_pub()).await.expect("change_point"),
        Some(t_pub())
    );
    assert_eq!(
        store.change_point(day_before).await.expect("change_point"),
        Some(t0()),
        "the seed's rows begin with their grids"
    );
    assert_eq!(
        store
            .change_point(t0() - chrono::Duration::seconds(1))
            .await
            .expect("change_point"),
        None
    );

    // Grid history.
    let history = store.grid_history("B-001").await.expect("grid_history");
    let spans: Vec<_> = history
        .versions
        .iter()
        .map(|g| (g.valid_from, g.valid_to, g.geometry.clone()))
        .collect();
    assert_eq!(
        spans,
        vec![
            (t0(), Some(t_pub()), sample().grids[0].geometry.clone()),
            (t_pub(), None, b001_redrawn()),
        ]
    );
    assert_eq!(
        history.leaders,
        vec![
            LeaderSpell {
                role: LeaderRole::PartyWorker,
                person_id: "p4".into(),
                person_name: "刘洋".into(),
                valid_from: t0(),
                valid_to: Some(t_pub()),
            },
            LeaderSpell {
                role: LeaderRole::PartyWorker,
                person_id: "p1".into(),
                person_name: "张伟".into(),
                valid_from: t_pub(),
                valid_to: None,
            },
        ]
    );
    let retired = store.grid_history("B-002").await.expect("grid_history");
    assert_eq!(retired.versions.len(), 1);
    assert_eq!(retired.versions[0].valid_to, Some(t_pub()));
    let g001 = store.grid_history("G-001").await.expect("grid_history");
    assert_eq!(
        g001.teams,
        vec![TeamSpell {
            team_id: "t1".into(),
            team_name: "南京西路首席服务团队".into(),
            valid_from: t0(),
            valid_to: Some(t_pub()),
        }]
    );
    let never = store.grid_history("X-999").await.expect("grid_history");
    assert!(never.versions.is_empty() && never.leaders.is_empty() && never.teams.is_empty());

    assert_eq!(
        store.used_codes().await.expect("used_codes"),
        vec!["B-001", "B-002", "B-003", "G-001", "G-002", "N-001"],
        "a retired code stays used"
    );

    let entries = inspect.audit("publish").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "planner:bo");
    assert_eq!(entries[0].subject, format!("plan {}", plan.id));
    let summary = entries[0].after.clone().expect("a publish summary");
    assert_eq!(summary["grids"], json!(2));
    assert_eq!(summary["retired"], json!(1));
    assert_eq!(summary["leaders_begun"], json!(2));
    assert_eq!(summary["version"], json!(2));
}

/// Plans are stored, listed newest first, updated while drafts, and kept across restarts.
async fn plans_persist_and_only_drafts_change(store: Arc<dyn Store>, inspect: &Inspect) {
    store.seed(&sample(), "tester").await.expect("seed");
    let first = store
        .create_plan("first", 1, r#"{"a":1}"#, "planner:bo")
        .await
        .expect("create_plan");
    assert_eq!(first.name, "first");
    assert_eq!(first.base_version, 1);
    assert_eq!(first.status, PlanStatus::Draft);
    assert_eq!(first.created_by, "planner:bo");
    assert_eq!(first.created_at, first.updated_at);
    assert_eq!(first.published_version, None);
    assert_eq!(first.changes, r#"{"a":1}"#);
    let second = store
        .create_plan("second", 1, "{}", "planner:li")
        .await
        .expect("create_plan");
    assert!(second.id > first.id);
    assert_eq!(
        store.plan(first.id).await.expect("plan"),
        Some(first.clone())
    );
    assert_eq!(store.plan(second.id + 100).await.expect("plan"), None);

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let updated = store
        .update_plan(first.id, r#"{"a":2}"#, "planner:li")
        .await
        .expect("update_plan")
        .expect("the plan exists");
    assert_eq!(updated.changes, r#"{"a":2}"#);
    assert!(updated.updated_at > first.updated_at);
    assert_eq!(updated.created_at, first.created_at);
    assert_eq!(updated.created_by, "planner:bo");
    assert_eq!(
        store
            .update_plan(second.id + 100, "{}", "planner:li")
            .await
            .expect("update of no plan"),
        None
    );
    let listed = store.plans().await.expect("plans");
    assert_eq!(
        listed,
        vec![second.clone(), updated.clone()],
        "newest first"
    );

    let created = inspect.audit("create_plan").await;
    assert_eq!(
        created
            .iter()
            .map(|e| e.subject.as_str())
            .collect::<Vec<_>>(),
        vec![
            format!("plan {}", first.id).as_str(),
            format!("plan {}", second.id).as_str()
        ]
    );
    let updates = inspect.audit("update_plan").await;
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].actor, "planner:li");

    // A restart keeps them.
    let reopened = inspect.reopen().await;
    assert_eq!(reopened.plans().await.expect("plans"), listed);
    assert_eq!(
        reopened.plan(first.id).await.expect("plan"),
        Some(updated.clone())
    );

    // Published: no more changes, no second publish.
    let version = reopened
        .publish(
            first.id,
            1,
            &AtlasChanges::default(),
            "planner:bo",
            Utc::now(),
        )
        .await
        .expect("publish an empty plan");
    assert_eq!(version.version, 2);
    let err = store
        .update_plan(first.id, "{}", "planner:bo")
        .await
        .expect_err("a published plan cannot change");
    assert_conflict(err, &format!("plan {}", first.id));
    let unchanged = store
        .plan(first.id)
        .await
        .expect("plan")
        .expect("the plan exists");
    assert_eq!(unchanged.changes, r#"{"a":2}"#);
    assert_eq!(unchanged.status, PlanStatus::Published);
    assert_eq!(unchanged.published_version, Some(2));

    let state = everything(store.as_ref(), inspect).await;
    let err = store
        .publish(
            first.id,
            2,
            &AtlasChanges::default(),
            "planner:bo",
            Utc::now(),
        )
        .await
        .expect_err("a plan is published once");
    assert_conflict(err, &format!("plan {}", first.id));
    let unknown = second.id + 100;
    let err = store
        .publish(
            unknown,
            2,
            &AtlasChanges::default(),
            "planner:bo",
            Utc::now(),
        )
        .await
        .expect_err("no such plan");
    assert_conflict(err, &format!("plan {unknown}"));
    assert_eq!(
        everything(store.as_ref(), inspect).await,
        state,
        "refused publishes write nothing"
    );
}

/// A publish that is refused (stale base, retired code reused, retiring what is not current, a
/// failure halfway) writes nothing at all.
async fn refused_publishes_write_nothing(store: Arc<dyn Store>, inspect: &Inspect) {
    store.seed(&sample(), "tester").await.expect("seed");
    let plan = store
        .create_plan("redraw", 1, "{}", "planner:bo")
        .await
        .expect("create_plan");
    let change = LeaderChange {
        bac_convener: Some(PersonRef::Existing("p3".into())),
        party_worker: None,
    };
    store
        .replace_leaders("G-002", &change, "admin:alice", day(2025, 1, 1))
        .await
        .expect("replace_leaders");

    let state = everything(store.as_ref(), inspect).await;
    let err = store
        .publish(plan.id, 1, &sample_changes(), "planner:bo", t_pub())
        .await
        .expect_err("the atlas moved on since the plan was made");
    assert!(
        matches!(
            err,
            StoreError::VersionMismatch {
                base: 1,
                current: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(everything(store.as_ref(), inspect).await, state);

    // Fails late (an unknown person, after grids were written): all of it is undone.
    let mut broken = sample_changes();
    broken.leaders_begun[1].person_id = "nobody".into();
    let err = store
        .publish(plan.id, 2, &broken, "planner:bo", t_pub())
        .await
        .expect_err("an unknown person fails the publish");
    assert!(!err.is_unavailable(), "{err}");
    assert_eq!(everything(store.as_ref(), inspect).await, state);

    // Retiring a grid that is not current.
    let mut bad_retire = sample_changes();
    bad_retire.retired.push("X-404".into());
    let err = store
        .publish(plan.id, 2, &bad_retire, "planner:bo", t_pub())
        .await
        .expect_err("X-404 is not current");
    assert_conflict(err, "X-404");
    assert_eq!(everything(store.as_ref(), inspect).await, state);

    // The real publish: retires B-002, adds B-003.
    store
        .publish(plan.id, 2, &sample_changes(), "planner:bo", t_pub())
        .await
        .expect("publish");
    let now = store.load_at(None).await.expect("load_at");
    assert_eq!(now.version, 3);
    let codes: Vec<&str> = now.dataset.grids.iter().map(|g| g.code.as_str()).collect();
    assert_eq!(codes, vec!["B-001", "B-003", "G-001", "G-002", "N-001"]);

    // A new grid on the retired code B-002.
    let reuse = store
        .create_plan("reuse", 3, "{}", "planner:bo")
        .await
        .expect("create_plan");
    let state = everything(store.as_ref(), inspect).await;
    let mut again = sample().grids[1].clone();
    again.name = "又一个恒隆".into();
    let changes = AtlasChanges {
        grids: vec![again],
        ..AtlasChanges::default()
    };
    let err = store
        .publish(reuse.id, 3, &changes, "planner:bo", day(2025, 9, 1))
        .await
        .expect_err("a retired code is never reused");
    assert_conflict(err, "B-002");
    assert_eq!(everything(store.as_ref(), inspect).await, state);
    assert_eq!(
        store.plan(reuse.id).await.expect("plan").map(|p| p.status),
        Some(PlanStatus::Draft),
        "a refused publish leaves the plan a draft"
    );
}

/// The strongest reload the change feed asks for within `limit` (stops early at a full one).
async fn reload_need_within(
    feed: &mut gridatlas::sync::ChangeFeed,
    limit: std::time::Duration,
) -> ReloadNeed {
    let deadline = tokio::time::Instant::now() + limit;
    let mut need = ReloadNeed::Nothing;
    while need != ReloadNeed::Full {
        match tokio::time::timeout_at(deadline, feed.recv()).await {
            Ok(Some(event)) => need = need.max(ReloadNeed::of(&event)),
            Ok(None) => panic!("the change feed closed"),
            Err(_) => break,
        }
    }
    need
}

/// Plan drafts reload nobody; a publish, even one that changes no table of the atlas, makes
/// every instance reload in full.
async fn plan_writes_reload_nothing_and_a_publish_reloads_everything(
    store: Arc<dyn Store>,
    _inspect: &Inspect,
) {
    store.seed(&sample(), "tester").await.expect("seed");
    let mut feed = store
        .subscribe_changes()
        .await
        .expect("subscribe")
        .expect("both stores have a change feed");
    let plan = store
        .create_plan("draft", 1, "{}", "planner:bo")
        .await
        .expect("create_plan");
    store
        .update_plan(plan.id, r#"{"a":1}"#, "planner:bo")
        .await
        .expect("update_plan");
    // Longer than two polls of the SQLite feed.
    assert_eq!(
        reload_need_within(&mut feed, std::time::Duration::from_millis(1300)).await,
        ReloadNeed::Nothing,
        "plan writes reload nothing"
    );
    store
        .publish(
            plan.id,
            1,
            &AtlasChanges::default(),
            "planner:bo",
            Utc::now(),
        )
        .await
        .expect("publish");
    assert_eq!(
        reload_need_within(&mut feed, std::time::Duration::from_secs(5)).await,
        ReloadNeed::Full,
        "a publish reloads in full"
    );
}

/// Two publishes from the same base at once: one makes the next version, the other finds the
/// atlas moved on.
async fn concurrent_publishes_take_turns(store: Arc<dyn Store>, _inspect: &Inspect) {
    store.seed(&sample(), "tester").await.expect("seed");
    let a = store
        .create_plan("a", 1, "{}", "planner:a")
        .await
        .expect("create_plan");
    let b = store
        .create_plan("b", 1, "{}", "planner:b")
        .await
        .expect("create_plan");
    let mut changes_b = sample_changes();
    changes_b.grids.clear();
    changes_b.retired.clear();
    changes_b.building_grids.clear();
    changes_b.leaders_begun.truncate(1);
    changes_b.teams_begun.clear();
    let changes_a = sample_changes();
    let (ra, rb) = tokio::join!(
        store.publish(a.id, 1, &changes_a, "planner:a", t_pub()),
        store.publish(b.id, 1, &changes_b, "planner:b", t_pub()),
    );
    let (won, lost) = match (ra, rb) {
        (Ok(v), Err(e)) | (Err(e), Ok(v)) => (v, e),
        other => panic!("exactly one publish succeeds: {other:?}"),
    };
    assert_eq!(won.version, 2);
    assert!(
        matches!(
            lost,
            StoreError::VersionMismatch {
                base: 1,
                current: 2
            }
        ),
        "{lost:?}"
    );
    let versions = store.versions().await.expect("versions");
    assert_eq!(versions.len(), 2);
    let statuses: Vec<PlanStatus> = store
        .plans()
        .await
        .expect("plans")
        .iter()
        .map(|p| p.status)
        .collect();
    assert!(
        statuses.contains(&PlanStatus::Draft) && statuses.contains(&PlanStatus::Published),
        "{statuses:?}"
    );
}

/// Whole-atlas reads while another task writes: every read is one committed state. The writer
/// alternates a building rename and a leader change (tables a parallel reader reads on
/// different connections); each read must pair the name and the leader of its version.
async fn loads_during_writes_are_consistent(store: Arc<dyn Store>, _inspect: &Inspect) {
    store.seed(&sample(), "tester").await.expect("seed");
    let state_of = |ds: &Dataset| {
        let name = ds
            .buildings
            .iter()
            .find(|b| b.id == "b2")
            .map(|b| b.name.clone());
        let leader = ds
            .leaders
            .iter()
            .find(|l| l.grid_code == "N-001" && l.role == LeaderRole::PartyWorker)
            .map(|l| l.person_id.clone());
        (name, leader)
    };
    let seeded = store.load().await.expect("load");
    let mut expected = std::collections::HashMap::from([(1u64, state_of(&seeded))]);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut states = Vec::new();
            let (mut name, mut leader) = state_of(&seeded);
            for round in 0..24 {
                if round % 2 == 0 {
                    let mut b = building_b2();
                    b.name = format!("恒隆广场 round {round}");
                    store
                        .upsert_buildings(&[b.clone()], "importer")
                        .await
                        .expect("upsert");
                    name = Some(b.name);
                } else {
                    let person = if round % 4 == 1 { "p3" } else { "p1" };
                    let change = LeaderChange {
                        bac_convener: None,
                        party_worker: Some(PersonRef::Existing(person.into())),
                    };
                    store
                        .replace_leaders("N-001", &change, "admin:alice", Utc::now())
                        .await
                        .expect("replace_leaders");
                    leader = Some(person.to_string());
                }
                let version = store.current_version().await.expect("version");
                states.push((version, (name.clone(), leader.clone())));
            }
            states
        })
    };
    let mut reads = Vec::new();
    while !writer.is_finished() {
        let read = store.load_at(None).await.expect("load during writes");
        reads.push((read.version, state_of(&read.dataset)));
    }
    expected.extend(writer.await.expect("writer"));
    assert_eq!(
        expected.len(),
        25,
        "24 writes, each a version: {expected:?}"
    );
    assert!(!reads.is_empty());
    for (version, state) in &reads {
        assert_eq!(
            expected.get(version),
            Some(state),
            "the read at version {version} mixes states"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// A database made before versions existed (migration 0001 only), then migrated.

/// Rows written as the store wrote them before migration 0002: two versions of B-001 (the
/// current one from 2024-03-01), buildings b1 in B-001 and b3 in none, a leader, the seed's
/// audit entry.
const BEFORE_VERSIONS_SEED_AT: &str = "2024-02-15T08:30:00.000Z";

fn seed_before_versions_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 2, 15, 8, 30, 0)
        .single()
        .expect("valid date")
}

async fn check_backfill(store: Arc<dyn Store>) {
    assert_eq!(
        store.versions().await.expect("versions"),
        vec![AtlasVersion {
            version: 1,
            at: seed_before_versions_at(),
            actor: "importer".into(),
            action: "seed".into(),
            plan_id: None,
        }],
        "the existing atlas is version 1, at its seed"
    );
    let now = store.load_at(None).await.expect("load_at");
    assert_eq!(now.version, 1);
    let grids_of = |ds: &Dataset| -> Vec<(String, Option<String>)> {
        ds.buildings
            .iter()
            .map(|b| (b.id.clone(), b.grid_code.clone()))
            .collect()
    };
    assert_eq!(
        grids_of(&now.dataset),
        vec![("b1".into(), Some("B-001".into())), ("b3".into(), None)]
    );
    // b1 is in B-001 since B-001's current version began (2024-03-01), not before.
    let then = store.load_at(Some(day(2024, 3, 2))).await.expect("load_at");
    assert_eq!(grids_of(&then.dataset), grids_of(&now.dataset));
    let earlier = store.load_at(Some(day(2024, 2, 1))).await.expect("load_at");
    assert_eq!(
        grids_of(&earlier.dataset),
        vec![("b1".into(), None), ("b3".into(), None)]
    );
    assert_eq!(earlier.dataset.grids.len(), 1, "B-001's first version");
    assert_eq!(
        store
            .change_point(day(2024, 6, 1))
            .await
            .expect("change_point"),
        Some(day(2024, 3, 1))
    );
    // And it goes on from there.
    let moved = Building {
        grid_code: None,
        ..store.load().await.expect("load").buildings[0].clone()
    };
    store
        .upsert_buildings(&[moved], "importer")
        .await
        .expect("upsert");
    assert_eq!(store.current_version().await.expect("current_version"), 2);
}

#[tokio::test]
async fn sqlite_migration_backfills_a_seeded_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let pool = SqlitePool::connect(&url).await.expect("create the file");
    let mut first_only = sqlx::migrate!("migrations/sqlite");
    first_only.migrations = std::borrow::Cow::Owned(first_only.migrations[..1].to_vec());
    first_only.run(&pool).await.expect("migration 0001");
    let shape = gridatlas::store::encode_multipolygon(&mp(rect(121.44, 31.22, 121.445, 31.225)));
    for (code, from, to) in [
        (
            "B-001",
            "2024-01-01T00:00:00.000Z",
            Some("2024-03-01T00:00:00.000Z"),
        ),
        ("B-001", "2024-03-01T00:00:00.000Z", None),
    ] {
        sqlx::query(
            "INSERT INTO grids (code, name, level, geometry, valid_from, valid_to) \
             VALUES (?, 'b', 'building', ?, ?, ?)",
        )
        .bind(code)
        .bind(&shape)
        .bind(from)
        .bind(to)
        .execute(&pool)
        .await
        .expect("insert a grid");
    }
    for (id, code) in [("b1", Some("B-001")), ("b3", None)] {
        sqlx::query("INSERT INTO buildings (id, name, grid_code, footprint) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(id)
            .bind(code)
            .bind(&shape)
            .execute(&pool)
            .await
            .expect("insert a building");
    }
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject) VALUES (?, 'importer', 'seed', 'atlas')",
    )
    .bind(BEFORE_VERSIONS_SEED_AT)
    .execute(&pool)
    .await
    .expect("insert the seed's audit entry");
    pool.close().await;

    let store =
        gridatlas::store::open(&format!("sqlite://{}", dir.path().join("old.db").display()))
            .await
            .expect("open and migrate");
    check_backfill(store).await;
}

#[tokio::test]
async fn postgres_migration_backfills_a_seeded_database() {
    let Some(url) = postgres_url() else { return };
    let db = TestDb::create(&url).await;
    let pool = PgPool::connect_with(db.options.clone())
        .await
        .expect("connect to the test database");
    let mut first_only = sqlx::migrate!("migrations/postgres");
    first_only.migrations = std::borrow::Cow::Owned(first_only.migrations[..1].to_vec());
    first_only.run(&pool).await.expect("migration 0001");
    let shape = gridatlas::store::encode_multipolygon(&mp(rect(121.44, 31.22, 121.445, 31.225)));
    let mut tx = pool.begin().await.expect("begin");
    // As gridatlas wrote them: marked, so that the SQL audit triggers skip them.
    sqlx::query("SELECT set_config('gridatlas.actor', 'importer', true)")
        .execute(&mut *tx)
        .await
        .expect("set the actor");
    for (from, to) in [
        (day(2024, 1, 1), Some(day(2024, 3, 1))),
        (day(2024, 3, 1), None),
    ] {
        sqlx::query(
            "INSERT INTO grids (code, name, level, geom, valid_from, valid_to) \
             VALUES ('B-001', 'b', 'building', ST_Multi(ST_GeomFromWKB($1, 4326)), $2, $3)",
        )
        .bind(&shape)
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await
        .expect("insert a grid");
    }
    for (id, code) in [("b1", Some("B-001")), ("b3", None)] {
        sqlx::query(
            "INSERT INTO buildings (id, name, grid_code, footprint) \
             VALUES ($1, $1, $2, ST_Multi(ST_GeomFromWKB($3, 4326)))",
        )
        .bind(id)
        .bind(code)
        .bind(&shape)
        .execute(&mut *tx)
        .await
        .expect("insert a building");
    }
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, subject) VALUES ($1, 'importer', 'seed', 'atlas')",
    )
    .bind(seed_before_versions_at())
    .execute(&mut *tx)
    .await
    .expect("insert the seed's audit entry");
    tx.commit().await.expect("commit");
    pool.close().await;

    let store = PostgresStore::open_with(db.options.clone())
        .await
        .expect("open and migrate");
    check_backfill(Arc::new(store)).await;
}

// ---------------------------------------------------------------------------------------------
// Backends.

struct Backend {
    store: Arc<dyn Store>,
    inspect: Inspect,
    _sqlite_dir: Option<tempfile::TempDir>,
    _postgres_db: Option<TestDb>,
}

async fn sqlite_backend() -> Backend {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("atlas.db").display());
    let store = gridatlas::store::open(&url)
        .await
        .expect("open the SQLite store");
    assert_eq!(store.backend(), "sqlite");
    let inspect = SqlitePool::connect(&url)
        .await
        .expect("inspect the SQLite file");
    Backend {
        store,
        inspect: Inspect::Sqlite(inspect),
        _sqlite_dir: Some(dir),
        _postgres_db: None,
    }
}

/// The PostgreSQL server to test against, or `None` (after saying so loudly) when there is none.
fn postgres_url() -> Option<String> {
    match std::env::var("GRIDATLAS_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let required = std::env::var("GRIDATLAS_REQUIRE_POSTGRES")
                .is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
            assert!(
                !required,
                "GRIDATLAS_REQUIRE_POSTGRES is set but GRIDATLAS_TEST_POSTGRES_URL is not: \
                 the PostGIS tests must run here (see scripts/postgis-setup)"
            );
            // Straight to stderr: the test harness captures eprintln! of passing tests.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"SKIPPED: PostGIS tests need GRIDATLAS_TEST_POSTGRES_URL \
                  (e.g. postgres://postgres@127.0.0.1:5432/postgres; scripts/postgis-setup prepares a server)\n",
            );
            None
        }
    }
}

/// A database of its own for one test, created from the `postgres` maintenance database and
/// dropped when the test ends (passed or failed).
struct TestDb {
    admin: PgConnectOptions,
    options: PgConnectOptions,
    name: String,
}

impl TestDb {
    async fn create(url: &str) -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let base =
            PgConnectOptions::from_str(url).expect("GRIDATLAS_TEST_POSTGRES_URL is a postgres URL");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "gridatlas_test_{:x}_{:x}_{}",
            std::process::id(),
            nanos,
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let admin = base.clone().database("postgres");
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to the postgres maintenance database");
        sqlx::query(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let _ = conn.close().await;
        TestDb {
            options: base.database(&name),
            admin,
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop may run inside the test's runtime: do the async work on a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut conn = PgConnection::connect_with(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                )))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
                Ok::<(), String>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "warning: could not drop test database {}: {dropped:?}",
                self.name
            );
        }
    }
}

async fn postgres_backend() -> Option<Backend> {
    let url = postgres_url()?;
    let db = TestDb::create(&url).await;
    let store = PostgresStore::open_with(db.options.clone())
        .await
        .expect("open the PostgreSQL store");
    let inspect = Inspect::Postgres(store.pool().clone());
    let store: Arc<dyn Store> = Arc::new(store);
    assert_eq!(store.backend(), "postgres");
    Some(Backend {
        store,
        inspect,
        _sqlite_dir: None,
        _postgres_db: Some(db),
    })
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $check() {
                    let b = super::sqlite_backend().await;
                    super::$check(b.store.clone(), &b.inspect).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $check() {
                    let Some(b) = super::postgres_backend().await else { return };
                    super::$check(b.store.clone(), &b.inspect).await;
                }
            )*
        }
    };
}

conformance!(
    seed_and_load_round_trip,
    replace_leaders_keeps_history_and_audits,
    replace_leaders_failures_change_nothing,
    upsert_buildings_counts,
    failed_seed_leaves_store_empty,
    versions_count_atlas_writes,
    load_at_and_history_around_a_publish,
    plans_persist_and_only_drafts_change,
    refused_publishes_write_nothing,
    plan_writes_reload_nothing_and_a_publish_reloads_everything,
    concurrent_publishes_take_turns,
    loads_during_writes_are_consistent,
);

#[tokio::test]
async fn open_dispatches_postgres_urls() {
    let Some(url) = postgres_url() else { return };
    let db = TestDb::create(&url).await;
    let options_url = {
        // The same server, the test database.
        let base = url.split('?').next().unwrap_or(&url);
        let root = base.rsplit_once('/').map_or(base, |(root, _)| root);
        format!("{root}/{}", db.name)
    };
    let store = gridatlas::store::open(&options_url)
        .await
        .expect("open a postgres:// URL");
    assert_eq!(store.backend(), "postgres");
    assert!(store.is_empty().await.expect("is_empty"));
    let alt = options_url.replacen("postgres://", "postgresql://", 1);
    let store = gridatlas::store::open(&alt)
        .await
        .expect("open a postgresql:// URL");
    assert_eq!(store.backend(), "postgres");
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    // Nothing listens on port 1: the failure must read as an outage, and come fast.
    let started = std::time::Instant::now();
    let err = match gridatlas::store::open("postgres://postgres@127.0.0.1:1/gridatlas").await {
        Ok(_) => panic!("nothing listens on port 1"),
        Err(e) => e,
    };
    assert!(
        err.is_unavailable(),
        "connection refused is an outage: {err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "fails fast"
    );
}

#[tokio::test]
async fn sqlite_in_memory_urls_are_refused() {
    // Whole-atlas reads open the file on connections of their own: a private in-memory
    // database would read back empty, so it is refused up front with a clear message.
    for url in ["sqlite::memory:", "sqlite://file:atlas?mode=memory"] {
        let err = match gridatlas::store::open(url).await {
            Ok(_) => panic!("{url} must be refused"),
            Err(e) => e,
        };
        assert!(
            matches!(err, StoreError::UnsupportedUrl(_)) && err.to_string().contains("in-memory"),
            "{url}: {err}"
        );
    }
}

#[tokio::test]
async fn sqlite_corrupt_rows_fail_the_whole_read_clearly() {
    // A row the reader cannot decode fails the load with `Corrupt`, naming what is wrong,
    // and never yields a partial atlas.
    for (sql, naming) in [
        (
            "UPDATE grids SET valid_from = 'yesterday' WHERE code = 'B-001'",
            "yesterday",
        ),
        (
            "UPDATE buildings SET footprint = x'010203' WHERE id = 'b1'",
            "WKB",
        ),
        (
            "UPDATE buildings SET addresses = 'not json' WHERE id = 'b1'",
            "addresses",
        ),
    ] {
        let b = sqlite_backend().await;
        b.store.seed(&sample(), "tester").await.expect("seed");
        let Inspect::Sqlite(pool) = &b.inspect else {
            unreachable!("a SQLite backend")
        };
        sqlx::query(AssertSqlSafe(sql))
            .execute(pool)
            .await
            .expect("corrupt a row");
        let err = match b.store.load().await {
            Ok(_) => panic!("{sql}: the load must fail"),
            Err(e) => e,
        };
        assert!(
            matches!(err, StoreError::Corrupt(_)) && err.to_string().contains(naming),
            "{sql}: {err}"
        );
    }
}
