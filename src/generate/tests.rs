use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::address::AddressIndexBuilder;
use crate::import::geodata::read_folder;
use crate::model::{GridLevel, LeaderRole};
use crate::rules::check_dataset;

fn city(buildings: u64, seed: u64) -> (tempfile::TempDir, PathBuf, Summary) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("city");
    let opts = Options {
        buildings,
        seed,
        english_addresses: true,
    };
    let summary = generate(&opts, &out, &mut |_| {}).expect("generated");
    (tmp, out, summary)
}

#[test]
fn a_small_city_is_valid_and_complete() {
    let (_tmp, dir, summary) = city(1_500, 11);
    let ds = read_folder(&dir).expect("readable");
    let violations = check_dataset(&ds);
    assert!(
        violations.is_empty(),
        "{:#?}",
        &violations[..violations.len().min(10)]
    );
    assert_eq!(ds.buildings.len(), 1_500);
    assert_eq!(summary.buildings, 1_500);
    let count = |l: GridLevel| ds.grids.iter().filter(|g| g.level == l).count() as u64;
    assert_eq!(count(GridLevel::Neighborhood), summary.neighborhoods);
    assert_eq!(count(GridLevel::BuildingGroup), summary.building_groups);
    assert_eq!(count(GridLevel::Building), 1_500);
    assert_eq!(ds.people.len() as u64, summary.people);
    assert_eq!(ds.leaders.len() as u64, summary.leader_roles);
    assert!(!ds.teams.is_empty());

    // Codes: 9 + 2 digits, + 2, + 3, all starting 3101.
    for g in &ds.grids {
        let want = match g.level {
            GridLevel::Neighborhood => 11,
            GridLevel::BuildingGroup => 13,
            GridLevel::Building => 16,
        };
        assert_eq!(g.code.len(), want, "{}", g.code);
        assert!(g.code.starts_with("3101") && g.code.bytes().all(|b| b.is_ascii_digit()));
    }
    // Vacancies: some, about a tenth; neighborhoods always staffed.
    let roles = 2 * ds.grids.len();
    let vacant = roles - ds.leaders.len();
    assert_eq!(vacant as u64, summary.vacant_roles);
    let share = vacant as f64 / roles as f64;
    assert!((0.04..0.2).contains(&share), "{share}");
    let mut held: BTreeMap<&str, BTreeSet<LeaderRole>> = BTreeMap::new();
    for l in &ds.leaders {
        held.entry(&l.grid_code).or_default().insert(l.role);
    }
    for g in ds
        .grids
        .iter()
        .filter(|g| g.level == GridLevel::Neighborhood)
    {
        assert_eq!(
            held.get(g.code.as_str()).map_or(0, |s| s.len()),
            2,
            "{}",
            g.code
        );
    }
    // Teams mostly at neighborhood level; every neighborhood has one.
    let team_codes: BTreeSet<&str> = ds
        .teams
        .iter()
        .flat_map(|t| t.grid_codes.iter().map(String::as_str))
        .collect();
    for g in ds
        .grids
        .iter()
        .filter(|g| g.level == GridLevel::Neighborhood)
    {
        assert!(team_codes.contains(g.code.as_str()), "{}", g.code);
    }
    // People are fictitious.
    assert!(ds.people.iter().all(|p| {
        p.contact
            .phone
            .as_deref()
            .is_some_and(|t| t.starts_with("021-5555-"))
            && p.contact
                .email
                .as_deref()
                .is_some_and(|e| e.ends_with("@example.org"))
    }));
}

#[test]
fn every_address_is_unique_and_finds_its_building() {
    let (_tmp, dir, summary) = city(2_000, 5);
    let ds = read_folder(&dir).expect("readable");
    let mut builder = AddressIndexBuilder::new();
    let mut seen = BTreeSet::new();
    let mut lanes = 0;
    let mut english = 0;
    for (i, b) in ds.buildings.iter().enumerate() {
        assert!(!b.addresses.is_empty(), "{} has no address", b.id);
        for a in &b.addresses {
            builder.add_address(a, i as u32).expect("parseable address");
            if a.is_ascii() {
                english += 1;
            } else {
                assert!(seen.insert(a.clone()), "{a} given twice");
            }
            if a.contains('弄') {
                lanes += 1;
            }
        }
        builder.add_name(&b.name, i as u32);
    }
    assert_eq!(seen.len() as u64, summary.addresses);
    assert_eq!(english, ds.buildings.len());
    assert!(lanes > 100, "{lanes} lane addresses");
    let index = builder.build();
    for (i, b) in ds.buildings.iter().enumerate() {
        for a in &b.addresses {
            let hit = index.lookup(a).expect(a);
            assert_eq!(hit.building, i as u32, "{a}");
        }
    }
    // Odd and even numbers both occur.
    let numbers: Vec<u32> = seen
        .iter()
        .filter(|a| !a.contains('弄'))
        .filter_map(|a| {
            let digits: String = a.chars().filter(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    assert!(numbers.iter().any(|n| n % 2 == 1) && numbers.iter().any(|n| n % 2 == 0));
}

#[test]
fn same_seed_same_bytes() {
    let (_a, da, _) = city(300, 42);
    let (_b, db, _) = city(300, 42);
    let (_c, dc, _) = city(300, 43);
    for f in [
        GRIDS_FILE,
        BUILDINGS_FILE,
        PEOPLE_FILE,
        LEADERS_FILE,
        TEAMS_FILE,
        "README.md",
    ] {
        let a = std::fs::read(da.join(f)).expect("a");
        let b = std::fs::read(db.join(f)).expect("b");
        assert!(a == b, "{f} differs between runs");
        if f != "README.md" {
            let c = std::fs::read(dc.join(f)).expect("c");
            assert!(a != c, "{f} is the same for another seed");
        }
    }
}

#[test]
fn counts_are_exact_for_odd_sizes() {
    for n in [1, 7, 59] {
        let (_tmp, dir, s) = city(n, 3);
        let ds = read_folder(&dir).expect("readable");
        assert_eq!(ds.buildings.len() as u64, n);
        assert_eq!(s.building_grids, n);
        assert!(check_dataset(&ds).is_empty());
    }
}

#[test]
fn bad_targets_are_refused_and_leave_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let opts = |n| Options {
        buildings: n,
        seed: 1,
        english_addresses: true,
    };
    let out = tmp.path().join("x");
    assert!(matches!(
        generate(&opts(0), &out, &mut |_| {}),
        Err(GenerateError::NoBuildings)
    ));
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("keep.txt"), "mine").expect("write");
    assert!(matches!(
        generate(&opts(10), &out, &mut |_| {}),
        Err(GenerateError::OutExists(_))
    ));
    let missing = tmp.path().join("no/such/dir");
    assert!(matches!(
        generate(&opts(10), &missing, &mut |_| {}),
        Err(GenerateError::NoParent(_))
    ));
    // An existing empty folder is filled.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    generate(&opts(10), &empty, &mut |_| {}).expect("fills an empty folder");
    assert!(empty.join(GRIDS_FILE).is_file());
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("generating")), "{names:?}");
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).expect("kept"),
        "mine"
    );
}

/// Every address of a big city resolves to its building through the address index.
/// `GRIDATLAS_BIG_CITY=1000000 cargo test --release --lib generate::tests::big_city -- --ignored`
#[test]
#[ignore = "minutes and gigabytes; run by hand in release"]
fn big_city_addresses_resolve() {
    let n = std::env::var("GRIDATLAS_BIG_CITY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (_tmp, dir, _) = city(n, 1);
    let ds = read_folder(&dir).expect("readable");
    assert_eq!(ds.buildings.len() as u64, n);
    let mut builder = AddressIndexBuilder::new();
    for (i, b) in ds.buildings.iter().enumerate() {
        for a in &b.addresses {
            builder.add_address(a, i as u32).expect("parseable address");
        }
    }
    let index = builder.build();
    for (i, b) in ds.buildings.iter().enumerate() {
        for a in &b.addresses {
            let hit = index.lookup(a).expect(a);
            assert_eq!(hit.building, i as u32, "{a}");
        }
    }
}

/// The largest city allowed has enough road names and codes (planning only, nothing written).
#[test]
#[ignore = "plans five million buildings; run by hand in release"]
fn the_largest_city_can_be_planned() {
    for seed in [1, 2] {
        let p = plan(MAX_BUILDINGS, seed).expect("planned");
        assert!(p.district_span * p.district_span <= 999);
        let tiles = p.nx.div_ceil(TILE) * p.ny.div_ceil(TILE);
        assert!(tiles > 0);
        let mut names: Vec<&str> = p.roads.roads.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }
}
