//! The real host: the generated imports and `wasi:http`, inside Rollcall.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

use crate::PluginError;
use crate::bindings::connector::rollcall::plugin::{config, ldap, log, secrets, state};
use crate::bindings::wit::HostError;
use crate::host::{HostFailure, Level};
use crate::http::{Request, Response, split_url};

impl From<HostError> for HostFailure {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Denied(m) => HostFailure::Denied(m),
            HostError::QuotaExceeded(m) => HostFailure::QuotaExceeded(m),
            HostError::Invalid(m) => HostFailure::Invalid(m),
            HostError::Unavailable(m) => HostFailure::Unavailable(m),
        }
    }
}

pub(crate) fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => log::Level::Trace,
        Level::Debug => log::Level::Debug,
        Level::Info => log::Level::Info,
        Level::Warn => log::Level::Warn,
        Level::Error => log::Level::Error,
    };
    log::write(level, message);
}

pub(crate) fn config_all() -> String {
    config::get_all()
}

pub(crate) fn config_get(key: &str) -> Option<String> {
    config::get(key)
}

pub(crate) fn secret(name: &str) -> Result<Option<String>, HostFailure> {
    secrets::get(name).map_err(Into::into)
}

pub(crate) fn state_get(key: &str) -> Result<Option<String>, HostFailure> {
    state::get(key).map_err(Into::into)
}

pub(crate) fn state_set(key: &str, value: &str) -> Result<(), HostFailure> {
    state::set(key, value).map_err(Into::into)
}

pub(crate) fn state_delete(key: &str) -> Result<(), HostFailure> {
    state::delete(key).map_err(Into::into)
}

pub(crate) fn state_list(prefix: &str, limit: u32) -> Result<Vec<String>, HostFailure> {
    state::list_keys(prefix, limit).map_err(Into::into)
}

pub(crate) fn ldap_search(
    connection: &crate::ldap::Connection,
    request: &crate::ldap::SearchRequest,
) -> Result<crate::ldap::SearchPage, HostFailure> {
    let connection = ldap::Connection {
        url: connection.url.clone(),
        bind_dn: connection.bind_dn.clone(),
        bind_password_secret: connection.bind_password_secret.clone(),
        start_tls: connection.start_tls,
    };
    let request = ldap::SearchRequest {
        base_dn: request.base_dn.clone(),
        scope: match request.scope {
            crate::ldap::Scope::Base => ldap::Scope::Base,
            crate::ldap::Scope::OneLevel => ldap::Scope::OneLevel,
            crate::ldap::Scope::Subtree => ldap::Scope::Subtree,
        },
        filter: request.filter.clone(),
        attributes: request.attributes.clone(),
        page_size: request.page_size,
        cookie: request.cookie.clone(),
    };
    let page = ldap::search(&connection, &request)?;
    Ok(crate::ldap::SearchPage {
        entries: page
            .entries
            .into_iter()
            .map(|e| crate::ldap::Entry {
                dn: e.dn,
                attributes: e.attributes,
            })
            .collect(),
        cookie: page.cookie,
    })
}

/// The error code's name, e.g. `HttpRequestDenied`.
fn code_name(code: &ErrorCode) -> String {
    let debug = format!("{code:?}");
    debug
        .strip_prefix("ErrorCode::")
        .unwrap_or(&debug)
        .to_owned()
}

fn http_error(code: &ErrorCode) -> PluginError {
    match code {
        ErrorCode::HttpRequestDenied
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::HttpRequestBodySize(_) => PluginError::permanent(format!(
            "request refused by the host sandbox ({})",
            code_name(code)
        )),
        other => PluginError::transient(format!("HTTP request failed: {}", code_name(other))),
    }
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    }
}

pub(crate) fn http_send(request: &Request) -> Result<Response, PluginError> {
    let (scheme, authority, path) = split_url(&request.url)?;
    let headers: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&headers)
        .map_err(|e| PluginError::permanent(format!("invalid header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(fields);
    let invalid = |what: &str| PluginError::permanent(format!("invalid request {what}"));
    outgoing
        .set_method(&method(&request.method))
        .map_err(|_| invalid("method"))?;
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => Scheme::Other(other.to_owned()),
    };
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|_| invalid("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|_| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|_| invalid("path"))?;
    let body = outgoing.body().map_err(|_| invalid("body"))?;
    let options = RequestOptions::new();
    if let Some(t) = request.timeout {
        let _ = options.set_first_byte_timeout(Some(t.as_nanos() as u64));
    }
    // Hand the request to the host first, then stream the body: the host
    // buffers only a few chunks, so writing a large body before `handle`
    // would wait forever.
    let future = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| http_error(&e))?;
    if let Some(bytes) = &request.body {
        let stream = body.write().map_err(|_| invalid("body"))?;
        for chunk in bytes.chunks(4096) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                drop(stream);
                // The host refused or failed the request: its reason is on
                // the response future.
                future.subscribe().block();
                return Err(match future.get() {
                    Some(Ok(Err(code))) => http_error(&code),
                    _ => PluginError::transient(format!("writing the request body: {e:?}")),
                });
            }
        }
        drop(stream);
    }
    OutgoingBody::finish(body, None).map_err(|e| http_error(&e))?;
    future.subscribe().block();
    let response = match future.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(http_error(&e)),
        _ => return Err(PluginError::transient("HTTP response unavailable")),
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|_| PluginError::transient("response body unavailable"))?;
    let stream = incoming
        .stream()
        .map_err(|_| PluginError::transient("response body unavailable"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(PluginError::transient(format!(
                    "reading the response: {}",
                    e.to_debug_string()
                )));
            }
        }
    }
    drop(stream);
    Ok(Response {
        status,
        headers,
        body,
    })
}
