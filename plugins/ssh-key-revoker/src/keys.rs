//! The GitHub-style keys API: `GET {api_base}/users/{login}/keys` (a JSON
//! list of `{"id", "key", "title"}`, paged with `Link: <…>; rel="next"`)
//! and `DELETE {api_base}/users/{login}/keys/{id}`.

use rollcall_plugin_sdk::{PluginError, http};
use serde_json::Value;

/// Keys asked for per page.
pub const PER_PAGE: u32 = 100;

/// Pages followed at most (10,000 keys), so a looping `Link` cannot hold
/// the action until its deadline.
const MAX_PAGES: usize = 100;

/// What the API holds for a login.
#[derive(Debug, PartialEq, Eq)]
pub enum Listing {
    /// The ids of the login's keys, in the API's order.
    Keys(Vec<String>),
    /// The API has no such user (404 on the first page).
    NoSuchUser,
}

/// What one delete did.
#[derive(Debug, PartialEq, Eq)]
pub enum Deleted {
    Now,
    /// 404: already deleted (by an earlier delivery or by someone else).
    AlreadyGone,
}

/// The URL of the first page of `login`'s keys.
pub fn first_page(api_base: &str, login: &str) -> String {
    format!(
        "{api_base}/users/{}/keys?per_page={PER_PAGE}",
        http::encode(login)
    )
}

/// Every key id of `login`, following `rel="next"` links on `api_base`'s origin.
pub fn list(api_base: &str, login: &str) -> Result<Listing, PluginError> {
    let origin = origin(api_base);
    let mut url = first_page(api_base, login);
    let mut ids: Vec<String> = Vec::new();
    for page in 0..MAX_PAGES {
        let response = http::get(&url)
            .header("accept", "application/json")
            .send()?;
        if page == 0 && response.status == 404 {
            return Ok(Listing::NoSuchUser);
        }
        let response = response.error_for_status()?;
        let keys: Vec<Value> = response.json()?;
        for key in &keys {
            let id = key_id(key)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        match response.next_link() {
            None => return Ok(Listing::Keys(ids)),
            Some(next) if next.starts_with(&format!("{origin}/")) => url = next,
            Some(next) => {
                return Err(PluginError::permanent(format!(
                    "the next page '{next}' is not on {origin}"
                )));
            }
        }
    }
    Err(PluginError::permanent(format!(
        "{login} has more than {MAX_PAGES} pages of keys"
    )))
}

/// Deletes one key; 404 means it is already gone.
pub fn delete(api_base: &str, login: &str, id: &str) -> Result<Deleted, PluginError> {
    let url = format!(
        "{api_base}/users/{}/keys/{}",
        http::encode(login),
        http::encode(id)
    );
    let response = http::delete(&url).send()?;
    if response.status == 404 {
        return Ok(Deleted::AlreadyGone);
    }
    response.error_for_status()?;
    Ok(Deleted::Now)
}

/// A key's `id` (number or string) as text.
fn key_id(key: &Value) -> Result<String, PluginError> {
    match key.get("id") {
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(PluginError::permanent(format!(
            "a listed key has no id: {}",
            key.to_string().chars().take(200).collect::<String>()
        ))),
    }
}

/// `scheme://authority` of `url`.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find(['/', '?']) {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_and_origins_are_read_carefully() {
        assert_eq!(
            key_id(&json!({"id": 12, "key": "ssh-ed25519 AAAA"})),
            Ok("12".into())
        );
        assert_eq!(key_id(&json!({"id": "k-1"})), Ok("k-1".into()));
        assert!(key_id(&json!({"key": "ssh-rsa"})).is_err());
        assert!(key_id(&json!("12")).is_err());
        assert_eq!(
            origin("https://git.example.com/api/v3"),
            "https://git.example.com"
        );
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(
            first_page("https://git.example.com/api/v3", "ada@example.com"),
            "https://git.example.com/api/v3/users/ada%40example.com/keys?per_page=100"
        );
    }
}
