//! `gridatlas generate`, as a user runs it: the city it writes passes `validate`, is the same
//! for the same seed, imports into an empty database and answers address lookups; bad
//! arguments are refused with a clear message and leave nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FILES: [&str; 5] = [
    "grids.geojson",
    "buildings.geojson",
    "people.csv",
    "leaders.csv",
    "teams.json",
];

fn gridatlas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridatlas"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("GRIDATLAS_SEED")
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn generate(buildings: &str, seed: &str, out: &Path) -> Output {
    gridatlas(&[
        "generate",
        "--buildings",
        buildings,
        "--seed",
        seed,
        "--out",
        out.to_str().expect("utf-8 path"),
    ])
}

fn generated(buildings: &str, seed: &str, out: &Path) {
    let o = generate(buildings, seed, out);
    assert!(
        o.status.success(),
        "generate failed: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    assert!(text(&o.stdout).contains(&format!("{buildings} buildings")));
}

/// Entries of a folder whose name contains "generating" (working folders left behind).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("generating"))
        .collect()
}

/// (building id, addresses) of every building in a generated folder.
fn buildings(dir: &Path) -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(dir.join("buildings.geojson")).expect("buildings");
    let fc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            let addresses = p["addresses"]
                .as_array()
                .expect("addresses")
                .iter()
                .map(|a| a.as_str().expect("string").to_string())
                .collect();
            (p["id"].as_str().expect("id").to_string(), addresses)
        })
        .collect()
}

fn lookup_address(db: &str, address: &str) -> serde_json::Value {
    let o = gridatlas(&[
        "--database-url",
        db,
        "--no-seed",
        "lookup",
        "--address",
        address,
    ]);
    assert!(
        o.status.success(),
        "lookup {address}: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("JSON answer")
}

#[test]
fn a_generated_city_is_valid_deterministic_and_answers_lookups() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = |name: &str| -> PathBuf { tmp.path().join(name) };
    generated("2000", "7", &dir("a"));
    generated("2000", "7", &dir("a-again"));
    generated("2000", "8", &dir("b"));

    // Same seed, same bytes; another seed, other files.
    for f in FILES {
        let a = std::fs::read(dir("a").join(f)).expect("read a");
        let again = std::fs::read(dir("a-again").join(f)).expect("read a-again");
        let b = std::fs::read(dir("b").join(f)).expect("read b");
        assert!(a == again, "{f} differs between two runs with seed 7");
        assert!(a != b, "{f} is the same for seeds 7 and 8");
    }

    for (name, seed) in [("a", "7"), ("b", "8")] {
        let folder = dir(name);
        let folder_str = folder.to_str().expect("utf-8");
        // Every rule of the atlas holds.
        let o = gridatlas(&["validate", folder_str]);
        assert!(
            o.status.success(),
            "seed {seed}: validate failed:\n{}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        assert!(
            text(&o.stdout).contains("2000 buildings"),
            "{}",
            text(&o.stdout)
        );

        // It imports into an empty database...
        let db = format!(
            "sqlite://{}",
            tmp.path().join(format!("{name}.db")).display()
        );
        let o = gridatlas(&[
            "--database-url",
            &db,
            "--no-seed",
            "import",
            "geodata",
            folder_str,
        ]);
        assert!(
            o.status.success(),
            "seed {seed}: import failed: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );

        // ...and an address read from the file finds its building: a door plate, a lane
        // address and an English form.
        let all = buildings(&folder);
        assert_eq!(all.len(), 2000);
        let plate = all
            .iter()
            .find(|(_, a)| !a[0].contains('弄'))
            .expect("a door plate");
        let lane = all
            .iter()
            .rev()
            .find(|(_, a)| a[0].contains('弄'))
            .expect("a lane address");
        for (id, address) in [
            (&plate.0, plate.1[0].as_str()),
            (&lane.0, lane.1[0].as_str()),
            (&plate.0, plate.1.last().expect("English form").as_str()),
        ] {
            let answer = lookup_address(&db, address);
            assert_eq!(
                answer["building"]["id"].as_str(),
                Some(id.as_str()),
                "seed {seed}: {address} → {answer}"
            );
            assert_eq!(
                answer["grids"].as_array().map(Vec::len),
                Some(3),
                "{answer}"
            );
        }
    }
    assert!(leftovers(tmp.path()).is_empty());
}

#[test]
fn bad_arguments_are_refused_and_leave_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");

    // No buildings.
    let out = tmp.path().join("none");
    let o = generate("0", "1", &out);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("at least 1"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists());

    // A seed that is not a number.
    let o = generate("10", "abc", &out);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("--seed must be a whole number"));
    assert!(!out.exists());

    // An existing folder with something in it is left alone.
    let full = tmp.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("notes.txt"), "mine").expect("write");
    let o = generate("10", "1", &full);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("already exists and is not an empty folder"),
        "{}",
        text(&o.stderr)
    );
    let names: Vec<_> = std::fs::read_dir(&full).expect("list").collect();
    assert_eq!(names.len(), 1);
    assert_eq!(
        std::fs::read_to_string(full.join("notes.txt")).expect("kept"),
        "mine"
    );

    // Paths that cannot be written: under a file, in a missing folder, in /proc.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    for bad in [
        file.join("city"),
        tmp.path().join("missing/city"),
        PathBuf::from("/proc/gridatlas-city"),
    ] {
        let o = generate("10", "1", &bad);
        assert!(!o.status.success(), "{}", bad.display());
        let err = text(&o.stderr);
        assert!(
            err.contains("error: cannot generate a city in") && err.lines().count() == 1,
            "{}: {err}",
            bad.display()
        );
        assert!(!bad.exists());
    }
    assert_eq!(std::fs::read_to_string(&file).expect("file"), "x");

    // An existing empty folder is filled.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    generated("10", "1", &empty);
    for f in FILES {
        assert!(empty.join(f).is_file(), "{f}");
    }
    assert!(
        leftovers(tmp.path()).is_empty(),
        "{:?}",
        leftovers(tmp.path())
    );
}
