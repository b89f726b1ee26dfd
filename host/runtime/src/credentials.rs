//! Credential injection: an installation binds stored credentials to a
//! manifest's credential slot, and the host adds `Authorization` to
//! requests for that slot's hosts. Static bearer, basic and
//! scheme-and-token (`authorization`, e.g. Okta's `SSWS`) credentials are
//! used as they are; OAuth2 client-credentials, refresh-token and
//! JWT-bearer grants (Google service accounts) are exchanged for access
//! tokens, cached until shortly before they expire or until the API
//! answers 401 with one. Guests never see any of it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::manifest::CredentialKind;
use crate::outbound;
use crate::policy::SandboxPolicy;

/// Tokens are refreshed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Lifetime asked for in a JWT-bearer assertion.
const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// A stored credential. `Debug` never prints secret material.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Credential {
    Bearer {
        token: String,
    },
    Basic {
        username: String,
        password: String,
    },
    Oauth2ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: String,
        #[serde(default)]
        scope: Option<String>,
    },
    /// RFC 6749 §6 refresh-token grant: a long-lived refresh token an
    /// administrator obtained once through an OAuth client (e.g. Google's
    /// consent flow) is exchanged for access tokens.
    Oauth2RefreshToken {
        token_url: String,
        client_id: String,
        client_secret: String,
        refresh_token: String,
        #[serde(default)]
        scope: Option<String>,
    },
    /// RFC 7523 JWT-bearer grant signed with RS256, as Google service
    /// accounts use: `private_key` is the PKCS#8 PEM from the key file.
    JwtBearer {
        token_url: String,
        client_email: String,
        private_key: String,
        #[serde(default)]
        scope: Option<String>,
        /// User to act as (domain-wide delegation).
        #[serde(default)]
        subject: Option<String>,
    },
    /// A static `Authorization: <scheme> <token>` for APIs with their own
    /// scheme, such as Okta's `SSWS` API tokens.
    Authorization {
        scheme: String,
        token: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential::{:?}(..)", self.kind())
    }
}

impl Credential {
    pub fn kind(&self) -> CredentialKind {
        match self {
            Credential::Bearer { .. } => CredentialKind::Bearer,
            Credential::Basic { .. } => CredentialKind::Basic,
            Credential::Oauth2ClientCredentials { .. } => CredentialKind::Oauth2ClientCredentials,
            Credential::Oauth2RefreshToken { .. } => CredentialKind::Oauth2RefreshToken,
            Credential::JwtBearer { .. } => CredentialKind::JwtBearer,
            Credential::Authorization { .. } => CredentialKind::Authorization,
        }
    }

    /// Checks the fields that can be checked without a network call.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Credential::JwtBearer { private_key, .. } => rsa_key(private_key).map(|_| ()),
            Credential::Authorization { scheme, token } => check_scheme_and_token(scheme, token),
            Credential::Oauth2ClientCredentials { token_url, .. }
            | Credential::Oauth2RefreshToken { token_url, .. }
                if !token_url.starts_with("https://") && !token_url.starts_with("http://") =>
            {
                Err("token_url must be an http(s) URL".into())
            }
            Credential::Oauth2RefreshToken { refresh_token, .. } if refresh_token.is_empty() => {
                Err("refresh_token must not be empty".into())
            }
            _ => Ok(()),
        }
    }

    fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(json)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// An `authorization` credential must make a valid header value: the
/// scheme is an RFC 9110 token (`SSWS`, `Token`), the token visible ASCII.
fn check_scheme_and_token(scheme: &str, token: &str) -> Result<(), String> {
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if scheme.is_empty() || scheme.len() > 64 || !scheme.chars().all(tchar) {
        return Err(
            "scheme must be one word of letters, digits or !#$%&'*+-.^_`|~ (e.g. SSWS)".into(),
        );
    }
    if token.is_empty() || token.len() > 8192 || !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err("token must be non-empty visible ASCII without spaces".into());
    }
    Ok(())
}

static TOKENS: Mutex<Option<HashMap<String, (String, Instant)>>> = Mutex::new(None);

fn cached(key: &str) -> Option<String> {
    let tokens = TOKENS.lock().ok()?;
    let (token, expires) = tokens.as_ref()?.get(key)?;
    (Instant::now() + REFRESH_MARGIN < *expires).then(|| token.clone())
}

fn remember(key: String, token: String, expires_in: Duration) {
    if let Ok(mut tokens) = TOKENS.lock() {
        tokens
            .get_or_insert_with(HashMap::new)
            .insert(key, (token, Instant::now() + expires_in));
    }
}

/// Where a grant's access token is cached: per installation slot and
/// credential, so a changed credential never reuses an old token.
fn cache_key(grant: &Credential, scope_key: &str) -> String {
    format!("{scope_key}:{}", grant.fingerprint())
}

/// Forgets the cached access token of a grant after the API refused it
/// (401): a revoked or rotated token is replaced on the next request
/// instead of being reused until it nears expiry. Static credentials have
/// nothing cached.
pub(crate) fn forget(credential: &Credential, scope_key: &str) {
    if matches!(
        credential,
        Credential::Bearer { .. } | Credential::Basic { .. } | Credential::Authorization { .. }
    ) {
        return;
    }
    let key = cache_key(credential, scope_key);
    if let Ok(mut tokens) = TOKENS.lock()
        && let Some(tokens) = tokens.as_mut()
    {
        tokens.remove(&key);
    }
}

/// The `Authorization` value for a request, fetching or refreshing a
/// token when the credential is a grant.
pub(crate) async fn authorization(
    credential: &Credential,
    scope_key: &str,
    policy: &SandboxPolicy,
) -> Result<String, String> {
    match credential {
        Credential::Bearer { token } => Ok(format!("Bearer {token}")),
        Credential::Basic { username, password } => Ok(format!(
            "Basic {}",
            STANDARD.encode(format!("{username}:{password}"))
        )),
        Credential::Authorization { scheme, token } => Ok(format!("{scheme} {token}")),
        grant => {
            let key = cache_key(grant, scope_key);
            if let Some(token) = cached(&key) {
                return Ok(format!("Bearer {token}"));
            }
            let (token, expires_in) = fetch_token(grant, policy).await?;
            remember(key, token.clone(), expires_in);
            Ok(format!("Bearer {token}"))
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

async fn fetch_token(
    grant: &Credential,
    policy: &SandboxPolicy,
) -> Result<(String, Duration), String> {
    let (url, form) = match grant {
        Credential::Oauth2ClientCredentials {
            token_url,
            client_id,
            client_secret,
            scope,
        } => {
            let mut form = vec![
                ("grant_type", "client_credentials".to_owned()),
                ("client_id", client_id.clone()),
                ("client_secret", client_secret.clone()),
            ];
            if let Some(s) = scope {
                form.push(("scope", s.clone()));
            }
            (token_url, form)
        }
        Credential::Oauth2RefreshToken {
            token_url,
            client_id,
            client_secret,
            refresh_token,
            scope,
        } => {
            let mut form = vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", refresh_token.clone()),
                ("client_id", client_id.clone()),
                ("client_secret", client_secret.clone()),
            ];
            if let Some(s) = scope {
                form.push(("scope", s.clone()));
            }
            (token_url, form)
        }
        Credential::JwtBearer {
            token_url,
            client_email,
            private_key,
            scope,
            subject,
        } => {
            let assertion = jwt_assertion(
                token_url,
                client_email,
                private_key,
                scope.as_deref(),
                subject.as_deref(),
            )?;
            (
                token_url,
                vec![
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                    ),
                    ("assertion", assertion),
                ],
            )
        }
        _ => return Err("not a token grant".into()),
    };
    let body: String = form
        .iter()
        .map(|(k, v)| format!("{k}={}", outbound::form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let (status, bytes) = outbound::post_form(url, body, policy).await?;
    if !(200..300).contains(&status) {
        return Err(match oauth_error(&bytes) {
            Some(reason) => format!("token endpoint answered HTTP {status}: {reason}"),
            None => format!("token endpoint answered HTTP {status}"),
        });
    }
    let token: TokenResponse = serde_json::from_slice(&bytes)
        .map_err(|e| format!("token endpoint answered unexpected JSON: {e}"))?;
    if token.access_token.is_empty() {
        return Err("token endpoint answered an empty access_token".into());
    }
    Ok((
        token.access_token,
        Duration::from_secs(token.expires_in.unwrap_or(3600)),
    ))
}

/// `error` and `error_description` of an RFC 6749 error response, cut
/// short: they explain a refusal without echoing anything long.
fn oauth_error(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct OauthError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    let e: OauthError = serde_json::from_slice(body).ok()?;
    let text = match e.error_description {
        Some(d) => format!("{}: {d}", e.error),
        None => e.error,
    };
    Some(text.chars().take(200).collect())
}

fn rsa_key(pem: &str) -> Result<ring::signature::RsaKeyPair, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|_| "private_key is not a PEM-encoded key".to_owned())?;
    ring::signature::RsaKeyPair::from_pkcs8(&der)
        .map_err(|e| format!("private_key is not a PKCS#8 RSA key: {e}"))
}

/// An RS256-signed assertion for the JWT-bearer grant (RFC 7523).
pub(crate) fn jwt_assertion(
    audience: &str,
    issuer: &str,
    private_key: &str,
    scope: Option<&str>,
    subject: Option<&str>,
) -> Result<String, String> {
    let key = rsa_key(private_key)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut claims = serde_json::json!({
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    if let Some(s) = scope {
        claims["scope"] = s.into();
    }
    if let Some(s) = subject {
        claims["sub"] = s.into();
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "cannot sign the JWT assertion".to_owned())?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(scheme: &str, token: &str) -> Credential {
        Credential::Authorization {
            scheme: scheme.into(),
            token: token.into(),
        }
    }

    #[test]
    fn authorization_credentials_must_make_a_header_value() {
        assert_eq!(authorization("SSWS", "00abc-_DEF").check(), Ok(()));
        assert_eq!(authorization("Token", "a.b/c+d=").check(), Ok(()));
        for (scheme, token) in [
            ("", "t"),
            ("SS WS", "t"),
            ("SSWS\r\nX-Evil:", "t"),
            ("SSWS", ""),
            ("SSWS", "two words"),
            ("SSWS", "line\nbreak"),
        ] {
            assert!(
                authorization(scheme, token).check().is_err(),
                "{scheme:?} {token:?} accepted"
            );
        }
    }

    #[test]
    fn authorization_credentials_parse_from_json_and_print_no_secret() {
        let c: Credential = serde_json::from_str(
            r#"{"kind": "authorization", "scheme": "SSWS", "token": "00s3cret"}"#,
        )
        .unwrap();
        assert_eq!(c, authorization("SSWS", "00s3cret"));
        assert_eq!(c.kind(), CredentialKind::Authorization);
        assert!(!format!("{c:?}").contains("00s3cret"));
    }
}
