//! The cost TLS adds to SIP: `tls_handshake_tls13_ecdsa` (a full TLS 1.3 handshake with the
//! lab certificate's kind of key, ECDSA P-256, client and server in memory on one thread, so
//! both sides' work is counted; no session resumption),
//! `tls_handshake_tls12_ecdsa` (the same in TLS 1.2), and `tls_record_invite_1kb` (one ~1.2 KB
//! INVITE sealed by the sender and opened by the switch on an established TLS 1.3
//! connection: the per-message cost a TLS phone adds on top of parsing).

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

#[path = "common.rs"]
mod common;

fn configs(
    version: &'static rustls::SupportedProtocolVersion,
) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let der = CertificateDer::from(cert.der().to_vec());
    let mut roots = RootCertStore::empty();
    roots.add(der.clone()).unwrap();
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![der],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let mut client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // every iteration a full handshake, as a phone's first connection: no resumption
    client.resumption = rustls::client::Resumption::disabled();
    (Arc::new(client), Arc::new(server))
}

/// Moves bytes both ways until both sides finished the handshake.
fn handshake(c: &mut ClientConnection, s: &mut ServerConnection, buf: &mut Vec<u8>) {
    while c.is_handshaking() || s.is_handshaking() {
        buf.clear();
        c.write_tls(buf).unwrap();
        s.read_tls(&mut &buf[..]).unwrap();
        s.process_new_packets().unwrap();
        buf.clear();
        s.write_tls(buf).unwrap();
        c.read_tls(&mut &buf[..]).unwrap();
        c.process_new_packets().unwrap();
    }
}

fn connect(client: &Arc<ClientConfig>) -> ClientConnection {
    ClientConnection::new(client.clone(), ServerName::try_from("localhost").unwrap()).unwrap()
}

fn tls(c: &mut Criterion) {
    let mut g = c.benchmark_group("tls");
    g.throughput(Throughput::Elements(1));
    for (name, version) in [
        ("tls_handshake_tls13_ecdsa", &rustls::version::TLS13),
        ("tls_handshake_tls12_ecdsa", &rustls::version::TLS12),
    ] {
        let (client, server) = configs(version);
        let mut buf = Vec::with_capacity(8192);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut cc = connect(&client);
                let mut sc = ServerConnection::new(server.clone()).unwrap();
                handshake(&mut cc, &mut sc, &mut buf);
                black_box(sc.protocol_version())
            })
        });
    }
    let (client, server) = configs(&rustls::version::TLS13);
    let mut cc = connect(&client);
    let mut sc = ServerConnection::new(server).unwrap();
    let mut buf = Vec::with_capacity(8192);
    handshake(&mut cc, &mut sc, &mut buf);
    let invite = common::INVITE.as_bytes();
    let mut plain = vec![0u8; invite.len()];
    g.bench_function("tls_record_invite_1kb", |b| {
        b.iter(|| {
            use std::io::{Read, Write};
            cc.writer().write_all(black_box(invite)).unwrap();
            buf.clear();
            cc.write_tls(&mut buf).unwrap();
            sc.read_tls(&mut &buf[..]).unwrap();
            sc.process_new_packets().unwrap();
            sc.reader().read_exact(&mut plain).unwrap();
            black_box(plain[0])
        })
    });
    g.finish();
}

criterion_group!(benches, tls);
criterion_main!(benches);
