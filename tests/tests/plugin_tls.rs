//! Outgoing TLS to servers of an internal CA (`ROLLCALL_PLUGIN_EXTRA_CA_FILE`),
//! through the real runtime: the `ldap-directory` test connector over
//! `ldaps://` and StartTLS, and the misbehaving guest's HTTPS request
//! (`wasi:http`), directly and with an OAuth2 token fetched over HTTPS. Each server presents a certificate signed by a CA made
//! at test time. With the CA file configured the connections succeed and
//! the bind password travels only inside TLS; without it the certificate
//! is refused and nothing is sent; an unusable file is a configuration
//! error naming the setting.

use std::sync::{Arc, OnceLock};

use rollcall_core::directory_user::UserInput;
use rollcall_runtime::builtin::test_guests::LDAP_DIRECTORY;
use rollcall_runtime::credentials::Credential;
use rollcall_runtime::policy::PolicyError;
use rollcall_runtime::{
    InvocationContext, InvokeError, Manifest, Outcome, Page, PluginError, Runtime, SandboxPolicy,
};
use rollcall_tests::guests::{self, context, event};
use rollcall_tests::ldap_server::{BIND_DN, BIND_PASSWORD, LdapServer, Mode, PEOPLE};
use rollcall_tests::test_ca::TestCa;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CA_FILE: &str = "ROLLCALL_PLUGIN_EXTRA_CA_FILE";

/// The platform policy as `rollcall serve` reads it, with `CA_FILE` set
/// to `path`: loopback allowed (the test servers), TLS required for LDAP.
fn policy_with_ca_file(path: &std::path::Path) -> Result<SandboxPolicy, PolicyError> {
    let path = path.to_string_lossy().into_owned();
    SandboxPolicy::from_lookup(&|name| match name {
        CA_FILE => Some(path.clone()),
        "ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK" => Some("true".into()),
        "ROLLCALL_PLUGIN_LDAP_MAX_PAGE_SIZE" => Some("2".into()),
        _ => None,
    })
}

/// The CA file configured (written to a temporary file and read back the
/// way the operator's setting is).
fn trusting() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("internal-ca.pem");
        std::fs::write(&file, &TestCa::get().ca_pem).unwrap();
        let policy = policy_with_ca_file(&file).expect("the test CA file is usable");
        assert_eq!(policy.tls.extra_ca_count(), 1);
        guests::runtime(policy)
    })
}

/// No CA file: public webpki roots only.
fn webpki_only() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        guests::runtime(SandboxPolicy {
            allow_private_network: true,
            ..SandboxPolicy::default()
        })
    })
}

fn ldap_ctx(url: String, start_tls: bool) -> InvocationContext {
    let text = rollcall_runtime::manifest::embedded(LDAP_DIRECTORY).unwrap();
    let manifest = Arc::new(Manifest::parse(&text).unwrap());
    let config = json!({"url": url, "base_dn": PEOPLE, "bind_dn": BIND_DN,
        "bind_password_secret": "bind_password", "start_tls": start_tls});
    let mut ctx = context("plugin_installation_tls", manifest, &["127.0.0.1"], config);
    ctx.secrets
        .insert("bind_password".into(), BIND_PASSWORD.into());
    ctx
}

/// An LDAPS server and an `ldaps://` config, or a StartTLS server and an
/// `ldap://` config asking for StartTLS.
async fn tls_servers() -> Vec<(LdapServer, InvocationContext)> {
    let ldaps = LdapServer::start(Mode::Ldaps, 5).await;
    let url = format!("ldaps://127.0.0.1:{}", ldaps.port);
    let start_tls = LdapServer::start(Mode::StartTls, 5).await;
    let upgrade = format!("ldap://127.0.0.1:{}", start_tls.port);
    vec![
        (ldaps, ldap_ctx(url, false)),
        (start_tls, ldap_ctx(upgrade, true)),
    ]
}

fn ids(page: &Page<UserInput>) -> Vec<&str> {
    page.items.iter().map(|u| u.idp_id.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldaps_and_start_tls_trust_the_configured_ca() {
    let runtime = trusting();
    let plugin = runtime.load(LDAP_DIRECTORY).unwrap();
    for (i, (server, ctx)) in tls_servers().await.into_iter().enumerate() {
        let mut connector = runtime.connector(&plugin, ctx).await.unwrap();
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let page = connector.list_users(cursor, 100).await.unwrap();
            pages.push(ids(&page).join(","));
            cursor = page.next_cursor;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(pages, ["user0,user1", "user2,user3", "user4"], "case {i}");
        let seen = server.seen.lock().unwrap();
        assert_eq!(seen.connections, 1, "case {i}");
        assert_eq!(
            seen.binds,
            [(BIND_DN.to_owned(), BIND_PASSWORD.to_owned())],
            "case {i}"
        );
        assert_eq!(seen.binds_in_tls, [true], "case {i}: bound inside TLS");
        assert_eq!(seen.searches.len(), 3, "case {i}");
        assert_eq!(seen.failed_handshakes, 0, "case {i}");
        assert_eq!(seen.start_tls, i, "case {i}: StartTLS only when asked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_ca_the_certificate_is_refused_before_any_bind() {
    let runtime = webpki_only();
    let plugin = runtime.load(LDAP_DIRECTORY).unwrap();
    for (i, (server, ctx)) in tls_servers().await.into_iter().enumerate() {
        let mut connector = runtime.connector(&plugin, ctx).await.unwrap();
        let error = connector.list_users(None, 100).await.unwrap_err();
        let expected = "TLS with 127.0.0.1 failed: invalid peer certificate: UnknownIssuer";
        assert!(
            matches!(&error, InvokeError::Plugin(PluginError::Transient(m)) if m == expected),
            "case {i}: {error:?}"
        );
        // The server notices the broken-off handshake a moment later.
        for _ in 0..100 {
            if server.seen.lock().unwrap().failed_handshakes > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let seen = server.seen.lock().unwrap();
        assert_eq!(seen.failed_handshakes, 1, "case {i}");
        assert!(seen.binds.is_empty(), "case {i}: no bind was sent");
        assert!(seen.searches.is_empty(), "case {i}");
    }
}

/// An HTTPS responder with the test CA's server certificate: a POST (the
/// token endpoint) gets a token, any other request `auth=<Authorization>`.
async fn https_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut tls) = TestCa::get().acceptor().accept(socket).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                let body = if request.starts_with("post ") {
                    r#"{"access_token":"tls-t0ken","token_type":"Bearer","expires_in":3600}"#
                        .to_owned()
                } else {
                    let auth = request
                        .lines()
                        .find_map(|l| l.strip_prefix("authorization: "))
                        .unwrap_or("none");
                    format!("auth={}", auth.trim())
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

/// The misbehaving guest GETs `url` on a fresh instance.
async fn https_get(runtime: &Runtime, url: String) -> Result<Outcome, InvokeError> {
    let (plugin, manifest) = guests::misbehaving(runtime);
    let ctx = context(
        "plugin_installation_tls",
        manifest,
        &["127.0.0.1"],
        json!({}),
    );
    let mut instance = runtime.lifecycle(&plugin, ctx).await.unwrap();
    instance
        .handle(&event(json!({"behavior": "http", "url": url})))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_https_trusts_the_configured_ca() {
    let port = https_server().await;
    let url = format!("https://127.0.0.1:{port}/");
    assert_eq!(
        https_get(trusting(), url.clone()).await.unwrap(),
        Outcome::Completed(Some("200 auth=none".into()))
    );
    assert_eq!(
        https_get(webpki_only(), url).await.unwrap_err(),
        InvokeError::Plugin(PluginError::Transient(
            "HTTP request failed: TlsCertificateError".into()
        ))
    );
}

/// The manifest of the misbehaving guest with an OAuth2 slot for 127.0.0.1.
fn oauth2_manifest() -> Arc<Manifest> {
    Arc::new(
        Manifest::parse(
            "id = \"misbehaving\"\nversion = \"0.1.0\"\nkind = \"lifecycle\"\nwit = \"0.1.0\"\n\
             description = \"tls test\"\nhosts = [\"127.0.0.1\"]\n\n\
             [[credentials]]\nname = \"api\"\nkind = \"oauth2-client-credentials\"\nhosts = [\"127.0.0.1\"]\n",
        )
        .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoints_trust_the_configured_ca() {
    let port = https_server().await;
    let credential = Credential::Oauth2ClientCredentials {
        token_url: format!("https://127.0.0.1:{port}/token"),
        client_id: "rollcall-test".into(),
        client_secret: "s3cret".into(),
        scope: None,
    };
    let url = format!("https://127.0.0.1:{port}/users");
    for (i, runtime) in [trusting(), webpki_only()].into_iter().enumerate() {
        let (plugin, _) = guests::misbehaving(runtime);
        let installation = format!("plugin_installation_token_{i}");
        let mut ctx = context(&installation, oauth2_manifest(), &["127.0.0.1"], json!({}));
        ctx.credentials.insert("api".into(), credential.clone());
        let mut instance = runtime.lifecycle(&plugin, ctx).await.unwrap();
        let outcome = instance
            .handle(&event(json!({"behavior": "http", "url": url})))
            .await;
        if i == 0 {
            assert_eq!(
                outcome.unwrap(),
                Outcome::Completed(Some("200 auth=bearer tls-t0ken".into()))
            );
        } else {
            assert_eq!(
                outcome.unwrap_err(),
                InvokeError::Plugin(PluginError::Transient(
                    "HTTP request failed: InternalError(Some(\"credential: token endpoint: TlsCertificateError\"))".into()
                ))
            );
        }
    }
}

#[test]
fn an_unusable_ca_file_is_a_configuration_error_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let key_only = dir.path().join("key.pem");
    std::fs::write(
        &key_only,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let truncated = dir.path().join("truncated.pem");
    let pem = &TestCa::get().ca_pem;
    std::fs::write(&truncated, &pem[..pem.len() / 2]).unwrap();
    let missing = dir.path().join("missing.pem");
    let cases: [(&std::path::Path, &str); 4] = [
        (&garbage, "it holds no PEM certificate"),
        (&key_only, "it holds no PEM certificate"),
        (&truncated, "not valid PEM"),
        (&missing, "cannot read it"),
    ];
    for (path, reason) in cases {
        let error = policy_with_ca_file(path).unwrap_err().to_string();
        let prefix = format!("{CA_FILE}: cannot use '{}': {reason}", path.display());
        assert!(error.starts_with(&prefix), "{error}");
    }
}
