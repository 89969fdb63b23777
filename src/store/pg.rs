//! Connecting to PostgreSQL, with TLS as libpq's `sslmode` and `sslrootcert` describe it, so a
//! URL written for `psql` or a managed database's documentation means the same here:
//!
//! - `disable`: no TLS;
//! - `prefer` (the default): TLS when the server offers it, the certificate not checked;
//! - `require`: TLS or no connection; the certificate is checked against `sslrootcert` when
//!   one is given (as `verify-ca`), else not;
//! - `verify-ca`: TLS, and the certificate chains to a trusted root;
//! - `verify-full`: that, and the certificate names the host connected to.
//!
//! `sslrootcert` is a PEM file of root certificates, or `system` for the system's; the
//! verifying modes without one trust the system's roots.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

/// A server to connect to: the connection settings and the TLS they ask for.
pub struct PgTarget {
    pub config: postgres::Config,
    pub tls: MakeRustlsConnect,
}

#[derive(Clone, Copy, PartialEq)]
enum Check {
    /// Encryption without authentication of the server (libpq's prefer and require).
    Nothing,
    Chain,
    ChainAndName,
}

impl PgTarget {
    /// The target a `postgres://` URL names. Errors are messages for a person: the URL's
    /// settings or the root certificate file at fault.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut mode, mut root) = (None, None);
        let mut kept = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = url::form_urlencoded::parse(part.as_bytes())
                .next()
                .unwrap_or_default();
            match &*key {
                "sslmode" => mode = Some(value.into_owned()),
                "sslrootcert" => root = Some(value.into_owned()),
                _ => kept.push(part),
            }
        }
        let rebuilt = match kept.is_empty() {
            true => base.to_string(),
            false => format!("{base}?{}", kept.join("&")),
        };
        let mut config: postgres::Config = rebuilt
            .parse()
            .map_err(|e: postgres::Error| e.to_string())?;
        let mode = mode.as_deref().unwrap_or("prefer");
        let (ssl, check) = match (mode, root.is_some()) {
            ("disable", _) => (postgres::config::SslMode::Disable, Check::Nothing),
            ("prefer", _) => (postgres::config::SslMode::Prefer, Check::Nothing),
            ("require", false) => (postgres::config::SslMode::Require, Check::Nothing),
            ("require", true) | ("verify-ca", _) => {
                (postgres::config::SslMode::Require, Check::Chain)
            }
            ("verify-full", _) => (postgres::config::SslMode::Require, Check::ChainAndName),
            (other, _) => {
                return Err(format!(
                    "sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full"
                ))
            }
        };
        config.ssl_mode(ssl);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = match check {
            Check::Nothing => None,
            _ => Some(roots(root.as_deref())?),
        };
        let verifier = match roots {
            Some(roots) => Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("cannot use the root certificates: {e}"))?,
            ),
            None => None,
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier {
                webpki: verifier,
                check_name: check == Check::ChainAndName,
                provider,
            }))
            .with_no_client_auth();
        Ok(Self {
            config,
            tls: MakeRustlsConnect::new(tls),
        })
    }

    /// One connection, outside any pool (tools and tests).
    pub fn connect(self) -> Result<postgres::Client, postgres::Error> {
        self.config.connect(self.tls)
    }
}

fn roots(file: Option<&str>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match file {
        None | Some("system") => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(
                    "no system root certificates found: name the server's CA with sslrootcert=FILE"
                        .into(),
                );
            }
        }
        Some(path) => {
            let unreadable = |e: rustls::pki_types::pem::Error| {
                format!("sslrootcert {path}: cannot read PEM certificates: {e}")
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(unreadable)?
                .collect::<Result<_, _>>()
                .map_err(unreadable)?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("sslrootcert {path}: holds no usable certificate"));
            }
        }
    }
    Ok(store)
}

/// The server certificate check each mode asks for; handshake signatures are always checked.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(webpki) = &self.webpki else {
            return Ok(ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_are_taken_out_of_the_url_and_others_kept() {
        let t = PgTarget::parse(
            "postgres://u:p@db.example:5433/clips?application_name=cg&sslmode=require&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(t.config.get_ssl_mode(), postgres::config::SslMode::Require);
        assert_eq!(t.config.get_application_name(), Some("cg"));
        assert_eq!(t.config.get_dbname(), Some("clips"));
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(5))
        );
        let plain = PgTarget::parse("postgres://u@h/db").unwrap();
        assert_eq!(
            plain.config.get_ssl_mode(),
            postgres::config::SslMode::Prefer
        );
    }

    #[test]
    fn a_bad_mode_or_root_file_is_named() {
        let err = PgTarget::parse("postgres://u@h/db?sslmode=verify_full")
            .err()
            .unwrap();
        assert!(err.contains("sslmode=verify_full is not one of"), "{err}");
        let err = PgTarget::parse(
            "postgres://u@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )
        .err()
        .unwrap();
        assert!(err.contains("sslrootcert /nonexistent/ca.pem"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = PgTarget::parse(&format!(
            "postgres://u@h/db?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        ))
        .err()
        .unwrap();
        assert!(err.contains("holds no usable certificate"), "{err}");
    }
}
