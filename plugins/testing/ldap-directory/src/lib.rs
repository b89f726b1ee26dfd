//! A test connector over the host's `ldap` import. Config:
//! `{"url", "base_dn", "bind_dn"?, "bind_password_secret"?, "start_tls"?,
//! "filter"?, "page_size"?}`. `list-users` runs one page of a paged
//! subtree search per call; the cursor is the paging cookie in hex. Users
//! are `uid` (or the DN) with `mail`, `givenName`, `sn`.

use rollcall_plugin_sdk::ldap::{self, Connection, Scope, SearchRequest};
use rollcall_plugin_sdk::*;
use serde_json::{Map, Value};

pub struct LdapDirectory;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, PluginError> {
    let bad = || PluginError::permanent("the cursor is not a hex paging cookie");
    if !text.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect()
}

fn connection() -> Result<Connection, PluginError> {
    Ok(Connection {
        url: config::require("url")?,
        bind_dn: config::get("bind_dn")?,
        bind_password_secret: config::get("bind_password_secret")?,
        start_tls: config::get("start_tls")?.unwrap_or(false),
    })
}

fn to_user(entry: &ldap::Entry) -> User {
    let mut user = User::new(entry.first("uid").unwrap_or(&entry.dn));
    user.email = entry.first("mail").map(str::to_owned);
    user.first_name = entry.first("givenName").map(str::to_owned);
    user.last_name = entry.first("sn").map(str::to_owned);
    user.username = entry.first("uid").map(str::to_owned);
    let mut raw = Map::new();
    raw.insert("dn".into(), Value::String(entry.dn.clone()));
    for (name, values) in &entry.attributes {
        raw.insert(name.clone(), values.clone().into());
    }
    user.raw_attributes = raw;
    user
}

impl Connector for LdapDirectory {
    fn describe() -> PluginInfo {
        PluginInfo::new("ldap-directory", "0.1.0", "lists users over LDAP")
    }

    fn list_users(page: PageRequest) -> Result<Page<User>, PluginError> {
        let request = SearchRequest {
            base_dn: config::require("base_dn")?,
            scope: Scope::Subtree,
            filter: config::get("filter")?.unwrap_or_else(|| "(objectClass=person)".into()),
            attributes: ["uid", "mail", "givenName", "sn", "photo"]
                .map(str::to_owned)
                .to_vec(),
            page_size: config::get("page_size")?.unwrap_or(page.limit),
            cookie: page.cursor.as_deref().map(unhex).transpose()?,
        };
        let result = ldap::search(&connection()?, &request)?;
        Ok(Page {
            items: result.entries.iter().map(to_user).collect(),
            next_cursor: result.cookie.as_deref().map(hex),
        })
    }
}

export_connector!(LdapDirectory);
