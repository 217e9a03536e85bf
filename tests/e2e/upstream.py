"""The upstream OpenID Connect provider of the federated-login end-to-end tests.

``tests/idp/oidc`` (oidc-provider 9, see its README) runs in the foreground on
``http://127.0.0.1:PORT`` and prints ``READY`` once it serves. Its fixture client ``mcpauth``
(secret ``mcpauth-upstream-secret``) gets our callback ``{issuer}/login/{id}/callback`` as its
only redirect URI. Accounts: alice / alice-password (sub ``u-alice``, groups engineers and
admins), bob, carol.

mcpauth learns about the provider through its admin API on a node's internal (raft) address,
authenticated by the cluster secret: ``PUT /admin/identity-providers/{id}``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_mcp_sdk import REPO_ROOT, Proc  # noqa: E402

OIDC_DIR = REPO_ROOT / "tests" / "idp" / "oidc"
CLUSTER_SECRET_HEADER = "x-mcpauth-cluster-secret"
PROVIDER_ID = "sso"
DISPLAY_NAME = "Example SSO"
ALICE = ("alice", "alice-password")
ALICE_SUB = f"{PROVIDER_ID}:u-alice"
ALICE_GROUPS = ["engineers", "admins"]
ALICE_EMAIL = "alice@example.test"


def install_oidc_provider() -> None:
    """`tests/idp/oidc/install.sh` (npm ci; a no-op once installed). run.sh calls it too."""
    run = subprocess.run(["bash", str(OIDC_DIR / "install.sh")], capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        pytest.fail(f"tests/idp/oidc/install.sh failed ({run.returncode}):\n{run.stdout}{run.stderr}")


class OidcProvider:
    """oidc-provider on `port`, whose `mcpauth` client answers to `redirect_uris` only."""

    def __init__(self, port: int, redirect_uris: list[str], workdir: Path) -> None:
        self.port = port
        self.dir = workdir / f"oidc-idp-{port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        cmd = [str(OIDC_DIR / "run"), "--port", str(port), "--dir", str(self.dir)]
        for uri in redirect_uris:
            cmd += ["--redirect-uri", uri]
        # stdout and stderr both go to the log: READY is a line of its own there
        self.proc = Proc("oidc-provider", cmd, workdir / f"oidc-provider-{port}.log")

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "READY" in self.proc.log.read_text(errors="replace").split():
                return
            if not self.proc.alive():
                pytest.fail(f"oidc-provider exited before READY\n{self.proc.describe()}")
            time.sleep(0.1)
        pytest.fail(f"oidc-provider not READY after {timeout}s\n{self.proc.describe()}")

    def config(self) -> dict[str, Any]:
        """The admin API body for this provider (the fixture's `mcpauth` client)."""
        return {
            "kind": "oidc",
            "display_name": DISPLAY_NAME,
            "issuer": self.issuer,
            "client_id": "mcpauth",
            "client_secret": "mcpauth-upstream-secret",
            "scopes": ["openid", "email", "profile", "groups"],
        }

    def stop(self) -> None:
        self.proc.stop()


def configure_provider(internal: str, secret: str, idp: OidcProvider, provider_id: str = PROVIDER_ID) -> dict[str, Any]:
    """PUT the provider through the admin API of the node whose internal address is `internal`."""
    resp = httpx.put(
        f"http://{internal}/admin/identity-providers/{provider_id}",
        json=idp.config(),
        headers={CLUSTER_SECRET_HEADER: secret},
        timeout=15,
    )
    assert resp.status_code == 200, f"PUT /admin/identity-providers/{provider_id} on {internal}: {resp.status_code} {resp.text[:500]}"
    saved = resp.json()
    assert "mcpauth-upstream-secret" not in resp.text, f"the admin API echoed the client secret: {saved}"
    return saved


def wait_provider_listed(internal: str, secret: str, provider_id: str = PROVIDER_ID, timeout: float = 10.0) -> None:
    """Until GET /admin/identity-providers on that node lists `provider_id` (replication)."""
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        resp = httpx.get(f"http://{internal}/admin/identity-providers", headers={CLUSTER_SECRET_HEADER: secret}, timeout=5)
        last = f"{resp.status_code} {resp.text[:300]}"
        if resp.status_code == 200 and f'"{provider_id}"' in resp.text:
            return
        time.sleep(0.1)
    pytest.fail(f"{internal} does not list provider {provider_id!r} after {timeout}s: {last}")
