"""mcpauth against the official Python MCP SDK, end to end.

Fixtures start the mcpauth binary (``$MCPAUTH_BIN``, default ``target/release/mcpauth``)
on a free loopback port with a temporary data directory, wait for its RFC 8414
metadata, start ``mcp_server.py`` (an SDK MCP server validating mcpauth's tokens via
JWKS) and run ``client_flow.py`` (the SDK's OAuth client with a headless browser).
Nothing here knows mcpauth's HTML paths or form field names.

The session-wide `stack` fixture (mcpauth + mcp_server.py) is in conftest.py.

Environment knobs:
  MCPAUTH_BIN            the server binary (a ``.py`` file is run with this Python)
  E2E_ACCESS_TOKEN_TTL   ``--access-token-ttl`` given to mcpauth (default 10 seconds)
  E2E_STARTUP_TIMEOUT    seconds to wait for mcpauth's metadata (default 60)
  E2E_EXPECT_SUB         if set, the ``sub`` the admin's access token must carry
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
PYTHON = sys.executable
ADMIN = "admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Proc:
    """A child process whose output goes to a log file; stopped by its own pid only."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.cmd, self.log = name, cmd, log
        self._fh = open(log, "wb")
        self.p = subprocess.Popen(cmd, stdout=self._fh, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=10)
        self._fh.close()

    def describe(self) -> str:
        state = "running" if self.alive() else f"exited with {self.p.returncode}"
        return f"--- {self.name} ({state}): {' '.join(self.cmd)}\n{tail(self.log)}"


def wait_for(url: str, proc: Proc, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not proc.alive():
            pytest.fail(f"{proc.name} exited before {url} answered\n{proc.describe()}")
        try:
            resp = httpx.get(url, timeout=2)
            if resp.status_code == 200:
                return resp
            last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    pytest.fail(f"{url} not ready after {timeout}s ({last})\n{proc.describe()}")


def mcpauth_command() -> list[str]:
    configured = os.environ.get("MCPAUTH_BIN")
    path = Path(configured) if configured else REPO_ROOT / "target" / "release" / "mcpauth"
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.exists():
        pytest.fail(f"mcpauth binary not found at {path}: run `cargo build --release` or set MCPAUTH_BIN")
    return [PYTHON, str(path)] if path.suffix == ".py" else [str(path)]


def start_mcp_server(port: int, issuer: str, resource: str, log: Path) -> Proc:
    proc = Proc(
        "mcp_server",
        [PYTHON, str(HERE / "mcp_server.py"), "--port", str(port), "--issuer", issuer, "--resource", resource],
        log,
    )
    wait_for(f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp", proc, 30)
    return proc


@dataclass
class Stack:
    issuer: str
    resource: str
    mcp_port: int
    password: str
    ttl: int
    workdir: Path
    procs: list[Proc]

    def logs(self) -> str:
        return "\n".join(p.describe() for p in self.procs)


# The `stack` fixture (mcpauth + mcp_server.py, one per session) is in conftest.py.


@pytest.fixture(scope="session")
def flow(stack: Stack) -> dict[str, Any]:
    """Runs client_flow.py once (login, whoami, forced refresh, refresh after real expiry)."""
    report_path = stack.workdir / "flow-report.json"
    cmd = [
        PYTHON, str(HERE / "client_flow.py"),
        "--mcp-url", stack.resource,
        "--username", ADMIN,
        "--wait-expiry", str(stack.ttl + 15),
        "--report", str(report_path),
        "-v",
    ]
    if os.environ.get("E2E_EXPECT_SUB"):
        cmd += ["--expect-sub", os.environ["E2E_EXPECT_SUB"]]
    env = {**os.environ, "MCPAUTH_ADMIN_PASSWORD": stack.password}
    try:
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=stack.ttl + 180, cwd=REPO_ROOT)
        returncode, out, err = run.returncode, run.stdout, run.stderr
    except subprocess.TimeoutExpired as exc:
        returncode, out, err = -1, str(exc.stdout or ""), f"client_flow.py timed out\n{exc.stderr or ''}"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report["_returncode"], report["_stdout"], report["_stderr"] = returncode, out, err
    return report


def flow_diagnostics(flow: dict[str, Any], stack: Stack) -> str:
    return (
        f"client_flow.py exit {flow['_returncode']}\n--- stdout\n{flow['_stdout'][-6000:]}\n"
        f"--- stderr\n{flow['_stderr'][-6000:]}\n{stack.logs()}"
    )


# ------------------------------------------------------------------------------------------
# (a) the whole flow with the SDK: login once, call the tool, refresh twice without a login
# ------------------------------------------------------------------------------------------
def test_sdk_full_flow_with_refresh(stack: Stack, flow: dict[str, Any]) -> None:
    assert flow["_returncode"] == 0 and flow.get("ok"), flow_diagnostics(flow, stack)
    assert flow["browser_invocations"] == 1, flow_diagnostics(flow, stack)
    grants = [e.get("grant_type") for e in flow["http_trace"] if e.get("grant_type")]
    assert grants.count("authorization_code") == 1, grants
    assert grants.count("refresh_token") >= 2, grants
    subs = {w["sub"] for w in flow["whoami"]}
    assert len(subs) == 1 and None not in subs, flow["whoami"]
    if os.environ.get("E2E_EXPECT_SUB"):
        assert subs == {os.environ["E2E_EXPECT_SUB"]}
    assert {w["client_id"] for w in flow["whoami"]} == {flow["client_info"]["client_id"]}
    refresh_tokens = [t["refresh_token"] for t in flow["tokens"]]
    assert len(set(refresh_tokens)) == len(refresh_tokens) == 3, "refresh tokens must rotate on every refresh"
    assert flow["whoami"][-1]["distinct_jti_count"] >= 3


# ------------------------------------------------------------------------------------------
# (b) the access tokens are ES256 JWTs for this resource from this issuer
# ------------------------------------------------------------------------------------------
def test_access_token_is_es256_jwt_for_the_resource(stack: Stack, flow: dict[str, Any]) -> None:
    tokens = [t["access_token"] for t in flow.get("tokens", [])]
    assert tokens, "the flow obtained no access token\n" + flow_diagnostics(flow, stack)
    meta = httpx.get(f"{stack.issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    assert meta["issuer"] == stack.issuer
    jwks = httpx.get(meta["jwks_uri"], timeout=10).json()
    keys = {k.get("kid"): k for k in jwks["keys"]}
    for token in tokens:
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "ES256", header
        kid = header.get("kid")
        assert kid in keys or (kid is None and len(keys) == 1), f"kid {kid!r} not in JWKS {list(keys)}"
        jwk = keys[kid] if kid in keys else next(iter(keys.values()))
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256", jwk
        claims = jwt.decode(
            token,
            key=jwt.PyJWK(jwk, algorithm="ES256").key,
            algorithms=["ES256"],
            audience=stack.resource,
            issuer=stack.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"], "verify_exp": False},
        )
        aud = claims["aud"]
        assert aud == stack.resource or (isinstance(aud, list) and stack.resource in aud), aud
        assert claims["iss"] == stack.issuer
        assert claims["client_id"] == flow["client_info"]["client_id"]
        assert claims["exp"] - claims["iat"] == stack.ttl, (claims, "expected --access-token-ttl")
        print(f"token header {header}, claims {sorted(claims)}")


# ------------------------------------------------------------------------------------------
# (c) an unauthenticated MCP call: 401 + WWW-Authenticate pointing at RFC 9728 metadata
# ------------------------------------------------------------------------------------------
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def check_resource_server(mcp_port: int, resource: str, issuer: str) -> None:
    prm_url = f"http://127.0.0.1:{mcp_port}/.well-known/oauth-protected-resource/mcp"
    for headers in (MCP_HEADERS, {**MCP_HEADERS, "Authorization": "Bearer not-a-jwt"}):
        resp = httpx.post(resource, json=INIT, headers=headers, timeout=10)
        assert resp.status_code == 401, (resp.status_code, resp.text)
        www = resp.headers.get("www-authenticate", "")
        assert www.startswith("Bearer "), www
        assert f'resource_metadata="{prm_url}"' in www, www
    for url in (prm_url, f"http://127.0.0.1:{mcp_port}/.well-known/oauth-protected-resource"):
        resp = httpx.get(url, timeout=10)
        assert resp.status_code == 200, (url, resp.status_code)
        doc = resp.json()
        assert doc["resource"] == resource, doc
        assert doc["authorization_servers"] == [issuer], doc


def test_unauthenticated_call_gets_401_with_resource_metadata(stack: Stack) -> None:
    check_resource_server(stack.mcp_port, stack.resource, stack.issuer)


def test_resource_server_standalone(tmp_path: Path) -> None:
    """The MCP server's own 401/metadata behaviour, without mcpauth (its issuer is a dead port)."""
    port, dead = free_port(), free_port()
    issuer, resource = f"http://127.0.0.1:{dead}", f"http://127.0.0.1:{port}/mcp"
    proc = start_mcp_server(port, issuer, resource, tmp_path / "mcp_server.log")
    try:
        check_resource_server(port, resource, issuer)
    finally:
        proc.stop()


# ------------------------------------------------------------------------------------------
# what the SDK needs from the authorization server's metadata (see shared/INTEROP.md)
# ------------------------------------------------------------------------------------------
def test_authorization_server_metadata(stack: Stack) -> None:
    meta = httpx.get(f"{stack.issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    assert meta["issuer"] == stack.issuer
    for field in ("authorization_endpoint", "token_endpoint", "registration_endpoint", "jwks_uri"):
        assert meta.get(field, "").startswith(stack.issuer), (field, meta.get(field))
    assert "code" in meta.get("response_types_supported", []), meta
    assert meta.get("code_challenge_methods_supported") == ["S256"], meta
    assert meta.get("authorization_response_iss_parameter_supported") is True, meta
    assert "none" in meta.get("token_endpoint_auth_methods_supported", ["client_secret_basic"]), meta
    oidc = httpx.get(f"{stack.issuer}/.well-known/openid-configuration", timeout=10)
    assert oidc.status_code == 200 and oidc.json()["issuer"] == stack.issuer
