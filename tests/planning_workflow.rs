//! The planners' workflow over HTTP on the sample: draft a plan, rebalance a neighborhood,
//! validate, read the diff, publish, and see lookups answer from the new version now and from
//! the old one with `at=`; a second plan made from the old version is refused.

mod common;

use axum::http::Method;
use chrono::{SecondsFormat, Utc};
use common::*;
use serde_json::{Value, json};

const HOOD: &str = "31010601202";

fn codes(answer: &Value) -> Vec<String> {
    answer["grids"]
        .as_array()
        .expect("grids")
        .iter()
        .map(|g| g["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn etag(reply: &Reply) -> String {
    reply
        .headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .expect("an ETag")
        .to_string()
}

async fn create_plan(app: &App, name: &str) -> (i64, String) {
    let reply = app
        .post_json("/v1/plans", &json!({ "name": name }), Some(PLANNER))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["status"], "draft");
    assert_eq!(body["stale"], false);
    let id = body["id"].as_i64().expect("plan id");
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/v1/plans/{id}").as_str())
    );
    (id, etag(&reply))
}

async fn publish(app: &App, id: i64, if_match: Option<&str>) -> Reply {
    let auth = format!("Bearer {PLANNER}");
    let mut headers = vec![("authorization", auth.as_str())];
    if let Some(tag) = if_match {
        headers.push(("if-match", tag));
    }
    app.request(
        Method::POST,
        &format!("/v1/plans/{id}/publish"),
        &headers,
        None,
    )
    .await
}

fn coverage_uri(building: &str, at: Option<&str>) -> String {
    match at {
        Some(t) => format!("/v1/buildings/{}/coverage?at={}", enc(building), enc(t)),
        None => format!("/v1/buildings/{}/coverage", enc(building)),
    }
}

#[tokio::test]
async fn rebalance_validate_diff_publish_and_history() {
    let app = app().await;
    let (plan, tag) = create_plan(&app, "南京西路 rebalance").await;
    let (rival, rival_tag) = create_plan(&app, "a rival plan from the same version").await;
    assert_eq!(tag, rival_tag, "both plans start from the same version");

    // Rebalance the neighborhood into two groups of balanced employees.
    let reply = app
        .post_json(
            &format!("/v1/plans/{plan}/rebalance"),
            &json!({ "neighborhood": HOOD, "groups": 2, "weight": "employees" }),
            Some(PLANNER),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let report = reply.json();
    let groups = report["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    for g in groups {
        let dev = g["deviation"].as_f64().expect("deviation");
        assert!(dev.abs() <= 0.10 + 1e-9, "group {g} deviates by {dev}");
        assert_eq!(g["contiguous"], true, "group {g}");
        let pp = g["polsby_popper"].as_f64().expect("polsby_popper");
        assert!(pp > 0.0 && pp <= 1.0, "group {g}");
    }
    let moved_out: u64 = groups.iter().filter_map(|g| g["moved_out"].as_u64()).sum();
    assert_eq!(report["buildings_moved"].as_u64(), Some(moved_out));
    assert_eq!(report["plan"]["id"].as_i64(), Some(plan));

    // The plan validates.
    let validation = app
        .get_as(&format!("/v1/plans/{plan}/validation"), PLANNER)
        .await;
    assert_eq!(validation.status, 200, "{}", validation.text());
    let validation = validation.json();
    assert_eq!(validation["ok"], true, "{validation}");
    assert_eq!(validation["errors"], 0);

    // The diff lists what changes and who is concerned; no contact detail appears.
    let diff = app.get_as(&format!("/v1/plans/{plan}/diff"), PLANNER).await;
    assert_eq!(diff.status, 200, "{}", diff.text());
    let diff = diff.json();
    let impact = diff["impact"].as_array().expect("impact").clone();
    assert!(!impact.is_empty(), "a rebalance concerns someone: {diff}");
    let mut strings = Vec::new();
    all_strings(&diff, &mut strings);
    for contact in sample_contacts() {
        assert!(!strings.contains(&contact), "{contact} leaked in the diff");
    }
    for item in &impact {
        assert_ne!(item["before"], item["after"], "{item}");
    }
    // A building whose building grid changes: its answer moves from before to after.
    let moved = impact
        .iter()
        .find(|i| i["before"]["grid"] != i["after"]["grid"] && i["after"]["grid"].is_string())
        .expect("a building whose grid changes");
    let building = moved["building"].as_str().expect("building id").to_string();
    let chain_before: Vec<String> =
        serde_json::from_value(moved["before"]["chain"].clone()).expect("chain");
    let chain_after: Vec<String> =
        serde_json::from_value(moved["after"]["chain"].clone()).expect("chain");

    // Drafts do not affect lookups.
    let now = app.get(&coverage_uri(&building, None)).await.json();
    let mut answered = codes(&now);
    answered.reverse();
    assert_eq!(
        answered, chain_before,
        "lookups answer the atlas, not the draft"
    );

    // Publish: without If-Match, with the wrong one, then right.
    publish(&app, plan, None).await.problem(428);
    publish(&app, plan, Some("\"999\"")).await.problem(412);
    let before_publish = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let published = publish(&app, plan, Some(&tag)).await;
    assert_eq!(published.status, 200, "{}", published.text());
    let published = published.json();
    let version = published["version"].as_u64().expect("version");
    assert_eq!(
        format!("\"{}\"", version - 1),
        tag,
        "a publish adds one version"
    );

    // Lookups answer from the new version at once …
    let after = app.get(&coverage_uri(&building, None)).await;
    assert_eq!(after.status, 200, "{}", after.text());
    let mut answered = codes(&after.json());
    answered.reverse();
    assert_eq!(answered, chain_after);
    // … and from the old one with at= before the publish.
    let old = app
        .get(&coverage_uri(&building, Some(&before_publish)))
        .await;
    assert_eq!(old.status, 200, "{}", old.text());
    let mut answered = codes(&old.json());
    answered.reverse();
    assert_eq!(answered, chain_before);

    // The batch endpoint too: now and then, in one request each.
    let batch = |at: Option<&str>| {
        let uri = match at {
            Some(t) => format!("/v1/lookup/batch?at={}", enc(t)),
            None => "/v1/lookup/batch".to_string(),
        };
        let body = json!({ "items": [{ "building": building }] });
        let app = &app;
        async move {
            let reply = app.post_json(&uri, &body, None).await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            let mut answered = codes(&reply.json()["results"][0]["answer"]);
            answered.reverse();
            answered
        }
    };
    assert_eq!(batch(None).await, chain_after);
    assert_eq!(batch(Some(&before_publish)).await, chain_before);

    let ready = app.get("/readyz").await.json();
    assert_eq!(ready["snapshot"]["version"].as_u64(), Some(version));
    assert_eq!(ready["snapshot"]["history_snapshots"], 1, "{ready}");

    // The diff of the published plan is read from history, and is the one shown before.
    let diff_after = app.get_as(&format!("/v1/plans/{plan}/diff"), PLANNER).await;
    assert_eq!(diff_after.status, 200, "{}", diff_after.text());
    assert_eq!(diff_after.json(), diff);

    // The rival plan, made from the old version, is refused; so is a second publish.
    let refused = publish(&app, rival, Some(&rival_tag)).await.problem(412);
    assert_eq!(refused["atlas_version"].as_u64(), Some(version));
    let rival_body = app
        .get_as(&format!("/v1/plans/{rival}"), PLANNER)
        .await
        .json();
    assert_eq!(rival_body["stale"], true);
    let stale = app
        .post_json(
            &format!("/v1/plans/{rival}/recompute"),
            &json!({ "neighborhood": HOOD }),
            Some(PLANNER),
        )
        .await
        .problem(409);
    assert_eq!(stale["type"], "/problems/stale-plan");
    publish(&app, plan, Some(&tag)).await.problem(409);
    let edit_after = app
        .post_json(
            &format!("/v1/plans/{plan}/recompute"),
            &json!({ "neighborhood": HOOD }),
            Some(PLANNER),
        )
        .await;
    edit_after.problem(409);

    // History: the building grid the building left is retired, with both ends dated.
    let old_grid = chain_before[0].clone();
    let new_grid = chain_after[0].clone();
    assert_ne!(old_grid, new_grid);
    let history = app.get(&format!("/v1/grids/{old_grid}/history")).await;
    assert_eq!(history.status, 200, "{}", history.text());
    let history = history.json();
    assert_eq!(history["current"], false, "{history}");
    let last = history["versions"]
        .as_array()
        .and_then(|v| v.last())
        .expect("a version");
    assert!(last["valid_to"].is_string(), "{history}");
    let mut strings = Vec::new();
    all_strings(&history, &mut strings);
    for contact in sample_contacts() {
        assert!(!strings.contains(&contact), "{contact} leaked in history");
    }
    let history = app
        .get(&format!("/v1/grids/{new_grid}/history"))
        .await
        .json();
    assert_eq!(history["current"], true);
    // The version log has the publish last.
    let versions = app.get("/v1/versions").await.json();
    assert_eq!(versions["current"].as_u64(), Some(version));
    let last = versions["versions"]
        .as_array()
        .and_then(|v| v.last())
        .expect("a version");
    assert_eq!(last["action"], "publish");
    assert_eq!(last["plan_id"].as_i64(), Some(plan));

    // The old grid answers with at=, and is gone now.
    app.get(&format!("/v1/grids/{old_grid}")).await.problem(404);
    let then = app
        .get(&format!("/v1/grids/{old_grid}?at={}", enc(&before_publish)))
        .await;
    assert_eq!(then.status, 200, "{}", then.text());
    // Layers too.
    let layer_then = app
        .get(&format!("/v1/layers/building?at={}", enc(&before_publish)))
        .await
        .json();
    let layer_now = app.get("/v1/layers/building").await.json();
    let has = |layer: &Value, code: &str| {
        layer["features"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x["properties"]["code"] == code))
    };
    assert!(has(&layer_then, &old_grid) && !has(&layer_then, &new_grid));
    assert!(has(&layer_now, &new_grid) && !has(&layer_now, &old_grid));
}

#[tokio::test]
async fn plans_survive_a_restart_and_need_a_planner() {
    let app = app().await;
    let (plan, _) = create_plan(&app, "kept").await;
    let reply = app
        .post_json(
            &format!("/v1/plans/{plan}/recompute"),
            &json!({ "neighborhood": HOOD }),
            Some(PLANNER),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let changed = reply.json()["changes"]["grids_changed"].clone();
    assert!(
        changed.as_array().is_some_and(|c| !c.is_empty()),
        "recompute redraws the groups: {changed}"
    );

    let url = format!("sqlite://{}", app.dir.path().join("atlas.db").display());
    let (store, atlas) = gridatlas::service::start(&url, Some(&geodata_dir()))
        .await
        .expect("restart");
    let restarted = App {
        router: gridatlas::api::router(gridatlas::api::AppState::new(
            atlas,
            store,
            gridatlas::api::AuthConfig {
                planner_token: Some(PLANNER.into()),
                ..Default::default()
            },
        )),
        store: app.store.clone(),
        atlas: app.atlas.clone(),
        dir: tempfile::tempdir().expect("temp dir"),
    };
    let kept = restarted
        .get_as(&format!("/v1/plans/{plan}"), PLANNER)
        .await;
    assert_eq!(kept.status, 200, "{}", kept.text());
    assert_eq!(kept.json()["changes"]["grids_changed"], changed);
    let list = restarted.get_as("/v1/plans", PLANNER).await.json();
    assert_eq!(list["plans"][0]["id"].as_i64(), Some(plan));

    // Credentials: anonymous 401, dispatcher 403, admin allowed.
    app.post_json("/v1/plans", &json!({}), None)
        .await
        .problem(401);
    app.post_json("/v1/plans", &json!({}), Some(DISPATCHER))
        .await
        .problem(403);
    app.get(&format!("/v1/plans/{plan}")).await.problem(401);
    let by_admin = app.post_json("/v1/plans", &json!({}), Some(ADMIN)).await;
    assert_eq!(by_admin.status, 201, "{}", by_admin.text());
    assert_eq!(by_admin.json()["name"], "untitled plan");
    // With no planner or admin token configured, planning is off.
    let closed = app_with(gridatlas::api::AuthConfig::default()).await;
    closed
        .post_json("/v1/plans", &json!({}), None)
        .await
        .problem(403);
}

#[tokio::test]
async fn bad_plan_requests_get_problems_and_change_nothing() {
    let app = app().await;
    let (plan, tag) = create_plan(&app, "errors").await;
    let uri = |s: &str| format!("/v1/plans/{plan}/{s}");
    let post = |path: String, body: Value| {
        let app = &app;
        async move { app.post_json(&path, &body, Some(PLANNER)).await }
    };

    app.get_as("/v1/plans/999999", PLANNER).await.problem(404);
    app.get_as("/v1/plans/abc", PLANNER).await.problem(400);
    post(
        "/v1/plans/999999/recompute".into(),
        json!({ "neighborhood": HOOD }),
    )
    .await
    .problem(404);
    post("/v1/plans".into(), json!({ "name": "x\u{7}y" }))
        .await
        .problem(400);
    post("/v1/plans".into(), json!({ "colour": "red" }))
        .await
        .problem(400);

    // Recompute and rebalance: unknown grid, not a neighborhood, bad K, bad weight.
    let p = post(uri("recompute"), json!({ "neighborhood": "999" }))
        .await
        .problem(400);
    assert_eq!(p["parameter"], "neighborhood");
    let group = format!("{HOOD}01");
    post(uri("recompute"), json!({ "neighborhood": group }))
        .await
        .problem(400);
    post(uri("recompute"), json!({})).await.problem(400);
    let p = post(
        uri("rebalance"),
        json!({ "neighborhood": HOOD, "groups": 0, "weight": "employees" }),
    )
    .await
    .problem(400);
    assert_eq!(p["parameter"], "groups");
    post(
        uri("rebalance"),
        json!({ "neighborhood": HOOD, "groups": 2, "weight": "height" }),
    )
    .await
    .problem(400);
    // More groups than a contiguous balanced split allows.
    post(
        uri("rebalance"),
        json!({ "neighborhood": HOOD, "groups": 50, "weight": "employees" }),
    )
    .await
    .problem(422);

    // Edits that do not fit.
    post(uri("edits"), json!({ "op": "fly" }))
        .await
        .problem(400);
    post(
        uri("edits"),
        json!({ "op": "rename", "code": "nope", "name": "x" }),
    )
    .await
    .problem(422);
    post(
        uri("edits"),
        json!({ "op": "replace_geometry", "code": HOOD,
                "geometry": { "type": "Polygon", "coordinates": [[[121.0, 31.0], [121.1, 31.1], [121.0, 31.1], [121.1, 31.0], [121.0, 31.0]]] } }),
    )
    .await
    .problem(422);
    post(
        uri("edits"),
        json!({ "op": "move_building", "building": "no-such-building", "group": group }),
    )
    .await
    .problem(422);

    // Nothing above changed the plan.
    let body = app
        .get_as(&format!("/v1/plans/{plan}"), PLANNER)
        .await
        .json();
    for key in ["grids_added", "grids_changed", "grids_retired"] {
        assert_eq!(body["changes"][key], json!([]), "{key}: {body}");
    }

    // A valid edit that breaks a rule: publishing it is refused with the problems.
    let neighborhood = app.get(&format!("/v1/grids/{HOOD}")).await.json();
    let children: Vec<String> =
        serde_json::from_value(neighborhood["children"].clone()).expect("children");
    let first = app.get(&format!("/v1/grids/{}", children[0])).await.json();
    let grown =
        json!({ "op": "replace_geometry", "code": children[1], "geometry": first["geometry"] });
    let reply = post(uri("edits"), grown).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["changes"]["grids_changed"],
        json!([children[1]])
    );
    let validation = app.get_as(&uri("validation"), PLANNER).await.json();
    assert_eq!(validation["ok"], false);
    let kinds: Vec<&str> = validation["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"overlap"), "{kinds:?}");
    let versions_before = app.get("/v1/versions").await.json();
    let refused = publish(&app, plan, Some(&tag)).await.problem(422);
    assert!(
        refused["problems"].as_array().is_some_and(|p| p
            .iter()
            .any(|x| x["kind"] == "overlap" && x["geometry"].is_object())),
        "{refused}"
    );
    assert_eq!(app.get("/v1/versions").await.json(), versions_before);
    let still = app.get(&format!("/v1/grids/{}", children[1])).await.json();
    assert_ne!(
        still["geometry"], first["geometry"],
        "nothing was published"
    );

    // at= that is not a time.
    app.get("/v1/lookup?lon=121.45&lat=31.23&at=yesterday")
        .await
        .problem(400);
    app.get("/v1/layers/building?at=2026-02-30")
        .await
        .problem(400);
    // Before the atlas began, no grid covers anything.
    app.get("/v1/grids?at=1990-01-01").await.json()["grids"]
        .as_array()
        .map(|g| assert!(g.is_empty()))
        .expect("a list");
    app.get("/v1/grids/000/history").await.problem(404);

    // The OpenAPI document describes every plan and history endpoint.
    let openapi = app.get("/openapi.json").await.json();
    for path in [
        "/v1/plans",
        "/v1/plans/{id}",
        "/v1/plans/{id}/edits",
        "/v1/plans/{id}/recompute",
        "/v1/plans/{id}/rebalance",
        "/v1/plans/{id}/validation",
        "/v1/plans/{id}/diff",
        "/v1/plans/{id}/publish",
        "/v1/grids/{code}/history",
        "/v1/versions",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} is not documented"
        );
    }
    let lookup_params = openapi["paths"]["/v1/lookup"]["get"]["parameters"].to_string();
    assert!(
        lookup_params.contains("\"at\""),
        "at= is documented on lookups"
    );
}

/// The structural edits over HTTP: split a building group in two along a meridian, merge the
/// parts back under a new code (the same ground), add a grid and retire it again, rename.
#[tokio::test]
async fn split_merge_add_retire_and_rename_over_http() {
    use geo::{BooleanOps, BoundingRect, MultiPolygon, Rect};

    let app = app().await;
    let (plan, _) = create_plan(&app, "structure").await;
    let edit = |body: Value| {
        let app = &app;
        async move {
            let reply = app
                .post_json(&format!("/v1/plans/{plan}/edits"), &body, Some(PLANNER))
                .await;
            assert_eq!(reply.status, 200, "{body}: {}", reply.text());
            reply.json()["changes"].clone()
        }
    };
    let group = format!("{HOOD}02");
    let detail = app.get(&format!("/v1/grids/{group}")).await.json();
    let shape: MultiPolygon<f64> = {
        let g: geojson::Geometry =
            serde_json::from_value(detail["geometry"].clone()).expect("GeoJSON");
        g.try_into().expect("a multipolygon")
    };
    let bbox = shape.bounding_rect().expect("a bounding box");
    let mid = (bbox.min().x + bbox.max().x) / 2.0;
    let half = |x0: f64, x1: f64| {
        let cut = Rect::new((x0, bbox.min().y - 1.0), (x1, bbox.max().y + 1.0)).to_polygon();
        let part = shape.intersection(&MultiPolygon(vec![cut]));
        serde_json::to_value(geojson::Geometry::from(&part)).expect("GeoJSON")
    };
    let changes = edit(json!({ "op": "split", "code": group, "parts": [
        { "code": format!("{HOOD}05"), "name": "张园西", "geometry": half(bbox.min().x - 1.0, mid) },
        { "code": format!("{HOOD}06"), "name": "张园东", "geometry": half(mid, bbox.max().x + 1.0) },
    ]}))
    .await;
    assert_eq!(
        changes["grids_retired"]
            .as_array()
            .map(|r| r.contains(&json!(group))),
        Some(true),
        "{changes}"
    );
    let added: Vec<String> = serde_json::from_value(changes["grids_added"].clone()).expect("codes");
    assert!(
        added.contains(&format!("{HOOD}05")) && added.contains(&format!("{HOOD}06")),
        "{added:?}"
    );
    // The group's building grids went to the parts, re-coded under them.
    assert!(
        added
            .iter()
            .any(|c| c.starts_with(&format!("{HOOD}05")) && c.len() == 16)
            || added
                .iter()
                .any(|c| c.starts_with(&format!("{HOOD}06")) && c.len() == 16),
        "{added:?}"
    );

    let changes = edit(
        json!({ "op": "merge", "codes": [format!("{HOOD}05"), format!("{HOOD}06")],
        "code": format!("{HOOD}07"), "name": "张园" }),
    )
    .await;
    let added: Vec<String> = serde_json::from_value(changes["grids_added"].clone()).expect("codes");
    assert!(added.contains(&format!("{HOOD}07")), "{added:?}");
    assert!(
        !added.contains(&format!("{HOOD}05")),
        "merged parts are gone: {added:?}"
    );

    // The merged group covers the same ground as the one that was split.
    let diff = app
        .get_as(&format!("/v1/plans/{plan}/diff"), PLANNER)
        .await
        .json();
    let merged_area = diff["grids_added"]
        .as_array()
        .expect("added")
        .iter()
        .find(|g| g["code"] == format!("{HOOD}07"))
        .and_then(|g| g["area_m2"].as_f64())
        .expect("area");
    let original_area = diff["grids_removed"]
        .as_array()
        .expect("removed")
        .iter()
        .find(|g| g["code"] == group)
        .and_then(|g| g["area_m2"].as_f64())
        .expect("area");
    assert!(
        (merged_area - original_area).abs() < 1.0,
        "{merged_area} vs {original_area}"
    );

    // A new building grid, then retired again: the plan no longer holds it.
    let tiny = json!({ "type": "Polygon", "coordinates": [[
        [mid, bbox.min().y + 0.0001], [mid + 0.0001, bbox.min().y + 0.0001],
        [mid + 0.0001, bbox.min().y + 0.0002], [mid, bbox.min().y + 0.0002], [mid, bbox.min().y + 0.0001]]] });
    let new_cell = format!("{HOOD}07009");
    let changes = edit(
        json!({ "op": "add", "code": new_cell, "name": "新楼宇网格", "level": "building",
        "parent_code": format!("{HOOD}07"), "geometry": tiny }),
    )
    .await;
    assert!(
        changes["grids_added"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(new_cell)))
    );
    let changes = edit(json!({ "op": "retire", "code": new_cell })).await;
    assert!(
        !changes["grids_added"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(new_cell)))
    );
    // A grid with buildings cannot be retired; a code that breaks the hierarchy cannot be added.
    let building_grid = format!("{HOOD}01001");
    app.post_json(
        &format!("/v1/plans/{plan}/edits"),
        &json!({ "op": "retire", "code": building_grid }),
        Some(PLANNER),
    )
    .await
    .problem(422);
    app.post_json(
        &format!("/v1/plans/{plan}/edits"),
        &json!({ "op": "add", "code": "42", "name": "x",
        "level": "building", "parent_code": format!("{HOOD}07"), "geometry": tiny }),
        Some(PLANNER),
    )
    .await
    .problem(422);

    let changes = edit(json!({ "op": "rename", "code": HOOD, "name": "南京西路西片", "name_en": "Nanjing Road West" })).await;
    assert!(
        changes["grids_changed"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(HOOD)))
    );
    // Split, merge and rename keep every rule: the plan has no error.
    let validation = app
        .get_as(&format!("/v1/plans/{plan}/validation"), PLANNER)
        .await
        .json();
    assert_eq!(validation["errors"], 0, "{validation}");
}
