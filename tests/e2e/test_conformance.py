"""mcpauth under the MCP conformance suite (`@modelcontextprotocol/conformance` 0.2.0-alpha.12),
``authorization`` command: every authorization-server scenario, with a public client.

The suite needs a client registered beforehand: we register one by DCR (``none`` auth, redirect
``http://127.0.0.1:<port>/callback``, the suite's callback). Run without ``--scenario`` it runs all
its authorization-server scenarios in order; its code-grant scenario prints the authorization
URL and waits on its callback port, so we read its output and hand that URL to the no-JavaScript
person (``person.py``), which logs in, consents and follows the redirect to the suite's callback.
It sends no ``scope`` and, without ``--resource``, no ``resource`` (as INTEROP.md says it does);
the whole run is done twice, without and with ``--resource`` (the MCP URL), 2 s each.
Every scenario writes ``checks.json`` under ``-o``; each test below is one scenario and wants
every check ``SUCCESS`` (no ``FAILURE``, no ``WARNING``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import NodeClients, PersonBrowser, make_person_browser
from test_mcp_sdk import Stack, free_port

# the suite's authorization-server scenarios (`conformance list --authorization`); a scenario it
# adds in a later version makes test_conformance_runs_every_scenario fail until it is listed here
SCENARIOS = ("authorization-server-metadata-endpoint", "authorization-code-grant")
AUTHORIZE_LINE = re.compile(r"^(https?://\S+\?\S*response_type=code\S*)$")


class ConformanceRun:
    def __init__(self, stack: Stack, node_clients: NodeClients, resource: str | None) -> None:
        self.stack, self.resource = stack, resource
        self.workdir = stack.workdir / ("conformance-with-resource" if resource else "conformance")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.browser: PersonBrowser = make_person_browser(self.workdir, "browser")
        self.port = free_port()
        self.client_id = self.register()
        self.out = self.workdir / "results"
        suite = node_clients.bin("@modelcontextprotocol/conformance", "dist/index.js")
        self.cmd = [
            str(node_clients.node), str(suite), "authorization",
            "--url", stack.issuer,
            "--client-id", self.client_id,
            "--port", str(self.port),
            "-o", str(self.out),
        ] + (["--resource", resource] if resource else [])
        self.env = {**os.environ, "MCPAUTH_ADMIN_PASSWORD": stack.password, "NO_COLOR": "1"}
        self.output: list[str] = []
        self.person_runs: list[subprocess.CompletedProcess[str]] = []
        self.returncode: int | None = None
        self.seconds = 0.0

    def register(self) -> str:
        meta = httpx.get(f"{self.stack.issuer}/.well-known/oauth-authorization-server", timeout=10).json()
        resp = httpx.post(
            meta["registration_endpoint"],
            json={
                "client_name": "MCP conformance suite",
                "redirect_uris": [f"http://127.0.0.1:{self.port}/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            },
            timeout=10,
        )
        assert resp.status_code == 201, (resp.status_code, resp.text)
        body = resp.json()
        assert body.get("token_endpoint_auth_method") == "none" and "client_secret" not in body, body
        return str(body["client_id"])

    def _open(self, url: str, suite: subprocess.Popen[str]) -> None:
        person = subprocess.run([str(self.browser.path), url], env=self.env, capture_output=True, text=True, timeout=60)
        self.person_runs.append(person)
        if person.returncode != 0:  # no callback will come: do not let the suite wait 5 minutes
            suite.kill()

    def run(self) -> None:
        started = time.monotonic()
        proc = subprocess.Popen(
            self.cmd, cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        openers: list[threading.Thread] = []
        deadline = threading.Timer(150, proc.kill)  # the suite itself waits 5 minutes for a callback
        deadline.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                self.output.append(line.rstrip("\n"))
                match = AUTHORIZE_LINE.match(line.strip())
                if match:  # "Access the following URL in your browser": the person does
                    opener = threading.Thread(target=self._open, args=(match.group(1), proc), daemon=True)
                    opener.start()
                    openers.append(opener)
            self.returncode = proc.wait()
        finally:
            deadline.cancel()
            for opener in openers:
                opener.join(timeout=60)
        self.seconds = time.monotonic() - started

    def checks(self) -> dict[str, list[dict[str, Any]]]:
        """checks.json of every scenario, by scenario name (from the directory it is in)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(self.out.rglob("checks.json")):
            name = next((s for s in SCENARIOS if s in str(path.relative_to(self.out))), path.parent.name)
            found[name] = json.loads(path.read_text())
        return found

    def describe(self) -> str:
        persons = "\n".join(f"person exit {r.returncode}: {r.stdout[-2000:]} {r.stderr[-1000:]}" for r in self.person_runs)
        return (
            f"--- conformance ({' '.join(self.cmd[2:])}) exit {self.returncode} in {self.seconds:.1f} s\n"
            + "\n".join(self.output[-120:])
            + f"\n{persons}\n{self.browser.describe()}\n{self.stack.logs()}"
        )


@pytest.fixture(scope="module", params=["without-resource", "with-resource"])
def conformance(request: pytest.FixtureRequest, stack: Stack, node_clients: NodeClients) -> ConformanceRun:
    """The suite's whole run, as it runs by default (no `resource`) and with `--resource` the MCP URL."""
    run = ConformanceRun(stack, node_clients, stack.resource if request.param == "with-resource" else None)
    run.run()
    print(f"conformance authorization {request.param} (all scenarios): exit {run.returncode} in {run.seconds:.1f} s")
    for name, checks in run.checks().items():
        for check in checks:
            print(f"  {name}: {check.get('id')} {check.get('status')} {check.get('errorMessage') or ''}".rstrip())
    return run


def not_passing(checks: list[dict[str, Any]]) -> list[str]:
    return [f"{c.get('id')}: {c.get('status')}: {c.get('errorMessage') or c.get('description')}" for c in checks if c.get("status") != "SUCCESS"]


def test_conformance_runs_every_scenario(conformance: ConformanceRun) -> None:
    assert set(conformance.checks()) == set(SCENARIOS), conformance.describe()
    running = [line.split(":", 1)[1].strip(" =") for line in conformance.output if line.startswith("=== Running scenario:")]
    assert running == list(SCENARIOS), conformance.describe()


@pytest.mark.parametrize(
    "scenario",
    [
        # passes since issue 10's CIMD advertises client_id_metadata_document_supported
        "authorization-server-metadata-endpoint",
        "authorization-code-grant",
    ],
)
def test_conformance_scenario_passes_without_warning(scenario: str, conformance: ConformanceRun) -> None:
    checks = conformance.checks().get(scenario)
    assert checks, f"no checks.json for {scenario}\n" + conformance.describe()
    problems = not_passing(checks)
    assert not problems, "\n".join(problems) + "\n" + conformance.describe()


def test_conformance_code_grant_signed_in_once_through_the_person(conformance: ConformanceRun) -> None:
    visits = conformance.browser.visits()
    assert len(visits) == 1, conformance.describe()
    assert visits[0]["ok"] and visits[0]["callback"] == f"http://127.0.0.1:{conformance.port}/callback", conformance.describe()
    assert visits[0]["iss"] == conformance.stack.issuer, conformance.describe()
    sent = parse_qs(urlsplit(visits[0]["authorization_url"]).query)
    assert sent.get("resource") == ([conformance.resource] if conformance.resource else None), sent
    assert "scope" not in sent, sent


def test_conformance_code_grant_without_scope_gets_the_default_scopes(conformance: ConformanceRun) -> None:
    checks = conformance.checks().get("authorization-code-grant") or []
    bodies = [c.get("details", {}).get("body") for c in checks if c.get("status") == "SUCCESS"]
    assert bodies and isinstance(bodies[0], dict), conformance.describe()
    assert "mcp" in str(bodies[0].get("scope", "")).split(), bodies[0]
