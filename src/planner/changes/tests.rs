use std::path::Path;
use std::sync::OnceLock;

use geo::{LineString, MultiPolygon, Polygon};
use proptest::prelude::*;

use super::*;
use crate::fixtures::{building, grid, rect};
use crate::model::{LeaderAssignment, Person, ServiceTeam};

pub(crate) fn sample() -> &'static Dataset {
    static SAMPLE: OnceLock<Dataset> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        crate::import::geodata::read_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"))
            .expect("the sample reads")
    })
}

/// One neighborhood, one group, two building grids with a building each; every role held,
/// one team serving the group.
fn small() -> Dataset {
    use GridLevel::*;
    let grids = vec![
        grid("1", Neighborhood, None, rect(0., 0., 4., 4.)),
        grid("101", BuildingGroup, Some("1"), rect(0., 0., 4., 4.)),
        grid("101001", Building, Some("101"), rect(0., 0., 2., 4.)),
        grid("101002", Building, Some("101"), rect(2., 0., 4., 4.)),
    ];
    let leaders = grids
        .iter()
        .flat_map(|g| {
            LeaderRole::ALL.map(|role| LeaderAssignment {
                grid_code: g.code.clone(),
                role,
                person_id: if role == LeaderRole::BacConvener {
                    "p1".into()
                } else {
                    "p2".into()
                },
            })
        })
        .collect();
    Dataset {
        grids,
        buildings: vec![
            building("b1", Some("101001"), rect(0.5, 0.5, 1.5, 1.5)),
            building("b2", Some("101002"), rect(2.5, 0.5, 3.5, 1.5)),
        ],
        people: ["p1", "p2", "p3"]
            .map(|id| Person {
                id: id.into(),
                name: format!("person {id}"),
                contact: Default::default(),
            })
            .to_vec(),
        leaders,
        teams: vec![ServiceTeam {
            id: "t1".into(),
            name: "team one".into(),
            members: vec![],
            grid_codes: vec!["101".into()],
        }],
    }
}

fn find<'a>(ds: &'a mut Dataset, code: &str) -> &'a mut Grid {
    ds.grids
        .iter_mut()
        .find(|g| g.code == code)
        .expect("grid exists")
}

fn roundtrips(base: &Dataset, plan: &Dataset) -> AtlasChanges {
    let changes = between(base, plan);
    let applied = apply(base, &changes).expect("the changes fit their base");
    assert_eq!(normalised(applied), normalised(plan.clone()));
    let read = from_json(&to_json(&changes)).expect("the JSON reads back");
    assert_eq!(read, changes);
    changes
}

/// A plan of the small dataset that touches every kind of change: b2's grid is retired and
/// b2 joins 101001, which gets a new name and geometry; a new group "102" appears with a
/// leader; p3 replaces p1 as convener of "1"; the team moves from "101" to "102".
fn touched(ds: &Dataset) -> Dataset {
    let mut plan = ds.clone();
    plan.grids
        .retain(|g| !(g.code == "101002" && g.valid_to.is_none()));
    plan.leaders.retain(|l| l.grid_code != "101002");
    let g = find(&mut plan, "101001");
    g.name = "renamed".into();
    g.geometry = rect(0., 0., 4., 4.);
    plan.grids.push(grid(
        "102",
        GridLevel::BuildingGroup,
        Some("1"),
        rect(4., 0., 5., 4.),
    ));
    plan.buildings[1].grid_code = Some("101001".into());
    plan.leaders.push(LeaderAssignment {
        grid_code: "102".into(),
        role: LeaderRole::PartyWorker,
        person_id: "p3".into(),
    });
    for l in plan.leaders.iter_mut() {
        if l.grid_code == "1" && l.role == LeaderRole::BacConvener {
            l.person_id = "p3".into();
        }
    }
    plan.teams[0].grid_codes = vec!["102".into()];
    plan
}

#[test]
fn no_change_is_empty() {
    assert!(between(&small(), &small()).is_empty());
    assert!(between(sample(), sample()).is_empty());
    assert_eq!(
        normalised(apply(sample(), &AtlasChanges::default()).expect("fits")),
        normalised(sample().clone())
    );
}

#[test]
fn between_lists_every_kind_of_change_in_order() {
    let base = small();
    let plan = touched(&base);
    let c = roundtrips(&base, &plan);
    let codes: Vec<&str> = c.grids.iter().map(|g| g.code.as_str()).collect();
    assert_eq!(codes, ["101001", "102"]);
    assert_eq!(c.grids[0].name, "renamed");
    assert_eq!(c.retired, ["101002"]);
    assert_eq!(
        c.building_grids,
        [("b2".to_string(), Some("101001".to_string()))]
    );
    use LeaderRole::*;
    assert_eq!(
        c.leaders_ended,
        [
            ("1".to_string(), BacConvener),
            ("101002".to_string(), BacConvener),
            ("101002".to_string(), PartyWorker),
        ]
    );
    let begun: Vec<(&str, LeaderRole, &str)> = c
        .leaders_begun
        .iter()
        .map(|l| (l.grid_code.as_str(), l.role, l.person_id.as_str()))
        .collect();
    assert_eq!(
        begun,
        [("1", BacConvener, "p3"), ("102", PartyWorker, "p3")]
    );
    assert_eq!(c.teams_ended, [("t1".to_string(), "101".to_string())]);
    assert_eq!(c.teams_begun, [("t1".to_string(), "102".to_string())]);
}

#[test]
fn vacating_a_role_only_ends_it_and_name_en_counts() {
    let base = small();
    let mut plan = base.clone();
    plan.leaders
        .retain(|l| !(l.grid_code == "101" && l.role == LeaderRole::PartyWorker));
    find(&mut plan, "1").name_en = Some("Block 1".into());
    let c = roundtrips(&base, &plan);
    assert_eq!(
        c.leaders_ended,
        [("101".to_string(), LeaderRole::PartyWorker)]
    );
    assert!(c.leaders_begun.is_empty());
    assert_eq!(c.grids.len(), 1);
    assert_eq!(c.grids[0].name_en.as_deref(), Some("Block 1"));
}

#[test]
fn apply_sorts_and_ignores_grids_that_are_not_current() {
    let mut base = small();
    base.grids.reverse();
    let mut old = grid(
        "101002",
        GridLevel::Building,
        Some("101"),
        rect(9., 9., 10., 10.),
    );
    old.valid_to = Some(old.valid_from);
    base.grids.push(old.clone());
    let plan = touched(&base);
    let c = roundtrips(&base, &plan);
    assert_eq!(c.retired, ["101002"]);
    let out = apply(&base, &c).expect("fits");
    let codes: Vec<&str> = out.grids.iter().map(|g| g.code.as_str()).collect();
    assert_eq!(codes, ["1", "101", "101001", "101002", "102"]);
    // The old version of 101002 is carried over; the current one is gone.
    assert_eq!(out.grids[3], old);
}

#[test]
fn the_sample_roundtrips_a_redrawn_neighborhood() {
    let base = sample();
    let mut taken = std::collections::HashSet::new();
    taken.extend(base.grids.iter().map(|g| g.code.clone()));
    let (plan, _) = crate::planner::redraw::rebalance_neighborhood(
        base,
        "31010601202",
        3,
        crate::planner::redraw::Weight::Employees,
        &|c| taken.contains(c),
    )
    .expect("rebalance");
    let c = roundtrips(base, &plan);
    assert!(!c.grids.is_empty() && !c.building_grids.is_empty(), "{c:?}");
}

// --- errors ------------------------------------------------------------------------------

fn fails(changes: AtlasChanges) -> ChangesError {
    apply(&small(), &changes).expect_err("the changes do not fit")
}

fn s(x: &str) -> String {
    x.to_string()
}

#[test]
fn apply_names_what_does_not_fit() {
    use ChangesError::*;
    use LeaderRole::*;
    let g = |code: &str, parent: Option<&str>| {
        grid(code, GridLevel::Building, parent, rect(0., 0., 1., 1.))
    };
    let cases: Vec<(AtlasChanges, ChangesError)> = vec![
        (
            AtlasChanges {
                retired: vec![s("9")],
                ..Default::default()
            },
            UnknownRetired(s("9")),
        ),
        (
            AtlasChanges {
                retired: vec![s("101001"), s("101001")],
                building_grids: vec![(s("b1"), None)],
                ..Default::default()
            },
            Duplicate(s("retired grid '101001'")),
        ),
        (
            AtlasChanges {
                grids: vec![g("101003", Some("101")), g("101003", Some("101"))],
                ..Default::default()
            },
            Duplicate(s("grid '101003'")),
        ),
        (
            AtlasChanges {
                grids: vec![g("101001", Some("101"))],
                retired: vec![s("101001")],
                ..Default::default()
            },
            RetiredAndChanged(s("101001")),
        ),
        (
            AtlasChanges {
                grids: vec![g("777001", Some("777"))],
                ..Default::default()
            },
            UnknownGrid {
                subject: s("the parent of grid '777001'"),
                code: s("777"),
            },
        ),
        (
            AtlasChanges {
                building_grids: vec![(s("b9"), None)],
                ..Default::default()
            },
            UnknownBuilding(s("b9")),
        ),
        (
            AtlasChanges {
                building_grids: vec![(s("b1"), None), (s("b1"), None)],
                ..Default::default()
            },
            Duplicate(s("building 'b1'")),
        ),
        (
            AtlasChanges {
                building_grids: vec![(s("b1"), Some(s("5")))],
                ..Default::default()
            },
            UnknownGrid {
                subject: s("building 'b1'"),
                code: s("5"),
            },
        ),
        (
            AtlasChanges {
                leaders_ended: vec![(s("5"), PartyWorker)],
                ..Default::default()
            },
            LeaderNotHeld {
                grid: s("5"),
                role: "party_worker",
            },
        ),
        (
            AtlasChanges {
                leaders_begun: vec![LeaderAssignment {
                    grid_code: s("1"),
                    role: BacConvener,
                    person_id: s("p3"),
                }],
                ..Default::default()
            },
            LeaderAlreadyHeld {
                grid: s("1"),
                role: "bac_convener",
            },
        ),
        (
            AtlasChanges {
                leaders_ended: vec![(s("1"), BacConvener)],
                leaders_begun: vec![LeaderAssignment {
                    grid_code: s("1"),
                    role: BacConvener,
                    person_id: s("nobody"),
                }],
                ..Default::default()
            },
            UnknownPerson {
                grid: s("1"),
                role: "bac_convener",
                person: s("nobody"),
            },
        ),
        (
            AtlasChanges {
                teams_begun: vec![(s("t9"), s("1"))],
                ..Default::default()
            },
            UnknownTeam(s("t9")),
        ),
        (
            AtlasChanges {
                teams_ended: vec![(s("t1"), s("1"))],
                ..Default::default()
            },
            TeamNotServing {
                team: s("t1"),
                grid: s("1"),
            },
        ),
        (
            AtlasChanges {
                teams_begun: vec![(s("t1"), s("101"))],
                ..Default::default()
            },
            TeamAlreadyServing {
                team: s("t1"),
                grid: s("101"),
            },
        ),
        (
            AtlasChanges {
                teams_begun: vec![(s("t1"), s("8"))],
                ..Default::default()
            },
            UnknownGrid {
                subject: s("service team 't1'"),
                code: s("8"),
            },
        ),
        (
            // The building still names the retired grid.
            AtlasChanges {
                retired: vec![s("101002")],
                leaders_ended: vec![(s("101002"), BacConvener), (s("101002"), PartyWorker)],
                ..Default::default()
            },
            RetiredStillReferenced {
                code: s("101002"),
                by: s("building 'b2'"),
            },
        ),
        (
            AtlasChanges {
                retired: vec![s("101002")],
                building_grids: vec![(s("b2"), Some(s("101001")))],
                leaders_ended: vec![(s("101002"), BacConvener)],
                ..Default::default()
            },
            RetiredStillReferenced {
                code: s("101002"),
                by: s("its party_worker leader assignment"),
            },
        ),
        (
            AtlasChanges {
                retired: vec![s("101"), s("101001"), s("101002")],
                building_grids: vec![(s("b1"), None), (s("b2"), None)],
                leaders_ended: ["101", "101001", "101002"]
                    .iter()
                    .flat_map(|c| LeaderRole::ALL.map(|r| (s(c), r)))
                    .collect(),
                ..Default::default()
            },
            RetiredStillReferenced {
                code: s("101"),
                by: s("service team 't1'"),
            },
        ),
        (
            AtlasChanges {
                retired: vec![s("101")],
                leaders_ended: LeaderRole::ALL.map(|r| (s("101"), r)).to_vec(),
                teams_ended: vec![(s("t1"), s("101"))],
                ..Default::default()
            },
            RetiredStillReferenced {
                code: s("101"),
                by: s("grid '101001' (as its parent)"),
            },
        ),
    ];
    for (changes, want) in cases {
        let got = fails(changes.clone());
        assert_eq!(got, want, "{changes:?}");
        assert!(!got.to_string().is_empty());
    }
}

// --- JSON --------------------------------------------------------------------------------

/// Coordinates whose shortest decimal form has 17 significant digits, whose significand
/// exceeds 2^53, and tiny or negative ones: they must read back bit for bit.
fn awkward() -> MultiPolygon<f64> {
    let x = 121.441_234_567_890_12_f64;
    let y = 31.0 + 0.1 + 0.2;
    let ring = LineString::from(vec![
        (x, y),
        (x + 1e-9, y),
        (x + 3.0_f64.sqrt() * 1e-4, y + std::f64::consts::PI * 1e-4),
        (x, y + 9_007_199_254_740_993e-20),
        (x, y),
    ]);
    let hole = LineString::from(vec![
        (-0.000_123_456_789_012_345_67, -89.999_999_999_999_99),
        (1.0, -89.5),
        (0.5, -89.0),
        (-0.000_123_456_789_012_345_67, -89.999_999_999_999_99),
    ]);
    MultiPolygon::new(vec![
        Polygon::new(ring, vec![]),
        Polygon::new(
            LineString::from(vec![
                (-1.0, -90.0),
                (2.0, -90.0),
                (2.0, -88.0),
                (-1.0, -90.0),
            ]),
            vec![hole],
        ),
    ])
}

fn bits(mp: &MultiPolygon<f64>) -> Vec<u64> {
    mp.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .flat_map(|r| r.0.iter().flat_map(|c| [c.x.to_bits(), c.y.to_bits()]))
        .collect()
}

#[test]
fn json_keeps_every_field_and_every_bit() {
    let mut g = grid("101003", GridLevel::Building, Some("101"), awkward());
    g.name = "名字 \"quoted\"".into();
    g.name_en = Some("Name".into());
    g.valid_from += chrono::Duration::nanoseconds(123_456_789);
    let changes = AtlasChanges {
        grids: vec![g.clone()],
        retired: vec![s("101002")],
        building_grids: vec![(s("b2"), Some(s("101003"))), (s("b1"), None)],
        leaders_ended: vec![(s("101002"), LeaderRole::PartyWorker)],
        leaders_begun: vec![LeaderAssignment {
            grid_code: s("101003"),
            role: LeaderRole::BacConvener,
            person_id: s("p1"),
        }],
        teams_ended: vec![(s("t1"), s("101"))],
        teams_begun: vec![(s("t1"), s("101003"))],
    };
    let text = to_json(&changes);
    let read = from_json(&text).expect("reads back");
    assert_eq!(read, changes);
    assert_eq!(bits(&read.grids[0].geometry), bits(&g.geometry));
    // Geometry is a GeoJSON MultiPolygon.
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["grids"][0]["geometry"]["type"], "MultiPolygon");
    assert_eq!(v["building_grids"][1]["grid"], serde_json::Value::Null);
    assert_eq!(
        from_json("{}").expect("empty reads"),
        AtlasChanges::default()
    );
}

#[test]
fn json_errors_name_the_problem() {
    let geometry = |g: &str| {
        format!(
            r#"{{"grids":[{{"code":"7","name":"n","level":"neighborhood","valid_from":"2024-01-01T00:00:00Z","geometry":{g}}}]}}"#
        )
    };
    let err = |t: &str| from_json(t).expect_err("unreadable").to_string();
    assert!(err("not json").contains("cannot be read"));
    assert!(err(r#"{"retierd":[]}"#).contains("retierd"));
    assert!(err(r#"{"leaders_ended":[{"grid":"1","role":"boss"}]}"#).contains("boss"));
    let e = err(&geometry(r#"{"type":"Point","coordinates":[1,2]}"#));
    assert!(e.contains("grid '7'") && e.contains("Point"), "{e}");
    let e = err(&geometry(
        r#"{"type":"Polygon","coordinates":[[[1,2],[3],[4,5],[1,2]]]}"#,
    ));
    assert!(e.contains("fewer than two numbers"), "{e}");
    // A Polygon is read as a one-part MultiPolygon.
    let ok = from_json(&geometry(
        r#"{"type":"Polygon","coordinates":[[[1,2],[3,2],[3,4],[1,2]]]}"#,
    ))
    .expect("a polygon reads");
    assert_eq!(ok.grids[0].geometry.0.len(), 1);
}

// --- property: apply(base, between(base, plan)) is the plan -------------------------------

/// One random change to a plan, by indices taken modulo what exists.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Rename(usize),
    Reshape(usize, f64),
    /// Retire a building grid: its buildings go to another building grid (or none).
    Retire(usize, usize, bool),
    /// A new building grid under a group, cloned from it.
    Add(usize),
    MoveBuilding(usize, usize),
    Leader(usize, bool, Option<usize>),
    Team(usize, usize, bool),
}

pub(crate) fn arb_op() -> impl Strategy<Value = Op> {
    let i = || 0usize..1000;
    prop_oneof![
        i().prop_map(Op::Rename),
        (i(), -1e-4f64..1e-4).prop_map(|(a, d)| Op::Reshape(a, d)),
        (i(), i(), any::<bool>()).prop_map(|(a, b, c)| Op::Retire(a, b, c)),
        i().prop_map(Op::Add),
        (i(), i()).prop_map(|(a, b)| Op::MoveBuilding(a, b)),
        (i(), any::<bool>(), proptest::option::of(i())).prop_map(|(a, r, p)| Op::Leader(a, r, p)),
        (i(), i(), any::<bool>()).prop_map(|(a, b, c)| Op::Team(a, b, c)),
    ]
}

fn codes_of(ds: &Dataset, level: GridLevel) -> Vec<String> {
    ds.grids
        .iter()
        .filter(|g| g.level == level)
        .map(|g| g.code.clone())
        .collect()
}

fn pick<T: Clone>(v: &[T], i: usize) -> Option<T> {
    (!v.is_empty()).then(|| v[i % v.len()].clone())
}

pub(crate) fn run(ds: &mut Dataset, op: &Op, serial: &mut u32) {
    let cells = codes_of(ds, GridLevel::Building);
    match *op {
        Op::Rename(i) => {
            let n = ds.grids.len();
            ds.grids[i % n].name.push('*');
        }
        Op::Reshape(i, d) => {
            let n = ds.grids.len();
            use geo::MapCoordsInPlace;
            ds.grids[i % n]
                .geometry
                .map_coords_in_place(|c| geo::coord! {x: c.x + d, y: c.y});
        }
        Op::Retire(i, j, keep) => {
            let Some(code) = pick(&cells, i) else { return };
            let to = pick(&cells, j).filter(|c| keep && *c != code);
            ds.grids.retain(|g| g.code != code);
            ds.leaders.retain(|l| l.grid_code != code);
            for t in &mut ds.teams {
                t.grid_codes.retain(|c| *c != code);
            }
            for b in &mut ds.buildings {
                if b.grid_code.as_deref() == Some(code.as_str()) {
                    b.grid_code = to.clone();
                }
            }
        }
        Op::Add(i) => {
            let Some(group) = pick(&codes_of(ds, GridLevel::BuildingGroup), i) else {
                return;
            };
            *serial += 1;
            let parent = ds.grids.iter().find(|g| g.code == group).cloned();
            if let Some(p) = parent {
                ds.grids.push(Grid {
                    code: format!("{group}9{:02}", *serial),
                    level: GridLevel::Building,
                    parent_code: Some(group),
                    ..p
                });
            }
        }
        Op::MoveBuilding(i, j) => {
            let n = ds.buildings.len();
            ds.buildings[i % n].grid_code = pick(&cells, j);
        }
        Op::Leader(i, bac, person) => {
            let n = ds.grids.len();
            let code = ds.grids[i % n].code.clone();
            let role = if bac {
                LeaderRole::BacConvener
            } else {
                LeaderRole::PartyWorker
            };
            ds.leaders
                .retain(|l| !(l.grid_code == code && l.role == role));
            let people: Vec<String> = ds.people.iter().map(|p| p.id.clone()).collect();
            if let Some(person_id) = person.and_then(|p| pick(&people, p)) {
                ds.leaders.push(LeaderAssignment {
                    grid_code: code,
                    role,
                    person_id,
                });
            }
        }
        Op::Team(t, i, serve) => {
            let n = ds.grids.len();
            let code = ds.grids[i % n].code.clone();
            let m = ds.teams.len();
            let team = &mut ds.teams[t % m];
            team.grid_codes.retain(|c| *c != code);
            if serve {
                team.grid_codes.push(code);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn apply_of_between_is_the_plan(ops in prop::collection::vec(arb_op(), 0..12)) {
        let base = sample();
        let mut plan = base.clone();
        let mut serial = 0;
        for op in &ops {
            run(&mut plan, op, &mut serial);
        }
        let changes = between(base, &plan);
        let applied = apply(base, &changes);
        prop_assert!(applied.is_ok(), "{:?}", applied.err());
        prop_assert_eq!(applied.ok().map(normalised), Some(normalised(plan.clone())));
        prop_assert_eq!(from_json(&to_json(&changes)).ok(), Some(changes));
    }
}
