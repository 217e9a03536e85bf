"""A SAML 2.0 identity provider for mcpauth's integration tests.

Real pysaml2 (saml2.server.Server) with Debian's xmlsec1 doing the signing; this
file only adds a login form, a user list and the test knobs (/_test/mode) that
make the IdP send deliberately bad responses. See README.md for the contract.

    python idp.py --dir DIR --port P --sp-metadata URL_OR_FILE [--users FILE]
"""

import argparse
import base64
import datetime
import html
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import urllib.parse
import urllib.request
import warnings
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# pysaml2 7.5.5 touches cryptography's deprecated CFB name at import: harmless, silence it
warnings.filterwarnings("ignore", message="CFB has been moved")

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, samlp
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_BASIC, NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_ENTITY, NAMEID_FORMAT_PERSISTENT
from saml2.server import Server
from saml2.sigver import get_xmlsec_binary, verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA1, DIGEST_SHA256, SIG_RSA_SHA1, SIG_RSA_SHA256

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = (
    "normal",
    "wrong_key",
    "unsigned",
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_recipient",
    "wrong_issuer",
    "tampered",
)
SIGN_CHOICES = ("assertion", "response", "both")
NAMEID_CHOICES = ("email", "persistent")
# what success responses are signed with: the configured RSA-SHA256, or RSA-SHA1 / SHA1 (what
# old IdPs still send, and an SP must refuse)
ALG_CHOICES = ("sha256", "sha1")
WRONG_AUDIENCE = "http://127.0.0.1:9/wrong-sp/metadata"
WRONG_RECIPIENT = "http://127.0.0.1:9/wrong-sp/acs"
WRONG_ISSUER = "http://127.0.0.1:9/wrong-idp/metadata"
TAMPERED_EMAIL = "mallory@example.test"

log = logging.getLogger("saml-idp")


# ---------------------------------------------------------------- keys


def make_keypair(key_path, cert_path, common_name):
    """A throwaway RSA-2048 key and a self-signed certificate for it (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def saml_time(delta):
    t = datetime.datetime.now(datetime.timezone.utc) + delta
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- pysaml2 server


class FixtureServer(Server):
    """pysaml2's Server, with one hook: `mutate` sees the Assertion object after
    pysaml2 built it and before pysaml2 signs it (used by the time/audience/
    recipient modes, so the bad values are inside the signature)."""

    mutate = None

    def setup_assertion(self, *args, **kwargs):
        assertion = super().setup_assertion(*args, **kwargs)
        if self.mutate is not None and isinstance(assertion, saml.Assertion):
            self.mutate(assertion)
        return assertion


def idp_config(base, key_file, cert_file, sp_metadata_xml):
    conf = {
        "entityid": f"{base}/metadata",
        "name": "mcpauth test SAML IdP",
        "service": {
            "idp": {
                "name": "mcpauth test SAML IdP",
                "endpoints": {
                    "single_sign_on_service": [
                        (f"{base}/sso", BINDING_HTTP_REDIRECT),
                        (f"{base}/sso", BINDING_HTTP_POST),
                    ],
                },
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 5},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_BASIC,
                    },
                },
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT],
                "want_authn_requests_signed": False,
                # pysaml2 reads these per service ("idp"); at the top level they are ignored
                # and it signs with its defaults, RSA-SHA1 / SHA1.
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
            },
        },
        "key_file": key_file,
        "cert_file": cert_file,
        "xmlsec_binary": get_xmlsec_binary(["/usr/bin", "/usr/local/bin"]),
        "crypto_backend": "xmlsec1",
        "attribute_map_dir": os.path.join(HERE, "attributemaps"),
        "accepted_time_diff": 120,
        "delete_tmpfiles": True,
    }
    if sp_metadata_xml:
        conf["metadata"] = {"inline": [sp_metadata_xml]}
    cfg = IdPConfig()
    cfg.load(conf)
    return cfg


class SpMetadataError(Exception):
    pass


class Idp:
    def __init__(self, base, workdir, sp_metadata_source, users):
        self.base = base
        self.workdir = workdir
        self.sp_metadata_source = sp_metadata_source
        self.users = users
        self.lock = threading.RLock()
        self.mode = "normal"
        self.sign = "assertion"
        self.nameid = "email"
        self.alg = "sha256"
        self.last = None
        self.pending = {}  # login form token -> parsed request info
        self.key = os.path.join(workdir, "idp-key.pem")
        self.cert = os.path.join(workdir, "idp-cert.pem")
        self.wrong_key = os.path.join(workdir, "wrong-key.pem")
        self.wrong_cert = os.path.join(workdir, "wrong-cert.pem")
        make_keypair(self.key, self.cert, "mcpauth test SAML IdP")
        make_keypair(self.wrong_key, self.wrong_cert, "unrelated key (wrong_key mode)")
        self.sp_metadata_xml = None
        self._build_servers()
        self.metadata_xml = str(entity_descriptor(self.server.config))
        with open(os.path.join(workdir, "idp-metadata.xml"), "w") as f:
            f.write(self.metadata_xml)

    # -- SP metadata

    def _build_servers(self):
        self.server = FixtureServer(config=idp_config(self.base, self.key, self.cert, self.sp_metadata_xml))
        self.wrong_server = FixtureServer(
            config=idp_config(self.base, self.wrong_key, self.wrong_cert, self.sp_metadata_xml)
        )

    def known_sps(self):
        return set(self.server.metadata.keys()) if self.sp_metadata_xml else set()

    def load_sp_metadata(self):
        src = self.sp_metadata_source
        try:
            if re.match(r"^https?://", src):
                with urllib.request.urlopen(src, timeout=10) as r:
                    xml = r.read().decode("utf-8")
            else:
                with open(src, encoding="utf-8") as f:
                    xml = f.read()
        except Exception as exc:
            raise SpMetadataError(f"cannot get SP metadata from {src}: {exc}") from exc
        previous = self.sp_metadata_xml
        self.sp_metadata_xml = xml
        try:
            self._build_servers()
        except Exception as exc:
            self.sp_metadata_xml = previous
            self._build_servers()
            raise SpMetadataError(f"SP metadata from {src} does not load: {exc}") from exc
        with open(os.path.join(self.workdir, "sp-metadata.xml"), "w") as f:
            f.write(xml)
        log.info("loaded SP metadata from %s: %s", src, sorted(self.known_sps()))

    # -- requests

    def parse_authn_request(self, saml_request, binding, relay_state, sigalg, signature):
        """-> dict with what the login form and the response need."""
        try:
            xml = Server.unravel(saml_request, binding, "request")
            peek = samlp.authn_request_from_string(xml)
        except Exception as exc:
            raise ValueError(f"SAMLRequest is not an AuthnRequest: {exc}") from exc
        if peek is None or peek.issuer is None or not (peek.issuer.text or "").strip():
            raise ValueError("AuthnRequest has no Issuer")
        sp = peek.issuer.text.strip()

        fetched = False
        if sp not in self.known_sps():
            self.load_sp_metadata()
            fetched = True
            if sp not in self.known_sps():
                raise ValueError(f"SP {sp!r} is not in the SP metadata ({sorted(self.known_sps())})")
        if binding == BINDING_HTTP_REDIRECT and signature:
            # pysaml2 checks a Redirect-binding signature only when want_authn_requests_signed
            # is on; here a signed request is checked, an unsigned one accepted.
            self.verify_redirect_signature(sp, saml_request, relay_state, sigalg, signature)
        while True:
            req = self.server.parse_authn_request(
                saml_request, binding, relay_state=relay_state, sigalg=sigalg, signature=signature
            )
            if req is None:
                raise ValueError("AuthnRequest did not verify")
            try:
                args = self.server.response_args(req.message, [BINDING_HTTP_POST])
                break
            except Exception as exc:
                if fetched:
                    raise ValueError(
                        f"no HTTP-POST AssertionConsumerService in the SP metadata matches the request: {exc}"
                    ) from exc
                # The SP may have been restarted with another ACS: read its metadata again once.
                self.load_sp_metadata()
                fetched = True
        policy = req.message.name_id_policy
        return {
            "sp": sp,
            "acs": args["destination"],
            "in_response_to": req.message.id,
            "relay_state": relay_state,
            "nameid_format": policy.format if policy is not None else None,
        }

    def verify_redirect_signature(self, sp, saml_request, relay_state, sigalg, signature):
        msg = {"SAMLRequest": saml_request, "Signature": signature, "SigAlg": sigalg or ""}
        if relay_state is not None:
            msg["RelayState"] = relay_state
        certs = self.server.metadata.certs(sp, "any", "signing")
        if not certs:
            raise ValueError("AuthnRequest is signed but the SP metadata has no signing certificate")
        try:
            ok = any(verify_redirect_signature(msg, self.server.sec.sec_backend, cert) for _, cert in certs)
        except Exception as exc:
            raise ValueError(f"AuthnRequest signature does not verify: {exc!r}") from exc
        if not ok:
            raise ValueError("AuthnRequest signature does not verify against the SP metadata certificate")

    # -- responses

    def _name_id(self, user, info):
        fmt = info["nameid_format"]
        # NameIDPolicy Format persistent -> persistent, emailAddress -> email, anything else
        # (none, unspecified, transient, ...) -> what the `nameid` knob says (default email).
        if fmt == NAMEID_FORMAT_PERSISTENT or (fmt != NAMEID_FORMAT_EMAILADDRESS and self.nameid == "persistent"):
            return saml.NameID(
                format=NAMEID_FORMAT_PERSISTENT,
                name_qualifier=self.server.config.entityid,
                sp_name_qualifier=info["sp"],
                text=user["uid"],
            )
        return saml.NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=user["email"])

    def success_response(self, username, info):
        user = self.users[username]
        mode = self.mode
        server = self.wrong_server if mode == "wrong_key" else self.server
        signed = mode != "unsigned"
        sign_assertion = signed and self.sign in ("assertion", "both")
        sign_response = signed and self.sign in ("response", "both")
        identity = {"email": [user["email"]], "displayName": [user["displayName"]]}
        if user.get("groups"):
            identity["groups"] = list(user["groups"])

        def mutate(a):
            cond = a.conditions
            scd = a.subject.subject_confirmation[0].subject_confirmation_data
            if mode == "expired":
                cond.not_before = saml_time(datetime.timedelta(hours=-2))
                cond.not_on_or_after = saml_time(datetime.timedelta(hours=-1))
                scd.not_on_or_after = saml_time(datetime.timedelta(hours=-1))
            elif mode == "not_yet_valid":
                cond.not_before = saml_time(datetime.timedelta(hours=1))
                cond.not_on_or_after = saml_time(datetime.timedelta(hours=2))
            elif mode == "wrong_audience":
                cond.audience_restriction[0].audience[0].text = WRONG_AUDIENCE
            elif mode == "wrong_recipient":
                scd.recipient = WRONG_RECIPIENT

        issuer = None
        if mode == "wrong_issuer":
            issuer = saml.Issuer(text=WRONG_ISSUER, format=NAMEID_FORMAT_ENTITY)
        server.mutate = mutate
        try:
            resp = server.create_authn_response(
                identity,
                info["in_response_to"],
                info["acs"],
                info["sp"],
                name_id=self._name_id(user, info),
                authn={
                    "class_ref": saml.AUTHN_PASSWORD_PROTECTED,
                    "authn_auth": self.server.config.entityid,
                },
                issuer=issuer,
                sign_assertion=sign_assertion,
                sign_response=sign_response,
                sign_alg=SIG_RSA_SHA1 if self.alg == "sha1" else SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA1 if self.alg == "sha1" else DIGEST_SHA256,
            )
        finally:
            server.mutate = None
        xml = resp if isinstance(resp, str) else str(resp)
        if mode == "tampered":
            xml, n = re.subn(
                r'(Name="email"[^>]*>\s*<(?:[\w.-]+:)?AttributeValue\b[^>]*>)[^<]*(<)',
                lambda m: m.group(1) + TAMPERED_EMAIL + m.group(2),
                xml,
                count=1,
            )
            if n != 1:
                raise RuntimeError("tampered mode: email attribute value not found in the response")
        return xml

    def cancel_response(self, info):
        server = self.wrong_server if self.mode == "wrong_key" else self.server
        resp = server.create_error_response(
            info["in_response_to"],
            info["acs"],
            (samlp.STATUS_AUTHN_FAILED, "the user cancelled the login"),
            sign=self.mode != "unsigned",
        )
        return resp if isinstance(resp, str) else str(resp)

    def post_page(self, xml, info):
        b64 = base64.b64encode(xml.encode("utf-8")).decode("ascii")
        rs = info["relay_state"]
        self.last = {
            "SAMLResponse": b64,
            "RelayState": rs,
            "acs": info["acs"],
            "mode": self.mode,
            "sign": self.sign,
        }
        relay = (
            f'<input type="hidden" name="RelayState" value="{html.escape(rs, quote=True)}">\n' if rs is not None else ""
        )
        return (
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Signing in…</title></head>\n"
            "<body onload=\"document.forms[0].submit()\">\n"
            f'<form id="saml-post" method="POST" action="{html.escape(info["acs"], quote=True)}">\n'
            f'<input type="hidden" name="SAMLResponse" value="{b64}">\n'
            f"{relay}"
            '<noscript><p>JavaScript is off: press Continue.</p></noscript>\n'
            '<button type="submit" id="continue">Continue</button>\n'
            "</form>\n</body></html>\n"
        )


# ---------------------------------------------------------------- HTML


def login_page(token, info, error=None, username=""):
    err = f'<p id="error" class="error" style="color:#b00">{html.escape(error)}</p>\n' if error else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Test IdP login</title></head>\n<body>\n"
        "<h1>Test SAML IdP</h1>\n"
        f"<p>Sign in to <code>{html.escape(info['sp'])}</code></p>\n"
        f"{err}"
        '<form id="login" method="POST" action="/sso/login">\n'
        f'<input type="hidden" name="token" value="{token}">\n'
        '<label for="username">Username</label> '
        f'<input type="text" id="username" name="username" value="{html.escape(username, quote=True)}" autocomplete="username"><br>\n'
        '<label for="password">Password</label> '
        '<input type="password" id="password" name="password" autocomplete="current-password"><br>\n'
        '<button type="submit" id="submit" name="action" value="login">Sign in</button>\n'
        '<button type="submit" id="cancel" name="action" value="cancel">Cancel</button>\n'
        "</form>\n</body></html>\n"
    )


# ---------------------------------------------------------------- WSGI


def read_form(environ):
    """Form fields of a POST (urlencoded or JSON) merged over the query string."""
    fields = {k: v[-1] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    if environ["REQUEST_METHOD"] == "POST":
        try:
            n = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            n = 0
        body = environ["wsgi.input"].read(n) if n > 0 else b""
        ctype = environ.get("CONTENT_TYPE", "")
        if ctype.startswith("application/json"):
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("JSON body must be an object")
            fields.update({k: str(v) for k, v in data.items()})
        else:
            fields.update(
                {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
            )
    return fields


def make_app(idp):
    def respond(start, status, body, ctype="text/html; charset=utf-8"):
        data = body.encode("utf-8")
        start(status, [("Content-Type", ctype), ("Content-Length", str(len(data))), ("Cache-Control", "no-store")])
        return [data]

    def json_resp(start, status, obj):
        return respond(start, status, json.dumps(obj) + "\n", "application/json")

    def app(environ, start):
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        try:
            with idp.lock:
                return route(environ, start, path, method)
        except Exception as exc:
            log.exception("error on %s %s", method, path)
            return respond(start, "500 Internal Server Error", f"<p>IdP error: {html.escape(str(exc))}</p>\n")

    def route(environ, start, path, method):
        if path == "/metadata" and method == "GET":
            return respond(start, "200 OK", idp.metadata_xml, "application/samlmetadata+xml")

        if path == "/sso" and method in ("GET", "POST"):
            f = read_form(environ)
            if "SAMLRequest" not in f:
                return respond(start, "400 Bad Request", "<p>missing SAMLRequest</p>\n")
            binding = BINDING_HTTP_REDIRECT if method == "GET" else BINDING_HTTP_POST
            try:
                info = idp.parse_authn_request(
                    f["SAMLRequest"], binding, f.get("RelayState"), f.get("SigAlg"), f.get("Signature")
                )
            except SpMetadataError as exc:
                return respond(start, "502 Bad Gateway", f"<p>{html.escape(str(exc))}</p>\n")
            except Exception as exc:
                log.warning("refused AuthnRequest: %s", exc)
                return respond(start, "400 Bad Request", f"<p>bad AuthnRequest: {html.escape(str(exc))}</p>\n")
            token = secrets.token_urlsafe(18)
            idp.pending[token] = info
            while len(idp.pending) > 1000:
                idp.pending.pop(next(iter(idp.pending)))
            return respond(start, "200 OK", login_page(token, info))

        if path == "/sso/login" and method == "POST":
            f = read_form(environ)
            info = idp.pending.get(f.get("token", ""))
            if info is None:
                return respond(start, "400 Bad Request", "<p>unknown or expired login (no such token)</p>\n")
            if f.get("action") == "cancel":
                return respond(start, "200 OK", idp.post_page(idp.cancel_response(info), info))
            username = f.get("username", "")
            user = idp.users.get(username)
            if user is None or not secrets.compare_digest(user["password"], f.get("password", "")):
                return respond(
                    start, "200 OK", login_page(f["token"], info, "Invalid username or password.", username)
                )
            return respond(start, "200 OK", idp.post_page(idp.success_response(username, info), info))

        if path == "/_test/mode":
            if method == "POST":
                try:
                    f = read_form(environ)
                except ValueError as exc:
                    return json_resp(start, "400 Bad Request", {"error": str(exc)})
                for key, choices in (
                    ("mode", MODES),
                    ("sign", SIGN_CHOICES),
                    ("nameid", NAMEID_CHOICES),
                    ("alg", ALG_CHOICES),
                ):
                    if key in f and f[key] not in choices:
                        return json_resp(start, "400 Bad Request", {"error": f"{key} must be one of {list(choices)}"})
                idp.mode = f.get("mode", idp.mode)
                idp.sign = f.get("sign", idp.sign)
                idp.nameid = f.get("nameid", idp.nameid)
                idp.alg = f.get("alg", idp.alg)
                log.info("test knobs: mode=%s sign=%s nameid=%s alg=%s", idp.mode, idp.sign, idp.nameid, idp.alg)
            elif method != "GET":
                return json_resp(start, "405 Method Not Allowed", {"error": "GET or POST"})
            return json_resp(
                start, "200 OK", {"mode": idp.mode, "sign": idp.sign, "nameid": idp.nameid, "alg": idp.alg}
            )

        if path == "/_test/last_response" and method == "GET":
            if idp.last is None:
                return json_resp(start, "404 Not Found", {"error": "no SAMLResponse sent yet"})
            return json_resp(start, "200 OK", idp.last)

        return respond(start, "404 Not Found", "<p>not found</p>\n")

    return app


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    # Threads so that an idle keep-alive or pre-connect socket (Chromium opens
    # them) cannot stall the only request loop; the app itself runs under one lock.
    daemon_threads = True
    allow_reuse_address = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("saml-idp: %s\n" % (fmt % args))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", required=True, help="working directory for the generated keys and metadata")
    p.add_argument("--port", required=True, type=int)
    p.add_argument("--sp-metadata", required=True, help="URL (http/https) or file of the SP metadata")
    p.add_argument("--users", default=os.path.join(HERE, "users.json"))
    a = p.parse_args()

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="saml-idp: %(levelname)s %(message)s")
    logging.getLogger("saml2").setLevel(logging.WARNING)
    os.makedirs(a.dir, exist_ok=True)
    with open(a.users, encoding="utf-8") as f:
        users = json.load(f)

    base = f"http://127.0.0.1:{a.port}"
    idp = Idp(base, os.path.abspath(a.dir), a.sp_metadata, users)
    httpd = make_server("127.0.0.1", a.port, make_app(idp), server_class=ThreadingWSGIServer, handler_class=QuietHandler)

    def on_term(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print("READY", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
