use std::path::Path;

use geo::{BooleanOps, MultiPolygon};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::fixtures::{building, grid, rect};
use crate::model::{LeaderRole, Person, ServiceTeam};
use crate::rules::check_dataset;

/// Neighborhood "1" (8×4 units) with groups "101" (west half) and "102" (east half); "101" has
/// building grids "101001" and "101002", "102" has "102001", one building each. Neighborhood
/// "2" beside it has group "201" and no building grid. Every role is held by a person named
/// after the grid; team "t1" serves "101", team "t2" serves "102001".
fn layout() -> Dataset {
    use GridLevel::*;
    let grids = vec![
        grid("1", Neighborhood, None, rect(0., 0., 8., 4.)),
        grid("101", BuildingGroup, Some("1"), rect(0., 0., 4., 4.)),
        grid("102", BuildingGroup, Some("1"), rect(4., 0., 8., 4.)),
        grid("101001", Building, Some("101"), rect(0., 0., 2., 4.)),
        grid("101002", Building, Some("101"), rect(2., 0., 4., 4.)),
        grid("102001", Building, Some("102"), rect(4., 0., 8., 4.)),
        grid("2", Neighborhood, None, rect(8., 0., 12., 4.)),
        grid("201", BuildingGroup, Some("2"), rect(8., 0., 12., 4.)),
    ];
    let mut people = Vec::new();
    let mut leaders = Vec::new();
    for g in &grids {
        for role in LeaderRole::ALL {
            let id = format!("{}-{}", g.code, role.as_str());
            people.push(Person {
                id: id.clone(),
                name: id.clone(),
                contact: Default::default(),
            });
            leaders.push(LeaderAssignment {
                grid_code: g.code.clone(),
                role,
                person_id: id,
            });
        }
    }
    let team = |id: &str, codes: &[&str]| ServiceTeam {
        id: id.into(),
        name: format!("team {id}"),
        members: vec![],
        grid_codes: codes.iter().map(|c| c.to_string()).collect(),
    };
    Dataset {
        grids,
        buildings: vec![
            building("b1", Some("101001"), rect(0.2, 0.5, 1.2, 1.5)),
            building("b2", Some("101002"), rect(2.5, 0.5, 3.5, 1.5)),
            building("b3", Some("102001"), rect(5., 1., 7., 3.)),
            building("b4", None, rect(9., 1., 10., 2.)),
            building("b5", Some("201"), rect(10.5, 1., 11.5, 2.)),
        ],
        people,
        leaders,
        teams: vec![team("t1", &["101"]), team("t2", &["102001"])],
    }
}

fn nothing_taken(_: &str) -> bool {
    false
}

fn ok(edit: Edit) -> Dataset {
    apply(&layout(), &edit, &nothing_taken).unwrap_or_else(|e| panic!("{edit:?}: {e}"))
}

fn err(edit: Edit) -> EditError {
    apply(&layout(), &edit, &nothing_taken).expect_err("the edit must fail")
}

fn edit(v: serde_json::Value) -> Edit {
    serde_json::from_value(v).expect("an edit")
}

fn geojson(mp: &MultiPolygon<f64>) -> serde_json::Value {
    serde_json::to_value(geojson::Geometry::new(geojson::GeometryValue::from(mp))).expect("geojson")
}

fn g<'a>(ds: &'a Dataset, code: &str) -> &'a Grid {
    ds.grids
        .iter()
        .find(|g| g.code == code)
        .unwrap_or_else(|| panic!("no grid {code}"))
}

fn has(ds: &Dataset, code: &str) -> bool {
    ds.grids.iter().any(|g| g.code == code)
}

fn grid_of(ds: &Dataset, building: &str) -> Option<String> {
    ds.buildings
        .iter()
        .find(|b| b.id == building)
        .and_then(|b| b.grid_code.clone())
}

fn leaders_of(ds: &Dataset, code: &str) -> Vec<(LeaderRole, String)> {
    let mut v: Vec<_> = ds
        .leaders
        .iter()
        .filter(|l| l.grid_code == code)
        .map(|l| (l.role, l.person_id.clone()))
        .collect();
    v.sort();
    v
}

fn team_codes(ds: &Dataset, team: &str) -> Vec<String> {
    let mut v = ds
        .teams
        .iter()
        .find(|t| t.id == team)
        .map(|t| t.grid_codes.clone())
        .unwrap_or_default();
    v.sort();
    v
}

fn held_by(code: &str) -> Vec<(LeaderRole, String)> {
    LeaderRole::ALL
        .map(|r| (r, format!("{code}-{}", r.as_str())))
        .to_vec()
}

/// What an edit changed, through the changes a publish would write.
fn changes(out: &Dataset) -> crate::model::AtlasChanges {
    crate::planner::changes::between(&layout(), out)
}

#[test]
fn edits_read_from_json() {
    let e = edit(json!({"op": "move_building", "building": "b2", "group": "102"}));
    assert_eq!(
        e,
        Edit::MoveBuilding {
            building: "b2".into(),
            group: "102".into()
        }
    );
    let e = edit(json!({"op": "rename", "code": "1", "name": "n"}));
    assert!(matches!(e, Edit::Rename { name_en: None, .. }));
    let bad = |v| {
        serde_json::from_value::<Edit>(v)
            .expect_err("rejected")
            .to_string()
    };
    assert!(bad(json!({"op": "explode", "code": "1"})).contains("explode"));
    assert!(bad(json!({"op": "retire", "code": "1", "why": "x"})).contains("why"));
    assert!(
        bad(json!({"op": "add", "code": "3", "name": "n", "level": "city", "geometry": {}}))
            .contains("city")
    );
}

// --- replace_geometry ----------------------------------------------------------------------

#[test]
fn replace_geometry_changes_only_that_grid() {
    let out = ok(Edit::ReplaceGeometry {
        code: "101001".into(),
        geometry: geojson(&rect(0., 0., 2.5, 4.)),
    });
    assert_eq!(g(&out, "101001").geometry, rect(0., 0., 2.5, 4.));
    let c = changes(&out);
    assert_eq!(c.grids.len(), 1);
    assert!(c.retired.is_empty() && c.leaders_ended.is_empty() && c.building_grids.is_empty());
    // A GeoJSON Polygon is accepted too.
    let polygon = json!({"type": "Polygon", "coordinates": [[[121.44, 31.22], [121.441, 31.22], [121.441, 31.221], [121.44, 31.22]]]});
    let out = ok(Edit::ReplaceGeometry {
        code: "1".into(),
        geometry: polygon,
    });
    assert_eq!(g(&out, "1").geometry.0.len(), 1);
}

#[test]
fn replace_geometry_rejects_bad_geometry() {
    let with = |geometry| {
        err(Edit::ReplaceGeometry {
            code: "101001".into(),
            geometry,
        })
    };
    let bowtie =
        json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]});
    assert!(matches!(
        with(bowtie),
        EditError::InvalidGeometry { ref code, defect: GeometryDefect::SelfIntersection { .. } } if code == "101001"
    ));
    let open = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]});
    assert!(matches!(
        with(open),
        EditError::InvalidGeometry {
            defect: GeometryDefect::UnclosedRing { .. },
            ..
        }
    ));
    let far = json!({"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]});
    assert!(matches!(
        with(far),
        EditError::InvalidGeometry {
            defect: GeometryDefect::OutOfRange { .. },
            ..
        }
    ));
    let point = json!({"type": "Point", "coordinates": [0, 0]});
    assert!(matches!(
        with(point),
        EditError::InvalidGeometry {
            defect: GeometryDefect::WrongType(_),
            ..
        }
    ));
    let e = with(json!("a square"));
    assert!(matches!(e, EditError::NotGeoJson { .. }), "{e}");
    assert!(e.to_string().contains("101001"));
    let ring: Vec<[f64; 2]> = (0..=MAX)
        .map(|k| {
            let a = k as f64 / MAX as f64 * std::f64::consts::TAU;
            [a.cos(), a.sin()]
        })
        .collect();
    let huge = json!({"type": "Polygon", "coordinates": [ring]});
    assert!(matches!(
        with(huge),
        EditError::InvalidGeometry {
            defect: GeometryDefect::TooManyVertices { .. },
            ..
        }
    ));
    assert_eq!(
        err(Edit::ReplaceGeometry {
            code: "9".into(),
            geometry: geojson(&rect(0., 0., 1., 1.))
        }),
        EditError::UnknownGrid("9".into())
    );
}

const MAX: usize = crate::geometry::MAX_VERTICES;

// --- rename --------------------------------------------------------------------------------

#[test]
fn rename_sets_both_names() {
    let out = ok(Edit::Rename {
        code: "101".into(),
        name: "  北区  ".into(),
        name_en: Some("North".into()),
    });
    assert_eq!(g(&out, "101").name, "北区");
    assert_eq!(g(&out, "101").name_en.as_deref(), Some("North"));
    let again = apply(
        &out,
        &Edit::Rename {
            code: "101".into(),
            name: "北区".into(),
            name_en: None,
        },
        &nothing_taken,
    )
    .expect("rename");
    assert_eq!(g(&again, "101").name_en, None);
    assert_eq!(changes(&again).grids.len(), 1);
    assert_eq!(
        err(Edit::Rename {
            code: "101".into(),
            name: " ".into(),
            name_en: None
        }),
        EditError::EmptyName("101".into())
    );
    assert_eq!(
        err(Edit::Rename {
            code: "x".into(),
            name: "n".into(),
            name_en: None
        }),
        EditError::UnknownGrid("x".into())
    );
}

// --- add -----------------------------------------------------------------------------------

fn add(code: &str, level: GridLevel, parent: Option<&str>) -> Edit {
    Edit::Add {
        code: code.into(),
        name: format!("new {code}"),
        name_en: None,
        level,
        parent_code: parent.map(Into::into),
        geometry: geojson(&rect(8., 0., 9., 1.)),
    }
}

#[test]
fn add_creates_a_grid_with_vacant_leaders() {
    use GridLevel::*;
    let out = ok(add("201001", Building, Some("201")));
    let new = g(&out, "201001");
    assert_eq!(
        (new.level, new.parent_code.as_deref(), new.name.as_str()),
        (Building, Some("201"), "new 201001")
    );
    assert_eq!(new.geometry, rect(8., 0., 9., 1.));
    assert_eq!(new.valid_from, PLANNED_FROM);
    assert!(leaders_of(&out, "201001").is_empty());
    assert_eq!(out.grids.len(), layout().grids.len() + 1);
    assert_eq!(changes(&out).grids.len(), 1);
    // A neighborhood takes any code of digits; a group is its neighborhood's code + 2 digits.
    assert!(has(
        &ok(add("31010601299", Neighborhood, None)),
        "31010601299"
    ));
    assert!(has(&ok(add("299", BuildingGroup, Some("2"))), "299"));
}

#[test]
fn add_checks_code_parent_and_geometry() {
    use GridLevel::*;
    let bad_code = |e: EditError| matches!(e, EditError::BadCode { .. });
    assert!(bad_code(err(add("20101", Building, Some("201")))));
    assert!(bad_code(err(add("101003", Building, Some("201")))));
    assert!(bad_code(err(add("2010001", Building, Some("201")))));
    assert!(bad_code(err(add("N3", Neighborhood, None))));
    assert!(bad_code(err(add("", Neighborhood, None))));
    let e = err(add("20101", Building, Some("201")));
    assert!(e.to_string().contains("'201' by 3 digits"), "{e}");
    assert_eq!(
        err(add("101001", Building, Some("101"))),
        EditError::CodeTaken("101001".into())
    );
    let taken = |c: &str| c == "201007";
    assert_eq!(
        apply(&layout(), &add("201007", Building, Some("201")), &taken).expect_err("taken"),
        EditError::CodeTaken("201007".into())
    );
    assert_eq!(
        err(add("777001", Building, Some("777"))),
        EditError::UnknownGrid("777".into())
    );
    assert_eq!(
        err(add("20101", BuildingGroup, Some("201"))),
        EditError::WrongLevel {
            code: "201".into(),
            level: BuildingGroup,
            expected: Neighborhood
        }
    );
    assert!(matches!(
        err(add("3", Neighborhood, Some("2"))),
        EditError::BadParent { .. }
    ));
    assert!(matches!(
        err(add("203", BuildingGroup, None)),
        EditError::BadParent { .. }
    ));
    let mut bad = add("201001", Building, Some("201"));
    if let Edit::Add { geometry, .. } = &mut bad {
        *geometry = json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]});
    }
    assert!(matches!(err(bad), EditError::InvalidGeometry { .. }));
}

// --- split ---------------------------------------------------------------------------------

fn part(code: &str, mp: MultiPolygon<f64>) -> SplitPart {
    SplitPart {
        code: code.into(),
        name: format!("part {code}"),
        geometry: geojson(&mp),
    }
}

#[test]
fn split_a_group_moves_children_by_largest_share() {
    // 101001 (x 0..2) lies mostly west of 1.5, 101002 (x 2..4) wholly east.
    let out = ok(Edit::Split {
        code: "101".into(),
        parts: vec![
            part("103", rect(0., 0., 1.5, 4.)),
            part("104", rect(1.5, 0., 4., 4.)),
        ],
    });
    assert!(!has(&out, "101") && !has(&out, "101001") && !has(&out, "101002"));
    for (code, parent) in [
        ("103", "1"),
        ("104", "1"),
        ("103001", "103"),
        ("104002", "104"),
    ] {
        assert_eq!(g(&out, code).parent_code.as_deref(), Some(parent), "{code}");
    }
    assert_eq!(g(&out, "103").level, GridLevel::BuildingGroup);
    // Re-coded children keep geometry, leaders and buildings.
    assert_eq!(g(&out, "103001").geometry, rect(0., 0., 2., 4.));
    assert_eq!(leaders_of(&out, "103001"), held_by("101001"));
    assert_eq!(leaders_of(&out, "104002"), held_by("101002"));
    assert_eq!(grid_of(&out, "b1").as_deref(), Some("103001"));
    assert_eq!(grid_of(&out, "b2").as_deref(), Some("104002"));
    // Parts: leaders vacant, the split grid's team; the split grid's leaders end with it.
    assert!(leaders_of(&out, "103").is_empty() && leaders_of(&out, "101").is_empty());
    assert_eq!(team_codes(&out, "t1"), ["103", "104"]);
    assert_eq!(team_codes(&out, "t2"), ["102001"]);
    let c = changes(&out);
    assert_eq!(c.retired, ["101", "101001", "101002"]);
    assert!(crate::planner::changes::apply(&layout(), &c).is_ok());
}

#[test]
fn split_a_building_grid_moves_its_building() {
    // b1 (x 0.2..1.2) lies mostly in the west part (x 0..1).
    let out = ok(Edit::Split {
        code: "101001".into(),
        parts: vec![
            part("101003", rect(0., 0., 1., 4.)),
            part("101004", rect(1., 0., 2., 4.)),
        ],
    });
    assert_eq!(grid_of(&out, "b1").as_deref(), Some("101003"));
    assert_eq!(g(&out, "101004").parent_code.as_deref(), Some("101"));
    assert!(!has(&out, "101001"));
    assert!(leaders_of(&out, "101003").is_empty());
}

#[test]
fn split_errors() {
    let split = |code: &str, parts: Vec<SplitPart>| {
        err(Edit::Split {
            code: code.into(),
            parts,
        })
    };
    assert_eq!(
        split("101", vec![part("103", rect(0., 0., 4., 4.))]),
        EditError::TooFewParts {
            code: "101".into(),
            parts: 1
        }
    );
    let two = |a: &str, b: &str| vec![part(a, rect(0., 0., 2., 4.)), part(b, rect(2., 0., 4., 4.))];
    assert_eq!(
        split("109", two("103", "104")),
        EditError::UnknownGrid("109".into())
    );
    assert_eq!(
        split("101", two("103", "103")),
        EditError::Repeated("103".into())
    );
    assert_eq!(
        split("101", two("103", "102")),
        EditError::CodeTaken("102".into())
    );
    assert_eq!(
        split("101", two("103", "101")),
        EditError::CodeTaken("101".into())
    );
    assert!(matches!(
        split("101", two("103", "1004")),
        EditError::BadCode { .. }
    ));
    assert!(matches!(
        split("101", two("103", "204")),
        EditError::BadCode { .. }
    ));
    let mut parts = two("103", "104");
    parts[1].geometry = json!({"type": "Polygon", "coordinates": []});
    assert!(
        matches!(split("101", parts), EditError::InvalidGeometry { ref code, .. } if code == "104")
    );
}

// --- merge ---------------------------------------------------------------------------------

fn merge(codes: &[&str], code: &str) -> Edit {
    Edit::Merge {
        codes: codes.iter().map(|c| c.to_string()).collect(),
        code: code.into(),
        name: format!("merged {code}"),
    }
}

#[test]
fn merge_unites_geometry_children_leaders_and_teams() {
    let out = ok(merge(&["102", "101"], "103"));
    let m = g(&out, "103");
    assert_eq!(m.parent_code.as_deref(), Some("1"));
    // The union is the whole neighborhood.
    let whole = rect(0., 0., 8., 4.);
    let (a, b) = (geodesic_area_m2(&m.geometry), geodesic_area_m2(&whole));
    assert!((a - b).abs() < 1e-6 * b, "{a} vs {b}");
    assert!(geodesic_area_m2(&m.geometry.xor(&whole)) < 1e-3);
    // Leaders of the first listed grid (102); teams of both.
    assert_eq!(leaders_of(&out, "103"), held_by("102"));
    assert_eq!(team_codes(&out, "t1"), ["103"]);
    // Children re-coded in code order: 101001 and 101002 keep their digits, 102001 cannot.
    assert_eq!(g(&out, "103001").geometry, rect(0., 0., 2., 4.));
    assert_eq!(g(&out, "103002").geometry, rect(2., 0., 4., 4.));
    assert_eq!(g(&out, "103003").geometry, rect(4., 0., 8., 4.));
    assert_eq!(grid_of(&out, "b3").as_deref(), Some("103003"));
    assert_eq!(leaders_of(&out, "103003"), held_by("102001"));
    assert_eq!(team_codes(&out, "t2"), ["103003"]);
    for gone in ["101", "102", "101001", "101002", "102001"] {
        assert!(
            !has(&out, gone) && leaders_of(&out, gone).is_empty(),
            "{gone}"
        );
    }
    assert!(check_dataset(&out).is_empty(), "{:#?}", check_dataset(&out));
}

#[test]
fn merge_moves_buildings_held_directly() {
    let mut ds = layout();
    ds.grids.push(grid(
        "202",
        GridLevel::BuildingGroup,
        Some("2"),
        rect(12., 0., 13., 4.),
    ));
    let out = apply(&ds, &merge(&["201", "202"], "203"), &nothing_taken).expect("merge");
    assert_eq!(grid_of(&out, "b5").as_deref(), Some("203"));
}

#[test]
fn merge_errors() {
    use GridLevel::*;
    assert_eq!(err(merge(&["101"], "103")), EditError::TooFewToMerge(1));
    assert_eq!(
        err(merge(&["101", "101"], "103")),
        EditError::Repeated("101".into())
    );
    assert_eq!(
        err(merge(&["101", "109"], "103")),
        EditError::UnknownGrid("109".into())
    );
    assert_eq!(
        err(merge(&["101", "101001"], "103")),
        EditError::DifferentLevels {
            a: "101".into(),
            level_a: BuildingGroup,
            b: "101001".into(),
            level_b: Building
        }
    );
    let e = err(merge(&["101", "201"], "103"));
    assert_eq!(
        e,
        EditError::DifferentParents {
            a: "101".into(),
            parent_a: Some("1".into()),
            b: "201".into(),
            parent_b: Some("2".into())
        }
    );
    assert!(
        e.to_string().contains("(in 1)") && e.to_string().contains("(in 2)"),
        "{e}"
    );
    assert_eq!(
        err(merge(&["101", "102"], "101")),
        EditError::CodeTaken("101".into())
    );
    assert!(matches!(
        err(merge(&["101", "102"], "2103")),
        EditError::BadCode { .. }
    ));
    assert_eq!(
        err(Edit::Merge {
            codes: vec!["101".into(), "102".into()],
            code: "103".into(),
            name: "".into()
        }),
        EditError::EmptyName("103".into())
    );
}

// --- move_building -------------------------------------------------------------------------

fn move_b(building: &str, group: &str) -> Edit {
    Edit::MoveBuilding {
        building: building.into(),
        group: group.into(),
    }
}

#[test]
fn move_building_recodes_its_grid_under_the_group() {
    let out = ok(move_b("b2", "102"));
    assert!(!has(&out, "101002"));
    let moved = g(&out, "102002");
    assert_eq!(moved.parent_code.as_deref(), Some("102"));
    assert_eq!(moved.geometry, rect(2., 0., 4., 4.));
    assert_eq!(moved.name, "grid 101002");
    assert_eq!(leaders_of(&out, "102002"), held_by("101002"));
    assert_eq!(grid_of(&out, "b2").as_deref(), Some("102002"));
    // Nothing else changed.
    let c = changes(&out);
    assert_eq!(c.retired, ["101002"]);
    assert_eq!(c.grids.len(), 1);
    assert_eq!(
        c.building_grids,
        [("b2".to_string(), Some("102002".to_string()))]
    );
    // A taken code is skipped: the first free one is used.
    let taken = |c: &str| c == "102002";
    let out = apply(&layout(), &move_b("b2", "102"), &taken).expect("move");
    assert_eq!(grid_of(&out, "b2").as_deref(), Some("102003"));
    // The team of a moved building grid moves with it.
    let out = ok(move_b("b3", "101"));
    assert_eq!(team_codes(&out, "t2"), ["101003"]);
}

#[test]
fn move_building_errors() {
    assert_eq!(
        err(move_b("b9", "102")),
        EditError::UnknownBuilding("b9".into())
    );
    assert!(
        matches!(err(move_b("b4", "102")), EditError::NoBuildingGrid { ref detail, .. } if detail.contains("no grid"))
    );
    let e = err(move_b("b5", "102"));
    assert!(matches!(e, EditError::NoBuildingGrid { .. }), "{e}");
    assert!(
        e.to_string().contains("'201', a building_group grid"),
        "{e}"
    );
    assert_eq!(
        err(move_b("b2", "109")),
        EditError::UnknownGrid("109".into())
    );
    assert_eq!(
        err(move_b("b2", "102001")),
        EditError::WrongLevel {
            code: "102001".into(),
            level: GridLevel::Building,
            expected: GridLevel::BuildingGroup
        }
    );
    assert_eq!(
        err(move_b("b2", "101")),
        EditError::AlreadyInGroup {
            building: "b2".into(),
            group: "101".into()
        }
    );
    let mut ds = layout();
    ds.grids.retain(|g| g.code != "101002");
    let e = apply(&ds, &move_b("b2", "102"), &nothing_taken).expect_err("stale grid");
    assert!(
        e.to_string().contains("'101002' is not a current grid"),
        "{e}"
    );
    let all = |c: &str| c.starts_with("102");
    assert_eq!(
        apply(&layout(), &move_b("b2", "102"), &all).expect_err("full"),
        EditError::CodesExhausted("102".into())
    );
}

// --- retire --------------------------------------------------------------------------------

#[test]
fn retire_drops_an_empty_grid_with_its_assignments() {
    let mut ds = layout();
    ds.teams[0].grid_codes.push("201".into());
    let out =
        apply(&ds, &Edit::Retire { code: "201".into() }, &nothing_taken).expect_err("201 holds b5");
    assert_eq!(
        out,
        EditError::HasBuildings {
            code: "201".into(),
            buildings: vec!["b5".into()]
        }
    );
    ds.buildings.retain(|b| b.id != "b5");
    let out = apply(&ds, &Edit::Retire { code: "201".into() }, &nothing_taken).expect("retire");
    assert!(!has(&out, "201") && leaders_of(&out, "201").is_empty());
    assert_eq!(team_codes(&out, "t1"), ["101"]);
    assert_eq!(out.grids.len(), ds.grids.len() - 1);
    let e = err(Edit::Retire { code: "101".into() });
    assert_eq!(
        e,
        EditError::HasChildren {
            code: "101".into(),
            children: vec!["101001".into(), "101002".into()]
        }
    );
    assert!(e.to_string().contains("101001, 101002"));
    assert_eq!(
        err(Edit::Retire { code: "7".into() }),
        EditError::UnknownGrid("7".into())
    );
}

// --- on the sample -------------------------------------------------------------------------

fn sample() -> Dataset {
    crate::import::geodata::read_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"))
        .expect("the sample reads")
}

#[test]
fn sample_merge_and_move_then_recompute_keep_every_rule() {
    let ds = sample();
    assert!(check_dataset(&ds).is_empty());
    let used: HashSet<String> = ds.grids.iter().map(|g| g.code.clone()).collect();
    let taken = |c: &str| used.contains(c);
    let merged = apply(
        &ds,
        &merge(&["3101060120201", "3101060120202"], "3101060120205"),
        &taken,
    )
    .expect("merge");
    assert!(
        check_dataset(&merged).is_empty(),
        "{:#?}",
        check_dataset(&merged)
    );
    // B012 moves from group 04 to the merged group; its old grid's boundary stays until the
    // neighborhood is recomputed, after which every rule holds again.
    let moved = apply(&merged, &move_b("B012", "3101060120205"), &taken).expect("move");
    let cell = grid_of(&moved, "B012").expect("a grid");
    assert!(
        cell.starts_with("3101060120205") && cell.len() == 16,
        "{cell}"
    );
    let redrawn =
        crate::planner::redraw::recompute_neighborhood(&moved, "31010601202").expect("recompute");
    assert!(
        check_dataset(&redrawn).is_empty(),
        "{:#?}",
        check_dataset(&redrawn)
    );
}

// --- no input panics -----------------------------------------------------------------------

fn arb_number() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (-200.0f64..200.0).prop_map(|x| json!(x)),
        (121.43f64..121.46).prop_map(|x| json!(x)),
        (31.21f64..31.24).prop_map(|x| json!(x)),
        Just(json!("1")),
        Just(json!(null)),
    ]
}

fn arb_polygon() -> impl Strategy<Value = Vec<Vec<Vec<serde_json::Value>>>> {
    let position = prop::collection::vec(arb_number(), 0..4);
    let ring = prop::collection::vec(position, 0..7).prop_map(|mut r| {
        if let Some(first) = r.first().cloned()
            && r.len() > 2
        {
            r.push(first);
        }
        r
    });
    prop::collection::vec(ring, 0..3)
}

fn arb_geometry() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        arb_polygon().prop_map(|p| json!({"type": "Polygon", "coordinates": p})),
        prop::collection::vec(arb_polygon(), 0..3)
            .prop_map(|p| json!({"type": "MultiPolygon", "coordinates": p})),
        Just(json!({"type": "Point", "coordinates": [1, 2]})),
        Just(json!([])),
        Just(json!({"type": "Polygon"})),
    ]
}

fn arb_code() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "1", "2", "101", "102", "103", "201", "101001", "101002", "102001", "101003", "102002",
            "1030", "", "é", "10é", "x",
        ])
        .prop_map(String::from),
        "[0-9é]{0,7}",
    ]
}

fn arb_level() -> impl Strategy<Value = GridLevel> {
    prop::sample::select(GridLevel::ALL.to_vec())
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    let name = "[a-z ]{0,3}";
    prop_oneof![
        (arb_code(), arb_geometry())
            .prop_map(|(code, geometry)| Edit::ReplaceGeometry { code, geometry }),
        (arb_code(), name, proptest::option::of(name)).prop_map(|(code, name, name_en)| {
            Edit::Rename {
                code,
                name,
                name_en,
            }
        }),
        (
            arb_code(),
            name,
            arb_level(),
            proptest::option::of(arb_code()),
            arb_geometry()
        )
            .prop_map(|(code, name, level, parent_code, geometry)| Edit::Add {
                code,
                name,
                name_en: None,
                level,
                parent_code,
                geometry
            }),
        (
            arb_code(),
            prop::collection::vec((arb_code(), name, arb_geometry()), 0..4)
        )
            .prop_map(|(code, parts)| Edit::Split {
                code,
                parts: parts
                    .into_iter()
                    .map(|(code, name, geometry)| SplitPart {
                        code,
                        name,
                        geometry
                    })
                    .collect()
            }),
        (prop::collection::vec(arb_code(), 0..4), arb_code(), name)
            .prop_map(|(codes, code, name)| Edit::Merge { codes, code, name }),
        (
            prop::sample::select(vec!["b1", "b2", "b3", "b4", "b5", "b9"]),
            arb_code()
        )
            .prop_map(|(b, group)| Edit::MoveBuilding {
                building: b.into(),
                group
            }),
        arb_code().prop_map(|code| Edit::Retire { code }),
    ]
}

/// Squares in test units around the layout, as GeoJSON, so that splits and merges with
/// valid geometry happen often.
fn valid_square() -> impl Strategy<Value = serde_json::Value> {
    (0u8..12, 0u8..4, 1u8..4).prop_map(|(x, y, s)| {
        let (x, y, s) = (f64::from(x), f64::from(y), f64::from(s));
        geojson(&rect(x, y, x + s, y + s))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_edit_panics(edits in prop::collection::vec(arb_edit(), 1..4)) {
        let mut ds = layout();
        for e in &edits {
            if let Ok(next) = apply(&ds, e, &|c: &str| c == "103") {
                ds = next;
            }
        }
    }

    #[test]
    fn splits_and_merges_with_valid_geometry_keep_references(
        a in valid_square(), b in valid_square(), which in 0usize..3
    ) {
        let ds = layout();
        let edits = [
            Edit::Split { code: "101".into(), parts: vec![
                SplitPart { code: "105".into(), name: "a".into(), geometry: a.clone() },
                SplitPart { code: "106".into(), name: "b".into(), geometry: b.clone() },
            ]},
            Edit::Split { code: "1".into(), parts: vec![
                SplitPart { code: "5".into(), name: "a".into(), geometry: a },
                SplitPart { code: "6".into(), name: "b".into(), geometry: b },
            ]},
            merge(&["1", "2"], "7"),
        ];
        let out = apply(&ds, &edits[which], &nothing_taken);
        prop_assert!(out.is_ok(), "{:?}", out.err());
        let out = out.expect("checked");
        // Every building, leader and team names a current grid; every code extends its parent's.
        let codes: HashSet<&str> = out.grids.iter().map(|g| g.code.as_str()).collect();
        for b in &out.buildings {
            prop_assert!(b.grid_code.as_deref().is_none_or(|c| codes.contains(c)));
        }
        for l in &out.leaders {
            prop_assert!(codes.contains(l.grid_code.as_str()));
        }
        for c in out.teams.iter().flat_map(|t| &t.grid_codes) {
            prop_assert!(codes.contains(c.as_str()));
        }
        for g in &out.grids {
            if let Some(p) = &g.parent_code {
                prop_assert!(codes.contains(p.as_str()) && g.code.starts_with(p.as_str()));
            }
        }
        let c = crate::planner::changes::between(&ds, &out);
        prop_assert!(crate::planner::changes::apply(&ds, &c).is_ok());
        prop_assert_eq!(out.buildings.len(), ds.buildings.len());
    }
}

#[test]
fn the_openapi_schema_names_every_op() {
    let schema = serde_json::to_string(&<Edit as utoipa::PartialSchema>::schema()).expect("json");
    for op in [
        "replace_geometry",
        "rename",
        "add",
        "split",
        "merge",
        "move_building",
        "retire",
    ] {
        assert!(
            schema.contains(&format!("\"{op}\"")),
            "{op} missing from {schema}"
        );
    }
}
