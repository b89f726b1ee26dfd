//! A small LDAPv3 client session for the host's `ldap` import, over the
//! `ldap3_proto` message codec: optional StartTLS, a simple bind, and one
//! page of a paged search (RFC 2696 cookie) at a time.
//!
//! The session owns its stream, which the caller connected to an address
//! it checked, so DNS can never redirect it. Every message is bounded by
//! the codec's size limit, and a page by its entry and byte caps, so a
//! hostile server cannot make the host buffer without end. Nothing here
//! panics on what a server sends.

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapExtendedRequest, LdapFilter, LdapMsg,
    LdapOp, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchScope,
};
use ldap3_proto::{LdapCodec, control::LdapControl};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::tls::TlsTrust;

/// OID of the StartTLS extended operation (RFC 4511 §4.14).
const START_TLS_OID: &str = "1.3.6.1.4.1.1466.20037";
/// Nesting depth accepted in one message.
const MAX_BER_DEPTH: usize = 32;

/// Why an LDAP operation failed, in words for the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LdapFailure {
    /// The server refused the bind.
    BindRefused(String),
    /// A page went over an entry or byte cap.
    Quota(String),
    /// The request is wrong (filter, DN, scope).
    Invalid(String),
    /// Connection, TLS, protocol or server trouble.
    Unavailable(String),
}

/// How TLS is negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tls {
    /// `ldaps://`: TLS from the first byte.
    Implicit,
    /// `ldap://` upgraded with StartTLS before the bind.
    Upgrade,
    /// Plain `ldap://` (only with the operator's switch).
    Plain,
}

trait Io: AsyncRead + AsyncWrite + Send + Sync + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Io for T {}

/// Caps on one page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageCaps {
    pub max_entries: usize,
    pub max_bytes: u64,
}

/// One page of a search to run.
pub(crate) struct Search {
    pub base_dn: String,
    pub scope: LdapSearchScope,
    pub filter: LdapFilter,
    pub attributes: Vec<String>,
    pub page_size: u32,
    pub cookie: Vec<u8>,
}

/// An entry as the server sent it.
pub(crate) struct RawEntry {
    pub dn: String,
    pub attributes: Vec<(String, Vec<Vec<u8>>)>,
}

/// One page of results; `cookie` is empty on the last page.
pub(crate) struct RawPage {
    pub entries: Vec<RawEntry>,
    pub cookie: Vec<u8>,
}

/// A connected (and, unless plain, encrypted) LDAP session.
pub(crate) struct Session {
    framed: Framed<Box<dyn Io>, LdapCodec>,
    next_id: i32,
}

fn codec(max_message_bytes: usize) -> LdapCodec {
    LdapCodec::new(Some(max_message_bytes), Some(MAX_BER_DEPTH))
}

fn describe(result: &LdapResult) -> String {
    let code = result.code.clone() as i64;
    if result.message.trim().is_empty() {
        format!("{:?} ({code})", result.code)
    } else {
        format!(
            "{:?} ({code}): {}",
            result.code,
            result.message.chars().take(200).collect::<String>()
        )
    }
}

async fn tls_handshake(
    tcp: TcpStream,
    server_name: &str,
    trust: &TlsTrust,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, LdapFailure> {
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
        .map_err(|_| LdapFailure::Invalid(format!("'{server_name}' is not a TLS server name")))?;
    trust
        .connector()
        .connect(name, tcp)
        .await
        .map_err(|e| LdapFailure::Unavailable(format!("TLS with {server_name} failed: {e}")))
}

impl Session {
    /// Sets up TLS as asked on a connected stream, trusting `trust`.
    pub(crate) async fn open(
        tcp: TcpStream,
        tls: Tls,
        server_name: &str,
        trust: &TlsTrust,
        max_message_bytes: usize,
    ) -> Result<Session, LdapFailure> {
        let io: Box<dyn Io> = match tls {
            Tls::Plain => Box::new(tcp),
            Tls::Implicit => Box::new(tls_handshake(tcp, server_name, trust).await?),
            Tls::Upgrade => {
                let mut plain = Framed::new(tcp, codec(max_message_bytes));
                let request = LdapOp::ExtendedRequest(LdapExtendedRequest {
                    name: START_TLS_OID.into(),
                    value: None,
                });
                send(&mut plain, 1, request, Vec::new()).await?;
                match receive(&mut plain, 1).await?.op {
                    LdapOp::ExtendedResponse(r) if r.res.code == LdapResultCode::Success => {}
                    LdapOp::ExtendedResponse(r) => {
                        return Err(LdapFailure::Unavailable(format!(
                            "the server refused StartTLS: {}",
                            describe(&r.res)
                        )));
                    }
                    _ => return Err(protocol("StartTLS")),
                }
                let parts = plain.into_parts();
                if !parts.read_buf.is_empty() {
                    return Err(protocol("StartTLS (data before the TLS handshake)"));
                }
                Box::new(tls_handshake(parts.io, server_name, trust).await?)
            }
        };
        Ok(Session {
            framed: Framed::new(io, codec(max_message_bytes)),
            next_id: 2,
        })
    }

    async fn send(&mut self, op: LdapOp, ctrl: Vec<LdapControl>) -> Result<i32, LdapFailure> {
        let msgid = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        send(&mut self.framed, msgid, op, ctrl).await?;
        Ok(msgid)
    }

    async fn receive(&mut self, msgid: i32) -> Result<LdapMsg, LdapFailure> {
        receive(&mut self.framed, msgid).await
    }

    /// A simple bind; a refusal is [`LdapFailure::BindRefused`].
    pub(crate) async fn bind(&mut self, dn: &str, password: &str) -> Result<(), LdapFailure> {
        let id = self
            .send(
                LdapOp::BindRequest(LdapBindRequest {
                    version: 3,
                    dn: dn.to_owned(),
                    cred: LdapBindCred::Simple(password.to_owned()),
                }),
                Vec::new(),
            )
            .await?;
        match self.receive(id).await?.op {
            LdapOp::BindResponse(r) if r.res.code == LdapResultCode::Success => Ok(()),
            LdapOp::BindResponse(r) => Err(LdapFailure::BindRefused(format!(
                "the LDAP server refused the bind as '{dn}': {}",
                describe(&r.res)
            ))),
            _ => Err(protocol("bind")),
        }
    }

    /// One page of a paged search, within `caps`.
    pub(crate) async fn search(
        &mut self,
        search: Search,
        caps: PageCaps,
    ) -> Result<RawPage, LdapFailure> {
        let paging = LdapControl::SimplePagedResults {
            size: i64::from(search.page_size),
            cookie: search.cookie,
        };
        let request = LdapOp::SearchRequest(LdapSearchRequest {
            base: search.base_dn,
            scope: search.scope,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter: search.filter,
            attrs: search.attributes,
        });
        let id = self.send(request, vec![paging]).await?;
        let mut entries = Vec::new();
        let mut bytes: u64 = 0;
        loop {
            let msg = self.receive(id).await?;
            match msg.op {
                LdapOp::SearchResultEntry(entry) => {
                    if entries.len() >= caps.max_entries {
                        return Err(LdapFailure::Quota(format!(
                            "the LDAP page has more than {} entries (ROLLCALL_PLUGIN_LDAP_MAX_PAGE_SIZE)",
                            caps.max_entries
                        )));
                    }
                    let attributes: Vec<(String, Vec<Vec<u8>>)> = entry
                        .attributes
                        .into_iter()
                        .map(|a| (a.atype, a.vals))
                        .collect();
                    bytes += entry.dn.len() as u64
                        + attributes
                            .iter()
                            .map(|(n, v)| n.len() + v.iter().map(Vec::len).sum::<usize>())
                            .sum::<usize>() as u64;
                    if bytes > caps.max_bytes {
                        return Err(LdapFailure::Quota(format!(
                            "the LDAP page is larger than {} bytes (ROLLCALL_PLUGIN_LDAP_MAX_PAGE_BYTES)",
                            caps.max_bytes
                        )));
                    }
                    entries.push(RawEntry {
                        dn: entry.dn,
                        attributes,
                    });
                }
                LdapOp::SearchResultReference(_) => {}
                LdapOp::SearchResultDone(result) => {
                    if result.code != LdapResultCode::Success {
                        return Err(search_failure(&result));
                    }
                    let cookie = msg
                        .ctrl
                        .into_iter()
                        .find_map(|c| match c {
                            LdapControl::SimplePagedResults { cookie, .. } => Some(cookie),
                            _ => None,
                        })
                        .unwrap_or_default();
                    return Ok(RawPage { entries, cookie });
                }
                _ => return Err(protocol("search")),
            }
        }
    }
}

fn search_failure(result: &LdapResult) -> LdapFailure {
    let text = format!("the LDAP search failed: {}", describe(result));
    match result.code {
        LdapResultCode::NoSuchObject
        | LdapResultCode::InvalidDNSyntax
        | LdapResultCode::InvalidAttributeSyntax
        | LdapResultCode::UndefinedAttributeType
        | LdapResultCode::InappropriateMatching => LdapFailure::Invalid(text),
        LdapResultCode::SizeLimitExceeded | LdapResultCode::AdminLimitExceeded => {
            LdapFailure::Quota(text)
        }
        LdapResultCode::InsufficentAccessRights => LdapFailure::BindRefused(text),
        _ => LdapFailure::Unavailable(text),
    }
}

fn protocol(during: &str) -> LdapFailure {
    LdapFailure::Unavailable(format!(
        "the LDAP server answered {during} with an unexpected message"
    ))
}

async fn send<T: Io>(
    framed: &mut Framed<T, LdapCodec>,
    msgid: i32,
    op: LdapOp,
    ctrl: Vec<LdapControl>,
) -> Result<(), LdapFailure> {
    framed
        .send(LdapMsg { msgid, op, ctrl })
        .await
        .map_err(|e| LdapFailure::Unavailable(format!("cannot write to the LDAP server: {e}")))
}

/// The next message for `msgid`; a notice of disconnection (id 0) or a
/// closed stream is an error, other ids are skipped.
async fn receive<T: Io>(
    framed: &mut Framed<T, LdapCodec>,
    msgid: i32,
) -> Result<LdapMsg, LdapFailure> {
    loop {
        let msg = match framed.next().await {
            None => {
                return Err(LdapFailure::Unavailable(
                    "the LDAP server closed the connection".into(),
                ));
            }
            Some(Err(e)) => {
                return Err(LdapFailure::Unavailable(format!(
                    "unreadable answer from the LDAP server: {e}"
                )));
            }
            Some(Ok(msg)) => msg,
        };
        if msg.msgid == msgid {
            return Ok(msg);
        }
        if msg.msgid == 0 {
            return Err(LdapFailure::Unavailable(
                "the LDAP server ended the session".into(),
            ));
        }
    }
}
