"""The browser an MCP client opens: a person without JavaScript, as a command.

Node clients (the TypeScript SDK scripts, the MCP Inspector through ``xdg-open``/``$BROWSER``,
the conformance suite's printed URL) open an authorization URL in "a browser". This command is
that browser: it walks the URL with ``browser.py``'s ``HeadlessBrowser`` (login as ``--username``
with the password from ``$MCPAUTH_ADMIN_PASSWORD``, consent), stops at the client's redirect URI
and then delivers the redirect there (a ``GET`` of the callback URL, as a browser would), so the
client's own loopback callback server receives ``code``, ``state`` and ``iss`` (or, with
``--decision deny``, the ``error`` redirect, which a browser delivers just the same).

The redirect URI is read from the authorization URL's ``redirect_uri`` parameter unless
``--callback`` says otherwise. Every run appends one JSON line to ``--log`` (default
``$E2E_PERSON_LOG``), because a browser started by ``xdg-open`` has no stdout anyone reads; the
same line goes to stdout. The password never appears in it.

    person.py [--log FILE] [--decision allow|deny] [--no-deliver] AUTHORIZATION_URL

Exit status 0 when the callback was reached and delivered (answering 2xx/3xx; any status after
an error redirect), else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import AuthorizationResponse, BrowserError, HeadlessBrowser  # noqa: E402


class DeliveringBrowser(HeadlessBrowser):
    """Like a real browser, also follows an error redirect to the callback (the client reports it)."""

    authorization_error: str | None = None

    def _result_from(self, url: str) -> AuthorizationResponse:
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        if "error" in query:
            self.authorization_error = query["error"][0]
            first = {k: v[0] for k, v in query.items()}
            return AuthorizationResponse(code=None, state=first.get("state"), iss=first.get("iss"), url=url)
        return super()._result_from(url)


def redirect_uri_of(authorization_url: str) -> str | None:
    values = parse_qs(urlsplit(authorization_url).query).get("redirect_uri")
    return values[0] if values else None


async def walk(args: argparse.Namespace, password: str) -> dict[str, Any]:
    record: dict[str, Any] = {"authorization_url": args.url, "started": time.time()}
    callback = args.callback or redirect_uri_of(args.url)
    record["callback"] = callback
    if not callback:
        record["error"] = "the authorization URL has no redirect_uri and --callback was not given"
        return record
    browser = DeliveringBrowser(callback, args.username, password, provider=args.provider, decision=args.decision)
    try:
        response = await browser.authorize(args.url)
    except BrowserError as exc:
        record["error"] = f"BrowserError: {exc}"
        record["steps"] = browser.steps
        return record
    record.update(
        {
            "code_present": bool(response.code),
            "state": response.state,
            "iss": response.iss,
            "callback_url": response.url,
            "authorization_error": browser.authorization_error,
        }
    )
    record["steps"] = browser.steps
    if args.no_deliver:
        record["ok"] = True
        return record
    try:
        async with httpx.AsyncClient(follow_redirects=False, timeout=30) as client:
            delivered = await client.get(response.url, headers={"Accept": "text/html"})
        record["delivered_status"] = delivered.status_code
        record["delivered_body"] = delivered.text[:300]
        # after an error redirect the client is expected to answer with an error page
        record["ok"] = delivered.status_code < 400 or browser.authorization_error is not None
        if not record["ok"]:
            record["error"] = f"the client's callback answered {delivered.status_code}"
    except httpx.HTTPError as exc:
        record["error"] = f"delivering the callback failed: {exc!r}"
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the authorization URL the client opened")
    parser.add_argument("--callback", help="the client's redirect URI (default: the URL's redirect_uri)")
    parser.add_argument("--username", default=os.environ.get("E2E_USERNAME", "admin"))
    parser.add_argument("--password-env", default="MCPAUTH_ADMIN_PASSWORD", help="environment variable with the password")
    parser.add_argument("--provider", default=None, help="sign in at this upstream provider (browser.py)")
    parser.add_argument("--decision", default="allow", help="the consent button to press (allow, or deny to refuse)")
    parser.add_argument("--no-deliver", action="store_true", help="stop at the callback without requesting it")
    parser.add_argument("--log", default=os.environ.get("E2E_PERSON_LOG"), help="append the JSON record here")
    args = parser.parse_args(argv)

    password = os.environ.get(args.password_env, "")
    if not password:
        record: dict[str, Any] = {"authorization_url": args.url, "error": f"${args.password_env} is empty"}
    else:
        record = asyncio.run(walk(args, password))
    record["ok"] = bool(record.get("ok")) and "error" not in record
    line = json.dumps(record)
    if args.log:
        with open(args.log, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
    print(line, flush=True)
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
