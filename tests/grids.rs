//! Grids and leader edits over HTTP: reading, listing, replacing leaders with every error path,
//! persistence across a restart, and the operational endpoints.

mod common;

use axum::http::Method;
use common::*;
use gridatlas::api::{self, AppState, AuthConfig};
use serde_json::{Value, json};

fn first_code(level: &str) -> String {
    sample_features("grids.geojson")
        .iter()
        .filter(|f| f["properties"]["level"] == level)
        .filter_map(|f| f["properties"]["code"].as_str().map(str::to_string))
        .min()
        .expect("a grid of that level")
}

#[tokio::test]
async fn a_grid_in_detail() {
    let app = app().await;
    let code = first_code("building_group");
    let r = app.get(&format!("/v1/grids/{code}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let g = r.json();
    assert_eq!(g["code"], code.as_str());
    assert_eq!(g["level"], "building_group");
    assert!(g["area_m2"].as_f64().unwrap() > 1000.0);
    let expected_children: Vec<String> = sample_features("grids.geojson")
        .iter()
        .filter(|f| f["properties"]["parent_code"] == code.as_str())
        .filter_map(|f| f["properties"]["code"].as_str().map(str::to_string))
        .collect();
    let mut children: Vec<String> = g["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str().map(str::to_string))
        .collect();
    children.sort();
    let mut expected = expected_children;
    expected.sort();
    assert_eq!(children, expected);
    assert!(matches!(
        g["geometry"]["type"].as_str(),
        Some("Polygon" | "MultiPolygon")
    ));
    assert_eq!(g["leaders"]["grid_code"], code.as_str());
    app.get("/v1/grids/999").await.problem(404);
}

#[tokio::test]
async fn grids_are_listed_by_level_and_parent() {
    let app = app().await;
    let all = app.get("/v1/grids").await.json();
    let n = sample_features("grids.geojson").len();
    assert_eq!(all["grids"].as_array().unwrap().len(), n);
    let neighborhoods = app.get("/v1/grids?level=neighborhood").await.json();
    let list = neighborhoods["grids"].as_array().unwrap();
    assert!(list.len() >= 3);
    assert!(
        list.iter()
            .all(|g| g["level"] == "neighborhood" && g["parent_code"].is_null())
    );
    let parent = first_code("neighborhood");
    let children = app.get(&format!("/v1/grids?parent={parent}")).await.json();
    let children = children["grids"].as_array().unwrap();
    assert!(!children.is_empty());
    assert!(children.iter().all(|g| g["parent_code"] == parent.as_str()));
    let none = app
        .get(&format!("/v1/grids?parent={parent}&level=building"))
        .await
        .json();
    assert!(none["grids"].as_array().unwrap().is_empty());
    app.get("/v1/grids?level=city").await.problem(400);
    app.get("/v1/grids?parent=nope").await.problem(404);
}

#[tokio::test]
async fn grid_details_show_contacts_only_to_authorised_callers() {
    let app = app().await;
    let code = first_code("neighborhood");
    let contacts = sample_contacts();
    let mut strings = Vec::new();
    all_strings(
        &app.get(&format!("/v1/grids/{code}")).await.json(),
        &mut strings,
    );
    assert!(!contacts.iter().any(|c| strings.contains(c)));
    let mut strings = Vec::new();
    all_strings(
        &app.get_as(&format!("/v1/grids/{code}"), DISPATCHER)
            .await
            .json(),
        &mut strings,
    );
    assert!(contacts.iter().any(|c| strings.contains(c)));
    let mut strings = Vec::new();
    all_strings(&app.get("/v1/grids").await.json(), &mut strings);
    assert!(!contacts.iter().any(|c| strings.contains(c)));
}

#[tokio::test]
async fn an_admin_replaces_leaders_and_lookups_follow() {
    let app = app().await;
    let code = first_code("building");
    let existing = std::fs::read_to_string(geodata_dir().join("people.csv")).unwrap();
    let person_id = existing
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let body = json!({
        "bac_convener": {"name": "王测试", "phone": "021-5555-0999"},
        "party_worker": {"person_id": person_id},
    });
    let r = app
        .put_json(&format!("/v1/grids/{code}/leaders"), &body, Some(ADMIN))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let leaders = r.json();
    assert_eq!(leaders["bac_convener"]["name"], "王测试");
    assert_eq!(leaders["bac_convener"]["inherited"], false);
    assert_eq!(leaders["bac_convener"]["phone"], "021-5555-0999");
    // the new leader is answered publicly by name, without the phone
    let detail = app.get(&format!("/v1/grids/{code}")).await.json();
    assert_eq!(detail["leaders"]["bac_convener"]["name"], "王测试");
    assert!(detail["leaders"]["bac_convener"].get("phone").is_none());
    assert_eq!(
        detail["leaders"]["party_worker"]["grid_code"],
        code.as_str()
    );

    // vacating both roles makes them fall back to the parent
    let r = app
        .put_json(
            &format!("/v1/grids/{code}/leaders"),
            &json!({"bac_convener": null, "party_worker": null}),
            Some(ADMIN),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let leaders = r.json();
    for role in ["bac_convener", "party_worker"] {
        if !leaders[role].is_null() {
            assert_eq!(leaders[role]["inherited"], true);
            assert_ne!(leaders[role]["grid_code"], code.as_str());
        }
    }
    assert_eq!(leaders["inherited"], true);

    // the edits were audited and survive a restart
    let url = format!("sqlite://{}", app.dir.path().join("atlas.db").display());
    let (store, atlas) = gridatlas::service::start(&url, Some(&geodata_dir()))
        .await
        .unwrap();
    let again = api::router(AppState::new(atlas, store, AuthConfig::default()));
    let restarted = App {
        router: again,
        store: app.store.clone(),
        atlas: app.atlas.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let detail = restarted.get(&format!("/v1/grids/{code}")).await.json();
    assert_eq!(detail["leaders"]["inherited"], true);
}

/// Edits racing each other on several threads all succeed (SQLite takes its write lock up
/// front instead of failing with "database is locked"), and each one is answered afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_leader_edits_all_succeed() {
    let app = app().await;
    let codes: Vec<String> = sample_features("grids.geojson")
        .iter()
        .filter_map(|f| f["properties"]["code"].as_str().map(str::to_string))
        .take(16)
        .collect();
    let mut tasks = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let router = app.router.clone();
        let request = axum::http::Request::builder()
            .method(Method::PUT)
            .uri(format!("/v1/grids/{code}/leaders"))
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"bac_convener": {"name": format!("并发{i}")}, "party_worker": null})
                    .to_string(),
            ))
            .unwrap();
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            router.oneshot(request).await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    for (i, code) in codes.iter().enumerate() {
        let g = app.get(&format!("/v1/grids/{code}")).await.json();
        assert_eq!(g["leaders"]["bac_convener"]["name"], format!("并发{i}"));
    }
}

#[tokio::test]
async fn leader_edits_need_an_admin_token() {
    let app = app().await;
    let code = first_code("building");
    let uri = format!("/v1/grids/{code}/leaders");
    let body = json!({"bac_convener": null, "party_worker": null});
    let before = app.get(&format!("/v1/grids/{code}")).await.json();
    app.put_json(&uri, &body, None).await.problem(401);
    app.put_json(&uri, &body, Some("not-a-token"))
        .await
        .problem(401);
    app.put_json(&uri, &body, Some(DISPATCHER))
        .await
        .problem(403);
    // with no admin token configured, writes are disabled for everyone
    let locked = app_with(AuthConfig {
        admin_token: None,
        dispatcher_token: Some(DISPATCHER.into()),
        planner_token: None,
    })
    .await;
    locked
        .put_json(&uri, &body, Some(DISPATCHER))
        .await
        .problem(403);
    locked.put_json(&uri, &body, None).await.problem(403);
    // nothing changed
    assert_eq!(
        app.get(&format!("/v1/grids/{code}")).await.json()["leaders"],
        before["leaders"]
    );
}

#[tokio::test]
async fn malformed_leader_edits_are_refused_and_change_nothing() {
    let app = app().await;
    let code = first_code("building");
    let uri = format!("/v1/grids/{code}/leaders");
    let before = app.get_as(&format!("/v1/grids/{code}"), ADMIN).await.json();
    for body in [
        json!({"bac_convener": null}),
        json!({"party_worker": null}),
        json!({"bac_convener": {"person_id": "no-such-person"}, "party_worker": null}),
        json!({"bac_convener": {"name": ""}, "party_worker": null}),
        json!({"bac_convener": {"name": "x".repeat(500)}, "party_worker": null}),
        json!({"bac_convener": {"name": "a\u{0007}b"}, "party_worker": null}),
        json!({"bac_convener": 5, "party_worker": null}),
        json!({"bac_convener": null, "party_worker": null, "extra": 1}),
        json!([1, 2]),
    ] {
        let r = app.put_json(&uri, &body, Some(ADMIN)).await;
        r.problem(400);
    }
    let r = app
        .request(
            Method::PUT,
            &uri,
            &[("authorization", &format!("Bearer {ADMIN}"))],
            Some(b"{oops".to_vec()),
        )
        .await;
    r.problem(400);
    app.put_json(
        "/v1/grids/nope/leaders",
        &json!({"bac_convener": null, "party_worker": null}),
        Some(ADMIN),
    )
    .await
    .problem(404);
    let after = app.get_as(&format!("/v1/grids/{code}"), ADMIN).await.json();
    assert_eq!(after["leaders"], before["leaders"]);
}

#[tokio::test]
async fn health_readiness_and_openapi() {
    let app = app().await;
    assert_eq!(app.get("/healthz").await.json()["status"], "ok");
    let r = app.get("/readyz").await;
    assert_eq!(r.status, 200);
    let ready = r.json();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["store"], "sqlite");
    assert_eq!(
        ready["snapshot"]["grids"].as_u64().unwrap() as usize,
        sample_features("grids.geojson").len()
    );
    let spec = app.get("/openapi.json").await.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with('3'));
    let paths = spec["paths"].as_object().unwrap();
    for p in [
        "/v1/lookup",
        "/v1/lookup/batch",
        "/v1/buildings/{id}/coverage",
        "/v1/layers/{level}",
        "/v1/grids",
        "/v1/grids/{code}",
        "/v1/grids/{code}/leaders",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }
    // The answer is documented field by field, and the layer's paging parameters are listed.
    let answer = &spec["components"]["schemas"]["Answer"]["properties"];
    for field in [
        "location",
        "grids",
        "building",
        "leaders",
        "service_team",
        "escalation",
        "border",
    ] {
        assert!(
            answer.get(field).is_some(),
            "Answer schema lacks {field}: {answer}"
        );
    }
    let layer_params: Vec<&str> = spec["paths"]["/v1/layers/{level}"]["get"]["parameters"]
        .as_array()
        .expect("layer parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in ["bbox", "crs", "limit", "offset"] {
        assert!(
            layer_params.contains(&name),
            "layer lacks {name}: {layer_params:?}"
        );
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = app().await;
    app.get("/v2/whatever").await.problem(404);
    let r = app.request(Method::DELETE, "/v1/lookup", &[], None).await;
    r.problem(405);
    let r: Value = app
        .request(Method::POST, "/v1/grids", &[], None)
        .await
        .problem(405);
    assert!(r["detail"].as_str().is_some());
}

/// Two instances on one SQLite file: an edit made through one is answered by the other
/// (the change feed follows the audit log), with no restart.
#[tokio::test]
async fn a_second_instance_on_the_same_file_follows_edits() {
    let first = app().await;
    let url = format!("sqlite://{}", first.dir.path().join("atlas.db").display());
    let (store, atlas) = gridatlas::service::start(&url, Some(&geodata_dir()))
        .await
        .unwrap();
    let second = api::router(AppState::new(atlas, store, AuthConfig::default()));
    let second = App {
        router: second,
        store: first.store.clone(),
        atlas: first.atlas.clone(),
        dir: tempfile::tempdir().unwrap(),
    };
    let code = first_code("building_group");
    let body = json!({"bac_convener": {"name": "另一实例"}, "party_worker": null});
    let r = first
        .put_json(&format!("/v1/grids/{code}/leaders"), &body, Some(ADMIN))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Poll the second instance until it answers the edit; the deadline only bounds a failure.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let g = second.get(&format!("/v1/grids/{code}")).await.json();
        if g["leaders"]["bac_convener"]["name"] == "另一实例" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second instance never saw the edit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
