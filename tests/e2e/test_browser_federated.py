"""Federated login in a real browser: headless Chromium driven by Playwright.

One mcpauth node and an upstream OpenID Connect provider (tests/idp/oidc: oidc-provider),
configured through the node's admin API. A client registers with a redirect URI served by a
tiny HTTP server on loopback that records what it receives. Chromium opens the authorization
URL, clicks "Sign in with Example SSO" on our login page, signs in as alice on the provider's
login page, allows there, allows on our consent page and lands on the redirect URI; the test
exchanges the code and checks the access token. A second run denies at the provider and must
end on our "Sign-in failed" page.

Screenshots of our login page, our consent page and the error page are kept as test artefacts
in ``target/e2e-artifacts/`` (under target/, so never committed).

Needs Debian's ``chromium`` (/usr/bin/chromium; run.sh installs it) and the ``playwright``
Python package. Playwright's own browser download (``playwright install``) is never used: the
browser is launched with ``executable_path``.

Environment knobs: MCPAUTH_BIN, E2E_STARTUP_TIMEOUT (default 60), E2E_CHROMIUM (default
/usr/bin/chromium), E2E_ARTIFACTS (default target/e2e-artifacts).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cluster import free_ports  # noqa: E402
from test_mcp_sdk import REPO_ROOT, Proc, mcpauth_command, wait_for  # noqa: E402
from upstream import (  # noqa: E402
    ALICE,
    ALICE_EMAIL,
    ALICE_GROUPS,
    ALICE_SUB,
    DISPLAY_NAME,
    PROVIDER_ID,
    OidcProvider,
    configure_provider,
    install_oidc_provider,
    wait_provider_listed,
)

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", REPO_ROOT / "target" / "e2e-artifacts"))
CLIENT_NAME = "Playwright e2e"
DENIED_DETAIL = (
    f"Signing in with {DISPLAY_NAME} did not succeed: the identity provider did not sign you in: "
    "you or the provider declined. Nothing was issued; start again from your application."
)


# ------------------------------------------------------------------------------------------
# the client's redirect URI: a loopback HTTP server that records every request
# ------------------------------------------------------------------------------------------
class RedirectTarget:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/callback"
        self.hits: list[dict[str, str]] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/callback":
                    hits.append({k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()})
                body = b"<!doctype html><title>client</title><h1 id='done'>The client got the answer.</h1>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def for_state(self, state: str) -> list[dict[str, str]]:
        return [h for h in self.hits if h.get("state") == state]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Stack:
    issuer: str
    resource: str
    meta: dict[str, Any]
    idp: OidcProvider
    target: RedirectTarget
    client_id: str
    procs: list[Proc] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(p.describe() for p in self.procs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    cmd = mcpauth_command()
    install_oidc_provider()
    workdir = tmp_path_factory.mktemp("browser-federated")
    as_port, raft_port, idp_port, cb_port, mcp_port = free_ports(5)
    issuer, resource = f"http://127.0.0.1:{as_port}", f"http://127.0.0.1:{mcp_port}/mcp"
    data = workdir / "data"
    data.mkdir()
    procs: list[Proc] = []
    target: RedirectTarget | None = None
    idp = OidcProvider(idp_port, [f"{issuer}/login/{PROVIDER_ID}/callback"], workdir)
    procs.append(idp.proc)
    try:
        node = Proc(
            "mcpauth",
            cmd + [
                "serve",
                "--listen", f"127.0.0.1:{as_port}",
                "--raft-listen", f"127.0.0.1:{raft_port}",
                "--issuer", issuer,
                "--data-dir", str(data),
                "--resource", resource,
                "--access-token-ttl", "60",
            ],
            workdir / "mcpauth.log",
            env={**os.environ, "MCPAUTH_ADMIN_PASSWORD": "pw-" + secrets.token_urlsafe(18)},
        )
        procs.append(node)
        meta = wait_for(
            f"{issuer}/.well-known/oauth-authorization-server", node, float(os.environ.get("E2E_STARTUP_TIMEOUT", "60"))
        ).json()
        idp.wait_ready()
        secret = (data / "cluster.secret").read_text().strip()
        configure_provider(f"127.0.0.1:{raft_port}", secret, idp)
        wait_provider_listed(f"127.0.0.1:{raft_port}", secret)
        target = RedirectTarget(cb_port)
        reg = httpx.post(
            meta["registration_endpoint"],
            json={
                "client_name": CLIENT_NAME,
                "redirect_uris": [target.url],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            },
            timeout=10,
        )
        assert reg.status_code in (200, 201), (reg.status_code, reg.text)
        yield Stack(issuer, resource, meta, idp, target, reg.json()["client_id"], procs)
    finally:
        if target is not None:
            target.stop()
        for proc in reversed(procs):
            proc.stop()


@pytest.fixture(scope="module")
def chromium():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: `apt-get install chromium` (tests/e2e/run.sh installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            print(f"Chromium {browser.version}")
            yield browser
        finally:
            browser.close()


def authorization_url(stack: Stack) -> tuple[str, str, str]:
    """A fresh authorization request: (url, state, code_verifier)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": stack.client_id,
        "redirect_uri": stack.target.url,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": stack.resource,
    }
    return f"{stack.meta['authorization_endpoint']}?{urlencode(query)}", state, verifier


def shot(page: Any, name: str) -> Path:
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot {path}")
    return path


def sign_in_at_provider(page: Any, stack: Stack) -> None:
    """From our login page: take the provider's link, then sign in as alice on its login page."""
    page.click(f"#provider-{PROVIDER_ID}")
    page.wait_for_url(f"{stack.idp.issuer}/interaction/**")
    username, password = ALICE
    page.fill("#login input[name=username]", username)
    page.fill("#login input[name=password]", password)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#allow-button")  # the provider's consent page


# ------------------------------------------------------------------------------------------
# the whole sign-in in Chromium, then the code grant
# ------------------------------------------------------------------------------------------
def test_chromium_signs_in_through_the_upstream_provider(stack: Stack, chromium: Any) -> None:
    url, state, verifier = authorization_url(stack)
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(url)
        # our login page, offering the provider
        page.wait_for_url(f"{stack.issuer}/login?**")
        assert page.title() == "Sign in · mcpauth", page.content()
        link = page.locator(f"a.provider#provider-{PROVIDER_ID}")
        assert link.inner_text() == f"Sign in with {DISPLAY_NAME}", page.content()
        shot(page, "federated-login.png")

        sign_in_at_provider(page, stack)
        page.click("#allow-button")

        # back through our callback to /authorize: our consent page
        page.wait_for_url(f"{stack.issuer}/authorize?**")
        assert page.locator("h1").inner_text() == f"Allow {CLIENT_NAME} access?", page.content()
        signed_in_as = page.locator("main p strong").first.inner_text()
        print(f"consent page: signed in as {signed_in_as!r}")
        assert "alice" in signed_in_as.lower(), page.content()
        shot(page, "federated-consent.png")
        page.click("button[name=decision][value=allow]")

        page.wait_for_url(f"{stack.target.url}?**")
        assert page.locator("#done").inner_text() == "The client got the answer."
    finally:
        context.close()

    hits = stack.target.for_state(state)
    assert len(hits) == 1, stack.target.hits
    answer = hits[0]
    assert "error" not in answer and answer.get("code"), answer
    assert answer.get("iss") == stack.issuer, answer

    token = httpx.post(
        stack.meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "redirect_uri": stack.target.url,
            "client_id": stack.client_id,
            "code_verifier": verifier,
            "resource": stack.resource,
        },
        timeout=10,
    )
    assert token.status_code == 200, (token.status_code, token.text, stack.logs())
    body = token.json()
    assert body["token_type"] == "Bearer" and body.get("refresh_token"), body
    keys = {k.get("kid"): k for k in httpx.get(stack.meta["jwks_uri"], timeout=10).json()["keys"]}
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(
        body["access_token"],
        key=jwt.PyJWK(keys[header["kid"]], algorithm="ES256").key,
        algorithms=["ES256"],
        audience=stack.resource,
        issuer=stack.issuer,
    )
    print(f"access token: sub {claims['sub']}, groups {claims.get('groups')}, email {claims.get('email')}")
    assert claims["sub"] == ALICE_SUB, claims
    assert claims["groups"] == ALICE_GROUPS, claims
    assert claims["email"] == ALICE_EMAIL, claims
    assert claims["client_id"] == stack.client_id, claims


# ------------------------------------------------------------------------------------------
# Deny at the provider: our "Sign-in failed" page, and nothing reaches the client
# ------------------------------------------------------------------------------------------
def test_chromium_denied_at_the_provider_shows_sign_in_failed(stack: Stack, chromium: Any) -> None:
    url, state, _ = authorization_url(stack)
    context = chromium.new_context()  # fresh cookies: the provider shows its pages again
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(url)
        page.wait_for_url(f"{stack.issuer}/login?**")
        sign_in_at_provider(page, stack)
        with page.expect_response(lambda r: f"/login/{PROVIDER_ID}/callback" in r.url) as answered:
            page.click("#deny-button")
        callback = answered.value
        page.wait_for_load_state()
        assert callback.status == 400, (callback.status, callback.url)
        assert parse_qs(urlsplit(callback.url).query).get("error") == ["access_denied"], callback.url
        assert page.url.startswith(f"{stack.issuer}/login/{PROVIDER_ID}/callback?"), page.url
        assert page.title() == "Sign-in failed · mcpauth", page.content()
        assert page.locator("h1").inner_text() == "Sign-in failed", page.content()
        assert page.locator("p.error[role=alert]").inner_text() == DENIED_DETAIL, page.content()
        shot(page, "federated-error.png")
    finally:
        context.close()
    assert stack.target.for_state(state) == [], f"the client heard from a denied sign-in: {stack.target.hits}"
