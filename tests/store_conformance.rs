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
    Building, Contact, Dataset, Grid, GridLevel, LeaderAssignment, LeaderRole, Person, ServiceTeam,
    TeamMember, Workload,
};
use gridatlas::store::postgres::PostgresStore;
use gridatlas::store::{Attributes, LeaderChange, PersonRef, Store, UpsertReport};

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
