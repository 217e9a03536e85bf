"""End-to-end MCP client: the official Python SDK's OAuth client against mcpauth.

What it does, in order:

1. connects to the MCP server with ``streamable_http_client`` and an httpx2 client whose
   auth is ``mcp.client.auth.OAuthClientProvider`` (in-memory ``TokenStorage``). The SDK
   gets a 401, discovers the protected resource metadata and the authorization server,
   registers a client dynamically (RFC 7591), and opens the authorization URL with our
   ``redirect_handler``: the headless browser of ``browser.py``, which logs in as
   ``--username`` (password from ``$MCPAUTH_ADMIN_PASSWORD``, or ``--password-env``) and
   consents; with ``--provider ID`` it signs in at that upstream identity provider instead;
2. initializes, lists tools, calls ``whoami`` and checks the token's ``sub``/``client_id``;
3. forces a refresh by marking the stored access token expired the way the SDK reads it
   (``provider.context.token_expiry_time``) and calls ``whoami`` again: a
   ``refresh_token`` grant must happen, the access token must change, the refresh token
   must rotate, and the browser must not be opened again;
4. with ``--wait-expiry SECONDS``: waits for the access token's real expiry (the server's
   ``expires_in``, so run mcpauth with a small ``--access-token-ttl``) and checks the same
   again.

Exit status 0 on success; otherwise ``FAIL: <reason>`` on stderr and status 1.
``--report FILE`` writes a JSON report (tokens, registration, HTTP trace, whoami results)
for the pytest suite's further checks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import HeadlessBrowser  # noqa: E402


class FlowFailure(Exception):
    """An expectation of the flow did not hold."""


def check(cond: Any, message: str) -> None:
    if not cond:
        raise FlowFailure(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InMemoryTokenStorage:
    """`mcp.client.auth.TokenStorage` that also keeps the history of what it was given."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None
        self.token_history: list[OAuthToken] = []
        self.client_info_history: list[OAuthClientInformationFull] = []

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens
        self.token_history.append(tokens.model_copy())

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info
        self.client_info_history.append(client_info.model_copy())


class HttpTrace:
    """httpx2 event hooks recording every request the SDK makes (OAuth ones included)."""

    def __init__(self, verbose: bool) -> None:
        self.entries: list[dict[str, Any]] = []
        self.verbose = verbose

    async def on_request(self, request: httpx2.Request) -> None:
        entry: dict[str, Any] = {"method": request.method, "url": str(request.url)}
        ctype = request.headers.get("content-type", "")
        if request.method == "POST" and ctype.startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(request.content.decode(), keep_blank_values=True).items()}
            entry["form"] = form
            entry["grant_type"] = form.get("grant_type")
        elif request.method == "POST" and ctype.startswith("application/json"):
            try:
                entry["json"] = json.loads(request.content)
            except ValueError:
                pass
        entry["authorization"] = request.headers.get("authorization", "")[:20] or None
        self.entries.append(entry)

    async def on_response(self, response: httpx2.Response) -> None:
        for entry in reversed(self.entries):
            if entry["url"] == str(response.request.url) and "status" not in entry:
                entry["status"] = response.status_code
                break
        if self.verbose:
            print(f"[http] {response.request.method} {response.request.url} -> {response.status_code}", flush=True)

    def grants(self) -> list[str]:
        return [e["grant_type"] for e in self.entries if e.get("grant_type")]


def tool_payload(result: Any) -> dict[str, Any]:
    """The `whoami` result as a dict (structured content, else the JSON text block)."""
    check(not getattr(result, "is_error", False), f"whoami returned an error result: {result}")
    structured = getattr(result, "structured_content", None)
    if isinstance(structured, dict) and "sub" in structured:
        return structured
    if isinstance(structured, dict) and isinstance(structured.get("result"), dict):
        return structured["result"]
    for block in getattr(result, "content", []) or []:
        text = getattr(block, "text", None)
        if text:
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                return value
    raise FlowFailure(f"cannot read whoami's result: {result}")


async def run_flow(
    mcp_url: str,
    username: str,
    password: str,
    *,
    callback_port: int | None = None,
    provider: str | None = None,
    expect_sub: str | None = None,
    wait_expiry: float = 0.0,
    verbose: bool = False,
    report: dict[str, Any] | None = None,
    client_metadata_url: str | None = None,
) -> dict[str, Any]:
    report = report if report is not None else {}
    callback_url = f"http://127.0.0.1:{callback_port or free_port()}/callback"
    storage = InMemoryTokenStorage()
    browser = HeadlessBrowser(callback_url, username, password, provider=provider, verbose=verbose)
    trace = HttpTrace(verbose)
    pending: dict[str, Any] = {}
    authorization_urls: list[str] = []

    async def redirect_handler(authorization_url: str) -> None:
        authorization_urls.append(authorization_url)
        if verbose:
            print(f"[flow] authorization URL: {authorization_url}", flush=True)
        pending["response"] = await browser.authorize(authorization_url)

    async def callback_handler() -> AuthorizationCodeResult:
        resp = pending.pop("response")
        check(resp.code, f"callback without code: {resp.url}")
        return AuthorizationCodeResult(code=resp.code, state=resp.state, iss=resp.iss)

    provider = OAuthClientProvider(
        server_url=mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="e2e",
            redirect_uris=[callback_url],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        # a Client ID Metadata Document instead of registration, when the server supports it
        client_metadata_url=client_metadata_url,
    )

    whoamis: list[dict[str, Any]] = []
    report.update(
        mcp_url=mcp_url,
        callback_url=callback_url,
        whoami=whoamis,
        http_trace=trace.entries,
        authorization_urls=authorization_urls,
    )

    def fill_report() -> None:
        report["client_info"] = storage.client_info.model_dump(mode="json") if storage.client_info else None
        report["registrations"] = len(storage.client_info_history)
        report["tokens"] = [t.model_dump(mode="json") for t in storage.token_history]
        report["browser_invocations"] = browser.invocations
        report["browser_steps"] = browser.steps
        ctx = provider.context
        report["oauth_metadata"] = ctx.oauth_metadata.model_dump(mode="json") if ctx.oauth_metadata else None
        report["protected_resource_metadata"] = (
            ctx.protected_resource_metadata.model_dump(mode="json") if ctx.protected_resource_metadata else None
        )
        report["requested_scope"] = ctx.client_metadata.scope

    async def whoami(session: ClientSession, label: str) -> dict[str, Any]:
        payload = tool_payload(await session.call_tool("whoami", {}))
        payload["_label"] = label
        whoamis.append(payload)
        if verbose:
            print(f"[flow] whoami ({label}): sub={payload.get('sub')} client_id={payload.get('client_id')} "
                  f"jti={payload.get('jti')} distinct_jtis={payload.get('distinct_jti_count')}", flush=True)
        return payload

    def check_refreshed(label: str, before: OAuthToken, grants_before: int, first: dict[str, Any], now: dict[str, Any]) -> None:
        after = storage.tokens
        check(after is not None, f"{label}: no tokens stored after the refresh")
        new_grants = trace.grants()[grants_before:]
        check(
            "refresh_token" in new_grants,
            f"{label}: no refresh_token grant was sent to the token endpoint (grants sent: {new_grants})",
        )
        check("authorization_code" not in new_grants, f"{label}: a new authorization_code grant happened: {new_grants}")
        check(browser.invocations == 1, f"{label}: the browser was opened again ({browser.invocations} logins)")
        refresh_entries = [e for e in trace.entries if e.get("grant_type") == "refresh_token"]
        check(
            refresh_entries and refresh_entries[-1].get("status") == 200,
            f"{label}: the refresh_token grant did not answer 200: {refresh_entries[-1:] }",
        )
        check(after.access_token != before.access_token, f"{label}: the access token did not change")
        check(after.refresh_token, f"{label}: no refresh token after the refresh")
        check(
            after.refresh_token != before.refresh_token,
            f"{label}: the refresh token was not rotated (a refresh response must carry a new refresh_token)",
        )
        check(after.expires_in is not None, f"{label}: the refresh response has no expires_in")
        check(now.get("sub") == first.get("sub"), f"{label}: sub changed from {first.get('sub')!r} to {now.get('sub')!r}")
        check(
            now.get("client_id") == first.get("client_id"),
            f"{label}: client_id changed from {first.get('client_id')!r} to {now.get('client_id')!r}",
        )
        check(now.get("jti") != first.get("jti") or now.get("jti") is None, f"{label}: same jti after the refresh")

    try:
        async with httpx2.AsyncClient(
            auth=provider,
            timeout=httpx2.Timeout(30.0, read=300.0),
            event_hooks={"request": [trace.on_request], "response": [trace.on_response]},
        ) as http_client:
            async with streamable_http_client(mcp_url, http_client=http_client) as (read, write):
                async with ClientSession(read, write) as session:
                    init = await session.initialize()
                    report["server_info"] = init.server_info.model_dump(mode="json") if init.server_info else None
                    check(browser.invocations == 1, f"expected exactly one login, got {browser.invocations}")
                    check(storage.client_info is not None, "no client registration stored")
                    check(storage.tokens is not None, "no tokens stored after the login")

                    tools = await session.list_tools()
                    names = [t.name for t in tools.tools]
                    check("whoami" in names, f"tool whoami not listed: {names}")

                    first = await whoami(session, "login")
                    check(first.get("sub"), f"the access token has no sub: {first}")
                    if expect_sub is not None:
                        check(first["sub"] == expect_sub, f"sub is {first['sub']!r}, expected {expect_sub!r}")
                    client_id = storage.client_info.client_id
                    check(
                        first.get("client_id") == client_id,
                        f"the access token's client_id claim is {first.get('client_id')!r}, "
                        f"expected the registered client id {client_id!r} (RFC 9068 section 2.2)",
                    )
                    tok = storage.tokens
                    check(tok.expires_in is not None, "the token response has no expires_in (the SDK would never refresh)")
                    check(tok.refresh_token, "no refresh_token in the token response")
                    check(tok.token_type == "Bearer", f"token_type {tok.token_type!r}")

                    # -- forced refresh: the SDK's own notion of expiry ----------------------
                    before, grants_before = storage.tokens, len(trace.grants())
                    provider.context.token_expiry_time = time.time() - 1
                    now = await whoami(session, "forced-refresh")
                    check_refreshed("forced refresh", before, grants_before, first, now)
                    check(
                        now.get("distinct_jti_count", 0) > first.get("distinct_jti_count", 0),
                        f"the MCP server saw no new token after the refresh: {now}",
                    )

                    # -- real expiry: the server's expires_in ---------------------------------
                    if wait_expiry > 0:
                        expiry = provider.context.token_expiry_time
                        check(expiry is not None, "the SDK computed no token expiry")
                        delay = expiry - time.time() + 1.0
                        check(
                            delay <= wait_expiry,
                            f"access token lives {delay:.0f}s more, beyond --wait-expiry {wait_expiry:.0f}s "
                            "(run mcpauth with a small --access-token-ttl)",
                        )
                        if verbose:
                            print(f"[flow] waiting {delay:.1f}s for the access token to expire", flush=True)
                        await asyncio.sleep(max(delay, 0))
                        before, grants_before = storage.tokens, len(trace.grants())
                        later = await whoami(session, "expired-refresh")
                        check_refreshed("refresh after expiry", before, grants_before, first, later)
                        check(
                            later.get("distinct_jti_count", 0) > now.get("distinct_jti_count", 0),
                            f"the MCP server saw no new token after the expiry refresh: {later}",
                        )
    finally:
        fill_report()
    report["ok"] = True
    return report


def leaf_exceptions(exc: BaseException) -> list[BaseException]:
    """The real failures inside (nested) exception groups raised by anyio task groups."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaf_exceptions(sub)]
    return [exc]


def diagnose(mcp_url: str, report: dict[str, Any]) -> list[str]:
    """Facts that usually explain a failure: what the resource server rejected, and why."""
    hints: list[str] = []
    parts = urlsplit(mcp_url)
    try:
        obs = httpx2.get(f"{parts.scheme}://{parts.netloc}/_e2e/observations", timeout=5).json()
        if obs.get("rejected_count"):
            hints.append(
                f"the MCP server rejected {obs['rejected_count']} bearer token(s): {obs.get('reject_reasons')}"
            )
        hints.append(f"the MCP server accepted {obs.get('validated_count')} token validations")
    except Exception as exc:  # noqa: BLE001
        hints.append(f"could not read the MCP server's observations: {exc}")
    if report.get("browser_invocations", 0) > 1:
        hints.append(f"the browser logged in {report['browser_invocations']} times (a token was refused after login?)")
    failed = [
        f"{e['method']} {e['url']} -> {e.get('status')}"
        for e in report.get("http_trace", [])
        if isinstance(e.get("status"), int) and e["status"] >= 400 and not e["url"].startswith(mcp_url)
    ]
    if failed:
        hints.append(f"failed OAuth requests: {failed}")
    return hints


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mcp-url", required=True, help="e.g. http://127.0.0.1:8001/mcp")
    parser.add_argument("--username", default="admin")
    parser.add_argument("--password-env", default="MCPAUTH_ADMIN_PASSWORD")
    parser.add_argument("--callback-port", type=int, default=None, help="loopback port of the redirect URI")
    parser.add_argument(
        "--provider", default=None, help="sign in through the upstream identity provider of this id (its login page)"
    )
    parser.add_argument("--expect-sub", default=None, help="the sub the access token must carry")
    parser.add_argument("--wait-expiry", type=float, default=0.0, help="also test a refresh after real expiry, waiting at most this long")
    parser.add_argument("--report", default=None, help="write a JSON report here")
    parser.add_argument(
        "--client-metadata-url", default=None, help="sign in with this client ID metadata document URL (CIMD) instead of registering"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    password = os.environ.get(args.password_env)
    if not password:
        print(f"FAIL: ${args.password_env} is not set", file=sys.stderr)
        return 2

    report: dict[str, Any] = {"ok": False}
    status = 0
    try:
        asyncio.run(
            run_flow(
                args.mcp_url,
                args.username,
                password,
                callback_port=args.callback_port,
                provider=args.provider,
                expect_sub=args.expect_sub,
                wait_expiry=args.wait_expiry,
                verbose=args.verbose,
                report=report,
                client_metadata_url=args.client_metadata_url,
            )
        )
        print(
            f"OK: logged in once as {args.username!r} (sub {report['whoami'][0].get('sub')!r}), "
            f"{len(report['tokens'])} token responses, grants {[e.get('grant_type') for e in report['http_trace'] if e.get('grant_type')]}"
        )
    except BaseException as exc:  # noqa: BLE001 - report anything, including exception groups
        status = 1
        leaves = leaf_exceptions(exc)
        report["exception"] = "".join(traceback.format_exception(exc))
        report["failure"] = "; ".join(f"{type(e).__name__}: {e}" for e in leaves)
        for leaf in leaves:
            if isinstance(leaf, FlowFailure):
                print(f"FAIL: {leaf}", file=sys.stderr)
            else:
                tb = "".join(traceback.format_exception(leaf))
                print(f"FAIL: {type(leaf).__name__}: {leaf}\n{tb}", file=sys.stderr)
        hints = diagnose(args.mcp_url, report)
        report["hints"] = hints
        for hint in hints:
            print(f"  hint: {hint}", file=sys.stderr)
        if isinstance(exc, KeyboardInterrupt):
            raise
    finally:
        if args.report:
            report["exit_status"] = status
            Path(args.report).write_text(json.dumps(report, indent=2, default=str))
    return status


if __name__ == "__main__":
    sys.exit(main())
