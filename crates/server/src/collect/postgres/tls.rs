//! TLS for the monitoring connection, with libpq's `sslmode` semantics, on rustls (ring provider).
//!
//! tokio-postgres knows only `disable`/`prefer`/`require` and no `sslrootcert`: [`split`] takes `sslmode` and
//! `sslrootcert` out of the URL (or key=value string) before the driver parses the rest, and [`Settings`]
//! builds the rustls configuration for each connection attempt (so a replaced root certificate file is read
//! again on the next reconnect).
//!
//! | `sslmode` | TLS | certificate check |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (default) | if the server offers it, else plain | none |
//! | `require` | always | none (as libpq; with `sslrootcert`, like `verify-ca`) |
//! | `verify-ca` | always | chain to `sslrootcert` (else the webpki roots) |
//! | `verify-full` | always | chain, and the host name (or IP) against the certificate |

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    /// `allow` and `prefer`: TLS when the server offers it.
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(v: &str) -> anyhow::Result<Self> {
        Ok(match v {
            "disable" => Mode::Disable,
            "allow" | "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => bail!(
                "a --postgres / SIGHTLINE_POSTGRES value has sslmode={other:?}: use disable, allow, prefer, require, verify-ca or verify-full"
            ),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }

    /// What the driver is told: whether TLS is off, optional or mandatory.
    pub fn driver(self) -> SslMode {
        match self {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }
}

/// The TLS part of a `--postgres` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub mode: Mode,
    /// `sslrootcert`: a PEM file of trusted CA certificates; `None` = the webpki (Mozilla) roots.
    pub root_cert: Option<PathBuf>,
}

/// Takes `sslmode` and `sslrootcert` out of a `postgres://` URL or a key=value string; returns the rest (for
/// tokio-postgres's parser) and the TLS settings. Errors never quote the input (it may hold a password).
pub fn split(url: &str) -> anyhow::Result<(String, Settings)> {
    let mut mode = None;
    let mut root = None;
    let mut take = |k: &str, v: String| -> anyhow::Result<bool> {
        match k {
            "sslmode" => mode = Some(Mode::parse(&v)?),
            "sslrootcert" => root = Some(v),
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&') {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(&percent_decode(k)?, percent_decode(v)?)? {
                        kept.push(pair);
                    }
                }
                match kept.is_empty() {
                    true => base.to_string(),
                    false => format!("{base}?{}", kept.join("&")),
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for (k, v, raw) in key_values(url) {
            if !take(&k, v)? {
                kept.push(raw);
            }
        }
        kept.join(" ")
    };
    let root_cert = match root.as_deref() {
        None | Some("") => None,
        // libpq's `system`: the platform's roots; here, the bundled webpki (Mozilla) roots.
        Some("system") => None,
        Some(p) => Some(PathBuf::from(p)),
    };
    let mut mode = mode.unwrap_or(Mode::Prefer);
    // libpq: "if a root CA file exists, the behavior of sslmode=require will be the same as that of verify-ca".
    if mode == Mode::Require && root_cert.is_some() {
        mode = Mode::VerifyCa;
    }
    Ok((rest, Settings { mode, root_cert }))
}

fn percent_decode(s: &str) -> anyhow::Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| anyhow!("a --postgres / SIGHTLINE_POSTGRES value has a bad %-escape"))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| anyhow!("a --postgres / SIGHTLINE_POSTGRES value is not UTF-8 once %-decoded"))
}

/// The pairs of a libpq key=value string (`host=db port=5432 password='a b\'c'`): key, unescaped value,
/// and the pair as written. What does not scan is passed on as written, for the driver to reject.
fn key_values(s: &str) -> Vec<(String, String, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let ws = |c: u8| c.is_ascii_whitespace();
    while i < b.len() {
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !ws(b[i]) {
            i += 1;
        }
        let key = s[start..i].to_string();
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            out.push((String::new(), String::new(), &s[start..i]));
            continue;
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        let mut val = Vec::new();
        if i < b.len() && b[i] == b'\'' {
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i]);
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else {
            while i < b.len() && !ws(b[i]) {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                val.push(b[i]);
                i += 1;
            }
        }
        out.push((key, String::from_utf8_lossy(&val).into_owned(), &s[start..i]));
    }
    out
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Settings {
    /// The connector for one connection attempt: reads `sslrootcert` now, so its errors show on the instance.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let config = match self.mode {
            // Never used for TLS (disable), or no check wanted (prefer/require: encryption only, like libpq).
            Mode::Disable | Mode::Prefer | Mode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoCheck(provider)))
                .with_no_client_auth(),
            Mode::VerifyCa | Mode::VerifyFull => {
                let roots = Arc::new(self.roots()?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| format!("TLS: cannot use the root certificates: {e}"))?;
                let verifier: Arc<dyn ServerCertVerifier> = match self.mode {
                    Mode::VerifyFull => webpki,
                    _ => Arc::new(ChainOnly(webpki)),
                };
                builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth()
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, String> {
        let mut store = RootCertStore::empty();
        match &self.root_cert {
            None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            Some(path) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<_, _>>())
                    .map_err(|e| format!("TLS: cannot read sslrootcert {}: {e}", path.display()))?;
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!("TLS: sslrootcert {} holds no usable CA certificate (PEM expected)", path.display()));
                }
            }
        }
        Ok(store)
    }
}

/// Turns the driver's TLS errors into what an operator needs (`TLS: certificate verify failed: …`).
pub fn explain(msg: String, mode: Mode) -> String {
    const HANDSHAKE: &str = "error performing TLS handshake: ";
    let Some(rest) = msg.strip_prefix(HANDSHAKE) else { return msg };
    // The I/O error around the rustls error repeats it as its cause.
    let half = rest.len().saturating_sub(2) / 2;
    let rest = match (rest.get(..half), rest.get(half..half + 2), rest.get(half + 2..)) {
        (Some(a), Some(": "), Some(b)) if a == b => a,
        _ => rest,
    };
    if rest.contains("server does not support TLS") {
        format!("TLS: the server does not accept TLS connections (sslmode={} requires TLS)", mode.as_str())
    } else if rest.contains("invalid peer certificate") || rest.contains("certificate") {
        format!("TLS: certificate verify failed (sslmode={}): {rest}", mode.as_str())
    } else {
        format!("TLS: {rest}")
    }
}

/// `require`/`prefer`: encryption without authentication of the server, as libpq does. The handshake
/// signatures are still checked (the server holds the key of the certificate it sent).
#[derive(Debug)]
struct NoCheck(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name in the certificate is not compared with the
/// host (webpki checks the chain before the name, so a name mismatch means the chain was good).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            r => r,
        }
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parameters_are_taken_out() {
        let (rest, s) = split("postgres://m:pw@db:5432/app?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3").unwrap();
        assert_eq!(rest, "postgres://m:pw@db:5432/app?connect_timeout=3");
        assert_eq!(s, Settings { mode: Mode::VerifyFull, root_cert: Some("/etc/ca.pem".into()) });
        let (rest, s) = split("postgresql://m@db/app?sslmode=disable").unwrap();
        assert_eq!((rest.as_str(), s.mode), ("postgresql://m@db/app", Mode::Disable));
        let (rest, s) = split("postgres://m@db/app").unwrap();
        assert_eq!((rest.as_str(), s.mode, s.root_cert), ("postgres://m@db/app", Mode::Prefer, None));
        // libpq: require with a root certificate verifies the chain.
        assert_eq!(split("postgres://m@db/app?sslmode=require&sslrootcert=ca.pem").unwrap().1.mode, Mode::VerifyCa);
        assert_eq!(split("postgres://m@db/app?sslmode=require&sslrootcert=system").unwrap().1, Settings { mode: Mode::Require, root_cert: None });
        assert_eq!(split("postgres://m@db/app?sslmode=allow").unwrap().1.mode, Mode::Prefer);
        let e = split("postgres://m:s3cret@db/app?sslmode=bogus").unwrap_err().to_string();
        assert!(e.contains("bogus") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn key_value_parameters_are_taken_out() {
        let (rest, s) = split("host=db  password='a b\\'c' sslmode = verify-ca sslrootcert='/my certs/ca.pem' dbname=app").unwrap();
        assert_eq!(rest, "host=db password='a b\\'c' dbname=app");
        assert_eq!(s, Settings { mode: Mode::VerifyCa, root_cert: Some("/my certs/ca.pem".into()) });
        let cfg: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(cfg.get_password(), Some(&b"a b'c"[..]));
    }

    #[test]
    fn connectors_build_and_missing_root_files_are_reported() {
        for mode in [Mode::Disable, Mode::Prefer, Mode::Require, Mode::VerifyCa, Mode::VerifyFull] {
            assert!(Settings { mode, root_cert: None }.connector().is_ok(), "{mode:?}");
        }
        let Err(e) = (Settings { mode: Mode::VerifyFull, root_cert: Some("/nonexistent/ca.pem".into()) }).connector() else { panic!() };
        assert!(e.starts_with("TLS: cannot read sslrootcert /nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn handshake_errors_are_explained() {
        let m = explain("error performing TLS handshake: server does not support TLS".into(), Mode::Require);
        assert_eq!(m, "TLS: the server does not accept TLS connections (sslmode=require requires TLS)");
        let m = explain("error performing TLS handshake: invalid peer certificate: UnknownIssuer".into(), Mode::VerifyFull);
        assert_eq!(m, "TLS: certificate verify failed (sslmode=verify-full): invalid peer certificate: UnknownIssuer");
        let m = explain("error performing TLS handshake: invalid peer certificate: UnknownIssuer: invalid peer certificate: UnknownIssuer".into(), Mode::VerifyCa);
        assert_eq!(m, "TLS: certificate verify failed (sslmode=verify-ca): invalid peer certificate: UnknownIssuer");
        assert_eq!(explain("connection refused".into(), Mode::Require), "connection refused");
    }
}
