//! Whom the runtime's outgoing TLS trusts, and the one place its rustls
//! `ClientConfig` is built.
//!
//! Every TLS connection the runtime makes — plugin HTTPS (`wasi:http`),
//! the host's token-endpoint requests, `ldaps://` and LDAP StartTLS — uses
//! the connector of the platform's [`TlsTrust`]: the public webpki roots,
//! plus the certificate authorities of the operator's
//! `ROLLCALL_PLUGIN_EXTRA_CA_FILE` (an internal CA for Active Directory or
//! internal APIs). Extra CAs are added, never substituted, and a file that
//! cannot be used is a start-up error.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The trust anchors of outgoing TLS and the client configuration built
/// from them. Cheap to clone.
#[derive(Clone)]
pub struct TlsTrust {
    extra: Arc<Vec<CertificateDer<'static>>>,
    config: Arc<rustls::ClientConfig>,
}

impl TlsTrust {
    /// The public webpki roots only (built once per process).
    pub fn webpki() -> TlsTrust {
        static WEBPKI: OnceLock<TlsTrust> = OnceLock::new();
        WEBPKI
            .get_or_init(|| TlsTrust::with_extra(Vec::new()).expect("the webpki roots are valid"))
            .clone()
    }

    /// The webpki roots plus every certificate in the PEM text `pem`.
    /// Fails, in words, when there is none or one is not a usable CA.
    pub fn with_extra_pem(pem: &[u8]) -> Result<TlsTrust, String> {
        let mut extra = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem) {
            extra.push(cert.map_err(|e| format!("not valid PEM: {e}"))?);
        }
        if extra.is_empty() {
            return Err("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
        }
        TlsTrust::with_extra(extra)
    }

    /// [`TlsTrust::with_extra_pem`] of the file at `path`.
    pub fn with_extra_ca_file(path: &Path) -> Result<TlsTrust, String> {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
        TlsTrust::with_extra_pem(&pem)
    }

    fn with_extra(extra: Vec<CertificateDer<'static>>) -> Result<TlsTrust, String> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        for (i, cert) in extra.iter().enumerate() {
            roots
                .add(cert.clone())
                .map_err(|e| format!("certificate {} is not a usable CA: {e}", i + 1))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsTrust {
            extra: Arc::new(extra),
            config: Arc::new(config),
        })
    }

    /// How many operator CAs are trusted besides the webpki roots.
    pub fn extra_ca_count(&self) -> usize {
        self.extra.len()
    }

    /// A connector for one outgoing TLS connection.
    pub(crate) fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.config.clone())
    }
}

impl Default for TlsTrust {
    fn default() -> Self {
        TlsTrust::webpki()
    }
}

impl PartialEq for TlsTrust {
    fn eq(&self, other: &Self) -> bool {
        self.extra == other.extra
    }
}

impl Eq for TlsTrust {}

impl fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTrust")
            .field("extra_cas", &self.extra.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_pem_is_refused_in_words() {
        let none = TlsTrust::with_extra_pem(b"just some text\n").unwrap_err();
        assert!(none.contains("no PEM certificate"), "{none}");
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        let bad = TlsTrust::with_extra_pem(broken).unwrap_err();
        assert!(bad.starts_with("not valid PEM"), "{bad}");
        let not_der = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let bad = TlsTrust::with_extra_pem(not_der).unwrap_err();
        assert!(bad.contains("certificate 1 is not a usable CA"), "{bad}");
        let missing = TlsTrust::with_extra_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err();
        assert!(missing.starts_with("cannot read it"), "{missing}");
        assert_eq!(TlsTrust::default().extra_ca_count(), 0);
    }
}
