//! A fake LDAP server on 127.0.0.1:0 (over the `ldap3_proto` codec) for
//! the `ldap` host import's tests: simple binds against one account,
//! paged searches (RFC 2696) over a fixed set of people, LDAPS and
//! StartTLS with the [`TestCa`] server certificate, StartTLS refused (or
//! accepted without ever speaking TLS), and misbehaviours on request
//! (ignoring the page size, never answering).
//! It records connections, binds (and whether each came inside TLS) and
//! searches so tests can assert what the host actually sent.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::LdapCodec;
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindResponse, LdapExtendedResponse, LdapMsg, LdapOp, LdapPartialAttribute,
    LdapResult, LdapResultCode, LdapSearchResultEntry,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::test_ca::TestCa;

pub const BIND_DN: &str = "cn=sync,dc=example,dc=com";
pub const BIND_PASSWORD: &str = "bind-s3cret";
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pages as asked.
    Normal,
    /// Sends every entry in one page, whatever size was asked.
    IgnorePageSize,
    /// Accepts StartTLS, then keeps talking plain LDAP (no TLS here).
    AcceptStartTls,
    /// Accepts connections and never answers.
    Silent,
    /// `ldaps://`: TLS from the first byte, then pages as asked.
    Ldaps,
    /// Accepts StartTLS and upgrades to TLS, then pages as asked.
    StartTls,
}

/// One search as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenSearch {
    pub base: String,
    pub attrs: Vec<String>,
    pub page_size: Option<i64>,
    pub cookie: Vec<u8>,
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub connections: usize,
    /// (DN, password) of every bind.
    pub binds: Vec<(String, String)>,
    pub searches: Vec<SeenSearch>,
    pub start_tls: usize,
    /// Whether each bind (in order) arrived inside TLS.
    pub binds_in_tls: Vec<bool>,
    /// TLS handshakes the client broke off (e.g. an untrusted certificate).
    pub failed_handshakes: usize,
}

pub struct LdapServer {
    pub port: u16,
    pub seen: Arc<Mutex<Seen>>,
}

/// The people in the directory: `uid=user{i}` with mail and names; the
/// first also has a binary `photo`.
pub fn people(count: usize) -> Vec<LdapSearchResultEntry> {
    (0..count)
        .map(|i| {
            let attr = |name: &str, value: Vec<u8>| LdapPartialAttribute {
                atype: name.into(),
                vals: vec![value],
            };
            let mut attributes = vec![
                attr("uid", format!("user{i}").into_bytes()),
                attr("mail", format!("user{i}@example.com").into_bytes()),
                attr("givenName", format!("Given{i}").into_bytes()),
                attr("sn", format!("Family{i}").into_bytes()),
            ];
            if i == 0 {
                attributes.push(attr("photo", vec![0xff, 0xd8, 0x00]));
            }
            LdapSearchResultEntry {
                dn: format!("uid=user{i},{PEOPLE}"),
                attributes,
            }
        })
        .collect()
}

fn done(code: LdapResultCode, message: &str) -> LdapResult {
    LdapResult {
        code,
        matcheddn: String::new(),
        message: message.into(),
        referral: Vec::new(),
    }
}

impl LdapServer {
    pub async fn start(mode: Mode, people_count: usize) -> LdapServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                shared.lock().unwrap().connections += 1;
                let seen = shared.clone();
                tokio::spawn(serve(socket, mode, people(people_count), seen));
            }
        });
        LdapServer { port, seen }
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// The server side of a TLS handshake; `None` (and counted) on failure.
async fn accept_tls(io: Box<dyn Io>, seen: &Mutex<Seen>) -> Option<Box<dyn Io>> {
    match TestCa::get().acceptor().accept(io).await {
        Ok(tls) => Some(Box::new(tls)),
        Err(_) => {
            seen.lock().unwrap().failed_handshakes += 1;
            None
        }
    }
}

async fn serve(
    socket: TcpStream,
    mode: Mode,
    people: Vec<LdapSearchResultEntry>,
    seen: Arc<Mutex<Seen>>,
) {
    let mut in_tls = mode == Mode::Ldaps;
    let io: Box<dyn Io> = if in_tls {
        match accept_tls(Box::new(socket), &seen).await {
            Some(io) => io,
            None => return,
        }
    } else {
        Box::new(socket)
    };
    let mut framed = Framed::new(io, LdapCodec::default());
    let mut bound = false;
    while let Some(Ok(msg)) = framed.next().await {
        if mode == Mode::Silent {
            continue;
        }
        let reply = |op| LdapMsg {
            msgid: msg.msgid,
            op,
            ctrl: Vec::new(),
        };
        match msg.op {
            LdapOp::BindRequest(bind) => {
                let password = match bind.cred {
                    LdapBindCred::Simple(p) => p,
                    _ => String::new(),
                };
                {
                    let mut seen = seen.lock().unwrap();
                    seen.binds.push((bind.dn.clone(), password.clone()));
                    seen.binds_in_tls.push(in_tls);
                }
                bound = bind.dn == BIND_DN && password == BIND_PASSWORD;
                let code = if bound {
                    LdapResultCode::Success
                } else {
                    LdapResultCode::InvalidCredentials
                };
                let res = LdapBindResponse {
                    res: done(code, ""),
                    saslcreds: None,
                };
                let _ = framed.send(reply(LdapOp::BindResponse(res))).await;
            }
            LdapOp::ExtendedRequest(_) => {
                seen.lock().unwrap().start_tls += 1;
                let (code, message) = match mode {
                    Mode::AcceptStartTls | Mode::StartTls if !in_tls => {
                        (LdapResultCode::Success, "")
                    }
                    _ => (LdapResultCode::UnwillingToPerform, "no TLS here"),
                };
                let res = LdapExtendedResponse {
                    res: done(code, message),
                    name: None,
                    value: None,
                };
                let _ = framed.send(reply(LdapOp::ExtendedResponse(res))).await;
                if mode == Mode::StartTls && !in_tls {
                    match accept_tls(framed.into_parts().io, &seen).await {
                        Some(io) => framed = Framed::new(io, LdapCodec::default()),
                        None => return,
                    }
                    in_tls = true;
                }
            }
            LdapOp::SearchRequest(search) => {
                let paging = msg.ctrl.iter().find_map(|c| match c {
                    LdapControl::SimplePagedResults { size, cookie } => {
                        Some((*size, cookie.clone()))
                    }
                    _ => None,
                });
                seen.lock().unwrap().searches.push(SeenSearch {
                    base: search.base.clone(),
                    attrs: search.attrs.clone(),
                    page_size: paging.as_ref().map(|(s, _)| *s),
                    cookie: paging.as_ref().map(|(_, c)| c.clone()).unwrap_or_default(),
                });
                if !bound {
                    let res = done(LdapResultCode::InsufficentAccessRights, "bind first");
                    let _ = framed.send(reply(LdapOp::SearchResultDone(res))).await;
                    continue;
                }
                let (size, cookie) = paging.unwrap_or((people.len() as i64, Vec::new()));
                let start: usize = String::from_utf8_lossy(&cookie).parse().unwrap_or(0);
                let end = match mode {
                    Mode::IgnorePageSize => people.len(),
                    _ => (start + size.max(1) as usize).min(people.len()),
                };
                for entry in &people[start.min(end)..end] {
                    let _ = framed
                        .send(reply(LdapOp::SearchResultEntry(entry.clone())))
                        .await;
                }
                let next = if end < people.len() {
                    end.to_string().into_bytes()
                } else {
                    Vec::new()
                };
                let _ = framed
                    .send(LdapMsg {
                        msgid: msg.msgid,
                        op: LdapOp::SearchResultDone(done(LdapResultCode::Success, "")),
                        ctrl: vec![LdapControl::SimplePagedResults {
                            size: people.len() as i64,
                            cookie: next,
                        }],
                    })
                    .await;
            }
            LdapOp::UnbindRequest => return,
            _ => {}
        }
    }
}
