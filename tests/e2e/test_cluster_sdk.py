"""Three mcpauth nodes behind a real load balancer (HAProxy), with the official Python MCP SDK.

The SDK client signs in (discovery, registration, login and consent through the HTML forms,
code grant), calls a tool, refreshes (forced, then after the access token's real expiry), every
request to the authorization server going through HAProxy's round robin over the three nodes.
HAProxy's request log and stats then show that every node served requests, that the code grant
and a refresh grant were answered by followers, and the nodes must end with one state digest.
See cluster.py for the set-up.

Environment knobs: MCPAUTH_BIN, E2E_ACCESS_TOKEN_TTL (default 10), E2E_STARTUP_TIMEOUT (default 60).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster import PYTHON, Cluster, HAProxy, Proc, free_ports, haproxy_binary, run_client_flow  # noqa: E402


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    haproxy_binary()  # fail early and clearly when it is missing
    c = Cluster(tmp_path_factory.mktemp("cluster"), int(os.environ.get("E2E_ACCESS_TOKEN_TTL", "10")))
    started = time.monotonic()
    try:
        c.start(float(os.environ.get("E2E_STARTUP_TIMEOUT", "60")))
        print(f"cluster up in {time.monotonic() - started:.1f}s: leader {c.leader_at_start.name}, issuer {c.issuer}, "
              f"workdir {c.workdir}")
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def flow(cluster: Cluster) -> dict[str, Any]:
    report = run_client_flow(cluster.resource, cluster.password, cluster.ttl, cluster.workdir)
    print(f"client flow: {report['_seconds']}s, exit {report['_returncode']}")
    return report


def diagnostics(flow: dict[str, Any], cluster: Cluster) -> str:
    return (
        f"client_flow.py exit {flow['_returncode']}\n--- stdout\n{flow['_stdout'][-6000:]}\n"
        f"--- stderr\n{flow['_stderr'][-6000:]}\n{cluster.logs()}"
    )


# ------------------------------------------------------------------------------------------
# the SDK's whole flow through HAProxy, spread over the three nodes
# ------------------------------------------------------------------------------------------
def test_sdk_flow_through_load_balancer_spread_over_all_nodes(cluster: Cluster, flow: dict[str, Any]) -> None:
    diag = lambda: diagnostics(flow, cluster)  # noqa: E731
    assert flow["_returncode"] == 0 and flow.get("ok"), diag()
    assert flow["browser_invocations"] == 1, diag()
    assert flow["oauth_metadata"]["issuer"] == cluster.issuer, flow["oauth_metadata"]
    client_grants = [e["grant_type"] for e in flow["http_trace"] if e.get("grant_type")]
    assert client_grants.count("authorization_code") == 1 and client_grants.count("refresh_token") >= 2, client_grants
    subs = {w["sub"] for w in flow["whoami"]}
    assert len(subs) == 1 and None not in subs, flow["whoami"]
    assert {w["client_id"] for w in flow["whoami"]} == {flow["client_info"]["client_id"]}
    refresh_tokens = [t["refresh_token"] for t in flow["tokens"]]
    assert len(set(refresh_tokens)) == len(refresh_tokens) == 3, "refresh tokens must rotate on every refresh"

    # every node served requests (HAProxy's own log, and its counters)
    served = cluster.lb.requests()
    names = [n.name for n in cluster.nodes]
    per_node = {name: [r for r in served if r.server == name] for name in names}
    summary = {name: sorted({f"{r.method} {r.path}" for r in rs}) for name, rs in per_node.items()}
    print("requests per node:", {name: len(rs) for name, rs in per_node.items()})
    for name, rs in summary.items():
        print(f"  {name}: {rs}")
    assert all(per_node.values()), f"a node served nothing through HAProxy: {summary}\n{cluster.logs()}"
    stot = {
        name: sum(int(cluster.lb.server_stats(backend)[name]["stot"] or 0) for backend in ("nodes", "token"))
        for name in names
    }
    assert all(v > 0 for v in stot.values()), f"HAProxy stats: {stot}"
    failed = [r for r in served if r.status >= 500 or r.server == "<NOSRV>"]
    assert not failed, f"HAProxy saw failures: {failed}\n{cluster.logs()}"

    # the token requests HAProxy passed are the SDK's, in order, and followers answered them
    tokens = [r for r in served if r.method == "POST" and r.path == cluster.token_path]
    assert [r.grant for r in tokens] == client_grants, (tokens, client_grants)
    assert all(r.status == 200 for r in tokens), tokens
    leader_now = cluster.leader()
    assert leader_now is cluster.leader_at_start, (
        f"the leader changed during the flow: {cluster.leader_at_start.name} -> {leader_now.name}\n{cluster.logs()}"
    )
    followers = {n.name for n in cluster.nodes if n is not leader_now}
    print(f"leader {leader_now.name}; token requests: {[(r.grant, r.server) for r in tokens]}")
    code_on = [r.server for r in tokens if r.grant == "authorization_code"]
    refresh_on = [r.server for r in tokens if r.grant == "refresh_token"]
    assert set(code_on) <= followers, f"the code grant was not served by a follower: {code_on}, leader {leader_now.name}"
    assert set(refresh_on) & followers, f"no refresh grant served by a follower: {refresh_on}, leader {leader_now.name}"
    assert {r.server for r in tokens} == set(names), f"token requests did not reach every node: {tokens}"


# ------------------------------------------------------------------------------------------
# every node, asked directly, names the load balancer as issuer and publishes the same keys
# ------------------------------------------------------------------------------------------
def test_every_node_serves_one_issuer_and_one_jwks(cluster: Cluster, flow: dict[str, Any]) -> None:
    jwks = {}
    for node in cluster.nodes:
        meta = httpx.get(f"{node.url}/.well-known/oauth-authorization-server", timeout=10)
        assert meta.status_code == 200, (node.name, meta.status_code, meta.text[:300])
        doc = meta.json()
        assert doc["issuer"] == cluster.issuer, (node.name, doc["issuer"])
        for key in ("authorization_endpoint", "token_endpoint", "registration_endpoint", "jwks_uri"):
            assert doc[key].startswith(cluster.issuer + "/"), (node.name, key, doc[key])
        oidc = httpx.get(f"{node.url}/.well-known/openid-configuration", timeout=10)
        assert oidc.status_code == 200 and oidc.json()["issuer"] == cluster.issuer, (node.name, oidc.text[:300])
        jwks_path = doc["jwks_uri"][len(cluster.issuer):]
        keys = httpx.get(f"{node.url}{jwks_path}", timeout=10)
        assert keys.status_code == 200, (node.name, keys.status_code)
        jwks[node.name] = sorted(k.get("kid") for k in keys.json()["keys"])
    assert len({tuple(v) for v in jwks.values()}) == 1, f"the nodes publish different keys: {jwks}"


# ------------------------------------------------------------------------------------------
# after the flow the three state machines are identical
# ------------------------------------------------------------------------------------------
def test_nodes_converge_to_one_digest(cluster: Cluster, flow: dict[str, Any]) -> None:
    deadline = time.monotonic() + 15
    while True:
        statuses = cluster.statuses()
        seen = {name: (s.get("digest"), s.get("digest_index")) for name, s in statuses.items()}
        if len(set(seen.values())) == 1 and None not in next(iter(seen.values())):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the nodes' digests differ after 15s: {statuses}\n{cluster.logs()}")
        time.sleep(0.2)
    digest, index = next(iter(seen.values()))
    print(f"all nodes: digest {digest} at index {index}; applied {[s.get('applied_index') for s in statuses.values()]}")
    for name, s in statuses.items():
        assert str(s.get("id")) == name.removeprefix("node"), (name, s)


# ------------------------------------------------------------------------------------------
# last of the cluster tests: SIGTERM ends every node promptly
# ------------------------------------------------------------------------------------------
def test_nodes_exit_on_sigterm(cluster: Cluster, flow: dict[str, Any]) -> None:
    killed = cluster.terminate_nodes(grace=5.0)
    assert not killed, f"{killed} still running 5 s after SIGTERM (killed)\n{cluster.logs()}"


# ------------------------------------------------------------------------------------------
# the harness itself: HAProxy's config, health checks and round robin, without mcpauth
# ------------------------------------------------------------------------------------------
DUMMY_BACKEND = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
name, port = sys.argv[1], int(sys.argv[2])
class H(BaseHTTPRequestHandler):
    def answer(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = name.encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = answer
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def test_haproxy_harness_with_dummy_backends(tmp_path: Path) -> None:
    lb_port, *ports = free_ports(4)
    names = ["node1", "node2", "node3"]
    backends = [
        Proc(name, [PYTHON, "-c", DUMMY_BACKEND, name, str(port)], tmp_path / f"{name}.log")
        for name, port in zip(names, ports)
    ]
    lb = HAProxy(tmp_path, lb_port, {n: f"127.0.0.1:{p}" for n, p in zip(names, ports)}, "/token", ["node3", "node1", "node2"])
    try:
        for port in ports:
            deadline = time.monotonic() + 10
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, "dummy backend did not start"
                    time.sleep(0.05)
        lb.start()
        with httpx.Client(base_url=lb.url, timeout=5) as client:
            token_servers = [
                client.post("/token", data={"grant_type": g, "code": "x"}).text
                for g in ("authorization_code", "refresh_token", "refresh_token")
            ]
            assert token_servers == ["node3", "node1", "node2"], token_servers
            others = {client.get("/.well-known/oauth-authorization-server").text for _ in range(6)}
            assert others == set(names), others
            backends[1].stop()
            lb.wait_status("node2", "DOWN", 5)
            after = {client.get("/authorize").text for _ in range(6)}
            assert after == {"node1", "node3"}, after
        logged = lb.requests()
        assert [(r.backend, r.server, r.grant) for r in logged[:3]] == [
            ("token", "node3", "authorization_code"), ("token", "node1", "refresh_token"), ("token", "node2", "refresh_token"),
        ], logged[:3]
        assert len(logged) == 15 and all(r.status == 200 for r in logged), logged
        assert {r.server for r in logged[3:9]} == set(names) and {r.grant for r in logged[3:]} == {None}, logged
        assert int(lb.server_stats("nodes")["node1"]["stot"]) >= 2
    finally:
        lb.stop()
        for proc in backends:
            proc.stop()
        print(lb.log.read_text(errors="replace") if lb.log.exists() else "(no haproxy log)")

