//! Real https peers for tests: a CA generated per run with a leaf certificate for the names a
//! test chooses, an https server (tokio-rustls with a hand-rolled HTTP/1.1 responder) whose
//! answers each test sets by path, and a plain listener that counts the connections it accepts
//! (the address a refused URL names: nothing may ever connect to it).
//!
//! Shared by the client metadata crate's tests and the integration tests (client ID metadata
//! documents served to the real binary).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A CA generated for this test run and a server configuration with a leaf certificate it
/// signed for `names` (DNS names or IP addresses).
pub struct TestPki {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

pub fn test_pki(names: &[&str]) -> TestPki {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mcpauth client metadata test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");

    let leaf_key = rcgen::KeyPair::generate().expect("leaf key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf_params = rcgen::CertificateParams::new(names).expect("leaf params");
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .expect("leaf certificate");

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
    let server_config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("server certificate");
    TestPki {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(server_config),
    }
}

/// What the server answers to the next requests.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A whole response with a Content-Length.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Accept, read the request, and never answer.
    Stall,
    /// 200 application/json, chunked, `count` chunks of `chunk_len` bytes, `delay` apart.
    Trickle {
        chunk_len: usize,
        count: usize,
        delay: Duration,
    },
}

impl Reply {
    pub fn json(body: &serde_json::Value, cache_control: Option<&str>) -> Self {
        let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        if let Some(cc) = cache_control {
            headers.push(("Cache-Control".to_owned(), cc.to_owned()));
        }
        Reply::Full {
            status: 200,
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    pub fn raw(status: u16, content_type: &str, body: &str) -> Self {
        Reply::Full {
            status,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.as_bytes().to_vec(),
        }
    }
}

/// An https server on 127.0.0.1 answering by path.
pub struct HttpsServer {
    pub port: u16,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    pub accepted: Arc<AtomicUsize>,
    requests: Arc<Mutex<HashMap<String, usize>>>,
    pub body_bytes_sent: Arc<AtomicUsize>,
}

impl HttpsServer {
    pub async fn start(pki: &TestPki) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(pki, listener)
    }

    /// On a given port of 127.0.0.1; `None` when it cannot be bound (443 needs root).
    pub async fn start_on(pki: &TestPki, port: u16) -> Option<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.ok()?;
        Some(Self::serve(pki, listener))
    }

    fn serve(pki: &TestPki, listener: TcpListener) -> Self {
        let port = listener.local_addr().expect("address").port();
        let server = Self {
            port,
            replies: Arc::default(),
            accepted: Arc::default(),
            requests: Arc::default(),
            body_bytes_sent: Arc::default(),
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config.clone());
        let (replies, accepted, requests, sent) = (
            server.replies.clone(),
            server.accepted.clone(),
            server.requests.clone(),
            server.body_bytes_sent.clone(),
        );
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let (acceptor, replies, requests, sent) = (
                    acceptor.clone(),
                    replies.clone(),
                    requests.clone(),
                    sent.clone(),
                );
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve_one(tls, replies, requests, sent).await;
                    }
                });
            }
        });
        server
    }

    pub fn set(&self, path: &str, reply: Reply) {
        self.replies
            .lock()
            .expect("replies")
            .insert(path.to_owned(), reply);
    }

    /// Requests received for `path`.
    pub fn requests(&self, path: &str) -> usize {
        self.requests
            .lock()
            .expect("requests")
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }
}

async fn serve_one<S>(
    mut stream: S,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
    requests: Arc<Mutex<HashMap<String, usize>>>,
    sent: Arc<AtomicUsize>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
    *requests
        .lock()
        .expect("requests")
        .entry(path.clone())
        .or_default() += 1;
    let reply = replies.lock().expect("replies").get(&path).cloned();
    let reply = reply.unwrap_or_else(|| Reply::raw(404, "text/plain", "not found"));
    match reply {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut out = format!(
                "HTTP/1.1 {status} Test\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (name, value) in headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            out.push_str("\r\n");
            let mut bytes = out.into_bytes();
            bytes.extend_from_slice(&body);
            if stream.write_all(&bytes).await.is_ok() {
                sent.fetch_add(body.len(), Ordering::SeqCst);
            }
            let _ = stream.shutdown().await;
        }
        Reply::Stall => {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Reply::Trickle {
            chunk_len,
            count,
            delay,
        } => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = vec![b' '; chunk_len];
            for _ in 0..count {
                let mut frame = format!("{chunk_len:x}\r\n").into_bytes();
                frame.extend_from_slice(&chunk);
                frame.extend_from_slice(b"\r\n");
                if stream.write_all(&frame).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
                sent.fetch_add(chunk_len, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
            }
            let _ = stream.write_all(b"0\r\n\r\n").await;
        }
    }
}

/// An address added to the loopback interface for one test (`ip addr add ADDR/32 dev lo`),
/// removed again when dropped, so a [`CountingListener`] can listen on an address such as
/// 10.0.0.1 or 169.254.169.254 and prove nothing connects to it. Needs root and iproute2 (CI
/// has both; the test command installs iproute2): `None` elsewhere. While it exists, the
/// machine itself reaches that address locally (on a cloud VM, 169.254.169.254 is the metadata
/// service: it is shadowed for the test's few seconds).
pub struct LoopbackAlias {
    cidr: String,
}

impl LoopbackAlias {
    pub fn add(ip: &str) -> Option<Self> {
        let cidr = format!("{ip}/32");
        let added = std::process::Command::new("ip")
            .args(["addr", "add", &cidr, "dev", "lo"])
            .output()
            .ok()?
            .status
            .success();
        added.then_some(Self { cidr })
    }
}

impl Drop for LoopbackAlias {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["addr", "del", &self.cidr, "dev", "lo"])
            .output();
    }
}

/// A TCP listener that only counts the connections it accepts (the address a refused URL
/// names: nothing may ever connect to it).
pub struct CountingListener {
    pub port: u16,
    pub accepted: Arc<AtomicUsize>,
}

impl CountingListener {
    /// `None` when the address cannot be bound here (no IPv6, say).
    pub async fn bind(ip: &str, port: u16) -> Option<Self> {
        let addr: SocketAddr = SocketAddr::new(ip.parse().ok()?, port);
        let listener = TcpListener::bind(addr).await.ok()?;
        let port = listener.local_addr().ok()?.port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((_stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Some(Self { port, accepted })
    }

    /// Connections accepted so far, after giving a stray connection time to arrive.
    pub async fn accepted_after_a_moment(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.accepted.load(Ordering::SeqCst)
    }
}
