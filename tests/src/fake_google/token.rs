//! The fake's OAuth token endpoint (`POST /token`): Google's JWT-bearer
//! grant for a service account with domain-wide delegation (RS256
//! signature checked with the fixture key, then `iss`, `aud`, `sub`, the
//! delegated scopes and the times) and the refresh-token grant of an OAuth
//! client. Refusals use Google's OAuth error bodies.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{FakeState, Refusal, json_response};

/// The service account of the fixture key.
pub const SERVICE_ACCOUNT: &str = "rollcall-sync@rollcall-test.iam.gserviceaccount.com";
/// Its PKCS#8 private key (a throwaway test key).
pub const SERVICE_ACCOUNT_KEY: &str = include_str!("../../fixtures/test-service-account-key.pem");
/// The administrator the service account acts as.
pub const SUBJECT: &str = "admin@example.com";
/// The scopes delegated to the service account's client id.
pub const DELEGATED_SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
];
pub const CLIENT_ID: &str = "1234567890-rollcall.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-fake-secret";
pub const REFRESH_TOKEN: &str = "1//0fake-refresh-token";

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        json!({"error": error, "error_description": description}).to_string(),
    )
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) async fn grant(State(state): State<Arc<FakeState>>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let mut shared = state.lock();
    *shared.counters.entry("token").or_default() += 1;
    shared.grants.push(form.clone());
    let refused = match field(&form, "grant_type") {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            check_assertion(&state.token_url, field(&form, "assertion").unwrap_or(""))
                .map_err(|r| *r)
        }
        Some("refresh_token") => {
            if field(&form, "client_id") != Some(CLIENT_ID)
                || field(&form, "client_secret") != Some(CLIENT_SECRET)
            {
                Err(refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The OAuth client was not found.",
                ))
            } else if field(&form, "refresh_token") != Some(REFRESH_TOKEN) || shared.refresh_revoked
            {
                Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                ))
            } else {
                Ok(())
            }
        }
        _ => Err(refuse(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type.",
        )),
    };
    if let Err(response) = refused {
        return response;
    }
    shared.issued += 1;
    let token = format!("ya29.fake-{}", shared.issued);
    shared.tokens.insert(token.clone());
    json_response(
        StatusCode::OK,
        json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"}).to_string(),
    )
}

fn public_key() -> Vec<u8> {
    use ring::signature::KeyPair;
    let der: String = SERVICE_ACCOUNT_KEY
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD.decode(der).expect("fixture key is base64");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).expect("fixture key is PKCS#8 RSA");
    pair.public_key().as_ref().to_vec()
}

/// Checks the assertion as Google does; the refusal otherwise.
fn check_assertion(token_url: &str, assertion: &str) -> Result<(), Refusal> {
    let invalid = |why: &str| Box::new(refuse(StatusCode::BAD_REQUEST, "invalid_grant", why));
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(invalid("Invalid JWT Signature."));
    };
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key(),
    )
    .verify(format!("{header}.{payload}").as_bytes(), &signature)
    .map_err(|_| invalid("Invalid JWT Signature."))?;
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| invalid("Invalid JWT payload."))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if claims["iss"] != SERVICE_ACCOUNT {
        return Err(invalid("Invalid email or User ID"));
    }
    if claims["aud"] != token_url || exp <= now || exp - claims["iat"].as_i64().unwrap_or(0) > 3600
    {
        return Err(invalid(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        ));
    }
    let scopes = claims["scope"].as_str().unwrap_or("");
    let delegated = !scopes.is_empty() && scopes.split(' ').all(|s| DELEGATED_SCOPES.contains(&s));
    if claims["sub"] != SUBJECT || !delegated {
        return Err(Box::new(refuse(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        )));
    }
    Ok(())
}
