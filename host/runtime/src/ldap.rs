//! The `ldap` host import: LDAP for connectors, gated like outgoing HTTP.
//! A search runs only when:
//!
//! 1. the manifest declares the `ldap` capability;
//! 2. the URL is `ldaps://` or `ldap://` with StartTLS (plain `ldap://`
//!    only with the operator's switch `ROLLCALL_PLUGIN_ALLOW_PLAIN_LDAP`);
//! 3. the server is declared in the manifest's `hosts` AND granted to the
//!    installation (default ports 636 / 389);
//! 4. every address it resolves to is public (unless the operator allows
//!    private networks), and the connection goes to the checked address.
//!
//! The bind password is read host-side from the installation secret the
//! guest names; the guest never sees it. One connection per server and
//! bind identity is kept for the life of the instance (one sync run), so
//! a paging cookie is always used on the connection that issued it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use ldap3_proto::proto::LdapSearchScope;
use tokio::net::TcpStream;

use crate::bindings::wit::{ldap, types::HostError};
use crate::host_state::{HostState, Notes};
use crate::hosts::{HostAllowlist, forbidden_address};
use crate::imports::require_capability;
use crate::ldap_client::{LdapFailure, PageCaps, RawEntry, Search, Session, Tls};
use crate::manifest::Capability;
use crate::policy::SandboxPolicy;

/// Connections one instance may keep open.
const MAX_SESSIONS: usize = 4;
/// Bounds of the largest single LDAP message (one entry) accepted; within
/// them it follows the page byte cap.
const MIN_MESSAGE_BYTES: u64 = 64 * 1024;
const MAX_MESSAGE_BYTES: u64 = 16 * 1024 * 1024;

/// Open sessions of one instance, by server and bind identity.
#[derive(Default)]
pub(crate) struct Sessions(HashMap<String, Session>);

/// A server the guest may reach, as its URL names it.
struct Target {
    host: String,
    port: u16,
    tls: Tls,
}

impl From<LdapFailure> for HostError {
    fn from(f: LdapFailure) -> Self {
        match f {
            LdapFailure::BindRefused(m) => HostError::Denied(m),
            LdapFailure::Quota(m) => HostError::QuotaExceeded(m),
            LdapFailure::Invalid(m) => HostError::Invalid(m),
            LdapFailure::Unavailable(m) => HostError::Unavailable(m),
        }
    }
}

/// Records refusals (log line and instance note) away from the store data,
/// so it can be used across awaits.
struct Denier {
    plugin: String,
    installation: String,
    notes: Notes,
}

impl Denier {
    fn deny(&self, reason: String) -> HostError {
        tracing::warn!(plugin = %self.plugin, installation = %self.installation, reason = %reason, "LDAP request denied");
        if let Ok(mut notes) = self.notes.lock()
            && notes.len() < 1_000
        {
            notes.push(format!("LDAP request denied: {reason}"));
        }
        HostError::Denied(reason)
    }
}

/// Resolves, checks every address, connects to a checked one.
async fn dial(
    target: &Target,
    policy: &SandboxPolicy,
    denier: &Denier,
) -> Result<TcpStream, HostError> {
    let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|e| HostError::Unavailable(format!("cannot resolve {}: {e}", target.host)))?
            .collect(),
    };
    let first = *addrs
        .first()
        .ok_or_else(|| HostError::Unavailable(format!("{} has no addresses", target.host)))?;
    if !policy.allow_private_network {
        for addr in &addrs {
            if let Some(class) = forbidden_address(addr.ip()) {
                return Err(denier.deny(format!(
                    "{} resolves to {}, a {class} address (operator switch ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK)",
                    target.host,
                    addr.ip()
                )));
            }
        }
    }
    TcpStream::connect(first).await.map_err(|e| {
        HostError::Unavailable(format!(
            "cannot connect to {}:{}: {e}",
            target.host, target.port
        ))
    })
}

/// Dials, negotiates TLS and binds.
async fn open(
    target: &Target,
    bind: Option<&(String, String)>,
    policy: &SandboxPolicy,
    denier: &Denier,
) -> Result<Session, HostError> {
    let tcp = dial(target, policy, denier).await?;
    let max_message = policy
        .ldap_max_page_bytes
        .clamp(MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES) as usize;
    let mut session =
        Session::open(tcp, target.tls, &target.host, &policy.tls, max_message).await?;
    if let Some((dn, password)) = bind {
        session.bind(dn, password).await?;
    }
    Ok(session)
}

impl HostState {
    fn deny_ldap(&self, reason: String) -> HostError {
        Denier {
            plugin: self.ctx.manifest.id.clone(),
            installation: self.ctx.installation_id.clone(),
            notes: self.notes.clone(),
        }
        .deny(reason)
    }

    /// Scheme, TLS mode and allowlist: the checks that need no network.
    fn ldap_target(&self, connection: &ldap::Connection) -> Result<Target, HostError> {
        let uri: http::Uri = connection.url.trim().parse().map_err(|_| {
            HostError::Invalid(format!(
                "'{}' is not an LDAP URL (ldaps://host[:port])",
                connection.url.chars().take(200).collect::<String>()
            ))
        })?;
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(HostError::Invalid(
                "the LDAP URL needs a host and no user name".into(),
            ));
        }
        let (tls, default_port) = match (uri.scheme_str(), connection.start_tls) {
            (Some("ldaps"), false) => (Tls::Implicit, 636),
            (Some("ldaps"), true) => {
                return Err(HostError::Invalid(
                    "start-tls is for ldap:// URLs; ldaps:// is already encrypted".into(),
                ));
            }
            (Some("ldap"), true) => (Tls::Upgrade, 389),
            (Some("ldap"), false) if self.policy.allow_plain_ldap => (Tls::Plain, 389),
            (Some("ldap"), false) => {
                return Err(self.deny_ldap("plain ldap:// is not allowed; use ldaps:// or start-tls (operator switch ROLLCALL_PLUGIN_ALLOW_PLAIN_LDAP)".into()));
            }
            (other, _) => {
                return Err(HostError::Invalid(format!(
                    "unsupported LDAP URL scheme {:?}; use ldaps:// or ldap://",
                    other.unwrap_or("")
                )));
            }
        };
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(default_port);
        HostAllowlist::new(&self.ctx.manifest.hosts, &self.ctx.granted_hosts)
            .check(&host, port)
            .map_err(|reason| self.deny_ldap(reason))?;
        Ok(Target { host, port, tls })
    }

    /// Bind DN and password (from the named installation secret).
    fn ldap_bind(
        &self,
        connection: &ldap::Connection,
    ) -> Result<Option<(String, String)>, HostError> {
        match (&connection.bind_dn, &connection.bind_password_secret) {
            (None, None) => Ok(None),
            (Some(dn), Some(secret)) => match self.ctx.secrets.get(secret) {
                Some(password) if !password.is_empty() => Ok(Some((dn.clone(), password.clone()))),
                _ => Err(HostError::Invalid(format!(
                    "bind-password-secret '{secret}' is not set on this installation"
                ))),
            },
            _ => Err(HostError::Invalid(
                "bind-dn and bind-password-secret go together (or neither, for an anonymous bind)"
                    .into(),
            )),
        }
    }

    async fn ldap_page(
        &mut self,
        connection: ldap::Connection,
        request: ldap::SearchRequest,
    ) -> Result<ldap::SearchPage, HostError> {
        require_capability(self, Capability::Ldap, "ldap")?;
        let target = self.ldap_target(&connection)?;
        let bind = self.ldap_bind(&connection)?;
        let search = search_of(request, &self.policy)?;
        let caps = PageCaps {
            max_entries: search.page_size as usize,
            max_bytes: self.policy.ldap_max_page_bytes,
        };
        let key = format!(
            "{}|{}|{}|{}",
            connection.url,
            connection.bind_dn.as_deref().unwrap_or(""),
            connection.bind_password_secret.as_deref().unwrap_or(""),
            connection.start_tls
        );
        let mut session = match self.ldap.0.remove(&key) {
            Some(session) => session,
            None => {
                if self.ldap.0.len() >= MAX_SESSIONS {
                    return Err(HostError::QuotaExceeded(format!(
                        "at most {MAX_SESSIONS} LDAP connections per instance"
                    )));
                }
                let denier = Denier {
                    plugin: self.ctx.manifest.id.clone(),
                    installation: self.ctx.installation_id.clone(),
                    notes: self.notes.clone(),
                };
                open(&target, bind.as_ref(), &self.policy.clone(), &denier).await?
            }
        };
        // A failed session is dropped (closing its connection).
        let page = session.search(search, caps).await?;
        self.ldap.0.insert(key, session);
        Ok(ldap::SearchPage {
            entries: page.entries.into_iter().map(entry_of).collect(),
            cookie: (!page.cookie.is_empty()).then_some(page.cookie),
        })
    }
}

/// The guest's request as the client runs it: page size capped, filter parsed.
fn search_of(request: ldap::SearchRequest, policy: &SandboxPolicy) -> Result<Search, HostError> {
    let filter = ldap3_proto::parse_ldap_filter_str(request.filter.trim()).map_err(|e| {
        HostError::Invalid(format!(
            "'{}' is not an LDAP filter (at column {})",
            request.filter.chars().take(200).collect::<String>(),
            e.location.column
        ))
    })?;
    let max = policy.ldap_max_page_size.min(u64::from(u32::MAX)) as u32;
    let page_size = match request.page_size {
        0 => max,
        n => n.min(max),
    };
    Ok(Search {
        base_dn: request.base_dn,
        scope: match request.scope {
            ldap::Scope::Base => LdapSearchScope::Base,
            ldap::Scope::OneLevel => LdapSearchScope::OneLevel,
            ldap::Scope::Subtree => LdapSearchScope::Subtree,
        },
        filter,
        attributes: request.attributes,
        page_size,
        cookie: request.cookie.unwrap_or_default(),
    })
}

/// Values that are not UTF-8 go base64-encoded under `name;base64`.
fn entry_of(raw: RawEntry) -> ldap::Entry {
    let mut attributes = Vec::new();
    for (name, values) in raw.attributes {
        let mut text = Vec::new();
        let mut binary = Vec::new();
        for value in values {
            match String::from_utf8(value) {
                Ok(s) => text.push(s),
                Err(e) => {
                    binary.push(base64::engine::general_purpose::STANDARD.encode(e.into_bytes()))
                }
            }
        }
        let base64_name = format!("{name};base64");
        if !text.is_empty() || binary.is_empty() {
            attributes.push((name, text));
        }
        if !binary.is_empty() {
            attributes.push((base64_name, binary));
        }
    }
    ldap::Entry {
        dn: raw.dn,
        attributes,
    }
}

impl ldap::Host for HostState {
    async fn search(
        &mut self,
        connection: ldap::Connection,
        request: ldap::SearchRequest,
    ) -> Result<ldap::SearchPage, HostError> {
        let timeout = self.policy.ldap_timeout;
        match tokio::time::timeout(timeout, self.ldap_page(connection, request)).await {
            Ok(result) => result,
            Err(_) => {
                // The session in flight was dropped with the future.
                Err(HostError::Unavailable(format!(
                    "the LDAP server did not answer within {} ms (ROLLCALL_PLUGIN_LDAP_TIMEOUT_MS)",
                    timeout.as_millis()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_values_are_base64_under_their_own_name() {
        let entry = entry_of(RawEntry {
            dn: "uid=a".into(),
            attributes: vec![
                ("mail".into(), vec![b"a@example.com".to_vec()]),
                ("photo".into(), vec![vec![0xff, 0x00]]),
            ],
        });
        assert_eq!(
            entry.attributes,
            [
                ("mail".to_owned(), vec!["a@example.com".to_owned()]),
                ("photo;base64".to_owned(), vec!["/wA=".to_owned()]),
            ]
        );
    }

    #[test]
    fn page_size_is_capped_and_filters_are_parsed() {
        let policy = SandboxPolicy {
            ldap_max_page_size: 100,
            ..SandboxPolicy::default()
        };
        let request = |page_size, filter: &str| ldap::SearchRequest {
            base_dn: "dc=example".into(),
            scope: ldap::Scope::Subtree,
            filter: filter.into(),
            attributes: vec![],
            page_size,
            cookie: None,
        };
        assert_eq!(
            search_of(request(5000, "(uid=*)"), &policy)
                .unwrap()
                .page_size,
            100
        );
        assert_eq!(
            search_of(request(0, "(uid=*)"), &policy).unwrap().page_size,
            100
        );
        assert_eq!(
            search_of(request(10, "(uid=*)"), &policy)
                .unwrap()
                .page_size,
            10
        );
        assert!(matches!(
            search_of(request(10, "(uid=*"), &policy),
            Err(HostError::Invalid(m)) if m.starts_with("'(uid=*' is not an LDAP filter")
        ));
    }
}
