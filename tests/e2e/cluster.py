"""Three mcpauth nodes behind a real HAProxy, for the end-to-end cluster tests.

What ``Cluster`` sets up in a temporary directory, all on loopback and free ports:

* ``cluster.toml`` with three ``[[node]]`` tables (``id``, ``http``, ``raft``, ``data_dir``);
  ``issuer`` is HAProxy's frontend URL, so every node must print the same issuer whichever of
  them answers; the secret and seal-key files are left for the nodes to create (relative paths,
  resolved against the config file's directory: the processes run from the repository root);
* the three ``mcpauth serve --config cluster.toml --node N`` processes, started together, then
  waited for until each one's ``/readyz`` answers 200 and all agree on a leader
  (``GET /cluster/status`` on the raft address, ``x-mcpauth-cluster-secret`` header);
* HAProxy in the foreground (``haproxy -f haproxy.cfg -db``): ``balance roundrobin`` over the
  three nodes' HTTP addresses with ``option httpchk GET /readyz`` every 500 ms, a stats socket,
  and one log line per request on stdout (backend, server, status, method, path, and the
  ``grant_type`` of a form POST), captured in ``haproxy.log``;
* ``mcp_server.py`` (the SDK's MCP server) trusting the issuer, i.e. fetching JWKS through HAProxy.

Token requests get their own backend, still ``roundrobin`` over the same three servers (their
state tracks the health checks of the main backend), listed with the leader last: the first
token request (the authorization code) and the second (the first refresh) land on the two
followers and the third on the leader, so the test sees every kind of token request served by a
node that had to forward its write. HAProxy's round robin starts at the first server listed;
``test_haproxy_harness_with_dummy_backends`` checks that, and the cluster test checks where each
request really went from HAProxy's log.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_mcp_sdk import ADMIN, PYTHON, REPO_ROOT, Proc, mcpauth_command, start_mcp_server  # noqa: E402

LOG_TAG = "mcpauth-lb"
CLUSTER_SECRET_HEADER = "x-mcpauth-cluster-secret"


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all bound at once, so no two are the same)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None
    )
    if not found:
        pytest.fail("haproxy not found: `apt-get install haproxy` (scripts/test.sh installs it)")
    return found


# ------------------------------------------------------------------------------------------
# HAProxy
# ------------------------------------------------------------------------------------------
@dataclass
class LbRequest:
    """One line of HAProxy's request log."""

    backend: str
    server: str
    status: int
    method: str
    path: str
    grant: str | None


class HAProxy:
    """A foreground HAProxy balancing over `servers` (name -> host:port), configured by us."""

    def __init__(self, workdir: Path, port: int, servers: dict[str, str], token_path: str, token_order: list[str]) -> None:
        assert sorted(token_order) == sorted(servers), (token_order, servers)
        self.workdir, self.port, self.servers = workdir, port, servers
        self.token_path, self.token_order = token_path, token_order
        self.cfg = workdir / "haproxy.cfg"
        self.log = workdir / "haproxy.log"
        sock = workdir / "haproxy.sock"
        if len(str(sock)) > 100:  # sun_path is 108 bytes
            sock = Path(tempfile.mkdtemp(prefix="lb-")) / "haproxy.sock"
        self.sock = sock
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        nodes = "\n".join(f"    server {name} {addr} check" for name, addr in self.servers.items())
        token = "\n".join(f"    server {name} {self.servers[name]} track nodes/{name}" for name in self.token_order)
        return f"""\
# written by tests/e2e/cluster.py; run as `haproxy -f {self.cfg.name} -db`
global
    log stdout format raw local0 info
    stats socket {self.sock} mode 600 level admin
    stats timeout 10s

defaults
    mode http
    log global
    option dontlognull
    # wait for a request's body so that the grant_type of a form POST can be logged
    option http-buffer-request
    timeout connect 1s
    timeout client 15s
    timeout server 15s
    timeout http-request 5s
    timeout queue 2s
    log-format "{LOG_TAG} %b %s %ST %HM %HP %[var(txn.grant)]"

frontend issuer
    bind 127.0.0.1:{self.port}
    http-request set-var(txn.grant) req.body_param(grant_type) if {{ method POST }}
    use_backend token if {{ method POST }} {{ path {self.token_path} }}
    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 500ms rise 1 fall 2
{nodes}

# the token endpoint: round robin over the same servers, the leader last (see cluster.py)
backend token
    balance roundrobin
{token}
"""

    def start(self, timeout: float = 20.0) -> Proc:
        binary = haproxy_binary()
        self.cfg.write_text(self.config_text())
        check = subprocess.run([binary, "-c", "-f", str(self.cfg)], capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            pytest.fail(f"haproxy rejects {self.cfg}:\n{check.stdout}{check.stderr}\n{self.config_text()}")
        self.proc = Proc("haproxy", [binary, "-f", str(self.cfg), "-db"], self.log)
        self.wait_up(list(self.servers), timeout)
        return self.proc

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def _command(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.sock))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def show_stat(self) -> list[dict[str, str]]:
        """`show stat` on the stats socket as CSV rows (pxname, svname, status, stot, ...)."""
        text = self._command("show stat").lstrip("# ")
        return [row for row in csv.DictReader(io.StringIO(text)) if row.get("pxname")]

    def server_stats(self, backend: str) -> dict[str, dict[str, str]]:
        return {r["svname"]: r for r in self.show_stat() if r["pxname"] == backend and r["svname"] not in ("FRONTEND", "BACKEND")}

    def wait_up(self, names: list[str], timeout: float, backend: str = "nodes") -> None:
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            if self.proc is not None and not self.proc.alive():
                pytest.fail(f"haproxy exited\n{self.proc.describe()}")
            try:
                stats = self.server_stats(backend)
                last = {n: stats.get(n, {}).get("status") for n in names}
                if all(s == "UP" for s in last.values()):
                    return
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.1)
        pytest.fail(f"haproxy: servers {names} not all UP after {timeout}s: {last}\n{self.proc.describe() if self.proc else ''}")

    def wait_status(self, name: str, status: str, timeout: float, backend: str = "nodes") -> None:
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            last = self.server_stats(backend).get(name, {}).get("status")
            if last is not None and last.startswith(status):
                return
            time.sleep(0.1)
        pytest.fail(f"haproxy: {backend}/{name} is {last}, not {status}, after {timeout}s")

    def requests(self) -> list[LbRequest]:
        """The request log so far, in order of completion."""
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 7 and parts[0] == LOG_TAG:
                _, backend, server, status, method, path, grant = parts
                out.append(LbRequest(backend, server, int(status), method, path, None if grant == "-" else grant))
        return out


# ------------------------------------------------------------------------------------------
# the mcpauth cluster
# ------------------------------------------------------------------------------------------
@dataclass
class Node:
    id: int
    http: str
    raft: str
    proc: Proc | None = None

    @property
    def name(self) -> str:
        return f"node{self.id}"

    @property
    def url(self) -> str:
        return f"http://{self.http}"


@dataclass
class Cluster:
    workdir: Path
    ttl: int
    password: str = field(default_factory=lambda: "pw-" + secrets.token_urlsafe(18))
    nodes: list[Node] = field(default_factory=list)
    lb: HAProxy | None = None
    mcp: Proc | None = None
    leader_at_start: Node | None = None
    token_path: str = ""

    def __post_init__(self) -> None:
        ports = free_ports(8)
        self.lb_port, self.mcp_port = ports[0], ports[1]
        self.nodes = [Node(i + 1, f"127.0.0.1:{ports[2 + 2 * i]}", f"127.0.0.1:{ports[3 + 2 * i]}") for i in range(3)]
        self.issuer = f"http://127.0.0.1:{self.lb_port}"
        self.resource = f"http://127.0.0.1:{self.mcp_port}/mcp"
        self.config = self.workdir / "cluster.toml"

    # -- processes --------------------------------------------------------------------------
    def procs(self) -> list[Proc]:
        return [p for p in [*(n.proc for n in self.nodes), self.lb.proc if self.lb else None, self.mcp] if p is not None]

    def logs(self) -> str:
        return "\n".join(p.describe() for p in self.procs())

    def fail(self, message: str) -> None:
        pytest.fail(f"{message}\n{self.logs()}")

    def write_config(self) -> None:
        tables = "".join(
            f'\n[[node]]\nid = {n.id}\nhttp = "{n.http}"\nraft = "{n.raft}"\ndata_dir = "{n.name}"\n' for n in self.nodes
        )
        self.config.write_text(
            "# written by tests/e2e/cluster.py: three nodes on loopback behind HAProxy\n"
            f'issuer = "{self.issuer}"\n'
            'cluster_secret_file = "cluster.secret"\n'
            'seal_key_file = "seal.key"\n'
            f'resources = ["{self.resource}"]\n'
            f"access_token_ttl = {self.ttl}\n" + tables
        )

    def start(self, startup_timeout: float) -> None:
        self.write_config()
        cmd = mcpauth_command()
        env = {**os.environ, "MCPAUTH_ADMIN_PASSWORD": self.password}
        for node in self.nodes:  # all at once: they must form the cluster in whatever order they come up
            node.proc = Proc(
                node.name,
                cmd + ["serve", "--config", str(self.config), "--node", str(node.id)],
                self.workdir / f"{node.name}.log",
                env=env,
            )
        self.wait_ready(startup_timeout)
        self.leader_at_start = self.leader(timeout=10)
        meta = httpx.get(f"{self.nodes[0].url}/.well-known/oauth-authorization-server", timeout=10)
        if meta.status_code != 200:
            self.fail(f"{self.nodes[0].name}: metadata answered {meta.status_code}: {meta.text[:500]}")
        token_endpoint = meta.json().get("token_endpoint", "")
        if not token_endpoint.startswith(self.issuer + "/"):
            self.fail(f"token_endpoint {token_endpoint!r} is not under the issuer {self.issuer!r}")
        self.token_path = urlsplit(token_endpoint).path
        followers = [n.name for n in self.nodes if n is not self.leader_at_start]
        self.lb = HAProxy(
            self.workdir,
            self.lb_port,
            {n.name: n.http for n in self.nodes},
            self.token_path,
            followers + [self.leader_at_start.name],
        )
        self.lb.start()
        self.mcp = start_mcp_server(self.mcp_port, self.issuer, self.resource, self.workdir / "mcp_server.log")

    def stop(self) -> None:
        """The MCP server and HAProxy, then the three nodes together (SIGTERM, SIGKILL after 10 s)."""
        for proc in (self.mcp, self.lb.proc if self.lb else None):
            if proc is not None:
                proc.stop()
        killed = self.terminate_nodes(grace=10.0)
        if killed:
            print(f"WARNING: {killed} did not exit within 10 s of SIGTERM and were killed")
        for node in self.nodes:
            if node.proc is not None:
                node.proc.stop()

    def terminate_nodes(self, grace: float) -> list[str]:
        """SIGTERM every running node, wait up to `grace` seconds in all, SIGKILL the rest; their names."""
        procs = [n.proc for n in self.nodes if n.proc is not None and n.proc.alive()]
        for proc in procs:
            proc.p.terminate()
        deadline = time.monotonic() + grace
        while any(p.alive() for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        killed = [p.name for p in procs if p.alive()]
        for proc in procs:
            if proc.alive():
                proc.p.kill()
                proc.p.wait(timeout=10)
        return killed

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = {n.name: "no answer" for n in self.nodes}
        while pending and time.monotonic() < deadline:
            for node in self.nodes:
                if node.name not in pending:
                    continue
                if not node.proc.alive():
                    self.fail(f"{node.name} exited before its /readyz answered 200")
                try:
                    resp = httpx.get(f"{node.url}/readyz", timeout=2)
                    if resp.status_code == 200:
                        del pending[node.name]
                    else:
                        pending[node.name] = f"HTTP {resp.status_code} {resp.text[:200]!r}"
                except httpx.HTTPError as exc:
                    pending[node.name] = repr(exc)
            time.sleep(0.2)
        if pending:
            self.fail(f"/readyz not 200 after {timeout}s: {pending}")

    # -- the internal admin API -------------------------------------------------------------
    def secret(self) -> str:
        path = self.workdir / "cluster.secret"
        if not path.exists():
            self.fail(f"cluster_secret_file {path} was not created")
        return path.read_text().strip()

    def status(self, node: Node) -> dict[str, Any]:
        resp = httpx.get(f"http://{node.raft}/cluster/status", headers={CLUSTER_SECRET_HEADER: self.secret()}, timeout=5)
        if resp.status_code != 200:
            raise AssertionError(f"{node.name}: GET /cluster/status answered {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def statuses(self) -> dict[str, dict[str, Any]]:
        return {n.name: self.status(n) for n in self.nodes}

    def node_by_id(self, value: Any) -> Node | None:
        if isinstance(value, dict):  # tolerate {"id": N, ...}
            value = value.get("id")
        return next((n for n in self.nodes if str(n.id) == str(value)), None)

    def leader(self, timeout: float = 5) -> Node:
        """The leader all three nodes name (waits up to `timeout` for them to agree)."""
        deadline, seen = time.monotonic() + timeout, {}
        while True:
            try:
                seen = {name: s.get("leader") for name, s in self.statuses().items()}
                leaders = {str(v) for v in seen.values()}
                if len(leaders) == 1:
                    node = self.node_by_id(next(iter(seen.values())))
                    if node is not None:
                        return node
            except (AssertionError, httpx.HTTPError, ValueError) as exc:
                seen = {"error": repr(exc)}
            if time.monotonic() > deadline:
                self.fail(f"the nodes do not agree on a leader among ids {[n.id for n in self.nodes]}: {seen}")
            time.sleep(0.2)


# ------------------------------------------------------------------------------------------
# the SDK client flow (client_flow.py, as the single-node test runs it)
# ------------------------------------------------------------------------------------------
def run_client_flow(resource: str, password: str, ttl: int, workdir: Path) -> dict[str, Any]:
    report_path = workdir / "flow-report.json"
    cmd = [
        PYTHON, str(HERE / "client_flow.py"),
        "--mcp-url", resource,
        "--username", ADMIN,
        "--wait-expiry", str(ttl + 15),
        "--report", str(report_path),
        "-v",
    ]
    env = {**os.environ, "MCPAUTH_ADMIN_PASSWORD": password}
    started = time.monotonic()
    try:
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=ttl + 120, cwd=REPO_ROOT)
        returncode, out, err = run.returncode, run.stdout, run.stderr
    except subprocess.TimeoutExpired as exc:
        returncode, out, err = -1, str(exc.stdout or ""), f"client_flow.py timed out\n{exc.stderr or ''}"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report["_returncode"], report["_stdout"], report["_stderr"] = returncode, out, err
    report["_seconds"] = round(time.monotonic() - started, 1)
    return report
