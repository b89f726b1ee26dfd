//! `azure-graph`: Microsoft Entra ID through Microsoft Graph.
//!
//! The host injects an app-only access token (OAuth2 client credentials,
//! scope `https://graph.microsoft.com/.default`); the app needs the
//! application permissions User.Read.All, Group.Read.All and
//! GroupMember.Read.All (or Directory.Read.All).
//!
//! Full pass: `/users` and `/groups` with `$select` and `$top`, and
//! `/groups/{id}/members/microsoft.graph.user` (user members only). The
//! cursor is Graph's `@odata.nextLink`, followed only under `api_base`.
//! Incremental: `/users/delta` and `/groups/delta` ([`delta`]).

mod delta;
mod graph;
mod mapping;
mod settings;

use rollcall_plugin_sdk::http::encode;
use rollcall_plugin_sdk::*;
use serde::Deserialize;
use serde_json::{Map, Value};

use graph::Collection;
use settings::Settings;

/// A member entry of `/groups/{id}/members/microsoft.graph.user`.
#[derive(Deserialize)]
struct MemberRef {
    id: String,
    #[serde(rename = "@odata.type")]
    kind: Option<String>,
}

/// The URL of the page the host asks for: its cursor (a next link under
/// `api_base`) or `first`.
fn page_url(settings: &Settings, page: &PageRequest, first: String) -> Result<String, PluginError> {
    match &page.cursor {
        None => Ok(first),
        Some(link) if settings.owns(link) => Ok(link.clone()),
        Some(_) => Err(PluginError::permanent(format!(
            "the cursor is not a Graph link under {}",
            settings.api_base
        ))),
    }
}

fn next_cursor(settings: &Settings, link: Option<String>) -> Result<Option<String>, PluginError> {
    link.map(|l| delta::owned(settings, l)).transpose()
}

pub struct AzureGraph;

impl Connector for AzureGraph {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "azure-graph",
            env!("CARGO_PKG_VERSION"),
            "Microsoft Entra ID users, groups and memberships through Microsoft Graph",
        )
    }

    /// Checks the config, then reads one user and one group, which proves
    /// the credentials and the permissions.
    fn validate_config() -> Result<(), PluginError> {
        let s = Settings::load()?;
        for collection in ["users", "groups"] {
            let url = format!("{}/{collection}?$select=id&$top=1", s.api_base);
            graph::get::<Collection<Value>>(&url, None)?;
        }
        Ok(())
    }

    fn list_users(page: PageRequest) -> Result<Page<User>, PluginError> {
        let s = Settings::load()?;
        let first = format!(
            "{}/users?{}&$top={}",
            s.api_base,
            s.user_query(),
            s.page_size
        );
        let url = page_url(&s, &page, first)?;
        let body: Collection<Map<String, Value>> = graph::get(&url, None)?;
        let users = body
            .value
            .into_iter()
            .filter_map(|u| mapping::user(u, &s))
            .collect();
        Ok(Page::new(users, next_cursor(&s, body.next_link)?))
    }

    fn list_groups(page: PageRequest) -> Result<Page<Group>, PluginError> {
        let s = Settings::load()?;
        let first = format!(
            "{}/groups?$select={}&$top={}",
            s.api_base,
            s.group_select(),
            s.page_size
        );
        let url = page_url(&s, &page, first)?;
        let body: Collection<Map<String, Value>> = graph::get(&url, None)?;
        let groups = body.value.into_iter().filter_map(mapping::group).collect();
        Ok(Page::new(groups, next_cursor(&s, body.next_link)?))
    }

    /// User members only: the `microsoft.graph.user` cast leaves out
    /// nested groups, devices, contacts and service principals.
    fn list_members(
        group_idp_id: &str,
        page: PageRequest,
    ) -> Result<Page<Membership>, PluginError> {
        let s = Settings::load()?;
        let first = format!(
            "{}/groups/{}/members/microsoft.graph.user?$select=id&$top={}",
            s.api_base,
            encode(group_idp_id),
            s.page_size
        );
        let url = page_url(&s, &page, first)?;
        let body: Collection<MemberRef> = graph::get(&url, None)?;
        let members = body
            .value
            .into_iter()
            .filter(|m| m.kind.as_deref().is_none_or(|k| k == mapping::USER_TYPE))
            .map(|m| Membership {
                group_idp_id: group_idp_id.to_owned(),
                user_idp_id: m.id,
            })
            .collect();
        Ok(Page::new(members, next_cursor(&s, body.next_link)?))
    }

    fn changes(checkpoint: Option<&str>) -> Result<ChangePage, PluginError> {
        let s = Settings::load()?;
        match checkpoint {
            None => delta::start(&s),
            Some(cp) => delta::next(&s, cp),
        }
    }
}

export_connector!(AzureGraph);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_next_links_and_refuse_foreign_cursors() {
        testing::reset();
        testing::set_config(serde_json::json!({"include_manager": false, "page_size": 2}));
        let base = settings::DEFAULT_API_BASE;
        let s = Settings::load().unwrap();
        let first = format!("{base}/users?{}&$top=2", s.user_query());
        let next = format!("{base}/users?$skiptoken=X");
        testing::mock_http("GET", &first, 200, &serde_json::json!({
            "value": [{"id": "u1", "mail": "a@contoso.com"}, {"id": "u2"}], "@odata.nextLink": next
        }).to_string());
        testing::mock_http("GET", &next, 200, r#"{"value":[{"id":"u3"}]}"#);
        let p1 = AzureGraph::list_users(PageRequest::default()).unwrap();
        assert_eq!(p1.items.len(), 2);
        assert_eq!(p1.next_cursor.as_deref(), Some(next.as_str()));
        let p2 = AzureGraph::list_users(PageRequest {
            cursor: p1.next_cursor,
            limit: 500,
        })
        .unwrap();
        assert_eq!(p2.items[0].idp_id, "u3");
        assert_eq!(p2.next_cursor, None);
        let foreign = PageRequest {
            cursor: Some("https://evil.example/v1.0/users".into()),
            limit: 500,
        };
        assert!(matches!(
            AzureGraph::list_users(foreign),
            Err(PluginError::Permanent(_))
        ));
    }
}
