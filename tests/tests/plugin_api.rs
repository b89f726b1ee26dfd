//! Installing and binding plugins over `/api/v1/plugins` and
//! `/api/v1/plugin_installations`, on SQLite and PostgreSQL: validation at
//! install with clear errors, versions side by side by digest, built-ins
//! present, config checked against the plugin's schema, secrets never
//! returned, removal refused while in use; and an installation invoked
//! through the registry with its state in the database under quota.

use std::sync::{Arc, OnceLock};

use axum::http::{Method, StatusCode};
use base64::Engine;
use rollcall_runtime::builtin::test_guests::{LDAP_DIRECTORY, MISBEHAVING};
use rollcall_runtime::registry;
use rollcall_runtime::{
    InvokeError, LifecycleEvent, Outcome, PluginError, Runtime, RuntimeConfig, SandboxPolicy,
};
use rollcall_store::{InstallationChanges, StoreError};
use rollcall_tests::{Backend, TestApp, both_backends};
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let cache_dir =
            Some(std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache"));
        Runtime::new(RuntimeConfig {
            policy: SandboxPolicy::default(),
            cache_dir,
        })
        .unwrap()
    })
}

async fn install_misbehaving(app: &TestApp) -> Value {
    let r = app
        .post("/api/v1/plugins", json!({"wasm_base64": b64(MISBEHAVING)}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body
}

async fn plugins_install_list_and_remove(backend: Backend) {
    let app = TestApp::new(backend).await;
    let list = app.get("/api/v1/plugins").await;
    assert_eq!(list.status, StatusCode::OK);
    let ids: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plugin_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "azure-graph",
            "google-workspace",
            "http-action",
            "okta-api",
            "ssh-key-revoker",
            "static-directory"
        ],
        "built-ins are present"
    );
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["source"] == "builtin")
    );

    let plugin = install_misbehaving(&app).await;
    assert_eq!(plugin["plugin_id"], "misbehaving");
    assert_eq!(plugin["kind"], "lifecycle");
    assert_eq!(plugin["wit_version"], "0.1.0");
    assert!(plugin["digest"].as_str().unwrap().starts_with("sha256:"));
    let again = app
        .post("/api/v1/plugins", json!({"wasm_base64": b64(MISBEHAVING)}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "the same bytes install once");
    assert_eq!(again.body["id"], plugin["id"]);

    let digest = plugin["digest"].as_str().unwrap();
    for key in [digest, "misbehaving@0.1.0", plugin["id"].as_str().unwrap()] {
        let r = app.get(&format!("/api/v1/plugins/{key}")).await;
        assert_eq!(r.status, StatusCode::OK, "{key}");
        assert_eq!(r.body["digest"], digest);
    }
    let r = app
        .admin(Method::DELETE, "/api/v1/plugins/http-action@0.2.0", None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.body["message"],
        "http-action@0.2.0 is built in and cannot be removed"
    );
    let r = app
        .admin(Method::DELETE, &format!("/api/v1/plugins/{digest}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/plugins/{digest}")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// A new build of the binary may ship other bytes for a built-in under the
/// same version (a new compiler is enough). The older record stays, under
/// `version+<digest prefix>`, for installations pinned to it; the shipped
/// bytes take the plain version, and listing plugins keeps working.
async fn rebuilt_builtins_take_their_version_over(backend: Backend) {
    let app = TestApp::new(backend).await;
    let shipped = rollcall_runtime::builtin::builtin("okta-api").unwrap();
    let text = rollcall_runtime::manifest::embedded(shipped.wasm).unwrap();
    let manifest = rollcall_runtime::Manifest::parse(&text).unwrap();
    let older_digest = format!("sha256:{}", "ab".repeat(32));
    app.db
        .store
        .insert_plugin(rollcall_store::NewPlugin {
            digest: older_digest.clone(),
            plugin_id: "okta-api".into(),
            version: manifest.version.clone(),
            kind: "connector".into(),
            wit_version: manifest.wit.clone(),
            description: "an older build".into(),
            manifest: json!({"id": "okta-api", "version": manifest.version}),
            source: "builtin",
            wasm: vec![0],
        })
        .await
        .unwrap();

    for _ in 0..2 {
        let list = app.get("/api/v1/plugins").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        let okta: Vec<(String, String)> = list
            .body
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["plugin_id"] == "okta-api")
            .map(|p| {
                (
                    p["version"].as_str().unwrap().to_owned(),
                    p["digest"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(okta.len(), 2, "{okta:?}");
        let retired = format!("{}+abababababab", manifest.version);
        assert!(
            okta.contains(&(retired.clone(), older_digest.clone())),
            "{okta:?}"
        );
        let current = app
            .get(&format!("/api/v1/plugins/okta-api@{}", manifest.version))
            .await;
        assert_eq!(current.status, StatusCode::OK);
        assert_ne!(current.body["digest"], older_digest.as_str());
        let older = app
            .get(&format!("/api/v1/plugins/okta-api@{retired}"))
            .await;
        assert_eq!(older.status, StatusCode::OK);
        assert_eq!(older.body["manifest"]["version"], retired.as_str());
    }

    // An uploaded component still may not take a version that is taken.
    let squat = app
        .db
        .store
        .insert_plugin(rollcall_store::NewPlugin {
            digest: format!("sha256:{}", "cd".repeat(32)),
            plugin_id: "okta-api".into(),
            version: manifest.version.clone(),
            kind: "connector".into(),
            wit_version: manifest.wit.clone(),
            description: "an upload".into(),
            manifest: json!({}),
            source: "upload",
            wasm: vec![0],
        })
        .await;
    assert!(matches!(squat, Err(StoreError::Conflict(_))), "{squat:?}");
}

/// An installation moves to another version of its plugin with its
/// settings and secrets, re-checked against that version's manifest.
async fn installations_move_between_plugin_versions(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    let shipped = app.get("/api/v1/plugins/http-action@0.2.0").await;
    assert_eq!(shipped.status, StatusCode::OK);
    // An older http-action whose schema also takes `legacy` (its bytes are
    // never run here).
    let mut older_manifest = shipped.body["manifest"].clone();
    older_manifest["version"] = json!("0.1.5");
    older_manifest["config_schema"]["properties"]["legacy"] = json!({"type": "string"});
    app.db
        .store
        .insert_plugin(rollcall_store::NewPlugin {
            digest: format!("sha256:{}", "ef".repeat(32)),
            plugin_id: "http-action".into(),
            version: "0.1.5".into(),
            kind: "lifecycle".into(),
            wit_version: "0.1.0".into(),
            description: "an older version".into(),
            manifest: older_manifest,
            source: "upload",
            wasm: vec![0],
        })
        .await
        .unwrap();
    let r = app
        .post(
            "/api/v1/plugin_installations",
            json!({"plugin": "http-action@0.1.5", "organization_id": org,
                "config": {"url": "https://app.example.com/hook", "legacy": "x"},
                "secrets": {"signing_key": "s1"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();

    // The stored config does not suit 0.2.0 (no `legacy` there): refused,
    // nothing changes.
    let r = patch(&app, &id, json!({"plugin": "http-action@0.2.0"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("config"),
        "{:?}",
        r.body
    );
    let unchanged = app.get(&format!("/api/v1/plugin_installations/{id}")).await;
    assert_eq!(
        unchanged.body["plugin_digest"],
        format!("sha256:{}", "ef".repeat(32))
    );

    // With a config that suits it, the move goes through; secrets stay.
    let r = patch(
        &app,
        &id,
        json!({"plugin": "http-action@0.2.0", "config": {"url": "https://app.example.com/v2"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["plugin_digest"], shipped.body["digest"]);
    assert_eq!(r.body["secret_names"], json!(["signing_key"]));
    let sealed = app.db.store.plugin_installation_secrets(&id).await.unwrap();
    assert_eq!(Value::Object(sealed.secrets), json!({"signing_key": "s1"}));

    // Only versions of the same plugin; unknown plugins are named; an
    // oversized key is refused without being echoed.
    let long = "x".repeat(10_000);
    for (plugin, expected) in [
        (
            "ssh-key-revoker@0.1.1",
            "only move to another version of http-action",
        ),
        ("http-action@9.9.9", "no plugin 'http-action@9.9.9'"),
        (long.as_str(), "plugin: at most 256 characters"),
    ] {
        let r = patch(&app, &id, json!({"plugin": plugin})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert!(
            r.body["message"].as_str().unwrap().contains(expected),
            "{plugin}: {:?}",
            r.body
        );
        assert!(r.body.to_string().len() < 500, "{:?}", r.body);
    }
    let r = patch(&app, &id, json!({"plugin": 5})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let after = app.get(&format!("/api/v1/plugin_installations/{id}")).await;
    assert_eq!(after.body["plugin_digest"], shipped.body["digest"]);
}

async fn bad_components_are_refused_with_clear_errors(backend: Backend) {
    let app = TestApp::new(backend).await;
    let cases = [
        (
            json!({"wasm_base64": "%%%"}),
            StatusCode::BAD_REQUEST,
            "wasm_base64 is not valid base64",
        ),
        (
            json!({"wasm_base64": b64(b"hello")}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a component: the file is not a WebAssembly component",
        ),
        (
            json!({"wasm_base64": b64(b"\0asm\x01\0\0\0")}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a component: this is a core wasm module; build with --target wasm32-wasip2 to get a component",
        ),
        (
            json!({"wasm_base64": b64(MISBEHAVING), "manifest": "id = \"x\"\nversion = \"1.0.0\"\nkind = \"connector\"\nwit = \"0.1.0\"\ndescription = \"d\"\n"}),
            StatusCode::BAD_REQUEST,
            "plugin.toml says kind = \"connector\" but the component implements the lifecycle world",
        ),
        (
            json!({"wasm_base64": b64(MISBEHAVING), "manifest": "id = \"x\"\nversion = \"1.0.0\"\nkind = \"lifecycle\"\nwit = \"0.9.0\"\ndescription = \"d\"\n"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "plugin.toml: wit '0.9.0' is not supported by this host (supported: 0.1.0)",
        ),
        (
            json!({"wasm_base64": b64(LDAP_DIRECTORY), "manifest": "id = \"x\"\nversion = \"1.0.0\"\nkind = \"connector\"\nwit = \"0.1.0\"\ndescription = \"d\"\n"}),
            StatusCode::BAD_REQUEST,
            "the component imports rollcall:plugin/ldap but plugin.toml does not declare capabilities = [\"ldap\"]",
        ),
    ];
    for (body, status, message) in cases {
        let r = app.post("/api/v1/plugins", body).await;
        assert_eq!(
            (r.status, r.body["message"].as_str().unwrap()),
            (status, message)
        );
    }
}

async fn installations_are_validated_and_scoped(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    let directory = app.create_directory(&org, "generic-scim-v2").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.get("/api/v1/plugins").await;
    let create = |body: Value| app.post("/api/v1/plugin_installations", body);

    let r = create(json!({"plugin": "static-directory@0.1.0", "organization_id": org})).await;
    assert_eq!(
        r.body["message"],
        "a connector plugin is bound to a directory: directory_id is required"
    );
    // A `plugin:<id>` directory takes that connector only.
    let custom = app.create_directory(&org, "plugin:acme-hr").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = create(json!({"plugin": "static-directory@0.1.0", "organization_id": org, "directory_id": custom, "config": {"users": []}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(
        r.body["message"],
        format!(
            "directory {custom} has type plugin:acme-hr; bind the acme-hr connector to it, not static-directory"
        )
    );
    let static_dir = app.create_directory(&org, "plugin:static-directory").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = create(json!({"plugin": "static-directory@0.1.0", "organization_id": org, "directory_id": static_dir, "config": {"users": []}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let bound = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/plugin_installations/{bound}"),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let r = create(json!({"plugin": "static-directory@0.1.0", "organization_id": org, "directory_id": directory, "config": {"users": "nope"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["message"],
        "config does not match the plugin's schema: config.users: expected array"
    );
    let r = create(json!({"plugin": "http-action@0.2.0", "organization_id": org, "config": {"url": "https://app.example.com/hook"}, "grants": {"hosts": ["evil.example"]}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("grants.hosts: 'evil.example' is not declared in the plugin's manifest"),
        "{:?}",
        r.body
    );
    let r = create(json!({"plugin": "nope@1.0.0", "organization_id": org})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = create(json!({
        "plugin": "http-action@0.2.0", "organization_id": org,
        "config": {"url": "https://app.example.com/hook"},
        "grants": {"hosts": ["app.example.com"]},
        "secrets": {"signing_key": "s3cret"}
    }))
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("plugin_installation_"));
    assert_eq!(r.body["secret_names"], json!(["signing_key"]));
    assert!(
        !r.body.to_string().contains("s3cret"),
        "secret values are never returned"
    );

    let listed = app
        .get(&format!("/api/v1/plugin_installations?organization={org}"))
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let digest = r.body["plugin_digest"].as_str().unwrap();
    let r = app
        .admin(Method::DELETE, &format!("/api/v1/plugins/{digest}"), None)
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "built-ins are never removed"
    );

    let other = app.create_org("Other").await;
    let (_, scoped) = app
        .db
        .store
        .create_admin_key("scoped", Some(&other))
        .await
        .unwrap();
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/plugin_installations/{id}"),
            Some(&scoped),
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another organization's installation is invisible"
    );
    let r = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/plugin_installations/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

async fn in_use_plugins_cannot_be_removed_and_state_lives_in_the_database(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    let plugin = install_misbehaving(&app).await;
    let r = app
        .post("/api/v1/plugin_installations", json!({"plugin": plugin["id"], "organization_id": org, "grants": {"limits": {"state_max_keys": 5}}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let installation_id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .admin(
            Method::DELETE,
            &format!("/api/v1/plugins/{}", plugin["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["message"],
        "misbehaving@0.1.0 is used by 1 installation(s); remove them first"
    );

    let store = &app.db.store;
    let installation = store
        .get_plugin_installation(&installation_id)
        .await
        .unwrap()
        .unwrap();
    let (loaded, ctx) = registry::prepare_installation(runtime(), store, &installation)
        .await
        .unwrap();
    let ctx = Arc::new(ctx);
    let mut instance = runtime().lifecycle(&loaded, (*ctx).clone()).await.unwrap();
    let event = LifecycleEvent {
        id: "event_1".into(),
        event_type: "dsync.user.created".into(),
        organization_id: org.clone(),
        directory_id: None,
        created_at_micros: 0,
        data: json!({"behavior": "state-flood"}),
        previous_attributes: None,
        idempotency_key: "k".into(),
        attempt: 1,
    };
    let error = instance.handle(&event).await.unwrap_err();
    assert_eq!(
        error,
        InvokeError::Plugin(PluginError::Permanent(
            "state quota exceeded: at most 5 keys per installation".into()
        ))
    );
    let keys = store
        .plugin_state_keys(&org, &installation_id, "key-", 100)
        .await
        .unwrap();
    assert_eq!(keys, ["key-0", "key-1", "key-2", "key-3", "key-4"]);
    let mut good = runtime().lifecycle(&loaded, (*ctx).clone()).await.unwrap();
    let ok = good
        .handle(&LifecycleEvent {
            data: json!({"behavior": "ok"}),
            ..event
        })
        .await
        .unwrap();
    assert_eq!(ok, Outcome::Completed(Some("ok".into())));
}

async fn patch(app: &TestApp, id: &str, body: Value) -> rollcall_tests::Reply {
    app.admin(
        Method::PATCH,
        &format!("/api/v1/plugin_installations/{id}"),
        Some(body),
    )
    .await
}

async fn installations_are_updated(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    app.get("/api/v1/plugins").await;
    let r = app
        .post(
            "/api/v1/plugin_installations",
            json!({"plugin": "http-action@0.2.0", "organization_id": org,
                "config": {"url": "https://app.example.com/hook"},
                "secrets": {"signing_key": "s1"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["enabled"], true);
    let created_at = r.body["updated_at"].clone();

    let r = patch(
        &app,
        &id,
        json!({"config": {"url": "https://app.example.com/v2", "events": ["dsync.user.deleted"]},
            "grants": {"hosts": ["app.example.com"], "limits": {"memory_mib": 16}},
            "secrets": {"signing_key": null, "other": "s2"},
            "enabled": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["config"]["url"], "https://app.example.com/v2");
    assert_eq!(r.body["grants"]["hosts"], json!(["app.example.com"]));
    assert_eq!(r.body["grants"]["limits"], json!({"memory_mib": 16}));
    assert_eq!(r.body["secret_names"], json!(["other"]));
    assert_eq!(r.body["enabled"], false);
    assert_ne!(r.body["updated_at"], created_at);
    assert!(
        !r.body.to_string().contains("s2"),
        "secret values are never returned"
    );
    assert_eq!(
        app.get(&format!("/api/v1/plugin_installations/{id}"))
            .await
            .body,
        r.body
    );
    let sealed = app.db.store.plugin_installation_secrets(&id).await.unwrap();
    assert_eq!(Value::Object(sealed.secrets), json!({"other": "s2"}));

    // An update applies only to the version it read.
    let store = &app.db.store;
    let stale = store.get_plugin_installation(&id).await.unwrap().unwrap();
    let disable = || InstallationChanges {
        enabled: Some(false),
        ..Default::default()
    };
    store
        .update_plugin_installation(&stale, disable())
        .await
        .unwrap();
    let error = store
        .update_plugin_installation(&stale, disable())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::Conflict(m) if m.starts_with("the installation was changed by another request")),
        "{error:?}"
    );

    // Absent fields stay as they are.
    let r = patch(&app, &id, json!({"enabled": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["enabled"], true);
    assert_eq!(r.body["config"]["url"], "https://app.example.com/v2");
    assert_eq!(r.body["secret_names"], json!(["other"]));

    let bad = [
        (
            json!({"config": {"url": 5}}),
            "config does not match the plugin's schema: config.url: expected string",
        ),
        (
            json!({"config": {}}),
            "config does not match the plugin's schema: config.url: is required",
        ),
        (
            json!({"grants": {"hosts": ["evil.example"]}}),
            "grants.hosts: 'evil.example' is not declared in the plugin's manifest",
        ),
        (
            json!({"grants": {"hostz": []}}),
            "grants: unknown field `hostz`, expected `hosts` or `limits`",
        ),
        (
            json!({"secrets": {"other": 5}}),
            "secrets.other: must be a string, or null to remove it",
        ),
        (
            json!({"credentials": {"api": {"kind": "bearer", "token": "t"}}}),
            "credentials.api: the plugin declares no such credential slot",
        ),
    ];
    for (body, message) in bad {
        let r = patch(&app, &id, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.body["code"], "invalid_request", "{body}");
        let text = r.body["message"].as_str().unwrap();
        assert!(text.starts_with(message), "{body}: {text}");
    }
    for body in [
        json!({"enabled": "yes"}),
        json!({"colour": "blue"}),
        json!({"config": [1]}),
    ] {
        let r = patch(&app, &id, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {:?}", r.body);
        assert_eq!(r.body["code"], "invalid_json", "{body}");
    }
    let r = app
        .raw(
            Method::PATCH,
            &format!("/api/v1/plugin_installations/{id}"),
            Some(&app.admin_key.clone()),
            Some("application/json"),
            b"{\"enabled\":".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    // Nothing of the refused requests was applied.
    let r = app.get(&format!("/api/v1/plugin_installations/{id}")).await;
    assert_eq!(r.body["config"]["url"], "https://app.example.com/v2");
    assert_eq!(r.body["secret_names"], json!(["other"]));

    let r = patch(
        &app,
        "plugin_installation_01J00000000000000000000000",
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let other = app.create_org("Other").await;
    let (_, scoped) = app
        .db
        .store
        .create_admin_key("scoped", Some(&other))
        .await
        .unwrap();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/plugin_installations/{id}"),
            Some(&scoped),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another organization's installation"
    );
}

/// Runs the misbehaving guest of installation `id`, reading secret `token`.
async fn run_secret(app: &TestApp, id: &str) -> Result<Outcome, registry::RegistryError> {
    let store = &app.db.store;
    let installation = store.get_plugin_installation(id).await.unwrap().unwrap();
    let (loaded, ctx) = registry::prepare_installation(runtime(), store, &installation).await?;
    let mut instance = runtime().lifecycle(&loaded, ctx).await.unwrap();
    let event = LifecycleEvent {
        id: "event_1".into(),
        event_type: "dsync.user.created".into(),
        organization_id: installation.organization_id.clone(),
        directory_id: None,
        created_at_micros: 0,
        data: json!({"behavior": "secret", "name": "token"}),
        previous_attributes: None,
        idempotency_key: "k".into(),
        attempt: 1,
    };
    Ok(instance.handle(&event).await.unwrap())
}

async fn updated_credentials_and_secrets_reach_the_plugin(backend: Backend) {
    let app = TestApp::new(backend).await;
    let org = app.create_org("Acme").await;
    let plugin = install_misbehaving(&app).await;
    let r = app
        .post(
            "/api/v1/plugin_installations",
            json!({"plugin": plugin["id"], "organization_id": org}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();

    let r = patch(
        &app,
        &id,
        json!({"credentials": {"api": {"kind": "basic", "username": "u", "password": "p"}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["message"],
        "credentials.api: the slot expects kind bearer, got basic"
    );
    let r = patch(
        &app,
        &id,
        json!({"credentials": {"api": {"kind": "bearer"}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("credentials.api: missing field `token`"),
        "{:?}",
        r.body
    );

    let r = patch(&app, &id, json!({"credentials": {"api": {"kind": "bearer", "token": "t1"}}, "secrets": {"token": "first"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["credential_names"], json!(["api"]));
    assert_eq!(r.body["secret_names"], json!(["token"]));

    assert_eq!(
        run_secret(&app, &id).await.unwrap(),
        Outcome::Completed(Some("first".into()))
    );

    let r = patch(
        &app,
        &id,
        json!({"secrets": {"token": "second"}, "credentials": {"api": null}, "enabled": false}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["credential_names"], json!([]));
    let error = run_secret(&app, &id).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("plugin installation {id} is disabled")
    );

    let r = patch(&app, &id, json!({"enabled": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        run_secret(&app, &id).await.unwrap(),
        Outcome::Completed(Some("second".into()))
    );
    let sealed = app.db.store.plugin_installation_secrets(&id).await.unwrap();
    assert!(sealed.credentials.is_empty());
}

both_backends!(
    installations_move_between_plugin_versions,
    rebuilt_builtins_take_their_version_over,
    installations_are_updated,
    updated_credentials_and_secrets_reach_the_plugin,
    plugins_install_list_and_remove,
    bad_components_are_refused_with_clear_errors,
    installations_are_validated_and_scoped,
    in_use_plugins_cannot_be_removed_and_state_lives_in_the_database,
);
