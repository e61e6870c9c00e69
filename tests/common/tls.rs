//! TLS for tests: client configurations trusting the switch's lab certificate (or nothing),
//! certificates made on the spot, and what a server presents.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// The switch's lab certificate (made at its first start).
pub fn lab_cert(data: &Path) -> PathBuf {
    data.join("tls").join("lab-cert.pem")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client trusting the certificates of a PEM file.
pub fn client_trusting(pem: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pem).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    client_with(roots)
}

/// A client trusting nothing the switch could present.
pub fn client_trusting_nothing() -> Arc<ClientConfig> {
    client_with(RootCertStore::empty())
}

fn client_with(roots: RootCertStore) -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A self-signed certificate for the DNS name `name` with common name `cn`, written as PEM to
/// `dir/<stem>-cert.pem` and `dir/<stem>-key.pem`; returns both paths.
pub fn make_cert(dir: &Path, stem: &str, cn: &str, name: &str) -> (PathBuf, PathBuf) {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (
        dir.join(format!("{stem}-cert.pem")),
        dir.join(format!("{stem}-key.pem")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// A TLS connection to `addr`, verifying the certificate for `name`.
pub async fn open(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).unwrap();
    tokio_rustls::TlsConnector::from(client)
        .connect(name, tcp)
        .await
}

/// The certificate the server at `addr` presents for `name`, by a client trusting `client`.
pub async fn presented(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<Vec<u8>> {
    let s = open(addr, client, name).await?;
    let (_, conn) = s.get_ref();
    Ok(conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.to_vec())
        .unwrap_or_default())
}

/// The DER of the first certificate in a PEM file.
pub fn der_of(pem: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(pem)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// A ClientHello offering TLS 1.1 at most (no supported_versions extension), as an old phone
/// sends it; rustls as a client cannot make one.
pub fn tls11_client_hello() -> Vec<u8> {
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
