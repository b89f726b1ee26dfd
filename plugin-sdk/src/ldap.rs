//! LDAP for directory connectors. The host dials, checks the address,
//! negotiates TLS (`ldaps://` or StartTLS), binds with an installation
//! secret the plugin never sees, and runs one page of a paged search
//! (RFC 2696) per call. The plugin's manifest must declare
//! `capabilities = ["ldap"]` and list the server in `hosts`; the
//! installation must grant it.
//!
//! ```no_run
//! use rollcall_plugin_sdk::ldap::{self, Connection, Scope, SearchRequest};
//! let connection = Connection {
//!     url: "ldaps://dc1.example.com".into(),
//!     bind_dn: Some("cn=sync,dc=example,dc=com".into()),
//!     bind_password_secret: Some("bind_password".into()),
//!     start_tls: false,
//! };
//! let mut cookie = None;
//! loop {
//!     let page = ldap::search(&connection, &SearchRequest {
//!         base_dn: "ou=people,dc=example,dc=com".into(),
//!         scope: Scope::Subtree,
//!         filter: "(objectClass=person)".into(),
//!         attributes: vec!["uid".into(), "mail".into()],
//!         page_size: 500,
//!         cookie,
//!     })?;
//!     for entry in &page.entries {
//!         let _mail = entry.first("mail");
//!     }
//!     cookie = page.cookie;
//!     if cookie.is_none() {
//!         break;
//!     }
//! }
//! # Ok::<(), rollcall_plugin_sdk::PluginError>(())
//! ```

use crate::PluginError;

/// How far below `base_dn` a search reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The base entry only.
    Base,
    /// Its direct children.
    OneLevel,
    /// The whole subtree.
    Subtree,
}

/// Where and how the host connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `ldaps://host[:port]` or `ldap://host[:port]` (with `start_tls`).
    pub url: String,
    /// DN to bind as; `None` binds anonymously.
    pub bind_dn: Option<String>,
    /// Name of the installation secret holding the bind password.
    pub bind_password_secret: Option<String>,
    /// Upgrade an `ldap://` connection with StartTLS.
    pub start_tls: bool,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    pub base_dn: String,
    pub scope: Scope,
    /// An RFC 4515 filter, e.g. `(&(objectClass=person)(mail=*))`.
    pub filter: String,
    /// Attributes to return (empty: all user attributes).
    pub attributes: Vec<String>,
    /// Entries per page; the host caps it.
    pub page_size: u32,
    /// The previous page's cookie; `None` for the first page.
    pub cookie: Option<Vec<u8>>,
}

/// One entry. Values that are not UTF-8 come base64-encoded under the
/// attribute name with `;base64` appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attributes: Vec<(String, Vec<String>)>,
}

impl Entry {
    /// All values of `name` (case-insensitive).
    pub fn values(&self, name: &str) -> &[String] {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or(&[], |(_, v)| v.as_slice())
    }

    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }
}

/// A page of entries and the cookie for the next page (`None`: done).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchPage {
    pub entries: Vec<Entry>,
    pub cookie: Option<Vec<u8>>,
}

/// Runs one page of a search through the host.
pub fn search(connection: &Connection, request: &SearchRequest) -> Result<SearchPage, PluginError> {
    crate::backend::ldap_search(connection, request).map_err(Into::into)
}
