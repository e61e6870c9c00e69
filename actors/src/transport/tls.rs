//! SIP over TLS (RFC 3261 §26.2, RFC 5630): certificates, the rustls server and client
//! configurations, and reload.
//!
//! The connections themselves are the stream machinery of `tcp` (framing, keep-alives, idle
//! timeouts, connection ids) over a rustls stream. This module says who we are (the
//! certificate and key from `[tls] cert_file`/`key_file`, or a self-signed lab certificate
//! made once in `<data>/tls/`) and whom we trust when we connect out (the system's roots plus
//! `[tls] ca_file`). Only TLS 1.2 and 1.3 are offered and accepted.
//!
//! `reload` reads the files again: new connections get the new certificate, open ones keep
//! theirs; a file that does not load leaves the old certificate in place and says why.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::{info, warn};

use crate::config::Tls as TlsSettings;

/// The TLS versions the switch speaks: 1.2 and 1.3 (RFC 8996 retired 1.0 and 1.1; rustls has
/// neither, and listing these keeps it so if it ever did).
pub static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Why certificates or keys could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    #[error("cannot read tls file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tls file {path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("tls file {path} holds no usable private key: {message}")]
    Key { path: PathBuf, message: String },
    #[error("tls certificate {cert} and key {key} do not make a server identity: {message}")]
    Identity {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    #[error("cannot make the lab certificate in {dir}: {message}")]
    Generate { dir: PathBuf, message: String },
    #[error("tls ca file {path}: {message}")]
    Roots { path: PathBuf, message: String },
}

/// Where the certificate and key come from.
#[derive(Debug, Clone)]
pub struct CertSource {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The self-signed certificate made for the lab (logged as such).
    pub lab: bool,
}

/// The certificates and rustls configurations of the switch's TLS connections.
pub struct TlsContext {
    source: CertSource,
    provider: Arc<CryptoProvider>,
    server: RwLock<Arc<ServerConfig>>,
    client: Arc<ClientConfig>,
    handshake_timeout: Duration,
}

impl TlsContext {
    /// Loads (or makes, for the lab) the certificate and builds both configurations. A bad
    /// file is an error naming it: the switch does not start on it.
    pub fn load(
        settings: &TlsSettings,
        data_dir: &Path,
        domain: &str,
        sip_ip: IpAddr,
    ) -> Result<TlsContext, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let source = match (&settings.cert_file, &settings.key_file) {
            (Some(cert), Some(key)) => CertSource {
                cert: cert.clone(),
                key: key.clone(),
                lab: false,
            },
            _ => lab_certificate(&data_dir.join("tls"), domain, sip_ip)?,
        };
        let server = server_config(&provider, &source)?;
        if source.lab {
            warn!(
                cert = %source.cert.display(),
                "tls: no certificate configured, using a self-signed lab certificate; phones \
                 must trust this file or not verify the server (set [tls] cert_file and \
                 key_file for a real one)"
            );
        } else {
            info!(cert = %source.cert.display(), "tls certificate loaded");
        }
        let client = client_config(&provider, settings.ca_file.as_deref())?;
        Ok(TlsContext {
            source,
            provider,
            server: RwLock::new(Arc::new(server)),
            client: Arc::new(client),
            handshake_timeout: settings.handshake_timeout(),
        })
    }

    /// Reads the certificate and key files again; on success new connections use them, on
    /// failure the old ones stay and the error says which file is wrong.
    pub fn reload(&self) -> Result<(), TlsError> {
        let server = server_config(&self.provider, &self.source)?;
        *self.server.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(server);
        Ok(())
    }

    /// Where the certificate and key are read from.
    pub fn source(&self) -> &CertSource {
        &self.source
    }

    /// Accepts with the current certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        let config = self
            .server
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        TlsAcceptor::from(config)
    }

    /// Connects out, verifying the peer against the system roots and `ca_file`.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector::from(self.client.clone())
    }

    /// The name a peer's certificate must carry: the address we connect to (trunks and
    /// contacts are addressed by IP; its certificate names that IP).
    pub fn server_name(&self, remote: SocketAddr) -> ServerName<'static> {
        ServerName::from(remote.ip())
    }

    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }
}

/// The server configuration for `source`'s certificate chain and key, TLS 1.2 and 1.3 only.
fn server_config(
    provider: &Arc<CryptoProvider>,
    source: &CertSource,
) -> Result<ServerConfig, TlsError> {
    let certs = read_certs(&source.cert)?;
    let key = read_key(&source.key)?;
    ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| TlsError::Identity {
            cert: source.cert.clone(),
            key: source.key.clone(),
            message: e.to_string(),
        })
}

/// The client configuration: the system's roots and those of `ca_file`, TLS 1.2 and 1.3.
fn client_config(
    provider: &Arc<CryptoProvider>,
    ca_file: Option<&Path>,
) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        for c in read_certs(path)? {
            roots.add(c).map_err(|e| TlsError::Roots {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        }
    }
    if roots.is_empty() {
        warn!("tls: no trusted roots (no system store, no [tls] ca_file): connections out fail");
    }
    tracing::debug!(system_roots = added, "tls roots loaded");
    ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| TlsError::Roots {
            path: ca_file.map(Path::to_owned).unwrap_or_default(),
            message: e.to_string(),
        })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Every certificate in a PEM file, in order.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key in a PEM file.
fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Key {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// The lab certificate in `dir`, made on first use: self-signed, for the domain, `localhost`,
/// 127.0.0.1, ::1 and the SIP address, so it stays the same across restarts and a phone told
/// to trust it once keeps trusting it.
fn lab_certificate(dir: &Path, domain: &str, sip_ip: IpAddr) -> Result<CertSource, TlsError> {
    let source = CertSource {
        cert: dir.join("lab-cert.pem"),
        key: dir.join("lab-key.pem"),
        lab: true,
    };
    if source.cert.exists() && source.key.exists() {
        return Ok(source);
    }
    let fail = |message: String| TlsError::Generate {
        dir: dir.to_owned(),
        message,
    };
    let mut names = vec![
        domain.to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let ip = sip_ip.to_string();
    if !sip_ip.is_unspecified() && !names.contains(&ip) {
        names.push(ip);
    }
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| fail(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, domain);
    params.distinguished_name.push(
        rcgen::DnType::OrganizationName,
        "Switchboard lab certificate",
    );
    params.serial_number = Some(rcgen::SerialNumber::from(rand::random::<u64>()));
    let key = rcgen::KeyPair::generate().map_err(|e| fail(e.to_string()))?;
    let cert = params.self_signed(&key).map_err(|e| fail(e.to_string()))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    write_private(&source.key, key.serialize_pem().as_bytes()).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&source.cert, cert.pem()).map_err(|e| fail(e.to_string()))?;
    info!(cert = %source.cert.display(), "tls: lab certificate made");
    Ok(source)
}

/// Writes a key file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    o.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TlsSettings {
        crate::config::Config::load(None).unwrap().tls
    }

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sb-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_lab_certificate_is_made_once_and_kept() {
        let d = temp("lab");
        let ip: IpAddr = "127.0.0.5".parse().unwrap();
        let a = TlsContext::load(&settings(), &d, "sb.example", ip).unwrap();
        assert!(a.source().lab);
        let first = std::fs::read(&a.source().cert).unwrap();
        let b = TlsContext::load(&settings(), &d, "sb.example", ip).unwrap();
        assert_eq!(std::fs::read(&b.source().cert).unwrap(), first);
        assert_eq!(read_certs(&b.source().cert).unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_bad_file_names_itself_and_a_failed_reload_keeps_the_old_certificate() {
        let d = temp("bad");
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let lab = TlsContext::load(&settings(), &d, "sb.example", ip).unwrap();
        let mut s = settings();
        s.cert_file = Some(d.join("missing.pem"));
        s.key_file = Some(lab.source().key.clone());
        let e = TlsContext::load(&s, &d, "sb.example", ip).err().unwrap();
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let garbage = d.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        s.cert_file = Some(garbage.clone());
        let e = TlsContext::load(&s, &d, "sb.example", ip).err().unwrap();
        assert!(matches!(e, TlsError::NoCertificate { .. }), "{e}");
        // reload of a good context over a broken file: an error, the old config stays
        std::fs::write(&lab.source().key, "broken").unwrap();
        let before = lab.acceptor().config().clone();
        assert!(lab.reload().is_err());
        assert!(Arc::ptr_eq(&before, lab.acceptor().config()));
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A ClientHello offering TLS 1.1 at most (no supported_versions extension), as an old
    /// phone would send it; rustls as a client cannot make one.
    fn tls11_client_hello() -> Vec<u8> {
        let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
        body.extend([7u8; 32]); // random
        body.push(0); // no session id
        body.extend([0x00, 0x04, 0xc0, 0x14, 0x00, 0x2f]); // two CBC suites of TLS 1.1
        body.extend([0x01, 0x00]); // null compression
        let mut hs = vec![0x01, 0, 0, body.len() as u8];
        hs.extend(body);
        let mut rec = vec![0x16, 0x03, 0x01, 0, hs.len() as u8];
        rec.extend(hs);
        rec
    }

    /// Runs a handshake between `client` and `server` in memory.
    fn handshake(
        client: &mut rustls::ClientConnection,
        server: &mut rustls::ServerConnection,
    ) -> Result<(), rustls::Error> {
        for _ in 0..10 {
            let mut buf = Vec::new();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut &buf[..]).unwrap();
            server.process_new_packets()?;
            buf.clear();
            server.write_tls(&mut buf).unwrap();
            client.read_tls(&mut &buf[..]).unwrap();
            client.process_new_packets()?;
            if !client.is_handshaking() && !server.is_handshaking() {
                return Ok(());
            }
        }
        panic!("handshake did not finish");
    }

    #[test]
    fn tls_1_2_and_1_3_are_accepted_and_1_1_is_refused() {
        let d = temp("versions");
        let ctx = TlsContext::load(&settings(), &d, "sb", "127.0.0.1".parse().unwrap()).unwrap();
        let server = ctx.acceptor().config().clone();
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(read_certs(&ctx.source().cert).unwrap());
        let roots = Arc::new(roots);
        for (version, expect) in [
            (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
            (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
        ] {
            let client = ClientConfig::builder_with_provider(ctx.provider.clone())
                .with_protocol_versions(&[version])
                .unwrap()
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            let name = ServerName::try_from("localhost").unwrap();
            let mut c = rustls::ClientConnection::new(Arc::new(client), name).unwrap();
            let mut s = rustls::ServerConnection::new(server.clone()).unwrap();
            handshake(&mut c, &mut s).unwrap();
            assert_eq!(s.protocol_version(), Some(expect));
        }
        let mut s = rustls::ServerConnection::new(server).unwrap();
        s.read_tls(&mut &tls11_client_hello()[..]).unwrap();
        let e = s.process_new_packets().unwrap_err();
        assert!(matches!(e, rustls::Error::PeerIncompatible(_)), "{e:?}");
        let mut alert = Vec::new();
        s.write_tls(&mut alert).unwrap();
        assert_eq!(alert.first(), Some(&0x15), "an alert record answers");
        let _ = std::fs::remove_dir_all(&d);
    }
}
