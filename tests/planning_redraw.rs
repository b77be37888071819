//! Redrawing a neighborhood of the sample: recompute its grids from the buildings, and
//! rebalance its buildings into K groups. The result must pass every rule of the atlas.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use geo::{Area, BooleanOps, Intersects};
use gridatlas::model::{Dataset, GridLevel};
use gridatlas::planner::redraw::{
    MAX_DEVIATION, RedrawError, Weight, rebalance_neighborhood, recompute_neighborhood,
};
use gridatlas::rules::check_dataset;

const HOOD: &str = "31010601202";

fn sample() -> Dataset {
    gridatlas::import::geodata::read_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata"))
        .expect("the sample reads")
}

fn codes(ds: &Dataset) -> BTreeSet<String> {
    ds.grids.iter().map(|g| g.code.clone()).collect()
}

/// Every building of the neighborhood, by id, with the group its grid belongs to.
fn group_of_buildings(ds: &Dataset, hood: &str) -> HashMap<String, String> {
    let parent: HashMap<&str, Option<&str>> = ds
        .grids
        .iter()
        .map(|g| (g.code.as_str(), g.parent_code.as_deref()))
        .collect();
    let level: HashMap<&str, GridLevel> = ds
        .grids
        .iter()
        .map(|g| (g.code.as_str(), g.level))
        .collect();
    ds.buildings
        .iter()
        .filter_map(|b| {
            let mut code = b.grid_code.as_deref()?;
            while level.get(code) == Some(&GridLevel::Building) {
                code = parent.get(code).copied().flatten()?;
            }
            (parent.get(code).copied().flatten() == Some(hood))
                .then(|| (b.id.clone(), code.to_string()))
        })
        .collect()
}

#[test]
fn recompute_keeps_every_rule_and_the_codes() {
    let ds = sample();
    let out = recompute_neighborhood(&ds, HOOD).expect("recompute");
    assert_eq!(check_dataset(&out), vec![], "rules broken after recompute");
    assert_eq!(codes(&out), codes(&ds), "recompute changes no code");
    assert_eq!(
        group_of_buildings(&out, HOOD),
        group_of_buildings(&ds, HOOD)
    );
    // The groups now tile the neighborhood: their areas add up to the neighborhood's.
    let hood = out.grids.iter().find(|g| g.code == HOOD).expect("hood");
    let groups: Vec<_> = out
        .grids
        .iter()
        .filter(|g| g.parent_code.as_deref() == Some(HOOD))
        .collect();
    let union = groups
        .iter()
        .fold(geo::MultiPolygon::new(vec![]), |acc, g| {
            acc.union(&g.geometry)
        });
    let gap = hood.geometry.difference(&union).unsigned_area();
    assert!(gap < 1e-12, "gap of {gap} square degrees");
    // Other neighborhoods are untouched.
    for g in &ds.grids {
        if !g.code.starts_with(HOOD) {
            let same = out.grids.iter().find(|o| o.code == g.code).expect("kept");
            assert_eq!(same.geometry, g.geometry, "{} changed", g.code);
        }
    }
}

#[test]
fn rebalance_into_k_groups_is_balanced_contiguous_and_valid() {
    let ds = sample();
    let before = group_of_buildings(&ds, HOOD);
    let taken = codes(&ds);
    let cases = [
        (2, Weight::FloorArea),
        (2, Weight::Employees),
        (2, Weight::Enterprises),
        (2, Weight::PartyMembers),
        (3, Weight::FloorArea),
        (4, Weight::Employees),
    ];
    for (k, weight) in cases {
        let (out, groups) = rebalance_neighborhood(&ds, HOOD, k, weight, &|c| taken.contains(c))
            .expect("rebalance");
        assert_eq!(groups.len(), k);
        assert!(groups.iter().all(|g| g.contiguous), "{groups:?}");
        assert_eq!(
            check_dataset(&out),
            vec![],
            "rules broken after rebalance k={k}"
        );
        let after = group_of_buildings(&out, HOOD);
        assert_eq!(after.len(), before.len(), "every building keeps a group");
        let in_groups: BTreeSet<&String> = after.values().collect();
        assert_eq!(in_groups.len(), k, "{after:?}");
        // The report's moves are the buildings whose group changed.
        let moved = after
            .iter()
            .filter(|(b, g)| before.get(*b) != Some(g))
            .count();
        assert_eq!(moved, groups.iter().map(|g| g.moved_in).sum::<usize>());
        // Codes: new ones are fresh, and every child's code starts with its parent's.
        for g in &out.grids {
            if let Some(p) = &g.parent_code {
                assert!(g.code.starts_with(p.as_str()), "{} under {p}", g.code);
            }
            if !taken.contains(&g.code) {
                assert!(
                    g.code.starts_with(HOOD),
                    "new code {} outside the hood",
                    g.code
                );
            }
        }
        // Each group's buildings lie in it.
        for b in &out.buildings {
            let grid = out
                .grids
                .iter()
                .find(|g| Some(&g.code) == b.grid_code.as_ref())
                .expect("the building's grid exists");
            assert!(grid.geometry.intersects(&b.footprint));
        }
        // Nine buildings of very different sizes: two groups can be balanced within 10% for
        // every weight; three or four cannot (one building outweighs a third of the total),
        // so for those only the structure is checked.
        let worst = groups.iter().map(|g| g.deviation.abs()).fold(0.0, f64::max);
        if k == 2 {
            assert!(
                worst <= MAX_DEVIATION + 1e-9,
                "k={k} {weight:?}: deviation {worst}"
            );
        }
    }
}

#[test]
fn k_equal_to_the_current_groups_when_balanced_moves_nothing() {
    let ds = sample();
    let taken = codes(&ds);
    let groups_now = ds
        .grids
        .iter()
        .filter(|g| g.parent_code.as_deref() == Some(HOOD))
        .count();
    let run = || {
        rebalance_neighborhood(&ds, HOOD, groups_now, Weight::Employees, &|c| {
            taken.contains(c)
        })
        .expect("rebalance")
    };
    let (out, first) = run();
    let (out_again, second) = run();
    assert_eq!(first, second, "the same input gives the same groups");
    assert_eq!(out, out_again, "the same input gives the same plan");
    // Rebalancing a balanced result again moves nothing more.
    let (_, again) = rebalance_neighborhood(&out, HOOD, groups_now, Weight::Employees, &|c| {
        codes(&out).contains(c) || taken.contains(c)
    })
    .expect("rebalance the result");
    assert_eq!(first.len(), groups_now);
    if first.iter().all(|g| g.deviation.abs() <= MAX_DEVIATION) {
        assert!(
            again.iter().all(|g| g.moved_in == 0 && g.moved_out == 0),
            "{again:?}"
        );
    }
}

#[test]
fn redraw_errors_name_what_is_wrong() {
    let ds = sample();
    let none = |_: &str| false;
    assert!(matches!(
        recompute_neighborhood(&ds, "nope"),
        Err(RedrawError::UnknownGrid(c)) if c == "nope"
    ));
    let group = "3101060120201";
    let err = recompute_neighborhood(&ds, group).expect_err("a group is not a neighborhood");
    assert!(err.to_string().contains(group), "{err}");
    assert!(matches!(
        rebalance_neighborhood(&ds, HOOD, 0, Weight::Employees, &none),
        Err(RedrawError::Rebalance(_))
    ));
    assert!(matches!(
        rebalance_neighborhood(&ds, HOOD, 50, Weight::Employees, &none),
        Err(RedrawError::Rebalance(_))
    ));
    // A fifth group needs a new code; with every code taken there is none.
    let err = rebalance_neighborhood(&ds, HOOD, 5, Weight::FloorArea, &|_| true)
        .expect_err("no free code");
    assert!(
        matches!(&err, RedrawError::CodesExhausted(p) if p == HOOD),
        "{err}"
    );
    // A neighborhood whose buildings are gone has nothing to redraw from.
    let mut empty = ds.clone();
    let in_hood = group_of_buildings(&ds, HOOD);
    empty.buildings.retain(|b| !in_hood.contains_key(&b.id));
    let err = recompute_neighborhood(&empty, HOOD).expect_err("no building");
    assert!(
        matches!(&err, RedrawError::NoBuildings(c) if c == HOOD),
        "{err}"
    );
}
