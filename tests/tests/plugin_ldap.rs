//! The `ldap` host import through the real runtime: the
//! `plugins/testing/ldap-directory` connector lists users from a fake LDAP
//! server on 127.0.0.1. Paging (RFC 2696 cookies on one connection), the
//! host-side bind with an installation secret, binary values, and every
//! gate (capability, manifest ∩ grant, address checks, TLS required unless
//! the operator allows plain LDAP), caps and timeouts, each asserting the
//! error the guest sees and what the server received.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rollcall_core::directory_user::UserInput;
use rollcall_runtime::builtin::test_guests::LDAP_DIRECTORY;
use rollcall_runtime::{
    InvocationContext, InvokeError, LoadedPlugin, Manifest, Page, PluginError, Runtime,
    SandboxPolicy,
};
use rollcall_tests::guests::{self, context};
use rollcall_tests::ldap_server::{BIND_DN, BIND_PASSWORD, LdapServer, Mode, PEOPLE};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_millis(500);

/// Development platform: loopback and plain LDAP allowed, pages of at most 2.
fn permissive() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        guests::runtime(SandboxPolicy {
            allow_plain_ldap: true,
            ldap_timeout: TIMEOUT,
            ldap_max_page_size: 2,
            ..guests::permissive()
        })
    })
}

/// Production platform: no private networks, TLS required.
fn strict() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| guests::runtime(SandboxPolicy::default()))
}

/// Plain LDAP allowed, but a page may hold only 300 bytes.
fn small_pages() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        guests::runtime(SandboxPolicy {
            allow_plain_ldap: true,
            ldap_max_page_bytes: 300,
            ..guests::permissive()
        })
    })
}

fn guest(runtime: &Runtime) -> (LoadedPlugin, Arc<Manifest>) {
    let text = rollcall_runtime::manifest::embedded(LDAP_DIRECTORY).unwrap();
    (
        runtime.load(LDAP_DIRECTORY).expect("load ldap-directory"),
        Arc::new(Manifest::parse(&text).unwrap()),
    )
}

fn config(url: &str) -> Value {
    json!({"url": url, "base_dn": PEOPLE, "bind_dn": BIND_DN, "bind_password_secret": "bind_password"})
}

fn ctx(manifest: Arc<Manifest>, granted: &[&str], config: Value) -> InvocationContext {
    let mut ctx = context("plugin_installation_ldap", manifest, granted, config);
    ctx.secrets
        .insert("bind_password".into(), BIND_PASSWORD.into());
    ctx
}

/// The first page of users on a fresh instance, and the host's notes.
async fn first_page(
    runtime: &Runtime,
    ctx: InvocationContext,
) -> (Result<Page<UserInput>, InvokeError>, Vec<String>) {
    let (plugin, _) = guest(runtime);
    let mut connector = runtime.connector(&plugin, ctx).await.unwrap();
    let page = connector.list_users(None, 100).await;
    (page, connector.notes())
}

fn ids(page: &Page<UserInput>) -> Vec<&str> {
    page.items.iter().map(|u| u.idp_id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_paged_over_one_bound_connection() {
    let server = LdapServer::start(Mode::Normal, 5).await;
    let runtime = permissive();
    let (plugin, manifest) = guest(runtime);
    let url = format!("ldap://127.0.0.1:{}", server.port);
    let mut connector = runtime
        .connector(&plugin, ctx(manifest, &["127.0.0.1"], config(&url)))
        .await
        .unwrap();

    let first = connector.list_users(None, 100).await.unwrap();
    assert_eq!(
        ids(&first),
        ["user0", "user1"],
        "the page size is capped at 2"
    );
    let alice = &first.items[0];
    assert_eq!(alice.email.as_deref(), Some("user0@example.com"));
    assert_eq!(alice.first_name.as_deref(), Some("Given0"));
    assert_eq!(alice.raw_attributes["dn"], format!("uid=user0,{PEOPLE}"));
    assert_eq!(
        alice.raw_attributes["photo;base64"],
        json!(["/9gA"]),
        "binary values arrive base64-encoded"
    );
    let second = connector
        .list_users(first.next_cursor.clone(), 100)
        .await
        .unwrap();
    assert_eq!(ids(&second), ["user2", "user3"]);
    let last = connector
        .list_users(second.next_cursor.clone(), 100)
        .await
        .unwrap();
    assert_eq!(ids(&last), ["user4"]);
    assert_eq!(last.next_cursor, None);
    assert!(connector.notes().is_empty(), "{:?}", connector.notes());

    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.connections, 1, "one connection serves every page");
    assert_eq!(
        seen.binds,
        [(BIND_DN.to_owned(), BIND_PASSWORD.to_owned())],
        "bound once, with the installation secret"
    );
    let cookies: Vec<&[u8]> = seen.searches.iter().map(|s| s.cookie.as_slice()).collect();
    assert_eq!(cookies, [&b""[..], b"2", b"4"]);
    assert!(seen.searches.iter().all(|s| s.page_size == Some(2)));
    assert!(seen.searches.iter().all(|s| s.base == PEOPLE));
    assert_eq!(
        seen.searches[0].attrs,
        ["uid", "mail", "givenName", "sn", "photo"]
    );
}

/// A refusal as the guest reports it (the SDK turns host errors into
/// plugin errors).
fn permanent(message: &str) -> InvokeError {
    InvokeError::Plugin(PluginError::Permanent(message.to_owned()))
}

fn transient(message: &str) -> InvokeError {
    InvokeError::Plugin(PluginError::Transient(message.to_owned()))
}

/// (runtime, manifest, granted hosts, config, expected error, expected note)
type GateCase<'a> = (
    &'a Runtime,
    Arc<Manifest>,
    &'a [&'a str],
    Value,
    InvokeError,
    Option<String>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldap_is_gated_like_outbound_http() {
    let server = LdapServer::start(Mode::Normal, 3).await;
    let port = server.port;
    let plain = format!("ldap://127.0.0.1:{port}");
    let (_, manifest) = guest(permissive());
    let mut without_capability = (*manifest).clone();
    without_capability.capabilities.clear();

    let loopback = "127.0.0.1 resolves to 127.0.0.1, a loopback address (operator switch ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK)".to_owned();
    let plain_refused = "plain ldap:// is not allowed; use ldaps:// or start-tls (operator switch ROLLCALL_PLUGIN_ALLOW_PLAIN_LDAP)";
    let not_granted = "host '127.0.0.1' is not granted to this installation";
    let not_declared = "host 'ldap.other.com' is not declared in the plugin's manifest";
    let cases: Vec<GateCase> = vec![
        (
            strict(),
            manifest.clone(),
            &["127.0.0.1"],
            config(&plain),
            permanent(&format!("denied by the host: {plain_refused}")),
            Some(plain_refused.to_owned()),
        ),
        (
            strict(),
            manifest.clone(),
            &["127.0.0.1"],
            config(&format!("ldaps://127.0.0.1:{port}")),
            permanent(&format!("denied by the host: {loopback}")),
            Some(loopback.clone()),
        ),
        (
            permissive(),
            manifest.clone(),
            &["localhost"],
            config(&plain),
            permanent(&format!("denied by the host: {not_granted}")),
            Some(not_granted.to_owned()),
        ),
        (
            permissive(),
            manifest.clone(),
            &["ldap.other.com"],
            config("ldaps://ldap.other.com"),
            permanent(&format!("denied by the host: {not_declared}")),
            Some(not_declared.to_owned()),
        ),
        (
            permissive(),
            Arc::new(without_capability),
            &["127.0.0.1"],
            config(&plain),
            permanent(
                "denied by the host: the plugin's manifest does not declare the 'ldap' capability",
            ),
            None,
        ),
        (
            permissive(),
            manifest.clone(),
            &["127.0.0.1"],
            json!({"url": plain, "base_dn": PEOPLE, "bind_dn": BIND_DN, "bind_password_secret": "missing"}),
            permanent("bind-password-secret 'missing' is not set on this installation"),
            None,
        ),
        (
            permissive(),
            manifest.clone(),
            &["127.0.0.1"],
            json!({"url": "https://127.0.0.1/", "base_dn": PEOPLE}),
            permanent("unsupported LDAP URL scheme \"https\"; use ldaps:// or ldap://"),
            None,
        ),
        (
            permissive(),
            manifest.clone(),
            &["127.0.0.1"],
            json!({"url": plain, "base_dn": PEOPLE, "filter": "(uid="}),
            permanent("'(uid=' is not an LDAP filter (at column 6)"),
            None,
        ),
    ];
    for (i, (runtime, manifest, granted, config, expected, note)) in cases.into_iter().enumerate() {
        let (result, notes) = first_page(runtime, ctx(manifest, granted, config)).await;
        assert_eq!(result.unwrap_err(), expected, "case {i}");
        let expected_notes: Vec<String> = note
            .map(|n| format!("LDAP request denied: {n}"))
            .into_iter()
            .collect();
        assert_eq!(notes, expected_notes, "case {i}");
    }
    assert_eq!(
        server.seen.lock().unwrap().connections,
        0,
        "no refused request reached the server"
    );

    // Reaching the server, but refused there.
    let mut wrong = ctx(manifest.clone(), &["127.0.0.1"], config(&plain));
    wrong.secrets.insert("bind_password".into(), "guess".into());
    let (result, _) = first_page(permissive(), wrong).await;
    assert_eq!(
        result.unwrap_err(),
        permanent(&format!(
            "denied by the host: the LDAP server refused the bind as '{BIND_DN}': InvalidCredentials (49)"
        ))
    );
    let mut start_tls = config(&plain);
    start_tls["start_tls"] = json!(true);
    let (result, _) = first_page(
        permissive(),
        ctx(manifest.clone(), &["127.0.0.1"], start_tls),
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        transient("the server refused StartTLS: UnwillingToPerform (53): no TLS here")
    );
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.start_tls, 1);
    assert_eq!(
        seen.binds,
        [(BIND_DN.to_owned(), "guess".to_owned())],
        "no bind before TLS"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_is_never_sent_when_tls_fails() {
    let (_, manifest) = guest(permissive());
    // StartTLS accepted, but the server never speaks TLS.
    let server = LdapServer::start(Mode::AcceptStartTls, 3).await;
    let mut start_tls = config(&format!("ldap://127.0.0.1:{}", server.port));
    start_tls["start_tls"] = json!(true);
    // ldaps:// to a server that speaks plain LDAP.
    let plain = LdapServer::start(Mode::Normal, 3).await;
    let ldaps = config(&format!("ldaps://127.0.0.1:{}", plain.port));
    for (i, config) in [start_tls, ldaps].into_iter().enumerate() {
        let (result, _) =
            first_page(permissive(), ctx(manifest.clone(), &["127.0.0.1"], config)).await;
        let error = result.unwrap_err();
        assert!(
            matches!(&error, InvokeError::Plugin(PluginError::Transient(m)) if m.starts_with("TLS with 127.0.0.1 failed: ")),
            "case {i}: {error:?}"
        );
    }
    assert_eq!(server.seen.lock().unwrap().start_tls, 1);
    assert!(server.seen.lock().unwrap().binds.is_empty());
    assert!(plain.seen.lock().unwrap().binds.is_empty());
    assert!(plain.seen.lock().unwrap().searches.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_capped_and_silent_servers_time_out() {
    let flood = LdapServer::start(Mode::IgnorePageSize, 5).await;
    let (_, manifest) = guest(permissive());
    let url = format!("ldap://127.0.0.1:{}", flood.port);
    let (result, _) = first_page(
        permissive(),
        ctx(manifest.clone(), &["127.0.0.1"], config(&url)),
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        permanent("the LDAP page has more than 2 entries (ROLLCALL_PLUGIN_LDAP_MAX_PAGE_SIZE)")
    );

    let normal = LdapServer::start(Mode::Normal, 5).await;
    let url = format!("ldap://127.0.0.1:{}", normal.port);
    let (result, _) = first_page(
        small_pages(),
        ctx(manifest.clone(), &["127.0.0.1"], config(&url)),
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        permanent("the LDAP page is larger than 300 bytes (ROLLCALL_PLUGIN_LDAP_MAX_PAGE_BYTES)")
    );

    let silent = LdapServer::start(Mode::Silent, 5).await;
    let url = format!("ldap://127.0.0.1:{}", silent.port);
    let started = std::time::Instant::now();
    let (result, _) = first_page(
        permissive(),
        ctx(manifest.clone(), &["127.0.0.1"], config(&url)),
    )
    .await;
    assert_eq!(
        result.unwrap_err(),
        transient("the LDAP server did not answer within 500 ms (ROLLCALL_PLUGIN_LDAP_TIMEOUT_MS)")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // The well-behaved server still serves a fresh instance.
    let (result, _) = first_page(
        permissive(),
        ctx(
            manifest,
            &["127.0.0.1"],
            config(&format!("ldap://127.0.0.1:{}", normal.port)),
        ),
    )
    .await;
    assert_eq!(ids(&result.unwrap()), ["user0", "user1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_importing_ldap_must_declare_the_capability() {
    let runtime = permissive();
    let loaded = runtime.load(LDAP_DIRECTORY).unwrap();
    assert!(loaded.imports_ldap());
    let (misbehaving, _) = guests::misbehaving(runtime);
    assert!(!misbehaving.imports_ldap());
}
