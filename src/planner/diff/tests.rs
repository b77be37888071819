use std::path::Path;

use super::*;
use crate::fixtures::{building, grid, rect};
use crate::model::{Contact, LeaderAssignment, Person};
use crate::planner::edit::{self, Edit};

/// Neighborhood "1" (8×4 units) with groups "101" (x 0..4) and "102" (x 4..8) sharing the
/// border x = 4; building grids "101001", "101002", "102001" with buildings b1, b2, b3; b4 has
/// no grid. Every role is held by a person with a phone and an email; team t1 serves "1",
/// team t2 serves "102".
fn layout() -> Dataset {
    use GridLevel::*;
    let grids = vec![
        grid("1", Neighborhood, None, rect(0., 0., 8., 4.)),
        grid("101", BuildingGroup, Some("1"), rect(0., 0., 4., 4.)),
        grid("102", BuildingGroup, Some("1"), rect(4., 0., 8., 4.)),
        grid("101001", Building, Some("101"), rect(0., 0., 2., 4.)),
        grid("101002", Building, Some("101"), rect(2., 0., 4., 4.)),
        grid("102001", Building, Some("102"), rect(4., 0., 8., 4.)),
    ];
    let mut people = vec![Person {
        id: "new".into(),
        name: "新人".into(),
        contact: Contact {
            phone: Some("021-0000".into()),
            email: Some("new@example.org".into()),
        },
    }];
    let mut leaders = Vec::new();
    for g in &grids {
        for role in LeaderRole::ALL {
            let id = format!("{}-{}", g.code, role.as_str());
            people.push(Person {
                id: id.clone(),
                name: format!("name of {id}"),
                contact: Contact {
                    phone: Some("021-5555".into()),
                    email: Some(format!("{id}@example.org")),
                },
            });
            leaders.push(LeaderAssignment {
                grid_code: g.code.clone(),
                role,
                person_id: id,
            });
        }
    }
    let mut buildings = vec![
        building("b1", Some("101001"), rect(0.5, 0.5, 1.5, 1.5)),
        building("b2", Some("101002"), rect(2.5, 0.5, 3.5, 1.5)),
        building("b3", Some("102001"), rect(5., 1., 7., 3.)),
        building("b4", None, rect(6., 3.2, 6.5, 3.6)),
    ];
    buildings[0].addresses = vec!["南京西路1号".into(), "南京西路1号甲".into()];
    buildings[1].addresses = vec!["南京西路3号".into()];
    let team = |id: &str, codes: &[&str]| ServiceTeam {
        id: id.into(),
        name: format!("team {id}"),
        members: vec![],
        grid_codes: codes.iter().map(|c| c.to_string()).collect(),
    };
    Dataset {
        grids,
        buildings,
        people,
        leaders,
        teams: vec![team("t1", &["1"]), team("t2", &["102"])],
    }
}

fn set_geometry(ds: &mut Dataset, code: &str, mp: MultiPolygon<f64>) {
    for g in ds.grids.iter_mut().filter(|g| g.code == code) {
        g.geometry = mp.clone();
    }
}

fn ids(r: &DiffReport) -> Vec<&str> {
    r.impact.iter().map(|i| i.building.as_str()).collect()
}

fn close(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() <= want.abs() * 1e-6 + 1e-6)
}

#[test]
fn no_change_no_report() {
    let r = report(&layout(), &layout());
    assert_eq!(r.summary, DiffSummary::default());
    assert!(r.grids_changed.is_empty() && r.impact.is_empty());
}

#[test]
fn moving_a_shared_border_gains_and_loses_known_areas() {
    let base = layout();
    let mut plan = base.clone();
    // The border between the groups moves one unit east: x = 4 → x = 5.
    set_geometry(&mut plan, "101", rect(0., 0., 5., 4.));
    set_geometry(&mut plan, "102", rect(5., 0., 8., 4.));
    let r = report(&base, &plan);
    assert_eq!(r.summary.grids_changed, 2);
    let strip = geodesic_area_m2(&rect(4., 0., 5., 4.));
    // 0.001° of longitude by 0.004° of latitude at 31.22° N: about 95.3 m × 443.6 m.
    assert!((strip - 42_270.0).abs() < 150.0, "{strip}");
    let (west, east) = (&r.grids_changed[0], &r.grids_changed[1]);
    assert_eq!((west.code.as_str(), east.code.as_str()), ("101", "102"));
    assert!(
        close(west.area_gained_m2, strip) && close(west.area_lost_m2, 0.0),
        "{west:?}"
    );
    assert!(
        close(east.area_lost_m2, strip) && close(east.area_gained_m2, 0.0),
        "{east:?}"
    );
    assert!(close(Some(west.area_after_m2 - west.area_before_m2), strip));
    assert_eq!(west.name_before, west.name_after);
    assert_eq!(west.parent_after.as_deref(), Some("1"));
    // Boundaries moved but nobody's leaders or team changed.
    assert!(r.impact.is_empty() && r.buildings_moved.is_empty());
}

#[test]
fn a_rename_changes_no_area_and_no_responsibility() {
    let base = layout();
    let plan = edit::apply(
        &base,
        &Edit::Rename {
            code: "102".into(),
            name: "东区".into(),
            name_en: None,
        },
        &|_| false,
    )
    .expect("rename");
    let r = report(&base, &plan);
    assert_eq!(r.grids_changed.len(), 1);
    let c = &r.grids_changed[0];
    assert_eq!(
        (c.name_before.as_str(), c.name_after.as_str()),
        ("grid 102", "东区")
    );
    assert_eq!((c.area_gained_m2, c.area_lost_m2), (Some(0.0), Some(0.0)));
    assert_eq!(c.area_before_m2, c.area_after_m2);
    assert!(r.impact.is_empty());
}

#[test]
fn impact_lists_exactly_the_buildings_whose_leaders_change() {
    let base = layout();
    let mut plan = base.clone();
    for l in plan.leaders.iter_mut() {
        if l.grid_code == "101" && l.role == LeaderRole::PartyWorker {
            l.person_id = "new".into();
        }
    }
    let r = report(&base, &plan);
    assert_eq!(ids(&r), ["b1", "b2"]);
    assert_eq!(r.summary.buildings_impacted, 2);
    assert_eq!(r.summary.addresses_impacted, 3);
    let i = &r.impact[0];
    assert_eq!(i.addresses, ["南京西路1号", "南京西路1号甲"]);
    assert_eq!(i.before.grid.as_deref(), Some("101001"));
    assert_eq!(i.before.chain, ["101001", "101", "1"]);
    assert_eq!(i.after.chain, i.before.chain);
    let leaders = |r: &Responsibility| -> Vec<(String, LeaderRole, String)> {
        r.leaders
            .iter()
            .map(|l| (l.grid.clone(), l.role, l.name.clone()))
            .collect()
    };
    let before = leaders(&i.before);
    assert_eq!(before.len(), 6);
    assert_eq!(
        before[3],
        (
            "101".to_string(),
            LeaderRole::PartyWorker,
            "name of 101-party_worker".to_string()
        )
    );
    let after = leaders(&i.after);
    assert_eq!(after[3].2, "新人");
    assert_eq!(before[..3], after[..3]);
    assert_eq!(before[4..], after[4..]);
    // t1 serves the neighborhood: the innermost grid with a team.
    assert_eq!(
        i.after.team,
        Some(TeamName {
            id: "t1".into(),
            name: "team t1".into()
        })
    );
    // Names only: no contact detail anywhere in the report.
    let text = serde_json::to_string(&r).expect("serialises");
    for word in ["phone", "email", "021-", "example.org"] {
        assert!(!text.contains(word), "{word} in {text}");
    }
}

#[test]
fn a_vacated_role_or_a_new_team_is_an_impact() {
    let base = layout();
    let mut plan = base.clone();
    plan.leaders
        .retain(|l| !(l.grid_code == "102001" && l.role == LeaderRole::BacConvener));
    let r = report(&base, &plan);
    assert_eq!(ids(&r), ["b3"]);
    assert_eq!(r.impact[0].before.leaders.len(), 6);
    assert_eq!(r.impact[0].after.leaders.len(), 5);

    // t1 also serving 101002 makes it the innermost team of b2 only.
    let mut plan = base.clone();
    plan.teams[1].grid_codes.push("101002".into());
    let r = report(&base, &plan);
    assert_eq!(ids(&r), ["b2"]);
    assert_eq!(
        r.impact[0].before.team.as_ref().map(|t| t.id.as_str()),
        Some("t1")
    );
    assert_eq!(
        r.impact[0].after.team.as_ref().map(|t| t.id.as_str()),
        Some("t2")
    );
    assert_eq!(r.summary.buildings_moved, 0);
}

#[test]
fn moving_a_building_lists_its_groups_and_grids() {
    let base = layout();
    let plan = edit::apply(
        &base,
        &Edit::MoveBuilding {
            building: "b2".into(),
            group: "102".into(),
        },
        &|_| false,
    )
    .expect("move");
    let r = report(&base, &plan);
    assert_eq!(
        r.buildings_moved,
        [BuildingMoved {
            building: "b2".into(),
            name: "building b2".into(),
            from: Some("101".into()),
            to: Some("102".into()),
            grid_before: Some("101002".into()),
            grid_after: Some("102002".into()),
        }]
    );
    // Its building grid's leaders moved with it, but the group's leaders and the team are
    // those of 102 now.
    assert_eq!(ids(&r), ["b2"]);
    let i = &r.impact[0];
    assert_eq!(i.after.chain, ["102002", "102", "1"]);
    assert_eq!(i.after.leaders[0].name, "name of 101002-bac_convener");
    assert_eq!(i.after.leaders[2].name, "name of 102-bac_convener");
    assert_eq!(i.after.team.as_ref().map(|t| t.id.as_str()), Some("t2"));
    assert_eq!(r.grids_added.len(), 1);
    assert_eq!(r.grids_added[0].code, "102002");
    assert_eq!(r.grids_added[0].parent_code.as_deref(), Some("102"));
    assert!(close(
        Some(r.grids_added[0].area_m2),
        geodesic_area_m2(&rect(2., 0., 4., 4.))
    ));
    assert_eq!(r.grids_removed.len(), 1);
    assert_eq!(r.grids_removed[0].code, "101002");
    assert_eq!(r.grids_removed[0].level, GridLevel::Building);
}

#[test]
fn a_merge_adds_removes_and_impacts() {
    let base = layout();
    let plan = edit::apply(
        &base,
        &Edit::Merge {
            codes: vec!["101".into(), "102".into()],
            code: "103".into(),
            name: "merged".into(),
        },
        &|_| false,
    )
    .expect("merge");
    let r = report(&base, &plan);
    let added: Vec<&str> = r.grids_added.iter().map(|g| g.code.as_str()).collect();
    let removed: Vec<&str> = r.grids_removed.iter().map(|g| g.code.as_str()).collect();
    assert_eq!(added, ["103", "103001", "103002", "103003"]);
    assert_eq!(removed, ["101", "101001", "101002", "102", "102001"]);
    assert!(close(
        Some(r.grids_added[0].area_m2),
        geodesic_area_m2(&rect(0., 0., 8., 4.))
    ));
    let moved: Vec<(&str, Option<&str>)> = r
        .buildings_moved
        .iter()
        .map(|m| (m.building.as_str(), m.to.as_deref()))
        .collect();
    assert_eq!(
        moved,
        [
            ("b1", Some("103")),
            ("b2", Some("103")),
            ("b3", Some("103"))
        ]
    );
    // Every building with a grid changes grids, so leader grids change; b4 has none.
    assert_eq!(ids(&r), ["b1", "b2", "b3"]);
    assert_eq!(
        r.summary,
        DiffSummary {
            grids_added: 4,
            grids_removed: 5,
            grids_changed: 0,
            buildings_moved: 3,
            buildings_impacted: 3,
            addresses_impacted: 3,
        }
    );
}

#[test]
fn a_rebalanced_sample_neighborhood_reports_consistently() {
    let base =
        crate::import::geodata::read_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"))
            .expect("the sample reads");
    let used: HashSet<String> = base.grids.iter().map(|g| g.code.clone()).collect();
    let (plan, _) = crate::planner::redraw::rebalance_neighborhood(
        &base,
        "31010601202",
        3,
        crate::planner::redraw::Weight::Employees,
        &|c| used.contains(c),
    )
    .expect("rebalance");
    let r = report(&base, &plan);
    let changes = crate::planner::changes::between(&base, &plan);
    assert_eq!(r.summary.grids_removed, changes.retired.len());
    assert_eq!(
        r.summary.grids_added + r.summary.grids_changed,
        changes.grids.len()
    );
    assert!(r.summary.buildings_moved > 0);
    for i in &r.impact {
        assert!(i.before.leaders != i.after.leaders || i.before.team != i.after.team);
        assert!(!i.addresses.is_empty());
    }
    // Every moved building is in the 02 neighborhood, and a building outside it is untouched.
    for m in &r.buildings_moved {
        assert!(
            m.to.as_deref()
                .is_some_and(|c| c.starts_with("31010601202")),
            "{m:?}"
        );
    }
    assert!(
        r.impact
            .iter()
            .all(|i| i.after.chain.last().map(String::as_str) == Some("31010601202"))
    );
    // Changed grids are the redrawn ones: their areas balance within the neighborhood.
    for c in &r.grids_changed {
        let net = c.area_gained_m2.expect("gained") - c.area_lost_m2.expect("lost");
        assert!(
            (net - (c.area_after_m2 - c.area_before_m2)).abs() < 1.0,
            "{c:?}"
        );
    }
}

mod property {
    use proptest::prelude::*;

    use super::super::*;
    use crate::planner::changes::tests::{arb_op, run, sample};

    /// The impact list computed the slow way: every building compared in full.
    fn impacted_in_full(base: &Dataset, plan: &Dataset) -> Vec<String> {
        let (before, after) = (Atlas::new(base), Atlas::new(plan));
        let mut ids: Vec<String> = plan
            .buildings
            .iter()
            .filter(|b| {
                let was = base
                    .buildings
                    .iter()
                    .find(|o| o.id == b.id)
                    .and_then(|o| o.grid_code.as_deref());
                before.responsibility(was) != after.responsibility(b.grid_code.as_deref())
            })
            .map(|b| b.id.clone())
            .collect();
        ids.sort();
        ids
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn skipping_clean_chains_misses_no_impact(ops in prop::collection::vec(arb_op(), 0..10)) {
            let base = sample();
            let mut plan = base.clone();
            let mut serial = 0;
            for op in &ops {
                run(&mut plan, op, &mut serial);
            }
            let r = report(base, &plan);
            let got: Vec<String> = r.impact.iter().map(|i| i.building.clone()).collect();
            prop_assert_eq!(got, impacted_in_full(base, &plan));
            for i in &r.impact {
                prop_assert!(i.before.leaders != i.after.leaders || i.before.team != i.after.team);
            }
        }
    }
}
