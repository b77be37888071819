//! Map front-ends: GeoJSON layers by bbox, in WGS84 or GCJ-02, with ETag/304, gzip and CORS.

mod common;

use std::collections::BTreeSet;
use std::io::Read;

use axum::http::Method;
use common::*;
use gridatlas::geometry::crs::{Crs, from_wgs84};
use serde_json::Value;

const WHOLE: &str = "121.40,31.20,121.50,31.25";

fn sample_codes(level: &str) -> BTreeSet<String> {
    sample_features("grids.geojson")
        .iter()
        .filter(|f| f["properties"]["level"] == level)
        .filter_map(|f| f["properties"]["code"].as_str().map(str::to_string))
        .collect()
}

fn feature_codes(fc: &Value) -> BTreeSet<String> {
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["code"].as_str().map(str::to_string))
        .collect()
}

/// Signed area of a ring (positive = counter-clockwise).
fn signed_area(ring: &[Value]) -> f64 {
    ring.windows(2)
        .map(|w| {
            let (a, b) = (&w[0], &w[1]);
            a[0].as_f64().unwrap() * b[1].as_f64().unwrap()
                - b[0].as_f64().unwrap() * a[1].as_f64().unwrap()
        })
        .sum::<f64>()
        / 2.0
}

#[tokio::test]
async fn each_level_is_a_feature_collection_of_its_grids() {
    let app = app().await;
    for level in ["neighborhood", "building_group", "building"] {
        let r = app.get(&format!("/v1/layers/{level}?bbox={WHOLE}")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.content_type(), "application/geo+json");
        let fc = r.json();
        assert_eq!(fc["type"], "FeatureCollection");
        assert_eq!(feature_codes(&fc), sample_codes(level), "{level}");
        for f in fc["features"].as_array().unwrap() {
            assert_eq!(f["type"], "Feature");
            let p = &f["properties"];
            assert_eq!(p["level"], level);
            for key in [
                "code",
                "name",
                "parent_code",
                "bac_convener",
                "party_worker",
            ] {
                assert!(p.get(key).is_some(), "{key} missing");
            }
            assert_eq!(p["parent_code"].is_null(), level == "neighborhood");
            // RFC 7946: exterior rings counter-clockwise
            let polygons = match f["geometry"]["type"].as_str() {
                Some("Polygon") => vec![f["geometry"]["coordinates"].clone()],
                Some("MultiPolygon") => f["geometry"]["coordinates"].as_array().unwrap().clone(),
                other => panic!("unexpected geometry {other:?}"),
            };
            for polygon in polygons {
                let rings = polygon.as_array().unwrap();
                assert!(signed_area(rings[0].as_array().unwrap()) > 0.0);
                for hole in &rings[1..] {
                    assert!(signed_area(hole.as_array().unwrap()) < 0.0);
                }
            }
        }
    }
}

#[tokio::test]
async fn a_bbox_selects_only_intersecting_grids() {
    let app = app().await;
    // A tiny box around Jing'an Temple holds fewer grids than the whole district, and at least one.
    let small = app
        .get("/v1/layers/building_group?bbox=121.4400,31.2250,121.4410,31.2260")
        .await
        .json();
    let n = feature_codes(&small).len();
    assert!(n >= 1 && n < sample_codes("building_group").len(), "{n}");
    let none = app
        .get("/v1/layers/building?bbox=100,10,100.1,10.1")
        .await
        .json();
    assert!(none["features"].as_array().unwrap().is_empty());
    let all = app.get("/v1/layers/building").await.json();
    assert_eq!(feature_codes(&all), sample_codes("building"));
}

#[tokio::test]
async fn gcj02_layers_shift_coordinates_and_take_a_gcj02_bbox() {
    let app = app().await;
    let wgs = app.get("/v1/layers/neighborhood").await.json();
    let gcj = app.get("/v1/layers/neighborhood?crs=gcj02").await.json();
    // the first position of the first feature, for Polygon or MultiPolygon output
    let first = |fc: &Value| {
        let mut c = &fc["features"][0]["geometry"]["coordinates"];
        while c[0].is_array() {
            c = &c[0];
        }
        c.clone()
    };
    let (w, g) = (first(&wgs), first(&gcj));
    let (x, y) = from_wgs84(Crs::Gcj02, w[0].as_f64().unwrap(), w[1].as_f64().unwrap());
    assert!((g[0].as_f64().unwrap() - x).abs() < 1e-6);
    assert!((g[1].as_f64().unwrap() - y).abs() < 1e-6);
    // the same box in the two systems selects the same grids
    let (x0, y0) = from_wgs84(Crs::Gcj02, 121.44, 31.225);
    let (x1, y1) = from_wgs84(Crs::Gcj02, 121.441, 31.226);
    let a = app
        .get("/v1/layers/building_group?bbox=121.44,31.225,121.441,31.226")
        .await
        .json();
    let b = app
        .get(&format!(
            "/v1/layers/building_group?bbox={x0},{y0},{x1},{y1}&crs=gcj02"
        ))
        .await
        .json();
    assert_eq!(feature_codes(&a), feature_codes(&b));
}

#[tokio::test]
async fn layers_never_carry_contacts() {
    let app = app().await;
    let contacts = sample_contacts();
    for level in ["neighborhood", "building_group", "building"] {
        for token in [None, Some(ADMIN)] {
            let uri = format!("/v1/layers/{level}");
            let r = match token {
                Some(t) => app.get_as(&uri, t).await,
                None => app.get(&uri).await,
            };
            let mut strings = Vec::new();
            all_strings(&r.json(), &mut strings);
            assert!(
                !contacts.iter().any(|c| strings.contains(c)),
                "{level} leaks contacts"
            );
        }
    }
}

#[tokio::test]
async fn etag_gives_304_and_changes_after_an_edit() {
    let app = app().await;
    let uri = format!("/v1/layers/building_group?bbox={WHOLE}");
    let r = app.get(&uri).await;
    let tag = r.headers["etag"].to_str().unwrap().to_string();
    let again = app
        .request(Method::GET, &uri, &[("if-none-match", &tag)], None)
        .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.headers["etag"].to_str().unwrap(), tag);
    let other = app
        .request(Method::GET, &uri, &[("if-none-match", "\"nope\"")], None)
        .await;
    assert_eq!(other.status, 200);
    let listed = format!("\"nope\", {tag}");
    assert_eq!(
        app.request(Method::GET, &uri, &[("if-none-match", &listed)], None)
            .await
            .status,
        304
    );
    assert_eq!(
        app.request(Method::GET, &uri, &[("if-none-match", "*")], None)
            .await
            .status,
        304
    );
    // another bbox is another body, hence another tag
    let elsewhere = app
        .get("/v1/layers/building_group?bbox=121.44,31.22,121.445,31.225")
        .await;
    assert_ne!(elsewhere.headers["etag"], r.headers["etag"]);
    // a restarted instance on the same database gives the same tag for the same content
    let url = format!("sqlite://{}", app.dir.path().join("atlas.db").display());
    let (store, atlas) = gridatlas::service::start(&url, Some(&geodata_dir()))
        .await
        .unwrap();
    let restarted = App {
        router: gridatlas::api::router(gridatlas::api::AppState::new(
            atlas.clone(),
            store.clone(),
            Default::default(),
        )),
        store,
        atlas,
        dir: tempfile::tempdir().unwrap(),
    };
    assert_eq!(
        restarted
            .request(Method::GET, &uri, &[("if-none-match", &tag)], None)
            .await
            .status,
        304
    );
    // a leader edit changes the layer's properties, so the tag must change
    let code = sample_codes("building_group").into_iter().next().unwrap();
    let r = app
        .put_json(
            &format!("/v1/grids/{code}/leaders"),
            &serde_json::json!({"bac_convener": {"name": "新召集人"}, "party_worker": null}),
            Some(ADMIN),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = app
        .request(Method::GET, &uri, &[("if-none-match", &tag)], None)
        .await;
    assert_eq!(after.status, 200);
    assert_ne!(after.headers["etag"].to_str().unwrap(), tag);
    let fc = after.json();
    let f = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["code"] == code.as_str())
        .unwrap()
        .clone();
    assert_eq!(f["properties"]["bac_convener"], "新召集人");
    assert!(f["properties"]["party_worker"].is_null());
}

#[tokio::test]
async fn gzip_when_asked() {
    let app = app().await;
    let plain = app.get("/v1/layers/building").await;
    let r = app
        .request(
            Method::GET,
            "/v1/layers/building",
            &[("accept-encoding", "gzip")],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-encoding"], "gzip");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.as_bytes(), &plain.body[..]);
    assert!(r.body.len() < plain.body.len());
}

#[tokio::test]
async fn cors_allows_browser_maps() {
    let app = app().await;
    let r = app
        .request(
            Method::GET,
            "/v1/layers/neighborhood",
            &[("origin", "https://map.example")],
            None,
        )
        .await;
    assert_eq!(r.headers["access-control-allow-origin"], "*");
    let pre = app
        .request(
            Method::OPTIONS,
            "/v1/layers/neighborhood",
            &[
                ("origin", "https://map.example"),
                ("access-control-request-method", "GET"),
            ],
            None,
        )
        .await;
    assert!(pre.status.is_success());
    assert!(
        pre.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
}

#[tokio::test]
async fn bad_layer_requests_are_400() {
    let app = app().await;
    for (uri, parameter) in [
        ("/v1/layers/district", "level"),
        ("/v1/layers/building?bbox=1,2,3", "bbox"),
        ("/v1/layers/building?bbox=a,b,c,d", "bbox"),
        ("/v1/layers/building?bbox=121.5,31.2,121.4,31.3", "bbox"),
        ("/v1/layers/building?bbox=0,-91,1,1", "bbox"),
        ("/v1/layers/building?bbox=1,1,2,2&crs=mercator", "crs"),
        ("/v1/layers/building?limit=0", "limit"),
        ("/v1/layers/building?limit=50001", "limit"),
        ("/v1/layers/building?limit=ten", "limit"),
        ("/v1/layers/building?offset=-1", "offset"),
    ] {
        let p = app.get(uri).await.problem(400);
        assert_eq!(p["parameter"], parameter, "{uri}");
    }
}

#[tokio::test]
async fn a_layer_comes_page_by_page_with_next_links() {
    let app = app().await;
    let all = sample_codes("building");
    let whole = app.get("/v1/layers/building").await.json();
    assert_eq!(whole["numberMatched"], all.len());
    assert_eq!(whole["numberReturned"], all.len());
    assert!(whole["links"].as_array().expect("links").is_empty());

    // Walk the pages by following `next`, as a client would.
    let mut seen = Vec::new();
    let mut uri = format!("/v1/layers/building?bbox={WHOLE}&limit=7");
    let mut pages = 0;
    loop {
        let page = app.get(&uri).await.json();
        pages += 1;
        assert_eq!(page["numberMatched"], all.len());
        let codes: Vec<String> = page["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter_map(|f| f["id"].as_str().map(str::to_string))
            .collect();
        assert_eq!(page["numberReturned"], codes.len());
        assert!(codes.len() <= 7);
        seen.extend(codes);
        match page["links"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
        {
            Some(next) => uri = next["href"].as_str().expect("href").to_string(),
            None => break,
        }
    }
    assert_eq!(pages, all.len().div_ceil(7));
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no feature twice");
    assert_eq!(unique, all, "every feature once");

    let beyond = app
        .get(&format!("/v1/layers/building?offset={}", all.len() + 5))
        .await
        .json();
    assert_eq!(beyond["numberReturned"], 0);
    assert_eq!(beyond["numberMatched"], all.len());
}
