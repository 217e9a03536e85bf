"""Federated login on three mcpauth nodes behind HAProxy, with the official Python MCP SDK.

An upstream OpenID Connect provider (tests/idp/oidc: oidc-provider) answers to
``{issuer}/login/sso/callback``, where the issuer is HAProxy's frontend. It is configured at
runtime through the admin API of one node (its internal address, the cluster secret). The SDK
client (client_flow.py) then discovers, registers, and opens the authorization URL in the
headless browser (browser.py), which takes "Sign in with Example SSO" on our login page, signs
in as alice on the provider's own login and consent pages, comes back through HAProxy to our
callback, consents on our page, and the SDK redeems the code, calls the MCP server's ``whoami``
and refreshes once (forced).

HAProxy round-robins every request, so the provider's callback is answered by another node
than the one that sent the person to the provider: the pending login lives in the replicated
state. The test reads where each request went from HAProxy's log, and which node completed
the sign-in from the nodes' logs ("federated sign-in", logged by the node that handled the
callback).

Environment knobs: MCPAUTH_BIN, E2E_STARTUP_TIMEOUT (default 60).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from cluster import PYTHON, REPO_ROOT, Cluster, free_ports, haproxy_binary  # noqa: E402
from upstream import (  # noqa: E402
    ALICE,
    ALICE_EMAIL,
    ALICE_GROUPS,
    ALICE_SUB,
    PROVIDER_ID,
    OidcProvider,
    configure_provider,
    install_oidc_provider,
    wait_provider_listed,
)

SIGNED_IN_LOG = "federated sign-in"


class FederatedCluster:
    def __init__(self, cluster: Cluster, idp: OidcProvider) -> None:
        self.cluster, self.idp = cluster, idp

    def logs(self) -> str:
        return f"{self.cluster.logs()}\n{self.idp.proc.describe()}"


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory):
    haproxy_binary()
    install_oidc_provider()
    workdir = tmp_path_factory.mktemp("federated-cluster")
    # the access tokens' lifetime is not under test here (no refresh after real expiry)
    cluster = Cluster(workdir, 60)
    idp = OidcProvider(free_ports(1)[0], [f"{cluster.issuer}/login/{PROVIDER_ID}/callback"], workdir)
    started = time.monotonic()
    try:
        cluster.start(float(os.environ.get("E2E_STARTUP_TIMEOUT", "60")))
        idp.wait_ready()
        # configured through one node (a follower when possible); every node must then know it
        admin_node = next(n for n in cluster.nodes if n is not cluster.leader_at_start)
        saved = configure_provider(admin_node.raft, cluster.secret(), idp)
        assert saved.get("secret_set") is True, saved
        for node in cluster.nodes:
            wait_provider_listed(node.raft, cluster.secret())
        print(f"federated cluster up in {time.monotonic() - started:.1f}s: issuer {cluster.issuer}, upstream "
              f"{idp.issuer}, provider configured on {admin_node.name}, leader {cluster.leader_at_start.name}")
        yield FederatedCluster(cluster, idp)
    finally:
        cluster.stop()
        idp.stop()


@pytest.fixture(scope="module")
def flow(fed: FederatedCluster) -> dict[str, Any]:
    """client_flow.py: SDK sign-in through the provider as alice, whoami, one forced refresh."""
    workdir = fed.cluster.workdir
    report_path = workdir / "federated-flow-report.json"
    username, password = ALICE
    cmd = [
        PYTHON, str(HERE / "client_flow.py"),
        "--mcp-url", fed.cluster.resource,
        "--provider", PROVIDER_ID,
        "--username", username,
        "--password-env", "E2E_UPSTREAM_PASSWORD",
        "--expect-sub", ALICE_SUB,
        "--report", str(report_path),
        "-v",
    ]
    env = {**os.environ, "E2E_UPSTREAM_PASSWORD": password}
    started = time.monotonic()
    try:
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
        returncode, out, err = run.returncode, run.stdout, run.stderr
    except subprocess.TimeoutExpired as exc:
        returncode, out, err = -1, str(exc.stdout or ""), f"client_flow.py timed out\n{exc.stderr or ''}"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report["_returncode"], report["_stdout"], report["_stderr"] = returncode, out, err
    print(f"federated client flow: {time.monotonic() - started:.1f}s, exit {returncode}")
    return report


def diagnostics(flow: dict[str, Any], fed: FederatedCluster) -> str:
    return (
        f"client_flow.py exit {flow['_returncode']}\n--- stdout\n{flow['_stdout'][-6000:]}\n"
        f"--- stderr\n{flow['_stderr'][-6000:]}\n{fed.logs()}"
    )


# ------------------------------------------------------------------------------------------
# the SDK signs in through the upstream provider and calls the MCP server as alice
# ------------------------------------------------------------------------------------------
def test_sdk_signs_in_through_the_upstream_provider(fed: FederatedCluster, flow: dict[str, Any]) -> None:
    diag = lambda: diagnostics(flow, fed)  # noqa: E731
    assert flow["_returncode"] == 0 and flow.get("ok"), diag()
    assert flow["browser_invocations"] == 1, diag()
    steps = flow["browser_steps"]
    print("browser steps:\n  " + "\n  ".join(steps))
    # the browser went through our login page's provider link and the provider's own pages
    assert any(f"link provider-{PROVIDER_ID}" in s for s in steps), steps
    assert any(s.startswith(f"POST {fed.idp.issuer}/interaction/") and s.endswith("/login -> 303") for s in steps), steps
    assert any(s.startswith(f"POST {fed.idp.issuer}/interaction/") and s.endswith("/confirm -> 303") for s in steps), steps
    assert any(s.startswith(f"GET {fed.cluster.issuer}/login/{PROVIDER_ID}/callback?") for s in steps), steps
    assert not any(s.startswith(f"POST {fed.cluster.issuer}/login ") for s in steps), "the local login form was used"

    # the MCP server's view of the bearer token, at login and after the forced refresh
    assert [w["_label"] for w in flow["whoami"]] == ["login", "forced-refresh"], flow["whoami"]
    for seen in flow["whoami"]:
        claims = seen["claims"]
        assert claims["sub"] == ALICE_SUB, claims
        assert claims["groups"] == ALICE_GROUPS, claims
        assert claims.get("email") == ALICE_EMAIL, claims
        assert claims["client_id"] == flow["client_info"]["client_id"], claims
        assert claims["iss"] == fed.cluster.issuer, claims
    grants = [e["grant_type"] for e in flow["http_trace"] if e.get("grant_type")]
    assert grants == ["authorization_code", "refresh_token"], grants


def test_access_tokens_name_the_federated_subject(fed: FederatedCluster, flow: dict[str, Any]) -> None:
    tokens = [t["access_token"] for t in flow.get("tokens", [])]
    assert len(tokens) == 2, "expected the code grant's and the refresh's access tokens\n" + diagnostics(flow, fed)
    meta = httpx.get(f"{fed.cluster.issuer}/.well-known/oauth-authorization-server", timeout=10).json()
    keys = {k.get("kid"): k for k in httpx.get(meta["jwks_uri"], timeout=10).json()["keys"]}
    for token in tokens:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(
            token,
            key=jwt.PyJWK(keys[header["kid"]], algorithm="ES256").key,
            algorithms=["ES256"],
            audience=fed.cluster.resource,
            issuer=fed.cluster.issuer,
        )
        print(f"access token claims: { {k: claims[k] for k in sorted(claims) if k not in ('jti',)} }")
        assert claims["sub"] == ALICE_SUB, claims
        assert claims["groups"] == ALICE_GROUPS, claims
        assert claims["email"] == ALICE_EMAIL and claims["name"] == "Alice Liddell", claims


# ------------------------------------------------------------------------------------------
# the provider's callback was answered by another node than the one that started the login
# ------------------------------------------------------------------------------------------
def test_callback_lands_on_another_node_than_the_start(fed: FederatedCluster, flow: dict[str, Any]) -> None:
    assert flow["_returncode"] == 0, diagnostics(flow, fed)
    cluster = fed.cluster
    served = cluster.lb.requests()
    start_path, callback_path = f"/login/{PROVIDER_ID}", f"/login/{PROVIDER_ID}/callback"
    starts = [r for r in served if r.method == "GET" and r.path == start_path]
    callbacks = [r for r in served if r.method == "GET" and r.path == callback_path]
    assert len(starts) == 1 and starts[0].status == 303, (starts, served)
    assert len(callbacks) == 1 and callbacks[0].status == 303, (callbacks, served)
    start_on, callback_on = starts[0].server, callbacks[0].server
    flow_servers = {r.server for r in served}
    print(f"GET {start_path} on {start_on}, GET {callback_path} on {callback_on}; "
          f"requests per node: { {n.name: sum(r.server == n.name for r in served) for n in cluster.nodes} }")
    assert start_on != callback_on, f"the callback landed on the node that started the login ({start_on})\n{served}"
    assert len(flow_servers) > 1, flow_servers
    failed = [r for r in served if r.status >= 500 or r.server == "<NOSRV>"]
    assert not failed, f"HAProxy saw failures: {failed}"

    # the node that handled the callback logged the sign-in; no other node did
    signed_in = {
        n.name: n.proc.log.read_text(errors="replace").count(SIGNED_IN_LOG) for n in cluster.nodes if n.proc is not None
    }
    assert signed_in[callback_on] == 1, f"{signed_in}\n{fed.logs()}"
    assert sum(signed_in.values()) == 1 and signed_in[start_on] == 0, signed_in
