//! `ssh-key-revoker`: a lifecycle action that deletes a user's SSH keys
//! through a GitHub-style API when the user is deleted
//! (`dsync.user.deleted`) or deactivated (`dsync.user.updated` with
//! `data.state` = `inactive`). It lists every key of the user's login,
//! following `Link` pagination, then deletes each; a key already gone (404)
//! counts as done, so a redelivery after a partial run just finishes the
//! job. The API token is injected by the host (credential slot `api`).
//!
//! Config: `{"api_base": "https://…", "login_field": "data.username" |
//! [paths…], "login": "{{template}}", "events": [...]}` ([`settings`];
//! reference: `docs/lifecycle-plugins.md`).

pub mod keys;
pub mod login;
pub mod settings;

use rollcall_plugin_sdk::*;
use serde_json::Value;

use crate::keys::{Deleted, Listing};
use crate::settings::Settings;

pub struct SshKeyRevoker;

impl LifecycleAction for SshKeyRevoker {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "ssh-key-revoker",
            env!("CARGO_PKG_VERSION"),
            "Deletes departed users' SSH keys",
        )
    }

    fn validate_config() -> Result<(), PluginError> {
        Settings::load().map(|_| ())
    }

    fn handle(event: Event) -> Result<Outcome, PluginError> {
        let settings = Settings::load()?;
        if let Some(why) = not_for_us(&settings, &event) {
            return Ok(Outcome::Skipped(why));
        }
        let login = match settings.login.resolve(&event_template::context(&event)) {
            Ok(login) => login,
            Err(why) => {
                return Ok(Outcome::Skipped(format!(
                    "no login for {}: {why}",
                    user_id(&event)
                )));
            }
        };
        let ids = match keys::list(&settings.api_base, &login)? {
            Listing::Keys(ids) => ids,
            Listing::NoSuchUser => {
                return Ok(Outcome::Skipped(format!(
                    "{login} has no account at {}",
                    settings.api_base
                )));
            }
        };
        let (revoked, gone) = revoke_all(&settings.api_base, &login, &ids)?;
        let detail = summary(revoked, gone, &login);
        log::info(&format!("{}: {detail}", event.id));
        Ok(Outcome::Completed(Some(detail)))
    }
}

/// Why the event is not one to act on, or `None`.
fn not_for_us(settings: &Settings, event: &Event) -> Option<String> {
    if !settings.events.contains(&event.event_type) {
        return Some(format!("{} is not in config.events", event.event_type));
    }
    let inactive = event.data.get("state").and_then(Value::as_str) == Some("inactive");
    if event.event_type != "dsync.user.deleted" && !inactive {
        return Some(format!("{} is not inactive", user_id(event)));
    }
    None
}

/// Deletes every key in `ids`: (deleted now, already gone).
fn revoke_all(api_base: &str, login: &str, ids: &[String]) -> Result<(usize, usize), PluginError> {
    let (mut revoked, mut gone) = (0, 0);
    for id in ids {
        let deleted = keys::delete(api_base, login, id).inspect_err(|e| {
            log::warn(&format!(
                "deleting key {id} of {login} failed after {revoked} revoked: {e}"
            ))
        })?;
        match deleted {
            Deleted::Now => revoked += 1,
            Deleted::AlreadyGone => gone += 1,
        }
    }
    Ok((revoked, gone))
}

/// `revoked 2 keys for ada` / `revoked 1 key for ada (1 already gone)`.
fn summary(revoked: usize, gone: usize, login: &str) -> String {
    let noun = if revoked == 1 { "key" } else { "keys" };
    let mut detail = format!("revoked {revoked} {noun} for {login}");
    if gone > 0 {
        detail.push_str(&format!(" ({gone} already gone)"));
    }
    detail
}

fn user_id(event: &Event) -> String {
    event
        .data
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(&event.id)
        .to_owned()
}

export_lifecycle!(SshKeyRevoker);

#[cfg(test)]
mod tests;
