//! Dispatchers: who is responsible for this point, address or building — over HTTP against
//! the real router and a real SQLite store seeded from the sample.

mod common;

use std::collections::HashMap;

use common::*;
use geo::InteriorPoint;
use gridatlas::geometry::crs::{Crs, from_wgs84};
use serde_json::{Value, json};

/// The sample's grids by code, and a building's chain of grid codes (outermost first).
fn grid_parents() -> HashMap<String, Option<String>> {
    sample_features("grids.geojson")
        .iter()
        .map(|f| {
            let p = &f["properties"];
            (
                p["code"].as_str().unwrap_or_default().to_string(),
                p["parent_code"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn chain_of(code: &str) -> Vec<String> {
    let parents = grid_parents();
    let mut chain = vec![code.to_string()];
    while let Some(Some(p)) = parents.get(chain.last().map(String::as_str).unwrap_or_default()) {
        chain.push(p.clone());
    }
    chain.reverse();
    chain
}

fn building_with_address(address: &str) -> Value {
    sample_features("buildings.geojson")
        .into_iter()
        .find(|f| {
            f["properties"]["addresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == address))
        })
        .unwrap_or_else(|| panic!("the sample has a building at {address}"))
}

/// A point well inside a building's footprint.
fn inside(feature: &Value) -> (f64, f64) {
    let g: geojson::Geometry =
        serde_json::from_value(feature["geometry"].clone()).expect("geometry");
    let mp: geo::MultiPolygon<f64> =
        gridatlas::geometry::validity::multipolygon_from_geojson(&g).expect("valid footprint");
    let p = mp.interior_point().expect("interior point");
    (p.x(), p.y())
}

fn codes(answer: &Value) -> Vec<String> {
    answer["grids"]
        .as_array()
        .expect("grids")
        .iter()
        .map(|g| g["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_point_in_plaza_66_resolves_its_whole_chain() {
    let app = app().await;
    let plaza = building_with_address("南京西路1266号");
    let (lon, lat) = inside(&plaza);
    let r = app.get(&format!("/v1/lookup?lon={lon}&lat={lat}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = r.json();
    let grid_code = plaza["properties"]["grid_code"]
        .as_str()
        .expect("grid_code");
    assert_eq!(codes(&a), chain_of(grid_code));
    let levels: Vec<&str> = a["grids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["level"].as_str())
        .collect();
    assert_eq!(levels, ["neighborhood", "building_group", "building"]);
    assert_eq!(a["building"]["id"], plaza["properties"]["id"]);
    assert_eq!(a["building"]["name"], "恒隆广场");
    assert_eq!(a["leaders"]["grid_code"], grid_code);
    // escalation runs from the innermost grid up to the neighborhood
    let steps: Vec<&str> = a["escalation"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["grid_code"].as_str())
        .collect();
    let mut expected = chain_of(grid_code);
    expected.reverse();
    assert_eq!(steps, expected);
    assert!(a["border"]["distance_m"].as_f64().unwrap() > 0.0);
    assert_eq!(a["border"]["on_border"], false);
    assert!((a["location"]["lon"].as_f64().unwrap() - lon).abs() < 1e-12);
}

#[tokio::test]
async fn gcj02_and_bd09_points_are_converted_at_the_edge() {
    let app = app().await;
    let plaza = building_with_address("南京西路1266号");
    let (lon, lat) = inside(&plaza);
    for (crs, name) in [(Crs::Gcj02, "gcj02"), (Crs::Bd09, "bd09")] {
        let (x, y) = from_wgs84(crs, lon, lat);
        assert!(
            (x - lon).abs() > 1e-3,
            "{name} differs from WGS84 in Shanghai"
        );
        let r = app
            .get(&format!("/v1/lookup?lon={x}&lat={y}&crs={name}"))
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let a = r.json();
        assert_eq!(a["building"]["id"], plaza["properties"]["id"], "{name}");
        // the answer's location is WGS84 again, within a centimetre or so
        assert!(
            (a["location"]["lon"].as_f64().unwrap() - lon).abs() < 2e-7,
            "{name}"
        );
        assert!(
            (a["location"]["lat"].as_f64().unwrap() - lat).abs() < 2e-7,
            "{name}"
        );
    }
    // the same GCJ-02 numbers read as WGS84 land elsewhere (about 400 m east)
    let (x, y) = from_wgs84(Crs::Gcj02, lon, lat);
    let r = app.get(&format!("/v1/lookup?lon={x}&lat={y}")).await;
    if r.status == 200 {
        assert_ne!(r.json()["building"]["id"], plaza["properties"]["id"]);
    }
}

#[tokio::test]
async fn every_form_of_the_plaza_66_address_finds_it() {
    let app = app().await;
    let id = building_with_address("南京西路1266号")["properties"]["id"].clone();
    for form in [
        "南京西路1266号",
        "上海市静安区南京西路1266号",
        "南京西路１２６６号",
        "1266 West Nanjing Road",
        "1266 Nanjing Rd (W)",
        "1266 Nanjing Xi Lu",
        "1266 W. Nanjing Rd.",
        "恒隆广场",
        "Plaza 66",
        "plaza 66",
    ] {
        let r = app.get(&format!("/v1/lookup?address={}", enc(form))).await;
        assert_eq!(r.status, 200, "{form}: {}", r.text());
        let a = r.json();
        assert_eq!(a["building"]["id"], id, "{form}");
        let is_name = ["恒隆广场", "Plaza 66", "plaza 66"].contains(&form);
        let expected = if !is_name {
            ("address", "南京西路1266号")
        } else {
            ("name", "")
        };
        assert_eq!(a["matched"]["kind"], expected.0, "{form}");
        if expected.0 == "address" {
            assert_eq!(a["matched"]["text"], expected.1, "{form}");
        }
    }
}

#[tokio::test]
async fn every_sample_address_and_name_resolves_to_its_building() {
    let app = app().await;
    for f in sample_features("buildings.geojson") {
        let p = &f["properties"];
        let mut asks: Vec<String> = p["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        asks.push(p["name"].as_str().unwrap().to_string());
        for ask in asks {
            let r = app.get(&format!("/v1/lookup?address={}", enc(&ask))).await;
            assert_eq!(r.status, 200, "{ask}: {}", r.text());
            let a = r.json();
            assert_eq!(a["building"]["id"], p["id"], "{ask}");
            assert_eq!(
                codes(&a),
                chain_of(p["grid_code"].as_str().unwrap()),
                "{ask}"
            );
        }
    }
}

#[tokio::test]
async fn lane_addresses_resolve() {
    let app = app().await;
    let lane = sample_features("buildings.geojson")
        .into_iter()
        .find_map(|f| {
            let id = f["properties"]["id"].clone();
            f["properties"]["addresses"]
                .as_array()?
                .iter()
                .filter_map(|a| a.as_str())
                .find(|a| a.contains('弄'))
                .map(|a| (a.to_string(), id))
        })
        .expect("the sample has a lane address");
    let (address, id) = lane;
    let r = app
        .get(&format!(
            "/v1/lookup?address={}",
            enc(&format!("上海市{address}"))
        ))
        .await;
    assert_eq!(r.status, 200, "{address}: {}", r.text());
    assert_eq!(r.json()["building"]["id"], id);
}

#[tokio::test]
async fn an_unknown_address_is_404_with_suggestions() {
    let app = app().await;
    let r = app
        .get(&format!("/v1/lookup?address={}", enc("南京西路1268号")))
        .await;
    let p = r.problem(404);
    let suggestions = p["suggestions"].as_array().expect("suggestions");
    assert!(!suggestions.is_empty());
    assert!(
        suggestions
            .iter()
            .all(|s| s["text"].as_str().is_some_and(|t| t.contains("南京西路")))
    );
    let r = app
        .get(&format!("/v1/lookup?address={}", enc("Plaza 67")))
        .await;
    let p = r.problem(404);
    let texts: Vec<String> = p["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["text"].as_str().map(str::to_string))
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("66") || t.contains("恒隆")),
        "{texts:?}"
    );
}

#[tokio::test]
async fn a_point_outside_every_grid_is_404() {
    let app = app().await;
    for (lon, lat) in [
        (121.0, 31.0),
        (0.0, 0.0),
        (-180.0, -90.0),
        (121.4406, 31.30),
    ] {
        let r = app.get(&format!("/v1/lookup?lon={lon}&lat={lat}")).await;
        let p = r.problem(404);
        assert_eq!(p["type"], "/problems/not-covered");
    }
}

#[tokio::test]
async fn malformed_lookups_are_400_naming_the_parameter() {
    let app = app().await;
    for (query, parameter) in [
        ("lon=abc&lat=31.2", "lon"),
        ("lon=121.4&lat=95", "lat"),
        ("lon=181&lat=31.2", "lon"),
        ("lon=NaN&lat=31.2", "lon"),
        ("lon=inf&lat=31.2", "lon"),
        ("lon=121.4", "lat"),
        ("lat=31.2", "lon"),
        ("", "lon"),
        ("lon=121.4&lat=31.2&address=x", "address"),
        ("lon=121.4&lat=31.2&crs=epsg3857", "crs"),
        ("lon=121.4&lat=31.2&tolerance_m=-1", "tolerance_m"),
        ("lon=121.4&lat=31.2&tolerance_m=5000", "tolerance_m"),
    ] {
        let r = app.get(&format!("/v1/lookup?{query}")).await;
        let p = r.problem(400);
        assert_eq!(p["parameter"], parameter, "{query}");
    }
    for address in ["", "   ", &"南".repeat(300)] {
        let r = app
            .get(&format!("/v1/lookup?address={}", enc(address)))
            .await;
        assert_eq!(r.problem(400)["parameter"], "address");
    }
}

#[tokio::test]
async fn building_coverage_matches_the_point_answer() {
    let app = app().await;
    let plaza = building_with_address("南京西路1266号");
    let id = plaza["properties"]["id"].as_str().unwrap();
    let r = app
        .get(&format!("/v1/buildings/{}/coverage", enc(id)))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a = r.json();
    assert_eq!(a["building"]["id"], id);
    assert_eq!(
        codes(&a),
        chain_of(plaza["properties"]["grid_code"].as_str().unwrap())
    );
    app.get("/v1/buildings/no-such-building/coverage")
        .await
        .problem(404);
    app.get("/v1/buildings/%FF/coverage").await.problem(400);
    app.get("/v1/buildings/B001/coverage?tolerance_m=x")
        .await
        .problem(400);
}

/// A role vacant in a grid is filled from the nearest ancestor, marked inherited.
#[tokio::test]
async fn vacant_roles_fall_back_to_the_enclosing_grid() {
    let app = app().await;
    let leaders = std::fs::read_to_string(geodata_dir().join("leaders.csv")).unwrap();
    let held: Vec<(String, String)> = leaders
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut parts = l.split(',');
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect();
    let holds = |code: &str, role: &str| held.iter().any(|(c, r)| c == code && r == role);
    let mut checked = 0;
    for f in sample_features("buildings.geojson") {
        let grid = f["properties"]["grid_code"].as_str().unwrap().to_string();
        let chain = chain_of(&grid);
        for role in ["bac_convener", "party_worker"] {
            let r = app
                .get(&format!(
                    "/v1/buildings/{}/coverage",
                    enc(f["properties"]["id"].as_str().unwrap())
                ))
                .await;
            let a = r.json();
            let holder = chain.iter().rev().find(|c| holds(c, role));
            match holder {
                Some(code) => {
                    assert_eq!(
                        a["leaders"][role]["grid_code"],
                        code.as_str(),
                        "{grid} {role}"
                    );
                    assert_eq!(
                        a["leaders"][role]["inherited"],
                        code != &grid,
                        "{grid} {role}"
                    );
                    if code != &grid {
                        assert_eq!(a["leaders"]["inherited"], true);
                        checked += 1;
                    }
                }
                None => assert!(a["leaders"][role].is_null()),
            }
        }
    }
    assert!(
        checked > 0,
        "the sample leaves some roles vacant on purpose"
    );
}

#[tokio::test]
async fn service_teams_fall_back_too() {
    let app = app().await;
    let teams: Value =
        serde_json::from_str(&std::fs::read_to_string(geodata_dir().join("teams.json")).unwrap())
            .unwrap();
    let team_of: HashMap<String, String> = teams
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| {
            let id = t["id"].as_str().unwrap().to_string();
            t["grid_codes"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(move |c| Some((c.as_str()?.to_string(), id.clone())))
        })
        .collect();
    let mut inherited = 0;
    for f in sample_features("buildings.geojson") {
        let grid = f["properties"]["grid_code"].as_str().unwrap().to_string();
        let chain = chain_of(&grid);
        let a = app
            .get(&format!(
                "/v1/buildings/{}/coverage",
                enc(f["properties"]["id"].as_str().unwrap())
            ))
            .await
            .json();
        match chain.iter().rev().find(|c| team_of.contains_key(*c)) {
            Some(code) => {
                assert_eq!(a["service_team"]["grid_code"], code.as_str());
                assert_eq!(a["service_team"]["id"], team_of[code].as_str());
                assert_eq!(a["service_team"]["inherited"], code != &grid);
                assert!(!a["service_team"]["members"].as_array().unwrap().is_empty());
                inherited += usize::from(code != &grid);
            }
            None => assert!(a["service_team"].is_null()),
        }
    }
    assert!(inherited > 0);
}

#[tokio::test]
async fn contacts_only_for_authorised_callers() {
    let app = app().await;
    let contacts = sample_contacts();
    assert!(contacts.len() > 10);
    let plaza = building_with_address("南京西路1266号");
    let (lon, lat) = inside(&plaza);
    let uri = format!("/v1/lookup?lon={lon}&lat={lat}");
    let mut strings = Vec::new();
    all_strings(&app.get(&uri).await.json(), &mut strings);
    for c in &contacts {
        assert!(!strings.contains(c), "anonymous answer leaks {c}");
    }
    assert!(!strings.iter().any(|s| s == "phone" || s == "email"));
    for token in [DISPATCHER, ADMIN] {
        let a = app.get_as(&uri, token).await.json();
        let mut strings = Vec::new();
        all_strings(&a, &mut strings);
        assert!(
            strings.iter().any(|s| contacts.contains(s)),
            "an authorised answer shows contacts"
        );
        let phone = a["leaders"]["party_worker"]["phone"]
            .as_str()
            .or(a["leaders"]["bac_convener"]["phone"].as_str());
        assert!(phone.is_some());
    }
    let r = app.get_as(&uri, "wrong-token").await;
    r.problem(401);
    assert!(r.headers.contains_key("www-authenticate"));
    let r = app
        .request(
            axum::http::Method::GET,
            &uri,
            &[("authorization", "Basic abc")],
            None,
        )
        .await;
    r.problem(401);
}

#[tokio::test]
async fn a_batch_answers_every_item_in_order() {
    let app = app().await;
    let plaza = building_with_address("南京西路1266号");
    let (lon, lat) = inside(&plaza);
    let (gx, gy) = from_wgs84(Crs::Gcj02, lon, lat);
    let id = plaza["properties"]["id"].clone();
    let body = json!({"items": [
        {"lon": lon, "lat": lat},
        {"address": "1266 West Nanjing Road"},
        {"building": id},
        {"lon": gx, "lat": gy, "crs": "gcj02"},
        {"lon": 121.0, "lat": 31.0},
        {"address": "火星路1号"},
        {"lon": "x", "lat": 31.0},
        {"lat": 31.0},
        {"lon": lon, "lat": lat, "address": "南京西路1266号"},
        {"building": "nope"},
        {"lon": lon, "lat": lat, "crs": "utm"},
        42,
    ]});
    let r = app.post_json("/v1/lookup/batch", &body, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    let statuses: Vec<u64> = results
        .iter()
        .map(|x| x["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 404, 404, 400, 400, 400, 404, 400, 400]
    );
    for ok in &results[..4] {
        assert_eq!(ok["answer"]["building"]["id"], id);
    }
    for bad in &results[4..] {
        assert!(
            bad["problem"]["detail"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert!(bad.get("answer").is_none());
    }
    let mut strings = Vec::new();
    all_strings(&r.json(), &mut strings);
    assert!(
        !sample_contacts().iter().any(|c| strings.contains(c)),
        "anonymous batch leaks contacts"
    );
    let r = app
        .post_json("/v1/lookup/batch", &body, Some(DISPATCHER))
        .await;
    let mut strings = Vec::new();
    all_strings(&r.json(), &mut strings);
    assert!(
        sample_contacts().iter().any(|c| strings.contains(c)),
        "a dispatcher's batch shows contacts"
    );
}

/// A large batch is answered on several cores; the results must still come back in the
/// request's order, each one answering its own item.
#[tokio::test]
async fn a_large_batch_keeps_the_order_of_its_items() {
    let app = app().await;
    let buildings = sample_features("buildings.geojson");
    let items: Vec<Value> = (0..5_000)
        .map(|i| match i % 3 {
            0 => json!({"building": buildings[i % buildings.len()]["properties"]["id"]}),
            1 => json!({"lon": 0.0, "lat": i as f64 / 1000.0}),
            _ => json!({"building": format!("missing-{i}")}),
        })
        .collect();
    let r = app
        .post_json("/v1/lookup/batch", &json!({"items": items}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().expect("results").clone();
    assert_eq!(results.len(), items.len());
    for (i, result) in results.iter().enumerate() {
        match i % 3 {
            0 => assert_eq!(
                result["answer"]["building"]["id"],
                buildings[i % buildings.len()]["properties"]["id"],
                "item {i}"
            ),
            1 => {
                assert_eq!(result["status"], 404, "item {i}");
                let detail = result["problem"]["detail"].as_str().unwrap_or_default();
                assert!(
                    detail.contains(&format!("lat={}", i as f64 / 1000.0)),
                    "item {i}: {detail}"
                );
            }
            _ => {
                let detail = result["problem"]["detail"].as_str().unwrap_or_default();
                assert!(
                    detail.contains(&format!("missing-{i}'")),
                    "item {i}: {detail}"
                );
            }
        }
    }
}

/// A batch body sent as written (JSON the test cannot build as a `Value`).
async fn post_batch_text(app: &App, body: String) -> Reply {
    app.request(
        axum::http::Method::POST,
        "/v1/lookup/batch",
        &[("content-type", "application/json")],
        Some(body.into_bytes()),
    )
    .await
}

/// A number the JSON reader cannot hold fails its own item, not the batch around it.
#[tokio::test]
async fn an_unreadable_number_fails_only_its_item() {
    let app = app().await;
    let (lon, lat) = inside(&building_with_address("南京西路1266号"));
    let body = format!(
        r#"{{"items": [{{"lon": 1e400, "lat": 31.2}}, {{"lon": {lon}, "lat": {lat}}}, {{"lon": 121.45, "lat": -1e999}}]}}"#
    );
    let r = post_batch_text(&app, body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    let statuses: Vec<u64> = results
        .iter()
        .map(|x| x["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [400, 200, 400]);
    for bad in [&results[0], &results[2]] {
        let detail = bad["problem"]["detail"].as_str().unwrap();
        assert!(detail.contains("number out of range"), "{detail}");
        assert!(bad["answer"].is_null());
    }
    assert!(results[1]["answer"]["building"]["id"].is_string());
}

#[tokio::test]
async fn batch_limits_and_malformed_bodies() {
    let app = app().await;
    let items: Vec<Value> = (0..10_000)
        .map(|_| json!({"lon": 121.45, "lat": 31.225}))
        .collect();
    let r = app
        .post_json("/v1/lookup/batch", &json!({"items": items}), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["results"].as_array().unwrap().len(), 10_000);
    let items: Vec<Value> = (0..10_001).map(|_| json!({"address": "x"})).collect();
    let p = app
        .post_json("/v1/lookup/batch", &json!({"items": items}), None)
        .await
        .problem(413);
    assert!(p["detail"].as_str().unwrap().contains("10000"));
    app.post_json("/v1/lookup/batch", &json!({"items": 3}), None)
        .await
        .problem(400);
    app.post_json("/v1/lookup/batch", &json!([1, 2]), None)
        .await
        .problem(400);
    let r = app
        .request(
            axum::http::Method::POST,
            "/v1/lookup/batch",
            &[],
            Some(b"{not json".to_vec()),
        )
        .await;
    r.problem(400);
    let r = app
        .request(
            axum::http::Method::POST,
            "/v1/lookup/batch",
            &[("content-type", "text/plain")],
            Some(b"{}".to_vec()),
        )
        .await;
    r.problem(415);
    let r = app
        .post_json(
            "/v1/lookup/batch",
            &json!({"items": [], "tolerance_m": -3}),
            None,
        )
        .await;
    r.problem(400);
    // a body over the 8 MiB limit is refused before it is parsed
    let huge = format!("{{\"items\": [\"{}\"]}}", "x".repeat(9 * 1024 * 1024));
    let r = post_batch_text(&app, huge).await;
    r.problem(413);
    let r = app
        .post_json("/v1/lookup/batch", &json!({"items": []}), None)
        .await;
    assert_eq!(r.json()["results"], json!([]));
}
