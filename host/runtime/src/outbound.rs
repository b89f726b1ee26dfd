//! Outgoing HTTP for guests (`wasi:http/outgoing-handler`), deny by
//! default. A request goes out only when:
//!
//! 1. its scheme is `https` (or `http` with the operator's switch),
//! 2. its host is declared in the manifest AND granted to the installation,
//! 3. every address the host resolves to is public (loopback, private,
//!    link-local, metadata and other special ranges are refused unless the
//!    operator allows private networks), and the connection goes to the
//!    address that was checked, so DNS cannot change it afterwards.
//!
//! Connect and response timeouts, a request and a response body size cap
//! apply, and a credential bound to the host is injected as
//! `Authorization`. A refused
//! request fails in the guest with `HTTP-request-denied` or
//! `destination-IP-prohibited`; the reason is logged and kept as a note.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderValue};
use http::uri::Scheme;
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::context::InvocationContext;
use crate::credentials;
use crate::host_state::Notes;
use crate::hosts::{HostAllowlist, HostPattern, forbidden_address};
use crate::policy::SandboxPolicy;

type HttpResult<T> = Result<T, HttpError>;
type IoFuture = Box<dyn Future<Output = HttpResult<()>> + Send>;
type SendFuture = Box<dyn Future<Output = HttpResult<(http::Response<WasiBody>, IoFuture)>> + Send>;

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// The `wasi:http` hooks of one store.
pub(crate) struct Outbound {
    ctx: Arc<InvocationContext>,
    policy: Arc<SandboxPolicy>,
    notes: Notes,
    allowlist: Option<Arc<HostAllowlist>>,
}

/// Where an admitted request goes.
#[derive(Clone)]
struct Target {
    host: String,
    port: u16,
    tls: bool,
}

impl Outbound {
    pub(crate) fn new(
        ctx: Arc<InvocationContext>,
        policy: Arc<SandboxPolicy>,
        notes: Notes,
    ) -> Self {
        Outbound {
            ctx,
            policy,
            notes,
            allowlist: None,
        }
    }

    fn deny(&self, reason: String) -> HttpError {
        tracing::warn!(plugin = %self.ctx.manifest.id, installation = %self.ctx.installation_id, reason = %reason, "outgoing request denied");
        push_note(&self.notes, format!("outgoing request denied: {reason}"));
        HttpError::HttpRequestDenied
    }

    /// The checks that need no network: scheme and allowlist.
    fn admit(&mut self, request: &http::Request<WasiBody>) -> HttpResult<Target> {
        let uri = request.uri();
        let tls = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP && self.policy.allow_plain_http => false,
            Some(s) if *s == Scheme::HTTP => {
                return Err(self.deny("plain http is not allowed; use https (operator switch ROLLCALL_PLUGIN_ALLOW_PLAIN_HTTP)".into()));
            }
            other => {
                return Err(self.deny(format!(
                    "unsupported scheme {:?}",
                    other.map(|s| s.as_str())
                )));
            }
        };
        let host = uri
            .host()
            .unwrap_or_default()
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let ctx = self.ctx.clone();
        let allowlist = self
            .allowlist
            .get_or_insert_with(|| {
                Arc::new(HostAllowlist::new(&ctx.manifest.hosts, &ctx.granted_hosts))
            })
            .clone();
        allowlist
            .check(&host, port)
            .map_err(|reason| self.deny(reason))?;
        self.check_declared_length(request)?;
        Ok(Target { host, port, tls })
    }

    /// Refuses a request whose `Content-Length` is over the request body
    /// cap before connecting; [`CappedRequestBody`] enforces it on the
    /// bytes actually sent.
    fn check_declared_length(&self, request: &http::Request<WasiBody>) -> HttpResult<()> {
        let cap = self.policy.http_max_request_bytes;
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match declared {
            Some(n) if n > cap => {
                push_note(&self.notes, request_too_large(cap));
                tracing::warn!(plugin = %self.ctx.manifest.id, declared = n, cap, "outgoing request refused: body too large");
                Err(HttpError::HttpRequestBodySize(Some(cap)))
            }
            _ => Ok(()),
        }
    }

    /// The credential bound to a manifest slot covering `target`, if any.
    fn credential_for(&self, target: &Target) -> Option<(String, credentials::Credential)> {
        let slot = self.ctx.manifest.credentials.iter().find(|slot| {
            slot.hosts
                .iter()
                .filter_map(|h| HostPattern::parse(h).ok())
                .any(|p| p.matches(&target.host, target.port))
        })?;
        let credential = self.ctx.credentials.get(&slot.name)?;
        Some((
            format!("{}:{}", self.ctx.installation_id, slot.name),
            credential.clone(),
        ))
    }
}

fn request_too_large(cap: u64) -> String {
    format!(
        "outgoing request refused: the body is larger than {cap} bytes (ROLLCALL_PLUGIN_HTTP_MAX_REQUEST_BYTES)"
    )
}

fn push_note(notes: &Notes, text: String) {
    if let Ok(mut n) = notes.lock()
        && n.len() < 1_000
    {
        n.push(text);
    }
}

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> SendFuture {
        let admitted = self.admit(&request);
        let cap = self.policy.http_max_request_bytes;
        let exceeded = Arc::new(AtomicBool::new(false));
        let mut request =
            request.map(|body| CappedRequestBody::new(body, cap, exceeded.clone()).boxed_unsync());
        let credential = admitted.as_ref().ok().and_then(|t| self.credential_for(t));
        let policy = self.policy.clone();
        let notes = self.notes.clone();
        let plugin = self.ctx.manifest.id.clone();
        Box::new(async move {
            let target = admitted?;
            if let Some((scope_key, credential)) = &credential {
                let value = credentials::authorization(credential, scope_key, &policy)
                    .await
                    .map_err(|e| {
                        tracing::warn!(plugin = %plugin, error = %e, "credential injection failed");
                        push_note(&notes, format!("credential injection failed: {e}"));
                        HttpError::InternalError(Some(format!("credential: {e}")))
                    })?;
                let value = HeaderValue::from_str(&value).map_err(|_| {
                    HttpError::InternalError(Some("credential is not a valid header value".into()))
                })?;
                request.headers_mut().insert(AUTHORIZATION, value);
            }
            let stream = connect(&target, &policy, Some(&notes)).await?;
            let response_timeout = options
                .and_then(|o| o.first_byte_timeout)
                .map_or(policy.http_response_timeout, |t| {
                    t.min(policy.http_response_timeout)
                });
            let response = exchange(stream, request, response_timeout)
                .await
                .map_err(|e| {
                    if exceeded.load(Ordering::Relaxed) {
                        push_note(&notes, request_too_large(cap));
                        HttpError::HttpRequestBodySize(Some(cap))
                    } else {
                        e
                    }
                })?;
            if response.status() == http::StatusCode::UNAUTHORIZED
                && let Some((scope_key, credential)) = &credential
            {
                credentials::forget(credential, scope_key);
            }
            let cap = policy.http_max_response_bytes;
            let between = policy.http_response_timeout;
            let response =
                response.map(|incoming| CappedBody::new(incoming, cap, between).boxed_unsync());
            Ok((response, Box::new(async { Ok(()) }) as IoFuture))
        })
    }
}

/// Resolves `target`, refuses special addresses (unless allowed) and
/// connects to the checked address, with TLS for https.
async fn connect(
    target: &Target,
    policy: &SandboxPolicy,
    notes: Option<&Notes>,
) -> HttpResult<Box<dyn StreamBox>> {
    let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, target.port)],
        Err(_) => tokio::time::timeout(
            policy.http_connect_timeout,
            tokio::net::lookup_host((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| HttpError::DnsTimeout)?
        .map_err(|_| HttpError::DestinationNotFound)?
        .collect(),
    };
    if addrs.is_empty() {
        return Err(HttpError::DestinationNotFound);
    }
    if !policy.allow_private_network {
        for addr in &addrs {
            if let Some(class) = forbidden_address(addr.ip()) {
                tracing::warn!(host = %target.host, address = %addr.ip(), class, "outgoing request denied: address not allowed");
                if let Some(notes) = notes {
                    push_note(
                        notes,
                        format!(
                            "outgoing request denied: {} resolves to {}, a {class} address (operator switch ROLLCALL_PLUGIN_ALLOW_PRIVATE_NETWORK)",
                            target.host,
                            addr.ip()
                        ),
                    );
                }
                return Err(HttpError::DestinationIpProhibited);
            }
        }
    }
    let addr = addrs[0];
    let tcp = tokio::time::timeout(policy.http_connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| HttpError::ConnectionTimeout)?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::ConnectionRefused {
                HttpError::ConnectionRefused
            } else {
                HttpError::Connect(e)
            }
        })?;
    if !target.tls {
        return Ok(Box::new(tcp));
    }
    let name = rustls::pki_types::ServerName::try_from(target.host.clone())
        .map_err(|_| HttpError::TlsProtocolError)?;
    let tls = tokio::time::timeout(
        policy.http_connect_timeout,
        policy.tls.connector().connect(name, tcp),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(|_| HttpError::TlsCertificateError)?;
    Ok(Box::new(tls))
}

trait StreamBox: Stream {}
impl<T: Stream> StreamBox for T {}

/// One HTTP/1.1 request/response over `stream`.
async fn exchange<B>(
    stream: Box<dyn StreamBox>,
    mut request: http::Request<B>,
    response_timeout: Duration,
) -> HttpResult<http::Response<hyper::body::Incoming>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|_| HttpError::ConnectionTerminated)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;
    tokio::time::timeout(response_timeout, sender.send_request(request))
        .await
        .map_err(|_| HttpError::HttpResponseTimeout)?
        .map_err(|_| HttpError::HttpProtocolError)
}

/// A guest's request body that ends with an error past `cap` bytes (and
/// flags it, so the host can tell the guest why the request failed).
struct CappedRequestBody {
    inner: WasiBody,
    remaining: u64,
    cap: u64,
    exceeded: Arc<AtomicBool>,
}

impl CappedRequestBody {
    fn new(inner: WasiBody, cap: u64, exceeded: Arc<AtomicBool>) -> Self {
        CappedRequestBody {
            inner,
            remaining: cap,
            cap,
            exceeded,
        }
    }
}

impl Body for CappedRequestBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            let len = frame.data_ref().map_or(0, |d| d.len() as u64);
            if len > self.remaining {
                self.exceeded.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(HttpError::HttpRequestBodySize(Some(self.cap)))));
            }
            self.remaining -= len;
        }
        polled
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that ends with an error past `remaining` bytes or when
/// no data arrives for `between`.
struct CappedBody {
    inner: hyper::body::Incoming,
    remaining: u64,
    cap: u64,
    between: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl CappedBody {
    fn new(inner: hyper::body::Incoming, cap: u64, between: Duration) -> Self {
        CappedBody {
            inner,
            remaining: cap,
            cap,
            between,
            timer: Box::pin(tokio::time::sleep(between)),
        }
    }
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if len > self.remaining {
                    return Poll::Ready(Some(Err(HttpError::HttpResponseBodySize(Some(self.cap)))));
                }
                self.remaining -= len;
                let deadline = tokio::time::Instant::now() + self.between;
                self.timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(_))) => Poll::Ready(Some(Err(HttpError::HttpResponseIncomplete))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::HttpResponseTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub(crate) fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// The host's own form POST (token endpoints), under the same address
/// rules and timeouts as guest requests. Answers status and body (≤ 1 MiB).
pub(crate) async fn post_form(
    url: &str,
    body: String,
    policy: &SandboxPolicy,
) -> Result<(u16, Bytes), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| format!("invalid token URL '{url}'"))?;
    let tls = match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => true,
        Some(s) if *s == Scheme::HTTP && policy.allow_plain_http => false,
        _ => return Err(format!("token URL '{url}' must use https")),
    };
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    let target = Target {
        port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        host,
        tls,
    };
    let request = http::Request::post(uri.clone())
        .header(
            http::header::HOST,
            uri.authority().map_or("", |a| a.as_str()),
        )
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let stream = connect(&target, policy, None)
        .await
        .map_err(|e| format!("token endpoint: {e:?}"))?;
    let response = exchange(stream, request, policy.http_response_timeout)
        .await
        .map_err(|e| format!("token endpoint: {e:?}"))?;
    let status = response.status().as_u16();
    let body = CappedBody::new(
        response.into_body(),
        1024 * 1024,
        policy.http_response_timeout,
    )
    .collect()
    .await
    .map_err(|e| format!("token endpoint: {e:?}"))?
    .to_bytes();
    Ok((status, body))
}
