//! `okta-api`: a connector for the Okta management API. Full passes page
//! `/api/v1/users` (then, unless configured otherwise, the `DEPROVISIONED`
//! users the default listing omits, as inactive users), `/api/v1/groups`
//! (by configured type) and `/api/v1/groups/{id}/users` through Okta's
//! `Link: <…>; rel="next"` headers; a cursor is the next URL itself, so a
//! fresh instance resumes from it. Incremental sync is in [`changes`].
//! The API token never reaches the plugin: the host adds
//! `Authorization: SSWS <token>` (credential slot `api_token`).
//!
//! Config: `{"org_url", "page_size"?, "group_types"?,
//! "include_deprovisioned"?, "profile_attributes"?}` ([`settings`];
//! guide: `docs/providers/okta-api.md`).

pub mod changes;
pub mod mapping;
pub mod okta;
pub mod settings;
pub mod time;

use rollcall_plugin_sdk::http::encode;
use rollcall_plugin_sdk::*;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::okta::Missing;
use crate::settings::Settings;

pub struct OktaApi;

/// Cursor prefixes of the two user listings of a full pass.
const ACTIVE: &str = "users:";
const DEPROVISIONED: &str = "deprovisioned:";

/// A member of `/api/v1/groups/{id}/users`, the parts we read.
#[derive(Deserialize)]
struct Member {
    id: String,
    #[serde(default)]
    status: String,
}

impl Connector for OktaApi {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "okta-api",
            env!("CARGO_PKG_VERSION"),
            "Users, groups and memberships from the Okta management API",
        )
    }

    /// Checks the config, then that the token may list users.
    fn validate_config() -> Result<(), PluginError> {
        let settings = Settings::load()?;
        okta::get(
            &format!("{}/api/v1/users?limit=1", settings.org_url),
            Missing::Org,
        )
        .map(|_| ())
    }

    fn list_users(page: PageRequest) -> Result<Page<User>, PluginError> {
        let settings = Settings::load()?;
        let org = &settings.org_url;
        let n = settings.page_size;
        let (prefix, url) = match page.cursor.as_deref() {
            None => (ACTIVE, format!("{org}/api/v1/users?limit={n}")),
            Some(c) => match c.strip_prefix(DEPROVISIONED) {
                Some(url) => (DEPROVISIONED, okta::cursor_url(&settings, url)?.to_owned()),
                None => {
                    let url = c.strip_prefix(ACTIVE).unwrap_or(c);
                    (ACTIVE, okta::cursor_url(&settings, url)?.to_owned())
                }
            },
        };
        let response = okta::get(&url, Missing::Org)?;
        let raw: Vec<Map<String, Value>> = response.json()?;
        let keep_deprovisioned = settings.include_deprovisioned && prefix == DEPROVISIONED;
        let users = raw
            .into_iter()
            .filter(|u| keep_deprovisioned || mapping::status(u) != "DEPROVISIONED")
            .filter_map(|u| mapping::user(&settings, u))
            .collect();
        let next = match okta::next_link(&settings, &response)? {
            Some(url) => Some(format!("{prefix}{url}")),
            None if prefix == ACTIVE && settings.include_deprovisioned => Some(format!(
                "{DEPROVISIONED}{org}/api/v1/users?limit={n}&filter={}",
                encode("status eq \"DEPROVISIONED\"")
            )),
            None => None,
        };
        Ok(Page::new(users, next))
    }

    fn list_groups(page: PageRequest) -> Result<Page<Group>, PluginError> {
        let settings = Settings::load()?;
        let url = match page.cursor.as_deref() {
            Some(c) => okta::cursor_url(&settings, c)?.to_owned(),
            None => {
                let mut url = format!(
                    "{}/api/v1/groups?limit={}",
                    settings.org_url, settings.page_size
                );
                if let Some(filter) = settings.group_type_filter() {
                    url.push_str(&format!("&filter={}", encode(&filter)));
                }
                url
            }
        };
        let response = okta::get(&url, Missing::Org)?;
        let raw: Vec<Map<String, Value>> = response.json()?;
        let groups = raw.into_iter().filter_map(mapping::group).collect();
        Ok(Page::new(groups, okta::next_link(&settings, &response)?))
    }

    fn list_members(
        group_idp_id: &str,
        page: PageRequest,
    ) -> Result<Page<Membership>, PluginError> {
        let settings = Settings::load()?;
        let url = match page.cursor.as_deref() {
            Some(c) => okta::cursor_url(&settings, c)?.to_owned(),
            None => format!(
                "{}/api/v1/groups/{}/users?limit={}",
                settings.org_url,
                encode(group_idp_id),
                settings.page_size
            ),
        };
        let response = okta::get(&url, Missing::Object)?;
        let members: Vec<Member> = response.json()?;
        let members = members
            .into_iter()
            .filter(|m| settings.include_deprovisioned || m.status != "DEPROVISIONED")
            .map(|m| Membership {
                group_idp_id: group_idp_id.to_owned(),
                user_idp_id: m.id,
            })
            .collect();
        Ok(Page::new(members, okta::next_link(&settings, &response)?))
    }

    fn changes(checkpoint: Option<&str>) -> Result<ChangePage, PluginError> {
        let settings = Settings::load()?;
        match checkpoint {
            None => changes::start(&settings),
            Some(text) => changes::next(&settings, text),
        }
    }
}

export_connector!(OktaApi);

#[cfg(test)]
mod tests;
