//! The limits on every call to an identity provider: https only (plain http on loopback), no
//! redirects followed, connect and read timeouts, a cap on the body. Each is checked against a
//! real socket that misbehaves in one way.

use std::time::{Duration, Instant};

use mcpauth_federation::http::Outbound;
use mcpauth_federation::{OutboundLimits, UpstreamError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn limits() -> OutboundLimits {
    OutboundLimits {
        connect_timeout: Duration::from_millis(500),
        read_timeout: Duration::from_millis(500),
        max_response_bytes: 64 * 1024,
    }
}

/// A loopback server answering every connection with `answer` (or holding it open when None).
async fn server(answer: Option<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                match answer {
                    Some(bytes) => {
                        let _ = socket.write_all(&bytes).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    format!("http://{addr}")
}

fn http_response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[tokio::test]
async fn a_json_document_within_the_limits_is_read() {
    let base = server(Some(http_response("200 OK", "", br#"{"ok":true}"#))).await;
    let outbound = Outbound::new(limits()).expect("client");
    let value: serde_json::Value = outbound
        .get_json("test", &format!("{base}/doc"))
        .await
        .expect("read");
    assert_eq!(value["ok"], true);
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_before_connecting() {
    let outbound = Outbound::new(limits()).expect("client");
    let started = Instant::now();
    let refused = outbound
        .get_json::<serde_json::Value>(
            "discovery",
            "http://idp.example.com/.well-known/openid-configuration",
        )
        .await;
    assert!(
        matches!(refused, Err(UpstreamError::Misconfigured(ref m)) if m.contains("https")),
        "{refused:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(100));
    let refused = outbound
        .get_text("metadata", "ftp://127.0.0.1/metadata")
        .await;
    assert!(
        matches!(refused, Err(UpstreamError::Misconfigured(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let big = vec![b' '; 200 * 1024];
    let base = server(Some(http_response("200 OK", "", &big))).await;
    let outbound = Outbound::new(limits()).expect("client");
    let refused = outbound.get_text("metadata", &format!("{base}/big")).await;
    assert!(
        matches!(refused, Err(UpstreamError::Unavailable(ref m)) if m.contains("limit")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_body_over_the_cap_without_a_length_is_refused_while_reading() {
    let mut chunked =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..100 {
        chunked.extend_from_slice(b"400\r\n");
        chunked.extend_from_slice(&[b'x'; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let base = server(Some(chunked)).await;
    let outbound = Outbound::new(limits()).expect("client");
    let refused = outbound
        .get_text("metadata", &format!("{base}/stream"))
        .await;
    assert!(
        matches!(refused, Err(UpstreamError::Unavailable(ref m)) if m.contains("limit")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_provider_that_never_answers_times_out() {
    let base = server(None).await;
    let outbound = Outbound::new(limits()).expect("client");
    let started = Instant::now();
    let refused = outbound
        .get_json::<serde_json::Value>("discovery", &format!("{base}/hang"))
        .await;
    assert!(
        matches!(refused, Err(UpstreamError::Unavailable(ref m)) if m.contains("timed out")),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = server(Some(http_response("200 OK", "", br#"{"followed":true}"#))).await;
    let base = server(Some(http_response(
        "302 Found",
        &format!("location: {target}/elsewhere\r\n"),
        b"",
    )))
    .await;
    let outbound = Outbound::new(limits()).expect("client");
    let refused = outbound
        .get_json::<serde_json::Value>("discovery", &format!("{base}/moved"))
        .await;
    assert!(
        matches!(refused, Err(UpstreamError::Unavailable(ref m)) if m.contains("302")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let outbound = Outbound::new(limits()).expect("client");
    let refused = outbound
        .get_json::<serde_json::Value>("discovery", &format!("http://127.0.0.1:{port}/x"))
        .await;
    assert!(
        matches!(refused, Err(UpstreamError::Unavailable(_))),
        "{refused:?}"
    );
}
