//! The command line as an operator runs it: validate, import, lookup, serve.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::geodata_dir;
use serde_json::{Value, json};

fn gridatlas(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gridatlas"))
        .args(args)
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("GRIDATLAS_SEED", geodata_dir())
        .env_remove("GRIDATLAS_ADMIN_TOKEN")
        .env_remove("GRIDATLAS_DISPATCHER_TOKEN")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the sample folder that a test may break.
fn sample_copy(dir: &Path) -> PathBuf {
    let out = dir.join("data");
    std::fs::create_dir_all(&out).unwrap();
    for entry in std::fs::read_dir(geodata_dir()).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), out.join(entry.file_name())).unwrap();
        }
    }
    out
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn validate_accepts_the_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let o = gridatlas(
        &tmp.path().join("x.db"),
        &["validate", geodata_dir().to_str().unwrap()],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let (summary, problems) = lines.split_last().expect("output");
    assert!(summary.starts_with("ok:"), "{out}");
    // The sample's vacant roles and its groups' own ground are listed as warnings.
    let kinds: Vec<(String, String)> = problems
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            (
                v["kind"].as_str().unwrap().to_string(),
                v["severity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(kinds.iter().all(|(_, s)| s == "warning"), "{kinds:?}");
    assert!(kinds.iter().any(|(k, _)| k == "vacant_leader"), "{kinds:?}");
    assert!(
        summary.contains(&format!("{} warning(s)", kinds.len())),
        "{summary}"
    );
}

#[test]
fn validate_names_overlaps_and_bad_geometry() {
    let tmp = tempfile::tempdir().unwrap();
    let data = sample_copy(tmp.path());
    // Give the second neighborhood the first one's geometry: an overlap (and children outside).
    let grids = data.join("grids.geojson");
    let mut codes = Vec::new();
    edit_json(&grids, |v| {
        let features = v["features"].as_array_mut().unwrap();
        let n: Vec<usize> = (0..features.len())
            .filter(|&i| features[i]["properties"]["level"] == "neighborhood")
            .collect();
        let geometry = features[n[0]]["geometry"].clone();
        features[n[1]]["geometry"] = geometry;
        codes.push(
            features[n[0]]["properties"]["code"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        codes.push(
            features[n[1]]["properties"]["code"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    });
    let o = gridatlas(
        &tmp.path().join("x.db"),
        &["validate", data.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let out = stdout(&o);
    assert!(out.contains("\"overlap\""), "{out}");
    assert!(codes.iter().all(|c| out.contains(c.as_str())), "{out}");

    // An unclosed ring is named with the feature's code and never repaired.
    let data = sample_copy(&tmp.path().join("second"));
    let mut code = String::new();
    edit_json(&data.join("grids.geojson"), |v| {
        let f = &mut v["features"][0];
        code = f["properties"]["code"].as_str().unwrap().to_string();
        let ring = f["geometry"]["coordinates"][0].as_array_mut().unwrap();
        ring.pop();
    });
    let o = gridatlas(
        &tmp.path().join("y.db"),
        &["validate", data.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let msg = stderr(&o);
    assert!(
        msg.contains(&code) && msg.to_lowercase().contains("clos"),
        "{msg}"
    );

    let o = gridatlas(&tmp.path().join("z.db"), &["validate", "/no/such/folder"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/no/such/folder"));
}

#[test]
fn lookup_prints_the_answer_and_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("a.db");
    let o = gridatlas(&db, &["lookup", "--address", "南京西路1266号"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(a["building"]["name"], "恒隆广场");
    assert!(!stdout(&o).contains("\"phone\""));
    let o = gridatlas(
        &db,
        &["lookup", "--address", "南京西路1266号", "--contacts"],
    );
    assert!(stdout(&o).contains("\"phone\""));
    let lon = a["location"]["lon"].to_string();
    let lat = a["location"]["lat"].to_string();
    let o = gridatlas(&db, &["lookup", "--lon", &lon, "--lat", &lat]);
    assert!(o.status.success());
    let b: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(b["grids"], a["grids"]);
    let o = gridatlas(&db, &["lookup", "--address", "不存在路1号"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    let o = gridatlas(&db, &["lookup", "--lon", "0", "--lat", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("No grid covers"), "{}", stderr(&o));
    let o = gridatlas(&db, &["lookup", "--lon", "200", "--lat", "0"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--lon"), "{}", stderr(&o));
    let o = gridatlas(
        &db,
        &[
            "lookup", "--lon", "121.4", "--lat", "31.2", "--crs", "tokyo",
        ],
    );
    assert!(!o.status.success());
    let o = gridatlas(&db, &["lookup"]);
    assert!(!o.status.success());
}

#[test]
fn import_geodata_loads_an_empty_database_once() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("fresh.db");
    let o = gridatlas(
        &db,
        &[
            "--no-seed",
            "import",
            "geodata",
            geodata_dir().to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported"));
    let o = gridatlas(
        &db,
        &[
            "--no-seed",
            "import",
            "geodata",
            geodata_dir().to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already"));
    // an invalid folder writes nothing
    let bad = sample_copy(tmp.path());
    std::fs::write(
        bad.join("people.csv"),
        "id,name,phone,email\n\"unterminated\n",
    )
    .unwrap();
    std::fs::write(bad.join("teams.json"), "[{").unwrap();
    let db2 = tmp.path().join("other.db");
    let o = gridatlas(
        &db2,
        &["--no-seed", "import", "geodata", bad.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("teams.json"), "{}", stderr(&o));
    let o = gridatlas(
        &db2,
        &["--no-seed", "lookup", "--address", "南京西路1266号"],
    );
    assert!(!o.status.success(), "the failed import left nothing behind");
}

fn osm_feature(id: &str, ring: Vec<[f64; 2]>, tags: Value) -> Value {
    let mut props = tags;
    props["@id"] = json!(id);
    json!({"type": "Feature", "id": id, "properties": props,
           "geometry": {"type": "Polygon", "coordinates": [ring]}})
}

/// A small square footprint around a point (about 10 m).
fn square(lon: f64, lat: f64) -> Vec<[f64; 2]> {
    let d = 0.00005;
    vec![
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
}

#[test]
fn import_osm_buildings_attaches_them_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("osm.db");
    // A footprint around the point the Plaza 66 answer resolves at: inside its building grid.
    let o = gridatlas(&db, &["lookup", "--address", "南京西路1266号"]);
    let plaza: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let (lon, lat) = (
        plaza["location"]["lon"].as_f64().unwrap(),
        plaza["location"]["lat"].as_f64().unwrap(),
    );
    let innermost = plaza["grids"].as_array().unwrap().last().unwrap()["code"].clone();
    let file = tmp.path().join("export.geojson");
    let good = vec![
        osm_feature(
            "way/1001",
            square(lon, lat),
            json!({"building": "commercial", "name": "测试大厦", "name:en": "Test Tower", "addr:street": "测试路", "addr:housenumber": "8"}),
        ),
        osm_feature(
            "way/1002",
            square(10.0, 10.0),
            json!({"building": "yes", "name": "Far Away"}),
        ),
        osm_feature(
            "way/1005",
            square(lon, lat),
            json!({"building": "yes", "name": "Plaza 66 again", "addr:street": "南京西路", "addr:housenumber": "1266"}),
        ),
        json!({"type": "Feature", "properties": {"@id": "node/5", "building": "yes"}, "geometry": {"type": "Point", "coordinates": [lon, lat]}}),
        osm_feature(
            "way/1004",
            square(lon, lat),
            json!({"highway": "residential"}),
        ),
    ];
    // One self-intersecting footprint rejects the whole file: nothing is written.
    let mut bad = good.clone();
    bad.push(osm_feature(
        "way/1003",
        vec![
            [lon, lat],
            [lon + 0.0001, lat],
            [lon, lat + 0.0001],
            [lon + 0.0001, lat + 0.0001],
            [lon, lat],
        ],
        json!({"building": "yes"}),
    ));
    std::fs::write(
        &file,
        json!({"type": "FeatureCollection", "features": bad}).to_string(),
    )
    .unwrap();
    let o = gridatlas(&db, &["import", "buildings", file.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("osm:way/1003"), "{}", stderr(&o));
    assert!(
        !gridatlas(&db, &["lookup", "--address", "测试路8号"])
            .status
            .success()
    );

    std::fs::write(
        &file,
        json!({"type": "FeatureCollection", "features": good}).to_string(),
    )
    .unwrap();
    let o = gridatlas(&db, &["import", "buildings", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["read"]["features"], 5);
    assert_eq!(report["read"]["buildings"], 1);
    assert_eq!(report["read"]["skipped_points"], 1);
    assert_eq!(report["read"]["skipped_not_building"], 1);
    assert_eq!(report["read"]["uncovered"], json!(["osm:way/1002"]));
    assert_eq!(report["read"]["already_known"][0]["id"], "osm:way/1005");
    assert_eq!(
        report["read"]["already_known"][0]["existing"],
        plaza["building"]["id"]
    );
    assert_eq!(report["written"]["inserted"], 1);
    // findable by address and name, attached to the innermost grid that covers it
    let o = gridatlas(&db, &["lookup", "--address", "测试路8号"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(b["building"]["id"], "osm:way/1001");
    assert_eq!(
        b["grids"].as_array().unwrap().last().unwrap()["code"],
        innermost
    );
    let o = gridatlas(&db, &["lookup", "--address", "Test Tower"]);
    assert!(o.status.success());
    // the sample's own address still resolves to the sample's building
    let o = gridatlas(&db, &["lookup", "--address", "南京西路1266号"]);
    let again: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(again["building"]["id"], plaza["building"]["id"]);
    // re-importing the same file changes nothing
    let o = gridatlas(&db, &["import", "buildings", file.to_str().unwrap()]);
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        report["written"],
        json!({"inserted": 0, "updated": 0, "unchanged": 1})
    );
    // a broken file is an error
    std::fs::write(&file, "{\"type\": \"FeatureCollection\", \"features\": [").unwrap();
    let o = gridatlas(&db, &["import", "buildings", file.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("export.geojson"));
}

/// `gridatlas serve` on a free port answers HTTP, with the embedded default store.
#[test]
fn serve_answers_over_tcp() {
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridatlas"))
        .args(["serve", "--listen", &listen])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", tmp.path().join("s.db").display()),
        )
        .env("GRIDATLAS_SEED", geodata_dir())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let get = |path: &str| -> Option<String> {
        let mut s = std::net::TcpStream::connect(&listen).ok()?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(out)
    };
    // Wait for readiness by polling: bounded, no fixed sleep decides the outcome.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut ready = None;
    while std::time::Instant::now() < deadline {
        if let Some(r) = get("/readyz") {
            ready = Some(r);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let answer = get("/v1/lookup?address=%E6%81%92%E9%9A%86%E5%B9%BF%E5%9C%BA");
    let _ = child.kill();
    let _ = child.wait();
    let ready = ready.expect("the server became ready");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let answer = answer.expect("lookup answered");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("恒隆广场"));
}

#[test]
fn bench_lookups_times_full_answers_on_a_points_file() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("x.db");
    let points = tmp.path().join("points.csv");
    // Plaza 66 (inside the district) and a point in the sea (answered by nothing).
    std::fs::write(&points, "1,121.4508,31.2302\n2,122.5,30.5\n").unwrap();
    let o = gridatlas(
        &db,
        &[
            "bench-lookups",
            "--points",
            points.to_str().unwrap(),
            "--seconds",
            "0.2",
        ],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let field = |key: &str| -> f64 {
        out.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {out}"))
    };
    assert!(field("lookups_per_s") > 0.0);
    assert_eq!(field("answered_share"), 0.5, "{out}");
    assert_eq!(field("points"), 2.0);
}

#[test]
fn bench_lookups_rejects_bad_points_files() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("x.db");
    let cases = [
        ("missing.csv", None, "cannot read points"),
        ("empty.csv", Some(""), "holds no points"),
        (
            "text.csv",
            Some("1,121.45,31.23\n2,east,31.2\n"),
            "line 2: lon",
        ),
        ("range.csv", Some("1,121.45,95\n"), "line 1: lat"),
    ];
    for (name, content, expected) in cases {
        let path = tmp.path().join(name);
        if let Some(c) = content {
            std::fs::write(&path, c).unwrap();
        }
        let o = gridatlas(&db, &["bench-lookups", "--points", path.to_str().unwrap()]);
        assert!(!o.status.success(), "{name} was accepted");
        assert!(stderr(&o).contains(expected), "{name}: {}", stderr(&o));
    }
    let points = tmp.path().join("ok.csv");
    std::fs::write(&points, "1,121.45,31.23\n").unwrap();
    let o = gridatlas(
        &db,
        &[
            "bench-lookups",
            "--points",
            points.to_str().unwrap(),
            "--seconds",
            "0",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--seconds"), "{}", stderr(&o));
}
