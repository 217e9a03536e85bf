"""mcpauth with the MCP Inspector v2 CLI (`@modelcontextprotocol/inspector` 2.12.0), non-interactive.

The Inspector's CLI makes every OAuth and MCP request from Node; on a 401 it registers (DCR)
with its fixed callback ``http://127.0.0.1:6276/oauth/callback``, listens there and opens the
authorization URL with the ``open`` package. On Linux ``open`` runs its bundled ``xdg-open``,
which (no desktop session: no ``DISPLAY``, no ``XDG_CURRENT_DESKTOP``) runs ``$BROWSER URL``.
``$BROWSER`` is our no-JavaScript person (``person.py``), which logs in, consents and follows the
redirect to the Inspector's callback. ``MCP_AUTO_OPEN_ENABLED=true`` makes it open a browser
without a TTY. Its stored state (client, tokens) lives in a temporary ``HOME``/``MCP_STORAGE_DIR``
with the ``file`` secret store (no keyring on a headless machine).

First run: ``tools/list`` signs in and lists ``whoami``. Second run: ``tools/call whoami`` with the
stored tokens, after the access token expired: the Inspector refreshes and does not open the
browser again. Refusal: with a person who presses Deny, a fresh Inspector fails with the error
of mcpauth's redirect and keeps no tokens.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from conftest import NodeClients, PersonBrowser, make_person_browser
from test_mcp_sdk import Stack

INSPECTOR_CALLBACK = "http://127.0.0.1:6276/oauth/callback"
# what xdg-open reads to pick a desktop's opener instead of $BROWSER
DESKTOP_VARS = (
    "DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP", "XDG_SESSION_DESKTOP", "DESKTOP_SESSION",
    "KDE_FULL_SESSION", "GNOME_DESKTOP_SESSION_ID", "MATE_DESKTOP_SESSION_ID", "XDG_SESSION_TYPE",
)


class Inspector:
    def __init__(self, stack: Stack, node_clients: NodeClients, workdir: Path, browser: PersonBrowser) -> None:
        self.stack, self.node_clients, self.workdir, self.browser = stack, node_clients, workdir, browser
        home = workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if k not in DESKTOP_VARS}
        self.env.update(
            {
                "HOME": str(home),
                "MCP_STORAGE_DIR": str(home / ".mcp-inspector"),
                "MCP_INSPECTOR_SECRET_STORE": "file",
                "MCP_AUTO_OPEN_ENABLED": "true",
                "BROWSER": str(browser.path),
                "MCPAUTH_ADMIN_PASSWORD": stack.password,
                "NO_COLOR": "1",
            }
        )
        self.runs: list[dict[str, Any]] = []

    def run(self, *method_args: str) -> dict[str, Any]:
        launcher = self.node_clients.bin("@modelcontextprotocol/inspector", "clients/launcher/build/index.js")
        cmd = [str(self.node_clients.node), str(launcher), "--cli", self.stack.resource, *method_args, "--format", "json"]
        started = time.monotonic()
        n = len(self.runs)
        out, err = self.workdir / f"run{n}.stdout", self.workdir / f"run{n}.stderr"
        visits_before = len(self.browser.visits())
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen(cmd, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
            # The Inspector waits for its callback without a limit: stop it as soon as the person
            # gave up (a failed visit), or after 90 s.
            note = ""
            while proc.poll() is None:
                failed = [v for v in self.browser.visits()[visits_before:] if not v.get("ok")]
                if failed or time.monotonic() - started > 90:
                    note = "\n(stopped: the person's sign-in failed)" if failed else "\n(stopped after 90 s)"
                    proc.terminate()
                    proc.wait(timeout=10)
                    break
                time.sleep(0.2)
        returncode, stdout, stderr = proc.returncode, out.read_text(errors="replace"), err.read_text(errors="replace") + note
        result: dict[str, Any] = {
            "cmd": " ".join(cmd[2:]),
            "returncode": returncode,
            "stdout": stdout,
            "stderr": stderr,
            "seconds": round(time.monotonic() - started, 1),
        }
        try:
            result["json"] = json.loads(stdout)
        except ValueError:
            result["json"] = None
        self.runs.append(result)
        print(f"inspector {result['cmd']}: exit {returncode} in {result['seconds']} s")
        return result

    def stored_tokens(self) -> dict[str, Any]:
        """The tokens the Inspector keeps for our issuer (its `file` secret store, unencrypted)."""
        path = Path(self.env["MCP_STORAGE_DIR"]) / "secrets.json"
        if not path.exists():
            return {}
        secrets = json.loads(path.read_text()).get("secrets", {})
        suffix = f":tokens:{self.stack.issuer}"
        found = [json.loads(v) for k, v in secrets.items() if k.endswith(suffix)]
        return found[0] if len(found) == 1 else {}

    def describe(self) -> str:
        lines = [f"--- inspector {r['cmd']} exit {r['returncode']}\nstdout: {r['stdout'][-3000:]}\nstderr: {r['stderr'][-3000:]}" for r in self.runs]
        return "\n".join(lines) + "\n" + self.browser.describe() + "\n" + self.stack.logs()


@pytest.fixture(scope="module")
def inspector(stack: Stack, node_clients: NodeClients) -> Inspector:
    """One Inspector installation (its own HOME) used by the tests below in order."""
    workdir = stack.workdir / "inspector"
    return Inspector(stack, node_clients, workdir, make_person_browser(workdir, "browser"))


def tool_names(result: dict[str, Any]) -> list[str]:
    doc = result.get("json") or {}
    return [t.get("name") for t in (doc.get("result") or {}).get("tools") or []]


def test_inspector_cli_signs_in_and_lists_tools(inspector: Inspector) -> None:
    result = inspector.run("--method", "tools/list")
    assert result["returncode"] == 0, inspector.describe()
    assert "whoami" in tool_names(result), inspector.describe()
    visits = inspector.browser.visits()
    assert len(visits) == 1, inspector.describe()
    visit = visits[0]
    assert visit["ok"] and visit["callback"] == INSPECTOR_CALLBACK, inspector.describe()
    assert visit["iss"] == inspector.stack.issuer and visit["delivered_status"] == 200, inspector.describe()


def test_inspector_cli_reports_a_denied_consent_and_stores_no_tokens(stack: Stack, node_clients: NodeClients) -> None:
    """The person presses Deny: mcpauth redirects with error=access_denied (and iss) to the
    Inspector's callback, which fails the command; no tokens are kept."""
    workdir = stack.workdir / "inspector-deny"
    denied = Inspector(stack, node_clients, workdir, make_person_browser(workdir, "browser", "--decision", "deny"))
    result = denied.run("--method", "tools/list")
    assert result["returncode"] not in (0, -15), denied.describe()  # failed by itself, not stopped by us
    # --format json: the error envelope is a JSON line on stderr
    envelopes = [json.loads(line) for line in result["stderr"].splitlines() if line.startswith('{"error"')]
    visits = denied.browser.visits()
    assert len(visits) == 1 and visits[0]["authorization_error"] == "access_denied", denied.describe()
    # the Inspector shows the redirect's error_description (else its error code)
    query = parse_qs(urlsplit(visits[0]["callback_url"]).query)
    shown = query.get("error_description", query["error"])[0]
    assert [e["error"]["message"] for e in envelopes] == [shown], denied.describe()
    assert visits[0]["iss"] == stack.issuer and visits[0]["callback"] == INSPECTOR_CALLBACK, denied.describe()
    assert denied.stored_tokens() == {}, denied.describe()


def test_inspector_cli_calls_whoami_with_stored_tokens_after_expiry(inspector: Inspector) -> None:
    first = inspector.runs[0] if inspector.runs else None
    assert first is not None and first["returncode"] == 0, "the sign-in run failed\n" + inspector.describe()
    before = inspector.stored_tokens()
    assert before.get("refresh_token"), f"the Inspector stored no refresh token: {sorted(before)}\n" + inspector.describe()
    # wait until the stored access token has expired (other tests ran meanwhile): the call must refresh
    expires = jwt.decode(before["access_token"], options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires + 1 - time.time()))
    result = inspector.run("--method", "tools/call", "--tool-name", "whoami")
    assert result["returncode"] == 0, inspector.describe()
    assert len(inspector.browser.visits()) == 1, "the Inspector opened the browser again\n" + inspector.describe()
    after = inspector.stored_tokens()
    assert after.get("refresh_token") not in (None, before["refresh_token"]), "the refresh token did not rotate\n" + inspector.describe()
    payload = ((result["json"] or {}).get("result") or {}).get("structuredContent") or {}
    assert payload.get("sub") and payload.get("client_id"), inspector.describe()
    claims = jwt.decode(after["access_token"], options={"verify_signature": False})
    old_claims = jwt.decode(before["access_token"], options={"verify_signature": False})
    # the MCP server saw the refreshed access token, issued to the same client for the same person
    assert payload["jti"] == claims["jti"] != old_claims["jti"], inspector.describe()
    assert (payload["sub"], payload["client_id"]) == (old_claims["sub"], old_claims["client_id"]), inspector.describe()
