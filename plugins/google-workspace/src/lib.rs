//! `google-workspace`: a connector for the Google Workspace Admin SDK
//! Directory API. It lists users (`users.list`), groups (`groups.list`)
//! and their direct user members (`members.list`), optionally only the
//! groups of an allow-list and their members. Google offers no usable
//! change feed for this, so every run is a full pass and `changes` says so.
//!
//! The host injects the token (credential slot `google`: a service
//! account with domain-wide delegation, or an OAuth refresh token).
//! Config: [`settings`]; mapping: [`mapping`]; errors: [`api`]. Reference:
//! `docs/providers/google-workspace.md`.

pub mod api;
pub mod directory;
pub mod mapping;
pub mod settings;

use rollcall_plugin_sdk::*;

use crate::settings::Settings;

/// What `changes` answers: the host then always runs full passes.
pub const NO_INCREMENTAL: &str =
    "google-workspace has no incremental mode; every run is a full pass";

pub struct GoogleWorkspace;

impl Connector for GoogleWorkspace {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "google-workspace",
            env!("CARGO_PKG_VERSION"),
            "Google Workspace users and groups (Admin SDK Directory API)",
        )
    }

    fn validate_config() -> Result<(), PluginError> {
        Settings::load().map(|_| ())
    }

    fn list_users(page: PageRequest) -> Result<Page<User>, PluginError> {
        directory::list_users(&Settings::load()?, &page)
    }

    fn list_groups(page: PageRequest) -> Result<Page<Group>, PluginError> {
        directory::list_groups(&Settings::load()?, &page)
    }

    fn list_members(
        group_idp_id: &str,
        page: PageRequest,
    ) -> Result<Page<Membership>, PluginError> {
        directory::list_members(&Settings::load()?, group_idp_id, &page)
    }

    fn changes(_checkpoint: Option<&str>) -> Result<ChangePage, PluginError> {
        Err(PluginError::permanent(NO_INCREMENTAL))
    }
}

export_connector!(GoogleWorkspace);

#[cfg(test)]
mod tests;
