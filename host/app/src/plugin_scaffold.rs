//! `rollcall plugin new`: a plugin crate that builds with plain
//! `cargo build --release --target wasm32-wasip2`, with a working example
//! and a unit test that runs natively (`cargo test`) on the SDK's fakes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rollcall_runtime::PluginKind;

/// The SDK of the source tree this binary was built from, if it is still
/// there (`ROLLCALL_PLUGIN_SDK` overrides).
pub fn default_sdk_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ROLLCALL_PLUGIN_SDK") {
        return Some(PathBuf::from(p));
    }
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugin-sdk");
    built_from.join("Cargo.toml").exists().then_some(built_from)
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    let sdk = sdk.display();
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

# Not part of any enclosing workspace.
[workspace]

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
rollcall-plugin-sdk = {{ path = "{sdk}" }}
serde_json = "1"

[dev-dependencies]
rollcall-plugin-sdk = {{ path = "{sdk}", features = ["testing"] }}

[profile.release]
opt-level = "s"
lto = true
strip = true
panic = "abort"
"#
    )
}

fn manifest(name: &str, kind: PluginKind) -> String {
    let extra = match kind {
        PluginKind::Connector => {
            "\n[config_schema]\ntype = \"object\"\nrequired = [\"users\"]\n\n[config_schema.properties.users]\ntype = \"array\"\n\n[config_schema.properties.users.items]\ntype = \"string\"\n"
        }
        PluginKind::Lifecycle => "hosts = [\"api.example.com\"]\n",
    };
    format!(
        "id = \"{name}\"\nversion = \"0.1.0\"\nkind = \"{kind}\"\nwit = \"0.1.0\"\ndescription = \"My {kind} plugin\"\n{extra}",
        kind = kind.as_str()
    )
}

const CONNECTOR: &str = r#"//! A connector: lists the users named in its config (`{"users": ["ada@example.com"]}`).
//! Replace `list_users` with calls to your provider's API (`rollcall_plugin_sdk::http`).

use rollcall_plugin_sdk::*;

pub struct MyConnector;

impl Connector for MyConnector {
    fn describe() -> PluginInfo {
        PluginInfo::new("NAME", env!("CARGO_PKG_VERSION"), "My connector")
    }

    fn list_users(page: PageRequest) -> Result<Page<User>, PluginError> {
        let emails: Vec<String> = config::require("users")?;
        let start: usize = page.cursor.as_deref().unwrap_or("0").parse().unwrap_or(0);
        let end = (start + page.limit.max(1) as usize).min(emails.len());
        let users = emails[start.min(end)..end].iter().map(|e| User::new(e.clone()).email(e.clone())).collect();
        let next = (end < emails.len()).then(|| end.to_string());
        log::info(&format!("listed users {start}..{end}"));
        Ok(Page::new(users, next))
    }
}

export_connector!(MyConnector);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through_configured_users() {
        testing::reset();
        testing::set_config(serde_json::json!({"users": ["a@example.com", "b@example.com", "c@example.com"]}));
        let first = MyConnector::list_users(PageRequest { cursor: None, limit: 2 }).unwrap();
        assert_eq!(first.items.len(), 2);
        let rest = MyConnector::list_users(PageRequest { cursor: first.next_cursor, limit: 2 }).unwrap();
        assert_eq!(rest.items[0].email.as_deref(), Some("c@example.com"));
        assert!(rest.next_cursor.is_none());
    }
}
"#;

const LIFECYCLE: &str = r#"//! A lifecycle action: tells your API when a user is deleted.
//! Grant `api.example.com` (or your host) to the installation.

use rollcall_plugin_sdk::*;

pub struct MyAction;

impl LifecycleAction for MyAction {
    fn describe() -> PluginInfo {
        PluginInfo::new("NAME", env!("CARGO_PKG_VERSION"), "My lifecycle action")
    }

    fn handle(event: Event) -> Result<Outcome, PluginError> {
        if event.event_type != "dsync.user.deleted" {
            return Ok(Outcome::Skipped(format!("not interested in {}", event.event_type)));
        }
        let user = event.data["id"].as_str().unwrap_or_default();
        http::post("https://api.example.com/offboard")
            .header("idempotency-key", &event.idempotency_key)
            .json(&serde_json::json!({"user": user}))?
            .send()?
            .error_for_status()?;
        Ok(Outcome::Completed(Some(format!("offboarded {user}"))))
    }
}

export_lifecycle!(MyAction);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offboards_deleted_users() {
        testing::reset();
        testing::mock_http("POST", "https://api.example.com/offboard", 204, "");
        let event = Event {
            id: "event_1".into(),
            event_type: "dsync.user.deleted".into(),
            organization_id: "org_1".into(),
            directory_id: None,
            created_at_micros: 0,
            data: serde_json::json!({"id": "directory_user_1"}),
            previous_attributes: None,
            idempotency_key: "event_1:x".into(),
            attempt: 1,
        };
        assert_eq!(MyAction::handle(event).unwrap(), Outcome::Completed(Some("offboarded directory_user_1".into())));
        assert_eq!(testing::requests().len(), 1);
    }
}
"#;

/// Writes the crate into `dir`.
pub fn write(dir: &Path, name: &str, kind: PluginKind, sdk: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let source = match kind {
        PluginKind::Connector => CONNECTOR,
        PluginKind::Lifecycle => LIFECYCLE,
    }
    .replace("NAME", name);
    for (file, text) in [
        ("Cargo.toml", cargo_toml(name, sdk)),
        ("plugin.toml", manifest(name, kind)),
        ("src/lib.rs", source),
        (".gitignore", "/target\n".to_owned()),
    ] {
        std::fs::write(dir.join(file), text)
            .with_context(|| format!("cannot write {}", dir.join(file).display()))?;
    }
    Ok(())
}
