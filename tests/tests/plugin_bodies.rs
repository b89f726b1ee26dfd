//! Size caps on what crosses the plugin boundary: data the host passes
//! into a call (`ROLLCALL_PLUGIN_MAX_INPUT_BYTES`), request bodies a guest
//! sends out (`ROLLCALL_PLUGIN_HTTP_MAX_REQUEST_BYTES`, declared or
//! streamed), and component uploads to `/api/v1/plugins` (413 with the API
//! error body, while other plugin routes keep the server's body limit).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::routing::post;
use base64::Engine;
use rollcall_api::routes::plugins::MAX_INSTALL_BODY;
use rollcall_runtime::registry::MAX_COMPONENT_BYTES;
use rollcall_runtime::{InvokeError, Outcome, PluginError, Runtime, SandboxPolicy};
use rollcall_tests::guests::{self, context, event, misbehaving};
use rollcall_tests::{Backend, TestApp};
use serde_json::json;

const REQUEST_CAP: u64 = 64 * 1024;
const INPUT_CAP: u64 = 4 * 1024;

fn small_caps() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        guests::runtime(SandboxPolicy {
            http_max_request_bytes: REQUEST_CAP,
            max_input_bytes: INPUT_CAP,
            ..guests::permissive()
        })
    })
}

/// An upstream on 127.0.0.1 that answers `got N bytes` and counts the
/// requests it received whole.
async fn upstream() -> (u16, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let app = Router::new().route(
        "/",
        post(move |body: Bytes| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                format!("got {} bytes", body.len())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, seen)
}

async fn post_from_guest(
    port: u16,
    size: usize,
    declare: bool,
) -> (Result<Outcome, InvokeError>, Vec<String>) {
    let runtime = small_caps();
    let (plugin, manifest) = misbehaving(runtime);
    let ctx = context(
        "plugin_installation_bodies",
        manifest,
        &["127.0.0.1"],
        json!({}),
    );
    let mut instance = runtime.lifecycle(&plugin, ctx).await.unwrap();
    let result = instance
        .handle(&event(json!({"behavior": "http-post", "url": format!("http://127.0.0.1:{port}/"), "size": size, "declare": declare})))
        .await;
    (result, instance.notes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_request_bodies_are_capped() {
    let (port, seen) = upstream().await;
    // Under the cap, and larger than the host's body buffer: streamed out whole.
    let (result, notes) = post_from_guest(port, 40_000, false).await;
    assert_eq!(
        result.unwrap(),
        Outcome::Completed(Some("200 got 40000 bytes".into()))
    );
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);

    let refused = InvokeError::Plugin(PluginError::Permanent(format!(
        "request refused by the host sandbox (HttpRequestBodySize(Some({REQUEST_CAP})))"
    )));
    let note = format!(
        "outgoing request refused: the body is larger than {REQUEST_CAP} bytes (ROLLCALL_PLUGIN_HTTP_MAX_REQUEST_BYTES)"
    );
    for declare in [true, false] {
        let (result, notes) = post_from_guest(port, 200_000, declare).await;
        assert_eq!(result.unwrap_err(), refused, "declare={declare}");
        assert_eq!(notes, std::slice::from_ref(&note), "declare={declare}");
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "no oversized body reached the upstream"
    );
    let (result, _) = post_from_guest(port, 100, true).await;
    assert_eq!(
        result.unwrap(),
        Outcome::Completed(Some("200 got 100 bytes".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_input_is_capped_before_the_guest_runs() {
    let runtime = small_caps();
    let (plugin, manifest) = misbehaving(runtime);
    let ctx = context("plugin_installation_input", manifest, &[], json!({}));
    let mut instance = runtime.lifecycle(&plugin, ctx).await.unwrap();
    let big = event(json!({"behavior": "ok", "padding": "x".repeat(INPUT_CAP as usize)}));
    let error = instance.handle(&big).await.unwrap_err();
    let InvokeError::InputTooLarge { size, limit } = error.clone() else {
        panic!("expected InputTooLarge, got {error:?}");
    };
    assert_eq!(limit, INPUT_CAP);
    assert!(size > INPUT_CAP, "{size}");
    assert_eq!(
        error.to_string(),
        format!(
            "the call's input is {size} bytes, more than the plugin input limit of {INPUT_CAP} bytes (ROLLCALL_PLUGIN_MAX_INPUT_BYTES)"
        )
    );
    assert!(!error.discards_instance());
    // The instance was never entered and still serves a normal event.
    let ok = instance.handle(&event(json!({"behavior": "ok"}))).await;
    assert_eq!(ok.unwrap(), Outcome::Completed(Some("ok".into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_uploads_have_their_own_cap() {
    let app = TestApp::new(Backend::Sqlite).await;
    let key = app.admin_key.clone();
    let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![0u8; n]);

    // Larger than the server's usual limit (64 KiB here), within the upload cap.
    let r = app
        .post("/api/v1/plugins", json!({"wasm_base64": b64(512 * 1024)}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.body["code"], "invalid_plugin");

    // Over the upload cap: refused before it is read.
    let r = app
        .raw(
            Method::POST,
            "/api/v1/plugins",
            Some(&key),
            Some("application/json"),
            vec![b' '; MAX_INSTALL_BODY + 1],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        r.body,
        json!({"code": "payload_too_large", "message": "request body is larger than the configured limit"})
    );

    // Within the body cap, but the component itself is too large.
    let r = app
        .post(
            "/api/v1/plugins",
            json!({"wasm_base64": b64(MAX_COMPONENT_BYTES + 1000)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["code"], "payload_too_large");
    assert_eq!(
        r.body["message"],
        format!(
            "the component is {} bytes; at most {MAX_COMPONENT_BYTES} bytes are accepted",
            MAX_COMPONENT_BYTES + 1000
        )
    );

    // The other plugin routes keep the server's limit.
    let r = app
        .post("/api/v1/plugin_installations", json!({"plugin": "x", "organization_id": "org_x", "config": {"pad": "x".repeat(100 * 1024)}}))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["code"], "payload_too_large");
}
