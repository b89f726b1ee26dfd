//! Credential injection for grants: OAuth2 client-credentials, the
//! refresh-token grant and the JWT-bearer grant (RS256, Google service-account style). A fake token
//! endpoint on 127.0.0.1 checks each grant request (form fields, client
//! authentication, the assertion's signature with the public key and its
//! claims) and issues numbered tokens; an upstream API echoes the
//! `Authorization` it receives. The guest (the misbehaving test guest's
//! `http` behavior) never holds a token, yet its requests carry
//! `Bearer <token>`; tokens are cached across calls, refreshed once they
//! are within a minute of expiry, and a failing token endpoint becomes a
//! clear host error while nothing reaches the upstream unauthenticated.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rollcall_runtime::credentials::Credential;
use rollcall_runtime::{InvokeError, Manifest, Outcome, PluginError, Runtime};
use rollcall_tests::guests::{self, context, event};
use serde_json::{Value, json};

const CLIENT_ID: &str = "rollcall-test";
const CLIENT_SECRET: &str = "cl1ent-s3cret";
const SCOPE: &str = "directory.read";
const REFRESH_TOKEN: &str = "1//refresh-me";
const SERVICE_ACCOUNT: &str = "sync@rollcall-test.iam.gserviceaccount.com";
const GOOGLE_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
const SUBJECT: &str = "admin@example.com";
const PRIVATE_KEY: &str = include_str!("../fixtures/test-service-account-key.pem");
/// A key the token endpoint does not know.
const OTHER_KEY: &str = include_str!("../fixtures/other-rsa-key.pem");

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| guests::runtime(guests::permissive()))
}

/// What the fake token endpoint saw and decided.
#[derive(Default)]
struct TokenLog {
    /// Form fields of every grant request, in order.
    requests: Vec<Vec<(String, String)>>,
    /// Verified JWT claims of every valid assertion.
    claims: Vec<Value>,
}

struct TokenEndpoint {
    url: String,
    expires_in: u64,
    /// Answer every request with this status and body instead.
    broken: Option<(StatusCode, String)>,
    public_key: Vec<u8>,
    log: Mutex<TokenLog>,
}

fn public_key() -> Vec<u8> {
    let der: String = PRIVATE_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&STANDARD.decode(der).unwrap()).unwrap();
    use ring::signature::KeyPair;
    pair.public_key().as_ref().to_vec()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn refuse(error: &str, description: &str) -> (StatusCode, String) {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        json!({"error": error, "error_description": description}).to_string(),
    )
}

/// Checks an RS256 assertion: signature with the public key, then claims.
fn verify_assertion(endpoint: &TokenEndpoint, assertion: &str) -> Result<Value, String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err("assertion is not a JWS compact token".into());
    };
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {} is not RS256", header["alg"]));
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| e.to_string())?;
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        &endpoint.public_key,
    )
    .verify(format!("{}.{payload}", parts[0]).as_bytes(), &signature)
    .map_err(|_| "bad signature".to_owned())?;
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(0),
        claims["exp"].as_i64().unwrap_or(0),
    );
    let checks = [
        (claims["iss"] == SERVICE_ACCOUNT, "iss"),
        (claims["scope"] == GOOGLE_SCOPE, "scope"),
        (claims["aud"] == endpoint.url.as_str(), "aud"),
        (claims["sub"] == SUBJECT, "sub"),
        ((iat - now).abs() <= 60, "iat"),
        (exp > now && exp - iat <= 3600, "exp"),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, claim)) => Err(format!("claim {claim} is wrong")),
        None => Ok(claims),
    }
}

async fn grant(State(endpoint): State<Arc<TokenEndpoint>>, body: Bytes) -> (StatusCode, String) {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let mut log = endpoint.log.lock().unwrap();
    log.requests.push(form.clone());
    if let Some(broken) = &endpoint.broken {
        return broken.clone();
    }
    match field(&form, "grant_type") {
        Some("client_credentials") => {
            if field(&form, "client_id") != Some(CLIENT_ID)
                || field(&form, "client_secret") != Some(CLIENT_SECRET)
            {
                return refuse("invalid_client", "unknown client or wrong secret");
            }
            if field(&form, "scope") != Some(SCOPE) {
                return refuse("invalid_scope", "scope not allowed");
            }
        }
        Some("refresh_token") => {
            if field(&form, "client_id") != Some(CLIENT_ID)
                || field(&form, "client_secret") != Some(CLIENT_SECRET)
            {
                return refuse("invalid_client", "unknown client or wrong secret");
            }
            if field(&form, "refresh_token") != Some(REFRESH_TOKEN) {
                return refuse("invalid_grant", "Token has been expired or revoked.");
            }
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            match verify_assertion(&endpoint, field(&form, "assertion").unwrap_or("")) {
                Ok(claims) => log.claims.push(claims),
                Err(why) => return refuse("invalid_grant", &why),
            }
        }
        _ => return refuse("unsupported_grant_type", "unknown grant"),
    }
    let n = log.requests.len();
    (
        StatusCode::OK,
        json!({"access_token": format!("tok-{n}"), "token_type": "Bearer", "expires_in": endpoint.expires_in}).to_string(),
    )
}

async fn serve(router: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    port
}

async fn token_endpoint(
    expires_in: u64,
    broken: Option<(StatusCode, String)>,
) -> Arc<TokenEndpoint> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let endpoint = Arc::new(TokenEndpoint {
        url: format!("http://127.0.0.1:{port}/token"),
        expires_in,
        broken,
        public_key: public_key(),
        log: Mutex::default(),
    });
    let router = Router::new()
        .route("/token", post(grant))
        .with_state(endpoint.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    endpoint
}

/// The upstream API: answers `auth=<Authorization>` and counts requests.
async fn upstream() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new().route(
        "/",
        get(move |headers: HeaderMap| {
            counter.fetch_add(1, Ordering::SeqCst);
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_owned();
            async move { format!("auth={auth}") }
        }),
    );
    (format!("http://127.0.0.1:{}/", serve(router).await), hits)
}

/// The test guest under a manifest with one credential slot of `kind`
/// for 127.0.0.1.
fn manifest(kind: &str) -> Arc<Manifest> {
    Arc::new(
        Manifest::parse(&format!(
            "id = \"misbehaving\"\nversion = \"0.1.0\"\nkind = \"lifecycle\"\nwit = \"0.1.0\"\n\
             description = \"credential test\"\nhosts = [\"127.0.0.1\"]\n\n\
             [[credentials]]\nname = \"api\"\nkind = \"{kind}\"\nhosts = [\"127.0.0.1\"]\n"
        ))
        .unwrap(),
    )
}

/// One fresh instance calling `url` with `credential` bound to the slot.
async fn call(
    installation: &str,
    credential: &Credential,
    url: &str,
) -> (Result<Outcome, InvokeError>, Vec<String>) {
    let kind = match credential {
        Credential::JwtBearer { .. } => "jwt-bearer",
        Credential::Oauth2RefreshToken { .. } => "oauth2-refresh-token",
        _ => "oauth2-client-credentials",
    };
    let (plugin, _) = guests::misbehaving(runtime());
    let mut ctx = context(installation, manifest(kind), &["127.0.0.1"], json!({}));
    ctx.credentials.insert("api".into(), credential.clone());
    let mut instance = runtime().lifecycle(&plugin, ctx).await.unwrap();
    let result = instance
        .handle(&event(json!({"behavior": "http", "url": url})))
        .await;
    (result, instance.notes())
}

fn client_credentials(endpoint: &TokenEndpoint, secret: &str) -> Credential {
    Credential::Oauth2ClientCredentials {
        token_url: endpoint.url.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: secret.into(),
        scope: Some(SCOPE.into()),
    }
}

fn completed(text: &str) -> Outcome {
    Outcome::Completed(Some(text.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_token_is_injected_cached_and_refreshed() {
    // 61 s: within the refresh margin (60 s) after one second.
    let endpoint = token_endpoint(61, None).await;
    let (api, _) = upstream().await;
    let credential = client_credentials(&endpoint, CLIENT_SECRET);
    let installation = "plugin_installation_client_credentials";

    let (first, notes) = call(installation, &credential, &api).await;
    assert_eq!(
        first.unwrap(),
        completed("200 auth=Bearer tok-1"),
        "{notes:?}"
    );
    let (second, _) = call(installation, &credential, &api).await;
    assert_eq!(
        second.unwrap(),
        completed("200 auth=Bearer tok-1"),
        "cached across calls"
    );
    {
        let log = endpoint.log.lock().unwrap();
        assert_eq!(log.requests.len(), 1, "one grant for two calls");
        let sent: Vec<(&str, &str)> = log.requests[0]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            sent,
            [
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("scope", SCOPE),
            ]
        );
    }

    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (third, _) = call(installation, &credential, &api).await;
    assert_eq!(
        third.unwrap(),
        completed("200 auth=Bearer tok-2"),
        "refreshed near expiry"
    );
    assert_eq!(endpoint.log.lock().unwrap().requests.len(), 2);
}

/// An API that has revoked `tok-1`: 401 for it, `auth=…` for any other.
async fn revoking_upstream() -> String {
    let router = Router::new().route(
        "/",
        get(|headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("none")
                .to_owned();
            if auth == "Bearer tok-1" {
                (StatusCode::UNAUTHORIZED, "revoked".to_owned())
            } else {
                (StatusCode::OK, format!("auth={auth}"))
            }
        }),
    );
    format!("http://127.0.0.1:{}/", serve(router).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_api_refuses_is_not_reused() {
    // Valid for an hour: only the 401 can make the host fetch another.
    let endpoint = token_endpoint(3600, None).await;
    let api = revoking_upstream().await;
    let credential = client_credentials(&endpoint, CLIENT_SECRET);
    let installation = "plugin_installation_revoked_token";

    let (first, notes) = call(installation, &credential, &api).await;
    assert_eq!(first.unwrap(), completed("401 revoked"), "{notes:?}");
    let (second, notes) = call(installation, &credential, &api).await;
    assert_eq!(
        second.unwrap(),
        completed("200 auth=Bearer tok-2"),
        "a new token after the 401: {notes:?}"
    );
    let (third, _) = call(installation, &credential, &api).await;
    assert_eq!(
        third.unwrap(),
        completed("200 auth=Bearer tok-2"),
        "cached again"
    );
    assert_eq!(endpoint.log.lock().unwrap().requests.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_assertion_is_signed_and_exchanged() {
    let endpoint = token_endpoint(3600, None).await;
    let (api, _) = upstream().await;
    let credential = Credential::JwtBearer {
        token_url: endpoint.url.clone(),
        client_email: SERVICE_ACCOUNT.into(),
        private_key: PRIVATE_KEY.into(),
        scope: Some(GOOGLE_SCOPE.into()),
        subject: Some(SUBJECT.into()),
    };
    credential.check().unwrap();
    let installation = "plugin_installation_jwt_bearer";
    for _ in 0..2 {
        let (result, notes) = call(installation, &credential, &api).await;
        assert_eq!(
            result.unwrap(),
            completed("200 auth=Bearer tok-1"),
            "{notes:?}"
        );
    }
    let log = endpoint.log.lock().unwrap();
    assert_eq!(log.requests.len(), 1, "the token is cached");
    let fields: Vec<&str> = log.requests[0].iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(fields, ["grant_type", "assertion"]);
    assert_eq!(
        log.claims.len(),
        1,
        "the assertion verified with the public key"
    );
    let claims = &log.claims[0];
    assert_eq!(claims["iss"], SERVICE_ACCOUNT);
    assert_eq!(claims["aud"], endpoint.url);
    assert_eq!(claims["scope"], GOOGLE_SCOPE);
    assert_eq!(claims["sub"], SUBJECT);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_is_exchanged_cached_and_refusal_reported() {
    let endpoint = token_endpoint(3600, None).await;
    let (api, hits) = upstream().await;
    let refresh = |token: &str| Credential::Oauth2RefreshToken {
        token_url: endpoint.url.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        refresh_token: token.into(),
        scope: None,
    };
    let credential = refresh(REFRESH_TOKEN);
    credential.check().unwrap();
    for _ in 0..2 {
        let (result, notes) = call("plugin_installation_refresh", &credential, &api).await;
        assert_eq!(
            result.unwrap(),
            completed("200 auth=Bearer tok-1"),
            "{notes:?}"
        );
    }
    {
        let log = endpoint.log.lock().unwrap();
        assert_eq!(log.requests.len(), 1, "the token is cached");
        let sent: Vec<(&str, &str)> = log.requests[0]
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            sent,
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", REFRESH_TOKEN),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ]
        );
    }
    let (result, notes) = call(
        "plugin_installation_refresh_revoked",
        &refresh("1//old"),
        &api,
    )
    .await;
    assert!(
        matches!(result, Err(InvokeError::Plugin(PluginError::Transient(_)))),
        "{result:?}"
    );
    assert_eq!(
        notes,
        [
            "credential injection failed: token endpoint answered HTTP 400: invalid_grant: Token has been expired or revoked."
        ]
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "the refused call never reached the API"
    );
    assert!(refresh("").check().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_assertions_are_reported() {
    let endpoint = token_endpoint(3600, None).await;
    let (api, hits) = upstream().await;
    let jwt = |private_key: &str, scope: &str| Credential::JwtBearer {
        token_url: endpoint.url.clone(),
        client_email: SERVICE_ACCOUNT.into(),
        private_key: private_key.into(),
        scope: Some(scope.into()),
        subject: Some(SUBJECT.into()),
    };
    let cases = [
        (jwt(OTHER_KEY, GOOGLE_SCOPE), "bad signature"),
        (
            jwt(PRIVATE_KEY, "https://www.googleapis.com/auth/other"),
            "claim scope is wrong",
        ),
    ];
    for (i, (credential, why)) in cases.into_iter().enumerate() {
        let (result, notes) = call(
            &format!("plugin_installation_jwt_bad_{i}"),
            &credential,
            &api,
        )
        .await;
        assert!(
            matches!(result, Err(InvokeError::Plugin(PluginError::Transient(_)))),
            "{result:?}"
        );
        assert_eq!(
            notes,
            [format!(
                "credential injection failed: token endpoint answered HTTP 400: invalid_grant: {why}"
            )]
        );
    }
    assert!(endpoint.log.lock().unwrap().claims.is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_failures_are_clear_host_errors() {
    let (api, hits) = upstream().await;
    let expected_error = |reason: &str| {
        InvokeError::Plugin(PluginError::Transient(format!(
            "HTTP request failed: InternalError(Some(\"credential: {reason}\"))"
        )))
    };

    // The client is refused: the OAuth error is reported, not a token.
    let endpoint = token_endpoint(3600, None).await;
    let wrong = client_credentials(&endpoint, "wrong");
    let (result, notes) = call("plugin_installation_refused", &wrong, &api).await;
    let reason = "token endpoint answered HTTP 401: invalid_client: unknown client or wrong secret";
    assert_eq!(result.unwrap_err(), expected_error(reason));
    assert_eq!(notes, [format!("credential injection failed: {reason}")]);

    // The endpoint is broken or answers nonsense.
    let cases = [
        (
            (StatusCode::INTERNAL_SERVER_ERROR, "oops".to_owned()),
            "token endpoint answered HTTP 500",
        ),
        (
            (StatusCode::OK, "not json".to_owned()),
            "token endpoint answered unexpected JSON: expected ident at line 1 column 2",
        ),
        (
            (
                StatusCode::OK,
                json!({"access_token": "", "expires_in": 60}).to_string(),
            ),
            "token endpoint answered an empty access_token",
        ),
    ];
    for (i, (broken, reason)) in cases.into_iter().enumerate() {
        let endpoint = token_endpoint(3600, Some(broken)).await;
        let credential = client_credentials(&endpoint, CLIENT_SECRET);
        let (result, notes) = call(
            &format!("plugin_installation_broken_{i}"),
            &credential,
            &api,
        )
        .await;
        assert_eq!(result.unwrap_err(), expected_error(reason));
        assert_eq!(notes, [format!("credential injection failed: {reason}")]);
        assert_eq!(endpoint.log.lock().unwrap().requests.len(), 1);
    }

    // Nobody listens at the token URL.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let credential = Credential::Oauth2ClientCredentials {
        token_url: format!("http://127.0.0.1:{closed}/token"),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        scope: None,
    };
    let (result, notes) = call("plugin_installation_unreachable", &credential, &api).await;
    let reason = "token endpoint: ConnectionRefused";
    assert_eq!(result.unwrap_err(), expected_error(reason));
    assert_eq!(notes, [format!("credential injection failed: {reason}")]);

    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "no request went out without its token"
    );
}
