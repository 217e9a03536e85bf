"""mcpauth against the official TypeScript MCP SDK, v2 (`@modelcontextprotocol/client`) and v1
(`@modelcontextprotocol/sdk`), end to end.

Both run ``clients/sdk_flow.mjs`` on the pinned Node.js 22, at the same time (the refresh after
real expiry waits for ``--access-token-ttl``; running them side by side pays that wait once).
Each signs in through ``mcp_server.py`` (DCR, the no-JavaScript person as its browser), lists
tools, calls ``whoami``, then refreshes twice: once forced (its stored access token stops working,
the MCP server answers 401) and once after the access token really expired. A refresh is proved
by the ``refresh_token`` grant (200) in the SDK's own HTTP trace, a rotated refresh token, a new
access token the MCP server accepted (new ``jti``), and the last refresh token being live at
mcpauth. Then the refusal: a refresh token mcpauth never issued gets ``invalid_grant`` and the SDK
signs in again through the browser.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from conftest import NodeClients, PersonBrowser, make_person_browser
from test_mcp_sdk import Stack

SDKS = ("v2", "v1")
PINNED = {"v2": ("@modelcontextprotocol/client", "2.4.0"), "v1": ("@modelcontextprotocol/sdk", "1.32.2")}


@pytest.fixture(scope="session")
def ts_flows(stack: Stack, node_clients: NodeClients) -> dict[str, dict[str, Any]]:
    """Runs sdk_flow.mjs for v2 and v1 concurrently; their reports by SDK."""
    workdir = stack.workdir / "ts-sdk"
    started = time.monotonic()
    runs: dict[str, tuple[subprocess.Popen[str], Path, PersonBrowser, Any]] = {}
    for sdk in SDKS:
        browser = make_person_browser(workdir, f"browser-{sdk}")
        report = workdir / f"report-{sdk}.json"
        stderr = open(workdir / f"sdk_flow-{sdk}.log", "w")
        cmd = [
            str(node_clients.node), str(node_clients.root / "sdk_flow.mjs"),
            "--sdk", sdk,
            "--mcp-url", stack.resource,
            "--browser", str(browser.path),
            "--report", str(report),
            "--wait-expiry", str(stack.ttl + 2),
        ]
        env = {**os.environ, "MCPAUTH_ADMIN_PASSWORD": stack.password}
        proc = subprocess.Popen(cmd, cwd=node_clients.root, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        runs[sdk] = (proc, report, browser, stderr)
    reports: dict[str, dict[str, Any]] = {}
    for sdk, (proc, report, browser, stderr) in runs.items():
        try:
            proc.wait(timeout=stack.ttl + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        stderr.close()
        data = json.loads(report.read_text()) if report.exists() else {"ok": False, "error": "no report"}
        data["_returncode"] = proc.returncode
        data["_stderr"] = (workdir / f"sdk_flow-{sdk}.log").read_text(errors="replace")
        data["_browser"] = browser
        reports[sdk] = data
    print(f"TypeScript SDK flows (v2 and v1 side by side): {time.monotonic() - started:.1f} s")
    return reports


def diagnostics(report: dict[str, Any], stack: Stack) -> str:
    shown = {k: v for k, v in report.items() if not k.startswith("_")}
    return (
        f"sdk_flow.mjs exit {report['_returncode']}\n{json.dumps(shown, indent=1)[-8000:]}\n--- stderr\n"
        f"{report['_stderr'][-4000:]}\n{report['_browser'].describe()}\n{stack.logs()}"
    )


@pytest.mark.parametrize("sdk", SDKS)
def test_ts_sdk_signs_in_calls_whoami_and_refreshes(sdk: str, stack: Stack, ts_flows: dict[str, dict[str, Any]]) -> None:
    report = ts_flows[sdk]
    why = diagnostics(report, stack)
    assert report["_returncode"] == 0 and report["ok"], why
    assert (report["package"], report["version"]) == PINNED[sdk], why

    # the first login, through the person, delivered to the SDK's own callback server
    visits = report["_browser"].visits()
    assert visits and visits[0]["ok"] and visits[0]["delivered_status"] == 200, why
    assert report["callbacks"][0]["iss"] == stack.issuer and report["callbacks"][0]["state_matches"], why
    registration = [e for e in report["http_trace"] if e["url"].endswith("/register")]
    assert len(registration) == 1 and registration[0]["status"] in (200, 201), why

    # then two refreshes without the browser, from the SDK's own HTTP trace
    token_posts = [e for e in report["http_trace"] if e.get("grant_type")]
    assert [e["grant_type"] for e in token_posts[:3]] == ["authorization_code", "refresh_token", "refresh_token"], why
    assert all(e["status"] == 200 and e.get("resource") == stack.resource for e in token_posts[:3]), why
    labels = [w["label"] for w in report["whoami"]]
    assert labels[:3] == ["after login", "forced refresh", "refresh after expiry"], why

    # every refresh rotated the refresh token and changed the access token
    first_three = report["tokens"][:3]
    assert len({t["refresh_token"] for t in first_three}) == 3 and all(t["refresh_token"] for t in first_three), why
    assert len({t["access_token"] for t in first_three}) == 3, why
    assert all(t["token_type"].lower() == "bearer" and t["expires_in"] == stack.ttl for t in report["tokens"]), why

    # the MCP server accepted each new token for the same person and client
    assert "whoami" in report["tools"], why
    whoami = report["whoami"][:3]
    assert len({w["sub"] for w in whoami}) == 1 and len({w["jti"] for w in whoami}) == 3, why
    assert {w["client_id"] for w in report["whoami"]} == {report["client_info"]["client_id"]}, why
    if os.environ.get("E2E_EXPECT_SUB"):
        assert whoami[0]["sub"] == os.environ["E2E_EXPECT_SUB"], why


@pytest.mark.parametrize("sdk", SDKS)
def test_ts_sdk_unknown_refresh_token_gets_invalid_grant_and_a_new_login(
    sdk: str, stack: Stack, ts_flows: dict[str, dict[str, Any]]
) -> None:
    """A refresh token mcpauth does not know is refused with invalid_grant (400, JSON), which the
    SDK takes as "sign in again": it drops its tokens, opens the browser, and works after that."""
    report = ts_flows[sdk]
    why = diagnostics(report, stack)
    assert report["ok"], why
    token_posts = [(e["grant_type"], e["status"], e.get("error")) for e in report["http_trace"] if e.get("grant_type")]
    assert token_posts[3:] == [("refresh_token", 400, "invalid_grant"), ("authorization_code", 200, None)], why
    assert report["invalidated"] == ["tokens"], why
    assert report["browser_invocations"] == 2 and [v["ok"] for v in report["_browser"].visits()] == [True, True], why
    assert [c["iss"] for c in report["callbacks"]] == [stack.issuer, stack.issuer], why
    assert report["whoami"][-1]["label"] == "after the second login", why
    assert len({w["jti"] for w in report["whoami"]}) == 4 and len({w["sub"] for w in report["whoami"]}) == 1, why
    registrations = [e for e in report["http_trace"] if e["url"].endswith("/register")]
    assert len(registrations) == 1, "the SDK registered again: the client id was refused too\n" + why


@pytest.mark.parametrize("sdk", SDKS)
def test_ts_sdk_tokens_are_es256_jwts_for_the_resource(sdk: str, stack: Stack, ts_flows: dict[str, dict[str, Any]]) -> None:
    report = ts_flows[sdk]
    tokens = [t["access_token"] for t in report.get("tokens", [])]
    assert tokens, diagnostics(report, stack)
    meta = httpx.get(f"{stack.issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    keys = {k.get("kid"): k for k in httpx.get(meta["jwks_uri"], timeout=10).json()["keys"]}
    for token in tokens:
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "ES256" and header.get("kid") in keys, header
        claims = jwt.decode(
            token,
            key=jwt.PyJWK(keys[header["kid"]], algorithm="ES256").key,
            algorithms=["ES256"],
            audience=stack.resource,
            issuer=stack.issuer,
            options={"require": ["exp", "iat", "sub", "jti"], "verify_exp": False},
        )
        assert claims["client_id"] == report["client_info"]["client_id"]
        assert claims["exp"] - claims["iat"] == stack.ttl


@pytest.mark.parametrize("sdk", SDKS)
def test_ts_sdk_refreshes_were_answered_by_mcpauth(sdk: str, stack: Stack, ts_flows: dict[str, dict[str, Any]]) -> None:
    """The SDK's refresh grants went to mcpauth's token endpoint and left a live rotated token there.

    mcpauth logs no request lines, so the server side is checked by its answers: the refresh
    token the SDK holds last is the live one of its family (a refresh with it answers 200 and
    rotates again), and each refreshed access token was signed later than the one before.
    """
    report = ts_flows[sdk]
    assert report["ok"], diagnostics(report, stack)
    meta = httpx.get(f"{stack.issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    refresh_posts = [e for e in report["http_trace"] if e.get("grant_type") == "refresh_token"]
    assert {e["url"] for e in refresh_posts} == {meta["token_endpoint"]}, refresh_posts
    iats = [jwt.decode(t["access_token"], options={"verify_signature": False})["iat"] for t in report["tokens"]]
    assert iats == sorted(iats), iats
    last = report["tokens"][-1]["refresh_token"]  # from the second login
    resp = httpx.post(
        meta["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": last,
            "client_id": report["client_info"]["client_id"],
            "resource": stack.resource,
        },
        timeout=10,
    )
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert resp.json()["refresh_token"] not in {t["refresh_token"] for t in report["tokens"]}
