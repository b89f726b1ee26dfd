//! The `rollcall` binary as a user drives it: management commands with
//! human and `--json` output, exit codes and messages on bad input, and
//! `serve` surviving `kill -9` with every acknowledged write intact. On
//! SQLite and PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rollcall_core::sealed::MasterKey;
use rollcall_store::{NewInstallation, SqliteSync, Store, StoreOptions};
use rollcall_tests::{Backend, both_backends, http};
use serde_json::{Value, json};

mod common;
use common::{Env, MASTER_KEY, stderr, stdout};

async fn management_commands(backend: Backend) {
    let env = Env::new(backend).await;
    let out = env.run(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("up to date"));

    let org = &env.json_lines(&[
        "org",
        "create",
        "Acme",
        "--domain",
        "acme.com",
        "--external-id",
        "cust-9",
    ])[0];
    let org_id = org["id"].as_str().unwrap().to_owned();
    assert_eq!(org["domains"], json!(["acme.com"]));
    let list = env.run(&["org", "list"]);
    assert!(
        stdout(&list).contains(&org_id) && stdout(&list).contains("Acme"),
        "{}",
        stdout(&list)
    );

    let out = env.run(&[
        "directory",
        "create",
        "--org",
        &org_id,
        "--name",
        "Entra",
        "--type",
        "azure-scim-v2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("SCIM 2.0 URL:  http://127.0.0.1:8080/scim/v2/directory_"),
        "{text}"
    );
    assert!(text.contains("Bearer token:  rc_scim_"), "{text}");
    let dir = &env.json_lines(&["directory", "list", "--org", &org_id])[0];
    let dir_id = dir["id"].as_str().unwrap().to_owned();
    assert_eq!(dir["type"], "azure-scim-v2");
    assert!(dir["scim"].get("token").is_none());

    let rotated = &env.json_lines(&[
        "directory",
        "token",
        "rotate",
        &dir_id,
        "--grace-period",
        "60",
    ])[0];
    assert!(rotated["token"].as_str().unwrap().starts_with("rc_scim_"));
    let token_id = rotated["details"]["id"].as_str().unwrap().to_owned();
    let shown = &env.json_lines(&["directory", "show", &dir_id])[0];
    let statuses: Vec<&str> = shown["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expiring", "active"]);
    let revoked = &env.json_lines(&["directory", "token", "revoke", &dir_id, &token_id])[0];
    assert_eq!(revoked["status"], "revoked");

    let key = &env.json_lines(&["admin-key", "create", "--name", "ci", "--org", &org_id])[0];
    assert!(key["secret"].as_str().unwrap().starts_with("rc_admin_"));
    let key_id = key["key"]["id"].as_str().unwrap().to_owned();
    let keys = env.run(&["admin-key", "list"]);
    assert!(stdout(&keys).contains(&key_id) && stdout(&keys).contains(&org_id));
    let revoked = &env.json_lines(&["admin-key", "revoke", &key_id])[0];
    assert!(revoked["revoked_at"].is_string());

    let out = env.run(&["directory", "delete", &dir_id]);
    assert!(out.status.success());
    let out = env.run(&["org", "delete", &org_id]);
    assert!(out.status.success());
    assert!(env.json_lines(&["org", "list"]).is_empty());
}

async fn errors_have_messages_and_exit_codes(backend: Backend) {
    let env = Env::new(backend).await;
    let out = env.run(&["org", "delete", "org_01J00000000000000000000000"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("error: organization not found"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&[
        "directory",
        "create",
        "--org",
        "org_x",
        "--name",
        "x",
        "--type",
        "okta",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unknown directory type 'okta'")
            && stderr(&out).contains("okta-scim-v2"),
        "{}",
        stderr(&out)
    );
    let out = env
        .command()
        .env("ROLLCALL_LISTEN", "not-an-address")
        .args(["serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("ROLLCALL_LISTEN"), "{}", stderr(&out));
    let out = env.run(&["org", "create", ""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("name must not be empty"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `rollcall serve`, waits until it answers /readyz, and returns it
/// with the one-time admin-key banner when `expect_key`.
async fn start(env: &Env, port: u16, expect_key: bool) -> (Child, Vec<String>) {
    let mut child = env
        .command()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("ROLLCALL_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = http::request(&addr, "GET", "/readyz", None, None).await {
            break;
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Whatever was printed before readiness (the one-time admin key).
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .take(7)
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let printed = if expect_key {
        lines.join().unwrap()
    } else {
        Vec::new()
    };
    (child, printed)
}

async fn serve_survives_kill_9(backend: Backend) {
    let env = Env::new(backend).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (mut server, printed) = start(&env, port, true).await;
    let key = printed
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("rc_admin_")
                .map(|rest| format!("rc_admin_{rest}"))
        })
        .unwrap_or_else(|| panic!("no admin key printed: {printed:?}"));

    // Acknowledged writes...
    let mut orgs = Vec::new();
    for i in 0..20 {
        let (status, body) = http::request(
            &addr,
            "POST",
            "/api/v1/organizations",
            Some(&key),
            Some(&json!({"name": format!("Org {i}")})),
        )
        .await
        .unwrap();
        assert_eq!(status, 201, "{body}");
        orgs.push(body["id"].as_str().unwrap().to_owned());
    }
    // ...then the hardest possible stop.
    server.kill().unwrap();
    server.wait().unwrap();

    let (mut server, _) = start(&env, port, false).await;
    for id in &orgs {
        let (status, body) = http::request(
            &addr,
            "GET",
            &format!("/api/v1/organizations/{id}"),
            Some(&key),
            None,
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{id} lost after kill -9: {body}");
    }
    // The key was printed once: the second start created none.
    let keys = env.json_lines(&["admin-key", "list"]);
    assert_eq!(keys.len(), 1);

    // SIGTERM: graceful shutdown, exit code 0.
    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful shutdown exit: {status:?}");
}

async fn bootstrap_key_from_environment(backend: Backend) {
    let env = Env::new(backend).await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let key = "rc_admin_bootstrapbootstrapbootstrap0001";
    let mut child = env
        .command()
        .env("ROLLCALL_BOOTSTRAP_ADMIN_KEY", key)
        .args(["serve", "--listen", &addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(
        http::request(&addr, "GET", "/readyz", None, None).await,
        Ok((200, _))
    ) {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = http::request(&addr, "GET", "/api/v1/organizations", Some(key), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (status, _) = http::request(&addr, "GET", "/metrics", None, None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    // The plugin runtime built at start-up serves the plugin endpoints.
    let (status, body) = http::request(&addr, "GET", "/api/v1/plugins", Some(key), None)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(6), "{body}");
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        !stdout(&out).contains("rc_admin_"),
        "no key is generated when one is configured"
    );
}

async fn plugin_update_changes_an_installation(backend: Backend) {
    let env = Env::new(backend).await;
    let org = env.json_lines(&["org", "create", "Acme"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let digest = env
        .json_lines(&["plugin", "list"])
        .into_iter()
        .find(|p| p["plugin_id"] == "http-action")
        .expect("built-in http-action")["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    // There is no CLI command to bind a plugin: create the installation
    // through the store, as the API would.
    let store = Store::connect(StoreOptions {
        url: env.db.url.clone(),
        max_connections: 2,
        sqlite_sync: SqliteSync::Normal,
        master_key: MasterKey::from_base64(MASTER_KEY).unwrap(),
    })
    .await
    .unwrap();
    let installation = store
        .create_plugin_installation(NewInstallation {
            organization_id: org,
            directory_id: None,
            plugin_digest: digest,
            plugin_id: "http-action".into(),
            kind: "lifecycle".into(),
            config: json!({"url": "https://app.example.com/hook"})
                .as_object()
                .cloned()
                .unwrap(),
            grants: json!({}),
            secrets: Default::default(),
            credentials: Default::default(),
            events: Vec::new(),
        })
        .await
        .unwrap();
    let id = installation.id.as_str();
    let key_file = env.dir.path().join("key.txt");
    std::fs::write(&key_file, "from-file\n").unwrap();

    let updated = &env.json_lines(&[
        "plugin",
        "update",
        id,
        "--config-json",
        r#"{"url": "https://app.example.com/v2"}"#,
        "--grants-json",
        r#"{"hosts": ["app.example.com"]}"#,
        "--secret",
        "signing_key=s1",
        "--secret",
        &format!("other=@{}", key_file.display()),
        "--disable",
    ])[0];
    assert_eq!(updated["config"]["url"], "https://app.example.com/v2");
    assert_eq!(updated["grants"]["hosts"], json!(["app.example.com"]));
    assert_eq!(updated["secret_names"], json!(["other", "signing_key"]));
    assert_eq!(updated["enabled"], false);
    let sealed = store.plugin_installation_secrets(id).await.unwrap();
    assert_eq!(
        Value::Object(sealed.secrets),
        json!({"other": "from-file", "signing_key": "s1"})
    );

    let out = env.run(&[
        "plugin",
        "update",
        id,
        "--remove-secret",
        "other",
        "--enable",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("Updated {id} (http-action@sha256:")),
        "{text}"
    );
    assert!(
        text.contains(", enabled)") && text.contains("secrets: signing_key"),
        "{text}"
    );

    let bad = [
        (
            vec!["--config-json", r#"{"url": 5}"#],
            "error: config does not match the plugin's schema: config.url: expected string",
        ),
        (
            vec!["--config-json", "[1]"],
            "error: --config-json must be a JSON object",
        ),
        (
            vec!["--secret", "novalue"],
            "error: --secret expects NAME=VALUE, got 'novalue'",
        ),
        (
            vec!["--credential", "api={}"],
            "error: credentials.api: the plugin declares no such credential slot",
        ),
        (
            vec!["--grants-json", r#"{"hosts": ["evil.example"]}"#],
            "error: grants.hosts: 'evil.example' is not declared in the plugin's manifest",
        ),
        (
            vec!["--plugin", "ssh-key-revoker@0.1.1"],
            "error: plugin: an installation of http-action can only move to another version of http-action",
        ),
    ];
    for (args, expected) in bad {
        let mut all = vec!["plugin", "update", id];
        all.extend(args.iter().copied());
        let out = env.run(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).starts_with(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = env.run(&["plugin", "update", "plugin_installation_nope", "--enable"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("plugin installation 'plugin_installation_nope' not found"));
    let out = env.run(&["plugin", "update", id, "--enable", "--disable"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "conflicting flags are a usage error"
    );
    // The refused updates changed nothing.
    let now = store.get_plugin_installation(id).await.unwrap().unwrap();
    assert_eq!(now.config["url"], "https://app.example.com/v2");
    assert_eq!(now.secret_names, ["signing_key"]);
    assert!(now.enabled);
    store.close().await;
}

/// A bad `ROLLCALL_PLUGIN_*` value stops `serve` before it opens the
/// database or listens: exit 2 and a message naming the variable.
#[tokio::test]
async fn serve_refuses_bad_plugin_settings_at_start() {
    let env = Env::new(Backend::Sqlite).await;
    let port = free_port();
    let garbage = env.dir.path().join("not-a-ca.pem");
    std::fs::write(&garbage, "this is not a certificate\n").unwrap();
    let garbage_error = format!(
        "error: invalid configuration: plugin sandbox: ROLLCALL_PLUGIN_EXTRA_CA_FILE: cannot use '{}': it holds no PEM certificate",
        garbage.display()
    );
    let cases = [
        (
            "ROLLCALL_PLUGIN_MEMORY_MIB",
            "lots",
            "error: invalid configuration: plugin sandbox: ROLLCALL_PLUGIN_MEMORY_MIB: 'lots' is not a whole number",
        ),
        (
            "ROLLCALL_PLUGIN_PAGE_TIMEOUT_MS",
            "0",
            "error: invalid configuration: plugin sandbox: ROLLCALL_PLUGIN_PAGE_TIMEOUT_MS: must be between 1 and",
        ),
        (
            "ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK",
            "perhaps",
            "error: invalid configuration: plugin sandbox: ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK: expected true or false, got 'perhaps'",
        ),
        (
            "ROLLCALL_PLUGIN_EXTRA_CA_FILE",
            "/nonexistent/internal-ca.pem",
            "error: invalid configuration: plugin sandbox: ROLLCALL_PLUGIN_EXTRA_CA_FILE: cannot use '/nonexistent/internal-ca.pem': cannot read it",
        ),
        (
            "ROLLCALL_PLUGIN_EXTRA_CA_FILE",
            garbage.to_str().unwrap(),
            &garbage_error,
        ),
    ];
    for (name, value, expected) in cases {
        let out = env
            .command()
            .env(name, value)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name}={value}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).starts_with(expected), "{}", stderr(&out));
        assert!(
            !stdout(&out).contains("rc_admin_"),
            "no key before the check"
        );
    }
    // Nothing was started: no admin key was created in the database.
    assert!(env.json_lines(&["admin-key", "list"]).is_empty());
}

both_backends!(
    plugin_update_changes_an_installation,
    management_commands,
    errors_have_messages_and_exit_codes,
    serve_survives_kill_9,
    bootstrap_key_from_environment,
);
