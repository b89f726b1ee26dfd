//! The OpenAPI document: served at `/api/v1/openapi.json`, generated from
//! the handlers, self-consistent, and identical to the committed
//! `docs/openapi.json` (regenerate with `ROLLCALL_UPDATE_OPENAPI=1 cargo test
//! -p rollcall-tests --test api_openapi`).

use std::path::PathBuf;

use axum::http::StatusCode;
use rollcall_tests::{Backend, TestApp};
use serde_json::Value;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_owned());
                    }
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn served_document_is_complete_and_consistent() {
    let app = TestApp::new(Backend::Sqlite).await;
    let r = app
        .call(axum::http::Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["admin_key"]["scheme"],
        "bearer"
    );

    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/organizations", vec!["get", "post"]),
        ("/api/v1/organizations/{id}", vec!["get", "patch", "delete"]),
        ("/api/v1/directories", vec!["get", "post"]),
        ("/api/v1/directories/{id}", vec!["get", "patch", "delete"]),
        ("/api/v1/directories/{id}/tokens", vec!["get", "post"]),
        ("/api/v1/directories/{id}/tokens/{token_id}", vec!["delete"]),
        ("/api/v1/directory_users", vec!["get"]),
        ("/api/v1/directory_users/{id}", vec!["get"]),
        ("/api/v1/directory_groups", vec!["get"]),
        ("/api/v1/directory_groups/{id}", vec!["get"]),
        ("/api/v1/events", vec!["get"]),
        ("/api/v1/admin_keys", vec!["get", "post"]),
        ("/api/v1/admin_keys/{id}", vec!["delete"]),
        ("/api/v1/directories/{id}/scim_requests", vec!["get"]),
        ("/api/v1/directories/{id}/sync", vec!["get", "post"]),
        ("/api/v1/directories/{id}/sync_runs", vec!["get"]),
        ("/api/v1/directories/{id}/sync_runs/{run_id}", vec!["get"]),
        ("/api/v1/directories/{id}/scim_schemas", vec!["get", "post"]),
        (
            "/api/v1/directories/{id}/scim_schemas/{urn}",
            vec!["delete"],
        ),
        ("/api/v1/plugins", vec!["get", "post"]),
        ("/api/v1/plugins/{id}", vec!["get", "delete"]),
        ("/api/v1/plugin_installations", vec!["get", "post"]),
        (
            "/api/v1/plugin_installations/{id}",
            vec!["get", "patch", "delete"],
        ),
        ("/api/v1/plugin_installations/{id}/executions", vec!["get"]),
        (
            "/api/v1/plugin_installations/{id}/executions/{event_id}",
            vec!["get"],
        ),
        (
            "/api/v1/plugin_installations/{id}/executions/{event_id}/retry",
            vec!["post"],
        ),
        ("/api/v1/plugin_installations/{id}/replay", vec!["post"]),
        ("/api/v1/webhook_endpoints", vec!["get", "post"]),
        (
            "/api/v1/webhook_endpoints/{id}",
            vec!["get", "patch", "delete"],
        ),
        ("/api/v1/webhook_endpoints/{id}/enable", vec!["post"]),
        ("/api/v1/webhook_endpoints/{id}/disable", vec!["post"]),
        ("/api/v1/webhook_endpoints/{id}/rotate_secret", vec!["post"]),
        ("/api/v1/webhook_endpoints/{id}/deliveries", vec!["get"]),
        (
            "/api/v1/webhook_endpoints/{id}/deliveries/{event_id}",
            vec!["get"],
        ),
        (
            "/api/v1/webhook_endpoints/{id}/deliveries/{event_id}/redeliver",
            vec!["post"],
        ),
        ("/api/v1/webhook_endpoints/{id}/replay", vec!["post"]),
    ];
    assert_eq!(
        paths.len(),
        expected.len(),
        "documented paths: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for m in methods {
            let op = &item[m];
            assert!(op.is_object(), "{m} {path} is not documented");
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{m} {path} has no success response"
            );
            // Every path parameter in the template is declared.
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                let declared = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path"));
                assert!(
                    declared,
                    "{m} {path} does not declare path parameter {name}"
                );
            }
        }
    }
    // Every $ref points at a component that exists.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected ref {r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref {r}"
        );
    }
}

#[test]
fn committed_document_is_current() {
    let generated = serde_json::to_string_pretty(&rollcall_api::openapi()).unwrap() + "\n";
    let path = committed_path();
    if std::env::var_os("ROLLCALL_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is out of date: run ROLLCALL_UPDATE_OPENAPI=1 cargo test -p rollcall-tests --test api_openapi"
    );
}
