"""The official Python MCP SDK signs in by Client ID Metadata Document (CIMD), no registration.

A CA and a leaf certificate for ``localhost`` are generated per run (``cryptography``, from
pyjwt[crypto]); a local https server serves the client's document at
``https://localhost:<port>/oauth/e2e-client.json``; mcpauth runs with
``[client_metadata] extra_ca_file`` (that CA) and ``allow_hosts = ["localhost"]``. The SDK's
``OAuthClientProvider(..., client_metadata_url=...)`` sees
``client_id_metadata_document_supported``, uses the URL as its client_id, signs in through the
headless browser, calls ``whoami`` and refreshes. No ``/register`` call may be made.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import secrets
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test_mcp_sdk import ADMIN, HERE, PYTHON, REPO_ROOT, Proc, free_port, mcpauth_command, start_mcp_server, wait_for

DOCUMENT_PATH = "/oauth/e2e-client.json"


def write_test_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a leaf for localhost/127.0.0.1 signed by it: (ca.pem, leaf.pem, leaf.key)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcpauth e2e CIMD test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, leaf_pem, leaf_key_pem = directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaf_pem.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    leaf_key_pem.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ca_pem, leaf_pem, leaf_key_pem


class DocumentServer:
    """An https server on 127.0.0.1 serving one JSON document; counts the requests per path."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.document: dict[str, Any] = {}
        self.requests: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.requests[self.path] = outer.requests.get(self.path, 0) + 1
                if self.path != DOCUMENT_PATH:
                    self.send_error(404)
                    return
                body = json.dumps(outer.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}{DOCUMENT_PATH}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class CimdStack:
    issuer: str
    resource: str
    password: str
    workdir: Path
    documents: DocumentServer
    procs: list[Proc]

    def logs(self) -> str:
        return "\n".join(p.describe() for p in self.procs)


def wait_until_clients_can_be_recorded(issuer: str, timeout: float = 30) -> None:
    """A fresh cluster records metadata-document clients once its version reaches 4 (seconds
    after start); until then /authorize answers them 503 temporarily_unavailable."""
    params = {
        "response_type": "code",
        "client_id": "https://chatgpt.com/oauth/client.json",
        "redirect_uri": "https://chatgpt.com/connector_platform_oauth_redirect",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    deadline = time.monotonic() + timeout
    while True:
        resp = httpx.get(f"{issuer}/authorize", params=params, timeout=10)
        if resp.status_code != 503:
            assert resp.status_code == 302, (resp.status_code, resp.text[:500])
            return
        assert "temporarily_unavailable" in resp.text, resp.text[:500]
        assert time.monotonic() < deadline, "cluster version 4 not reached"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cimd_stack(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("cimd")
    ca, leaf, key = write_test_pki(workdir)
    documents = DocumentServer(leaf, key)
    as_port, mcp_port = free_port(), free_port()
    while mcp_port == as_port:
        mcp_port = free_port()
    issuer, resource = f"http://127.0.0.1:{as_port}", f"http://127.0.0.1:{mcp_port}/mcp"
    config = workdir / "mcpauth.toml"
    config.write_text(
        "[client_metadata]\n"
        'allow_hosts = ["localhost"]\n'
        f"extra_ca_file = {json.dumps(str(ca))}\n"
    )
    password = "pw-" + secrets.token_urlsafe(18)
    (workdir / "data").mkdir()
    procs: list[Proc] = []
    try:
        auth = Proc(
            "mcpauth",
            mcpauth_command()
            + [
                "serve", "--config", str(config),
                "--listen", f"127.0.0.1:{as_port}",
                "--issuer", issuer,
                "--data-dir", str(workdir / "data"),
                "--resource", resource,
                "--access-token-ttl", "30",
            ],
            workdir / "mcpauth.log",
            env={**os.environ, "MCPAUTH_ADMIN_PASSWORD": password},
        )
        procs.append(auth)
        wait_for(f"{issuer}/.well-known/oauth-authorization-server", auth, float(os.environ.get("E2E_STARTUP_TIMEOUT", "60")))
        wait_until_clients_can_be_recorded(issuer)
        procs.append(start_mcp_server(mcp_port, issuer, resource, workdir / "mcp_server.log"))
        yield CimdStack(issuer, resource, password, workdir, documents, procs)
    finally:
        for proc in reversed(procs):
            proc.stop()
        documents.stop()


def run_cimd_flow(stack: CimdStack, client_id: str) -> dict[str, Any]:
    report_path = stack.workdir / "cimd-flow-report.json"
    cmd = [
        PYTHON, str(HERE / "client_flow.py"),
        "--mcp-url", stack.resource,
        "--username", ADMIN,
        "--client-metadata-url", client_id,
        "--report", str(report_path),
        "-v",
    ]
    run = subprocess.run(
        cmd, env={**os.environ, "MCPAUTH_ADMIN_PASSWORD": stack.password},
        capture_output=True, text=True, timeout=180, cwd=REPO_ROOT,
    )
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report["_diagnostics"] = (
        f"client_flow.py exit {run.returncode}\n--- stdout\n{run.stdout[-6000:]}\n"
        f"--- stderr\n{run.stderr[-6000:]}\n{stack.logs()}"
    )
    report["_returncode"] = run.returncode
    return report


def test_sdk_signs_in_by_client_id_metadata_document(cimd_stack: CimdStack) -> None:
    stack = cimd_stack
    client_id = stack.documents.url
    stack.documents.document = {
        "client_id": client_id,
        "client_name": "e2e CIMD client",
        # port-less loopback: the SDK's callback listens on an ephemeral port
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    meta = httpx.get(f"{stack.issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    assert meta["client_id_metadata_document_supported"] is True, meta
    assert "none" in meta["token_endpoint_auth_methods_supported"], meta

    flow = run_cimd_flow(stack, client_id)
    diagnostics = flow["_diagnostics"]
    assert flow["_returncode"] == 0 and flow.get("ok"), diagnostics
    trace = flow["http_trace"]
    assert not [e for e in trace if e["url"].split("?")[0].endswith("/register")], "no registration: " + diagnostics
    authorize = [u for u in flow["authorization_urls"]]
    assert len(authorize) == 1 and "client_id=https%3A%2F%2Flocalhost" in authorize[0], authorize
    assert flow["client_info"]["client_id"] == client_id, flow["client_info"]
    assert {w["client_id"] for w in flow["whoami"]} == {client_id}, flow["whoami"]
    grants = [e.get("grant_type") for e in trace if e.get("grant_type")]
    assert grants.count("authorization_code") == 1 and grants.count("refresh_token") >= 1, grants
    token_calls = [e for e in trace if e.get("grant_type")]
    assert all(e["form"].get("client_id") == client_id for e in token_calls), token_calls
    assert all("client_secret" not in e["form"] for e in token_calls), token_calls
    assert flow["browser_invocations"] == 1, diagnostics
    # mcpauth fetched the document (over https, trusting the test CA) and cached it
    assert stack.documents.requests.get(DOCUMENT_PATH) == 1, stack.documents.requests
