//! Shared test harness: a real SQLite store in a temporary folder, seeded from geodata/ exactly
//! as `gridatlas serve` seeds it, and the real router called in-process.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use gridatlas::api::{self, AppState, AuthConfig};
use gridatlas::atlas::Atlas;
use gridatlas::store::Store;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

pub const ADMIN: &str = "test-admin-token";
pub const DISPATCHER: &str = "test-dispatcher-token";
pub const PLANNER: &str = "test-planner-token";

pub fn geodata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geodata")
}

pub struct App {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub atlas: Arc<Atlas>,
    pub dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with this status, and returns it.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert_eq!(self.content_type(), "application/problem+json");
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(p["detail"].as_str().is_some_and(|t| !t.is_empty()));
        p
    }
}

pub async fn app_with(auth: AuthConfig) -> App {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("atlas.db").display());
    let (store, atlas) = gridatlas::service::start(&url, Some(&geodata_dir()))
        .await
        .expect("the service starts on the sample data");
    let state = AppState::new(atlas.clone(), store.clone(), auth);
    App {
        router: api::router(state),
        store,
        atlas,
        dir,
    }
}

pub async fn app() -> App {
    app_with(AuthConfig {
        admin_token: Some(ADMIN.into()),
        dispatcher_token: Some(DISPATCHER.into()),
        planner_token: Some(PLANNER.into()),
    })
    .await
}

impl App {
    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let has_body = body.is_some();
        if has_body
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.request(Method::GET, uri, &[], None).await
    }

    pub async fn get_as(&self, uri: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.request(Method::GET, uri, &[("authorization", &auth)], None)
            .await
    }

    pub async fn send_json(
        &self,
        method: Method,
        uri: &str,
        body: &Value,
        token: Option<&str>,
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        self.request(method, uri, &headers, Some(body.to_string().into_bytes()))
            .await
    }

    pub async fn post_json(&self, uri: &str, body: &Value, token: Option<&str>) -> Reply {
        self.send_json(Method::POST, uri, body, token).await
    }

    pub async fn put_json(&self, uri: &str, body: &Value, token: Option<&str>) -> Reply {
        self.send_json(Method::PUT, uri, body, token).await
    }
}

/// The sample's files, read as plain JSON so tests compare answers with the data itself.
pub fn sample_features(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(geodata_dir().join(file)).expect("sample file");
    let v: Value = serde_json::from_str(&text).expect("sample JSON");
    v["features"].as_array().cloned().unwrap_or_default()
}

/// Percent-encodes a query value (addresses carry Chinese characters and spaces).
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(*b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Every string anywhere in a JSON value (to prove no contact detail leaks).
pub fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            all_strings(x, out)
        }),
        _ => {}
    }
}

/// Phone numbers and emails of every person and team member in the sample.
pub fn sample_contacts() -> Vec<String> {
    let dir = geodata_dir();
    let mut out = Vec::new();
    let people = std::fs::read_to_string(dir.join("people.csv")).expect("people.csv");
    let mut reader = csv::Reader::from_reader(people.as_bytes());
    for row in reader.records().flatten() {
        for i in [2, 3] {
            if let Some(v) = row.get(i).filter(|v| !v.is_empty()) {
                out.push(v.to_string());
            }
        }
    }
    let teams: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("teams.json")).expect("teams"))
            .expect("teams JSON");
    for t in teams.as_array().into_iter().flatten() {
        for m in t["members"].as_array().into_iter().flatten() {
            for k in ["phone", "email"] {
                if let Some(v) = m[k].as_str() {
                    out.push(v.to_string());
                }
            }
        }
    }
    out
}
