"""A real MCP server (official Python SDK, streamable HTTP) protected by mcpauth.

It is an OAuth 2.0 resource server as the MCP authorization spec describes:

* ``POST/GET /mcp`` without a valid bearer token answers 401 with
  ``WWW-Authenticate: Bearer ..., resource_metadata="http://HOST:PORT/.well-known/oauth-protected-resource/mcp"``
  (the SDK's ``RequireAuthMiddleware``);
* RFC 9728 protected resource metadata at ``/.well-known/oauth-protected-resource/mcp``
  (the SDK's route) and at the root variant ``/.well-known/oauth-protected-resource``
  (added here), naming ``--resource`` and ``authorization_servers: [--issuer]``;
* access tokens are validated locally against the issuer's JWKS: ES256 signature,
  ``iss == --issuer``, ``aud`` contains ``--resource``, ``exp`` in the future. The JWKS
  location comes from the issuer's RFC 8414 metadata; keys are cached and refetched
  when a token names an unknown ``kid``.

One tool, ``whoami``, returns the token's ``sub`` and ``client_id`` plus what the
server has seen so far (distinct ``jti`` values, validation counts) so that the
end-to-end test can assert that a refresh produced a new token.

Usage::

    python mcp_server.py --port 8001 --issuer http://127.0.0.1:8000 \
        --resource http://127.0.0.1:8001/mcp
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import uvicorn
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("e2e.mcp_server")

# How often an unknown `kid` may trigger a JWKS refetch (seconds).
JWKS_REFETCH_MIN_INTERVAL = 1.0


def well_known_urls(issuer: str) -> list[str]:
    """Where RFC 8414 (and OIDC discovery, as a fallback) put the metadata of `issuer`."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if path:
        return [
            f"{origin}/.well-known/oauth-authorization-server{path}",
            f"{origin}/.well-known/openid-configuration{path}",
            f"{origin}{path}/.well-known/openid-configuration",
        ]
    return [f"{origin}/.well-known/oauth-authorization-server", f"{origin}/.well-known/openid-configuration"]


class Observations:
    """What the resource server saw; reported through `whoami` for test assertions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.validated = 0
        self.rejected = 0
        self.reject_reasons: list[str] = []
        self.jtis: list[str] = []  # distinct, in order of first sight
        self.by_token: dict[str, dict[str, Any]] = {}  # token -> {"claims":..., "header":...}
        self.jwks_fetches = 0

    def accept(self, token: str, header: dict[str, Any], claims: dict[str, Any]) -> None:
        with self.lock:
            self.validated += 1
            jti = claims.get("jti")
            if jti is not None and jti not in self.jtis:
                self.jtis.append(str(jti))
            if len(self.by_token) > 1000:
                self.by_token.clear()
            self.by_token[token] = {"claims": claims, "header": header}

    def reject(self, reason: str) -> None:
        with self.lock:
            self.rejected += 1
            self.reject_reasons.append(reason)
            del self.reject_reasons[:-20]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "validated_count": self.validated,
                "rejected_count": self.rejected,
                "reject_reasons": list(self.reject_reasons),
                "distinct_jti_count": len(self.jtis),
                "jtis_seen": list(self.jtis),
                "jwks_fetches": self.jwks_fetches,
            }


OBS = Observations()


class JWKSTokenVerifier:
    """`mcp.server.auth.provider.TokenVerifier` that checks mcpauth's ES256 JWT access tokens."""

    def __init__(self, issuer: str, resource: str, leeway: float = 0.0) -> None:
        self.issuer = issuer
        self.resource = resource
        self.leeway = leeway
        self._jwks_uri: str | None = None
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._last_fetch = 0.0

    async def _discover_jwks_uri(self, client: httpx.AsyncClient) -> str:
        errors = []
        for url in well_known_urls(self.issuer):
            resp = await client.get(url)
            if resp.status_code != 200:
                errors.append(f"{url}: HTTP {resp.status_code}")
                continue
            meta = resp.json()
            if meta.get("issuer") != self.issuer:
                raise ValueError(f"metadata at {url} names issuer {meta.get('issuer')!r}, expected {self.issuer!r}")
            if not meta.get("jwks_uri"):
                raise ValueError(f"metadata at {url} has no jwks_uri")
            return str(meta["jwks_uri"])
        raise ValueError("no authorization server metadata: " + "; ".join(errors))

    async def _fetch_keys(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            if self._jwks_uri is None:
                self._jwks_uri = await self._discover_jwks_uri(client)
            resp = await client.get(self._jwks_uri)
            resp.raise_for_status()
            jwks = resp.json()
        keys: dict[str | None, jwt.PyJWK] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
                continue
            if jwk.get("use") not in (None, "sig") or jwk.get("alg") not in (None, "ES256"):
                continue
            keys[jwk.get("kid")] = jwt.PyJWK(jwk, algorithm="ES256")
        self._keys = keys
        self._last_fetch = time.monotonic()
        with OBS.lock:
            OBS.jwks_fetches += 1
        log.info("fetched JWKS from %s: kids=%s", self._jwks_uri, list(keys))

    async def _key_for(self, kid: str | None) -> jwt.PyJWK:
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        # Unknown kid (or nothing cached yet): refetch, but not in a tight loop.
        if not self._keys or time.monotonic() - self._last_fetch >= JWKS_REFETCH_MIN_INTERVAL:
            await self._fetch_keys()
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise ValueError(f"no ES256 key with kid {kid!r} in the issuer's JWKS (have {list(self._keys)})")

    def decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        return jwt.decode(
            token,
            key=key.key,
            algorithms=["ES256"],
            audience=self.resource,
            issuer=self.issuer,
            leeway=self.leeway,
            options={"require": ["exp", "iss", "aud", "sub"], "verify_iat": True},
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "ES256":
                raise ValueError(f"alg is {header.get('alg')!r}, not ES256")
            key = await self._key_for(header.get("kid"))
            claims = self.decode(token, key)
        except Exception as exc:  # noqa: BLE001 - every failure means "invalid token"
            reason = f"{type(exc).__name__}: {exc}"
            log.warning("rejected bearer token: %s", reason)
            OBS.reject(reason)
            return None

        OBS.accept(token, header, claims)
        aud = claims.get("aud")
        client_id = claims.get("client_id") or claims.get("azp") or ""
        scope = claims.get("scope") or ""
        log.info("accepted token sub=%s client_id=%s jti=%s", claims.get("sub"), client_id, claims.get("jti"))
        return AccessToken(
            token=token,
            client_id=str(client_id),
            scopes=scope.split() if isinstance(scope, str) else list(scope),
            expires_at=int(claims["exp"]),
            # The audience entry that is this resource (decode() already required it).
            resource=self.resource if (aud == self.resource or (isinstance(aud, list) and self.resource in aud)) else None,
            subject=str(claims["sub"]),
            claims=claims,
        )


def build_server(issuer: str, resource: str, required_scopes: list[str] | None) -> tuple[MCPServer, JWKSTokenVerifier]:
    verifier = JWKSTokenVerifier(issuer, resource)
    server = MCPServer(
        name="mcpauth-e2e",
        token_verifier=verifier,
        auth=AuthSettings(
            issuer_url=issuer,
            resource_server_url=resource,
            required_scopes=required_scopes or None,
            validate_token_resource=True,
        ),
    )

    @server.tool()
    async def whoami(ctx: Context) -> dict[str, Any]:
        """Who the bearer token says the caller is, and what this server has seen."""
        token = None
        access = get_access_token()
        if access is not None:
            token = access.token
        else:  # the auth contextvar did not reach this task: read the header ourselves
            headers = ctx.headers or {}
            auth = headers.get("authorization") or headers.get("Authorization") or ""
            if auth.lower().startswith("bearer "):
                token = auth[7:]
        seen = OBS.by_token.get(token or "", {})
        claims = seen.get("claims", {})
        return {
            "sub": claims.get("sub"),
            "client_id": claims.get("client_id"),
            "azp": claims.get("azp"),
            "iss": claims.get("iss"),
            "aud": claims.get("aud"),
            "scope": claims.get("scope"),
            "jti": claims.get("jti"),
            "iat": claims.get("iat"),
            "exp": claims.get("exp"),
            "header": seen.get("header"),
            "claims": claims,
            **OBS.snapshot(),
        }

    # RFC 9728 root variant; the SDK serves only the path-inserted one.
    prm_doc = {
        "resource": resource,
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
    }
    if required_scopes:
        prm_doc["scopes_supported"] = list(required_scopes)

    @server.custom_route("/.well-known/oauth-protected-resource", methods=["GET", "OPTIONS"])
    async def root_prm(request: Request) -> Response:
        cors = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, OPTIONS",
            "Access-Control-Allow-Headers": "mcp-protocol-version",
        }
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=cors)
        return JSONResponse(prm_doc, headers=cors)

    @server.custom_route("/_e2e/observations", methods=["GET"])
    async def observations(request: Request) -> Response:
        return JSONResponse(OBS.snapshot())

    return server, verifier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--issuer", required=True, help="the authorization server's issuer identifier, exactly")
    parser.add_argument("--resource", help="this server's resource URL (default http://HOST:PORT/mcp)")
    parser.add_argument(
        "--required-scope", action="append", default=[], help="scope every token must carry (repeatable; default none)"
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    resource = args.resource or f"http://{args.host}:{args.port}/mcp"
    path = urlsplit(resource).path or "/"
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    server, _ = build_server(args.issuer, resource, args.required_scope)
    app = server.streamable_http_app(streamable_http_path=path, host=args.host)
    log.info("MCP server on http://%s:%d%s (resource %s, issuer %s)", args.host, args.port, path, resource, args.issuer)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())
    return 0


if __name__ == "__main__":
    sys.exit(main())
