//! The HTTP client that delivers webhooks: pooled keep-alive connections,
//! TLS with the webpki roots, no redirects, no proxies, and an address
//! check after DNS so an endpoint cannot reach loopback, private or cloud
//! metadata addresses unless the operator allows it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rollcall_runtime::hosts::forbidden_address;

use super::settings::WebhookSettings;

/// Resolves with the system resolver and refuses special addresses.
struct CheckedResolver {
    allow_private_network: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow_private_network;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow {
                for addr in &addrs {
                    if let Some(class) = forbidden_address(addr.ip()) {
                        return Err(format!(
                            "{host} resolves to {}, a {class} address (operator switch ROLLCALL_WEBHOOK_ALLOW_PRIVATE_NETWORK)",
                            addr.ip()
                        )
                        .into());
                    }
                }
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

pub(crate) fn build(settings: &WebhookSettings) -> Result<reqwest::Client> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS configuration")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(CheckedResolver {
            allow_private_network: settings.allow_private_network,
        })
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(settings.request_timeout)
        .timeout(settings.request_timeout)
        .pool_max_idle_per_host(settings.concurrency)
        .user_agent(concat!("Rollcall-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the webhook HTTP client")
}

/// Refuses URLs whose host is a special IP literal (the resolver is not
/// consulted for literals).
pub(crate) fn check_literal(url: &reqwest::Url, settings: &WebhookSettings) -> Result<(), String> {
    if settings.allow_private_network {
        return Ok(());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    match forbidden_address(ip) {
        Some(class) => Err(format!(
            "{ip} is a {class} address (operator switch ROLLCALL_WEBHOOK_ALLOW_PRIVATE_NETWORK)"
        )),
        None => Ok(()),
    }
}
