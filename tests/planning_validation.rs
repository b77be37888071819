//! Planners validating a drafted plan: the sample as it is, then the sample with the mistakes
//! a planner makes when redrawing (a parcel shrunk, a group's corner cut off, a parcel moved
//! onto its neighbour, a footprint moved across a border, a parcel split, a building's grid
//! dropped), each found with its kind, codes, area and region.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use ProblemKind::*;
use geo::{
    BooleanOps, Centroid, Contains, Coord, LineString, MapCoords, MultiPolygon, Polygon, Scale,
};
use gridatlas::geometry::measure::geodesic_area_m2;
use gridatlas::import::geodata::read_folder;
use gridatlas::model::{Dataset, Grid, GridLevel};
use gridatlas::planner::validation::{
    PlanProblem, ProblemKind, Report, Severity, problem_json, validate,
};
use gridatlas::rules::TOLERANCE_M2;

fn sample() -> Dataset {
    read_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join("geodata")).expect("the sample reads")
}

fn grid<'a>(ds: &'a Dataset, code: &str) -> &'a Grid {
    ds.grids
        .iter()
        .find(|g| g.code == code && g.valid_to.is_none())
        .unwrap_or_else(|| panic!("grid {code}"))
}

fn set_grid(ds: &mut Dataset, code: &str, mp: MultiPolygon<f64>) {
    let g = ds
        .grids
        .iter_mut()
        .find(|g| g.code == code && g.valid_to.is_none())
        .unwrap_or_else(|| panic!("grid {code}"));
    g.geometry = mp;
}

fn building_of(ds: &Dataset, grid_code: &str) -> usize {
    ds.buildings
        .iter()
        .position(|b| b.grid_code.as_deref() == Some(grid_code))
        .unwrap_or_else(|| panic!("a building in {grid_code}"))
}

fn m2(mp: &MultiPolygon<f64>) -> f64 {
    geodesic_area_m2(mp)
}

fn near(got: Option<f64>, want: f64, slack_m2: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() <= slack_m2)
}

// Local metres around the sample (West Nanjing Road, latitude 31.23°).
const M_PER_DEG_LON: f64 = 95_290.0;
const M_PER_DEG_LAT: f64 = 110_574.0;

fn to_m(c: Coord<f64>) -> (f64, f64) {
    (c.x * M_PER_DEG_LON, c.y * M_PER_DEG_LAT)
}

fn from_m((x, y): (f64, f64)) -> Coord<f64> {
    geo::coord! {x: x / M_PER_DEG_LON, y: y / M_PER_DEG_LAT}
}

fn translated(mp: &MultiPolygon<f64>, east_m: f64, north_m: f64) -> MultiPolygon<f64> {
    mp.map_coords(
        |c| geo::coord! {x: c.x + east_m / M_PER_DEG_LON, y: c.y + north_m / M_PER_DEG_LAT},
    )
}

/// Unit vector (in metres) from the centroid of `from` towards the centroid of `to`.
fn direction(from: &MultiPolygon<f64>, to: &MultiPolygon<f64>) -> (f64, f64) {
    let (a, b) = (
        from.centroid().expect("centroid"),
        to.centroid().expect("centroid"),
    );
    let (ax, ay) = to_m(a.0);
    let (bx, by) = to_m(b.0);
    let len = (bx - ax).hypot(by - ay);
    ((bx - ax) / len, (by - ay) / len)
}

fn polygon(points: Vec<Coord<f64>>) -> MultiPolygon<f64> {
    let mut ring = points;
    ring.push(ring[0]);
    MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])])
}

type Key = (ProblemKind, Vec<String>);
/// (kind, codes, area before, area after).
type Change = (ProblemKind, Vec<String>, Option<f64>, Option<f64>);

fn by_key(r: &Report) -> BTreeMap<Key, &PlanProblem> {
    r.problems
        .iter()
        .map(|p| ((p.kind, p.codes.clone()), p))
        .collect()
}

/// What a mutation changed: problems that appeared, disappeared, or whose area moved by more
/// than the tolerance, as (kind, codes, area before, area after).
fn changes(before: &Report, after: &Report) -> Vec<Change> {
    let (b, a) = (by_key(before), by_key(after));
    let keys: BTreeSet<&Key> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (pb, pa) = (b.get(k), a.get(k));
            let (ab, aa) = (pb.and_then(|p| p.area_m2), pa.and_then(|p| p.area_m2));
            let same = pb.is_some() == pa.is_some()
                && match (ab, aa) {
                    (Some(x), Some(y)) => (x - y).abs() <= TOLERANCE_M2,
                    (x, y) => x.is_none() && y.is_none(),
                };
            (!same).then(|| (k.0, k.1.clone(), ab, aa))
        })
        .collect()
}

fn kinds_and_codes(c: &[Change]) -> Vec<(ProblemKind, Vec<&str>)> {
    c.iter()
        .map(|(k, codes, _, _)| (*k, codes.iter().map(String::as_str).collect()))
        .collect()
}

fn find<'a>(r: &'a Report, kind: ProblemKind, codes: &[&str]) -> &'a PlanProblem {
    r.problems
        .iter()
        .find(|p| p.kind == kind && p.codes == codes)
        .unwrap_or_else(|| panic!("no {kind} {codes:?} in {r:#?}"))
}

/// Leaders the sample leaves vacant on purpose (geodata/README.md, "Leaders").
const VACANT: [&str; 11] = [
    "3101060120204",
    "3101060130103",
    "3101060120203003",
    "3101060130101003",
    "3101060130102001",
    "3101060120202002",
    "3101060120204002",
    "3101060120301002",
    "3101060130101002",
    "3101060130102003",
    "3101060130103001",
];

#[test]
fn the_sample_is_ok_with_vacant_roles_and_group_ground_as_warnings() {
    let ds = sample();
    let r = validate(&ds);

    // Warnings: exactly the vacant roles the README documents.
    let vacant: BTreeSet<&str> = r
        .problems
        .iter()
        .filter(|p| p.kind == VacantLeader)
        .map(|p| p.codes[0].as_str())
        .collect();
    assert_eq!(vacant, VACANT.into_iter().collect::<BTreeSet<_>>());
    let bailong = find(&r, VacantLeader, &["3101060130103001"]);
    assert!(
        bailong.message.contains("bac_convener") && bailong.message.contains("party_worker"),
        "{}",
        bailong.message
    );

    // The sample's building grids are parcels that do not tile their group (README,
    // "Geography": streets, lanes and Jing'an Park belong to the group only): each group's
    // uncovered ground is listed as a warning with its region. Nothing is an error: the
    // groups tile their neighborhoods exactly, nothing overlaps, every footprint is inside
    // its parcel, every grid is one region.
    let groups: Vec<&Grid> = ds
        .grids
        .iter()
        .filter(|g| g.level == GridLevel::BuildingGroup)
        .collect();
    assert_eq!(groups.len(), 15);
    assert_eq!(r.errors(), 0, "{r:#?}");
    assert!(r.ok());
    assert_eq!(r.warnings(), VACANT.len() + groups.len());
    for g in groups {
        let p = find(&r, Gap, &[g.code.as_str()]);
        assert_eq!(p.severity, Severity::Warning, "{p:?}");
        let parcels: f64 = ds
            .grids
            .iter()
            .filter(|c| c.parent_code.as_deref() == Some(&g.code))
            .map(|c| m2(&c.geometry))
            .sum();
        let want = m2(&g.geometry) - parcels;
        assert!(near(p.area_m2, want, 1.0), "{p:?} want {want}");
        let region = p.geometry.as_ref().expect("region");
        assert!((m2(region) - want).abs() < 1.0);
        // The region lies in the group (up to the boolean operations' rounding, ~1e-13°), and
        // the group's building footprints are not in it.
        assert!(m2(&region.difference(&g.geometry)) < 0.01);
        for b in &ds.buildings {
            if let Some(c) = b.footprint.centroid()
                && g.geometry.contains(&c)
            {
                assert!(!region.contains(&c), "{} in the gap of {}", b.id, g.code);
            }
        }
    }

    // The JSON form, as the HTTP API will send it.
    let j = problem_json(find(&r, Gap, &["3101060120301"]));
    assert_eq!(j["kind"], "gap");
    assert_eq!(j["severity"], "warning");
    assert_eq!(j["codes"][0], "3101060120301");
    assert_eq!(j["geometry"]["type"], "MultiPolygon");
    assert!(j["area_m2"].as_f64().is_some_and(|a| a > 10_000.0));
    let j = problem_json(bailong);
    assert!(j["geometry"].is_null() && j["area_m2"].is_null());
    assert_eq!(j["severity"], "warning");
}

#[test]
fn shrinking_a_parcel_widens_its_groups_gap() {
    let before = validate(&sample());
    let mut ds = sample();
    let code = "3101060120301001"; // 恒隆广场
    let footprint = &ds.buildings[building_of(&ds, code)].footprint;
    let origin = footprint.centroid().expect("centroid");
    let old = grid(&ds, code).geometry.clone();
    let shrunk = old.scale_around_point(0.97, 0.97, origin);
    let lost = m2(&old) - m2(&shrunk);
    assert!(lost > 100.0, "{lost}");
    set_grid(&mut ds, code, shrunk);
    let after = validate(&ds);
    let c = changes(&before, &after);
    assert_eq!(
        kinds_and_codes(&c),
        vec![(Gap, vec!["3101060120301"])],
        "{c:?}"
    );
    let (_, _, was, now) = &c[0];
    assert!(
        near(now.map(|n| n - was.unwrap_or(0.0)), lost, 1.0),
        "{c:?} lost {lost}"
    );
}

#[test]
fn cutting_a_groups_corner_leaves_a_gap_in_its_neighborhood() {
    let before = validate(&sample());
    let mut ds = sample();
    let (code, parent) = ("3101060120301", "31010601203");
    let old = grid(&ds, code).geometry.clone();
    // Cut a triangle off the first convex corner, 10 m along each side: within the 8 m that
    // parcels keep from the road centrelines, so no parcel is cut.
    let ring: Vec<Coord<f64>> = old.0[0].exterior().0[..old.0[0].exterior().0.len() - 1].to_vec();
    let n = ring.len();
    let cross = |k: usize| {
        let (p, v, q) = (
            to_m(ring[(k + n - 1) % n]),
            to_m(ring[k]),
            to_m(ring[(k + 1) % n]),
        );
        (v.0 - p.0) * (q.1 - v.1) - (v.1 - p.1) * (q.0 - v.0)
    };
    let k = (0..n).find(|&k| cross(k) > 0.0).expect("a convex corner");
    let toward = |from: Coord<f64>, to: Coord<f64>, metres: f64| {
        let ((fx, fy), (tx, ty)) = (to_m(from), to_m(to));
        let len = (tx - fx).hypot(ty - fy);
        from_m((fx + (tx - fx) * metres / len, fy + (ty - fy) * metres / len))
    };
    let mut cut = Vec::with_capacity(n + 1);
    for (i, &v) in ring.iter().enumerate() {
        if i == k {
            cut.push(toward(v, ring[(k + n - 1) % n], 10.0));
            cut.push(toward(v, ring[(k + 1) % n], 10.0));
        } else {
            cut.push(v);
        }
    }
    let cut = polygon(cut);
    let triangle = m2(&old) - m2(&cut);
    assert!((30.0..60.0).contains(&triangle), "{triangle}");
    set_grid(&mut ds, code, cut);
    let after = validate(&ds);
    let c = changes(&before, &after);
    assert_eq!(
        kinds_and_codes(&c),
        vec![(Gap, vec![parent]), (Gap, vec![code])],
        "{c:?}"
    );
    let gap = find(&after, Gap, &[parent]);
    assert!(near(gap.area_m2, triangle, 0.5), "{gap:?} want {triangle}");
    let corner = gap
        .geometry
        .as_ref()
        .expect("region")
        .centroid()
        .expect("centroid");
    assert!(!grid(&ds, code).geometry.contains(&corner) && old.contains(&corner));
    // The group's own gap shrank by the same triangle.
    let (_, _, was, now) = &c[1];
    assert!(
        near(was.map(|w| w - now.unwrap_or(0.0)), triangle, 1.0),
        "{c:?}"
    );
}

/// Group 3101060120203 holds two parcels 4.5 m apart: 002 (静安别墅·金鹰 group) and 003 (荣宅).
const GROUP: &str = "3101060120203";
const MOVED: &str = "3101060120203003";
const NEIGHBOUR: &str = "3101060120203002";

#[test]
fn moving_a_parcel_onto_its_neighbour_overlaps() {
    let before = validate(&sample());
    let mut ds = sample();
    let b = building_of(&ds, MOVED);
    let (p, q) = (
        grid(&ds, MOVED).geometry.clone(),
        grid(&ds, NEIGHBOUR).geometry.clone(),
    );
    let (ux, uy) = direction(&p, &q);
    // Move the parcel, with its building, metre by metre until it overlaps its neighbour.
    let (moved, step) = (1..60)
        .map(|m| (translated(&p, ux * f64::from(m), uy * f64::from(m)), m))
        .find(|(mp, _)| m2(&mp.intersection(&q)) > 20.0)
        .expect("the parcels meet");
    let overlap = m2(&moved.intersection(&q));
    ds.buildings[b].footprint = translated(
        &ds.buildings[b].footprint,
        ux * f64::from(step),
        uy * f64::from(step),
    );
    set_grid(&mut ds, MOVED, moved);
    let after = validate(&ds);
    let c = changes(&before, &after);
    assert_eq!(
        kinds_and_codes(&c),
        vec![(Overlap, vec![NEIGHBOUR, MOVED]), (Gap, vec![GROUP])],
        "{c:?}"
    );
    let o = find(&after, Overlap, &[NEIGHBOUR, MOVED]);
    assert!(near(o.area_m2, overlap, 0.01), "{o:?} want {overlap}");
    let region = o.geometry.as_ref().expect("region");
    let inside = region.centroid().expect("centroid");
    assert!(q.contains(&inside) && grid(&ds, MOVED).geometry.contains(&inside));
    // Two parcels on the same ground cover less of the group.
    let (_, _, was, now) = &c[1];
    assert!(
        near(now.map(|n| n - was.unwrap_or(0.0)), overlap, 1.0),
        "{c:?}"
    );
}

#[test]
fn moving_a_footprint_across_a_border() {
    let before = validate(&sample());
    let mut ds = sample();
    let b = building_of(&ds, MOVED);
    let id = ds.buildings[b].id.clone();
    let (p, q) = (
        grid(&ds, MOVED).geometry.clone(),
        grid(&ds, NEIGHBOUR).geometry.clone(),
    );
    let f = ds.buildings[b].footprint.clone();
    let (ux, uy) = direction(&f, &q);
    let moved = (1..200)
        .map(|m| translated(&f, ux * f64::from(m), uy * f64::from(m)))
        .find(|mp| m2(&mp.intersection(&q)) > 50.0)
        .expect("the footprint reaches the neighbour");
    let (in_other, outside_own) = (m2(&moved.intersection(&q)), m2(&moved.difference(&p)));
    assert!(
        outside_own > in_other,
        "the 4.5 m between the parcels are uncovered too"
    );
    ds.buildings[b].footprint = moved;
    let after = validate(&ds);
    let c = changes(&before, &after);
    assert_eq!(
        kinds_and_codes(&c),
        vec![
            (UncoveredBuilding, vec![MOVED, id.as_str()]),
            (BuildingInTwoGrids, vec![id.as_str(), MOVED, NEIGHBOUR]),
        ],
        "{c:?}"
    );
    let two = find(&after, BuildingInTwoGrids, &[id.as_str(), MOVED, NEIGHBOUR]);
    assert!(near(two.area_m2, in_other, 0.01), "{two:?} want {in_other}");
    let inside = two
        .geometry
        .as_ref()
        .expect("region")
        .centroid()
        .expect("centroid");
    assert!(q.contains(&inside));
    let uncovered = find(&after, UncoveredBuilding, &[MOVED, id.as_str()]);
    assert!(
        near(uncovered.area_m2, outside_own, 0.01),
        "{uncovered:?} want {outside_own}"
    );
    let outside = uncovered
        .geometry
        .as_ref()
        .expect("region")
        .centroid()
        .expect("centroid");
    assert!(!p.contains(&outside));
}

#[test]
fn splitting_a_parcel_into_detached_parts() {
    let before = validate(&sample());
    let mut ds = sample();
    let (code, group) = ("3101060120301001", "3101060120301");
    let old = grid(&ds, code).geometry.clone();
    // Cut a corridor 1–3 m inside the first edge (the footprint keeps at least 4 m from every
    // edge of its parcel): a 1 m strip is left detached from the rest.
    let ext = &old.0[0].exterior().0;
    let (a, b) = (to_m(ext[0]), to_m(ext[1]));
    let len = (b.0 - a.0).hypot(b.1 - a.1);
    let (ex, ey) = ((b.0 - a.0) / len, (b.1 - a.1) / len);
    let (nx, ny) = (-ey, ex); // left of a counter-clockwise exterior: inside
    let at = |p: (f64, f64), along: f64, inward: f64| {
        from_m((
            p.0 + ex * along + nx * inward,
            p.1 + ey * along + ny * inward,
        ))
    };
    let corridor = polygon(vec![
        at(a, -5.0, 1.0),
        at(b, 5.0, 1.0),
        at(b, 5.0, 3.0),
        at(a, -5.0, 3.0),
    ]);
    let split = old.difference(&corridor);
    assert_eq!(split.0.len(), 2, "{split:?}");
    let strip = split
        .0
        .iter()
        .map(|p| m2(&MultiPolygon::new(vec![p.clone()])))
        .fold(f64::INFINITY, f64::min);
    assert!(
        (strip - len).abs() < 0.2 * len,
        "a 1 m strip along the {len:.0} m edge: {strip}"
    );
    let removed = m2(&old) - m2(&split);
    set_grid(&mut ds, code, split);
    let after = validate(&ds);
    let c = changes(&before, &after);
    assert_eq!(
        kinds_and_codes(&c),
        vec![(Gap, vec![group]), (DisconnectedGrid, vec![code])],
        "{c:?}"
    );
    let d = find(&after, DisconnectedGrid, &[code]);
    assert!(near(d.area_m2, strip, 0.01), "{d:?} want {strip}");
    assert_eq!(d.geometry.as_ref().map(|g| g.0.len()), Some(1));
    let footprint = &ds.buildings[building_of(&ds, code)].footprint;
    let fc = footprint.centroid().expect("centroid");
    assert!(
        !d.geometry.as_ref().is_some_and(|g| g.contains(&fc)),
        "the building's part stays"
    );
    let (_, _, was, now) = &c[0];
    assert!(
        near(now.map(|n| n - was.unwrap_or(0.0)), removed, 1.0),
        "{c:?}"
    );
}

#[test]
fn dropping_a_buildings_grid() {
    let before = validate(&sample());
    let mut ds = sample();
    let code = "3101060120101001";
    let b = building_of(&ds, code);
    let id = ds.buildings[b].id.clone();
    ds.buildings[b].grid_code = None;
    let after = validate(&ds);
    let c = changes(&before, &after);
    assert_eq!(
        kinds_and_codes(&c),
        vec![(UncoveredBuilding, vec![id.as_str()])],
        "{c:?}"
    );
    let p = find(&after, UncoveredBuilding, &[id.as_str()]);
    assert!(
        near(p.area_m2, m2(&ds.buildings[b].footprint), 0.01),
        "{p:?}"
    );
    assert_eq!(p.geometry.as_ref(), Some(&ds.buildings[b].footprint));
    assert_eq!(p.severity, Severity::Error);
    assert!(
        p.message.contains("has no grid") && p.message.contains(code),
        "{}",
        p.message
    );
}

/// Timing on a generated city. Run with
/// `cargo build --release && target/release/gridatlas generate --buildings 100000 --seed 7 --out /tmp/c100k`
/// then `GRIDATLAS_CITY=/tmp/c100k cargo test --release --test planning_validation -- --ignored --nocapture`.
#[test]
#[ignore]
fn city_timing() {
    let dir = std::env::var("GRIDATLAS_CITY").unwrap_or_else(|_| "/tmp/c100k".into());
    let t = Instant::now();
    let ds = read_folder(Path::new(&dir)).expect("the generated city reads");
    let read = t.elapsed();
    let t = Instant::now();
    let rules = gridatlas::rules::check_dataset(&ds);
    let rules_time = t.elapsed();
    let t = Instant::now();
    let r = validate(&ds);
    let took = t.elapsed();
    println!(
        "{dir}: {} grids, {} buildings; read {read:.2?}; check_dataset alone {rules_time:.2?} ({} violations); validate {took:.2?}: {} errors, {} warnings",
        ds.grids.len(),
        ds.buildings.len(),
        rules.len(),
        r.errors(),
        r.warnings()
    );
    print_kinds(&r);

    // A badly drafted plan: every parcel moved 8 m east (footprints stay), so that many
    // regions have to be computed.
    let mut bad = ds;
    for g in bad
        .grids
        .iter_mut()
        .filter(|g| g.level == GridLevel::Building)
    {
        g.geometry = translated(&g.geometry, 8.0, 0.0);
    }
    let t = Instant::now();
    let r = validate(&bad);
    println!(
        "every parcel moved 8 m east: validate {:.2?}: {} errors, {} warnings",
        t.elapsed(),
        r.errors(),
        r.warnings()
    );
    print_kinds(&r);
}

fn print_kinds(r: &Report) {
    let mut per_kind: BTreeMap<ProblemKind, (usize, usize, f64)> = BTreeMap::new();
    for p in &r.problems {
        let e = per_kind.entry(p.kind).or_default();
        e.0 += 1;
        e.1 += usize::from(p.geometry.is_some());
        e.2 += p.area_m2.unwrap_or(0.0);
    }
    for (k, (n, with_region, a)) in per_kind {
        println!("  {k}: {n}, {with_region} with a region, {a:.0} m² in all");
    }
}
