"""Self-test of the SAML test IdP, without mcpauth: this script is the SP.

It makes a throwaway SP (pysaml2 Saml2Client) whose ACS is on a loopback port
where nothing listens, serves that SP's metadata over HTTP only after the IdP
is up (the IdP must fetch it lazily), logs in through the IdP's HTML form and
checks every response with pysaml2's own SP validation (and the normal one
also with `xmlsec1 --verify` against the IdP metadata certificate).

    .venv-idp-saml/bin/python tests/idp/saml/selftest.py      (selftest.sh does this)
"""

import base64
import html.parser
import http.server as httpserver
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings

# pysaml2 7.5.5 touches cryptography's deprecated CFB name at import: harmless, silence it
warnings.filterwarnings("ignore", message="CFB has been moved")

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.response import StatusAuthnFailed
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_PERSISTENT
from saml2.sigver import get_xmlsec_binary

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import idp as idp_module  # noqa: E402  (for make_keypair only)

RESULTS = []


def check(name, cond, detail=""):
    RESULTS.append((name, bool(cond)))
    print(f"{'ok  ' if cond else 'FAIL'} {name}{(': ' + detail) if detail and not cond else ''}", flush=True)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def http(method, url, data=None, json_body=None):
    headers = {}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif data is not None:
        body = urllib.parse.urlencode(data).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Forms(html.parser.HTMLParser):
    """The forms of a page: action, method, inputs (name -> value), buttons."""

    def __init__(self, text):
        super().__init__()
        self.forms = []
        self.text = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": a.get("method"), "inputs": {}, "buttons": []})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append((a.get("name"), a.get("value"), a.get("type")))

    def handle_data(self, data):
        self.text.append(data)


def serve_sp_metadata(port, xml):
    class H(httpserver.BaseHTTPRequestHandler):
        def do_GET(self):
            b = xml.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)

        def log_message(self, *a):
            pass

    srv = httpserver.ThreadingHTTPServer(("127.0.0.1", port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def main():
    work = tempfile.mkdtemp(prefix="idp-saml-selftest-")
    idp_port, acs_port, md_port = free_port(), free_port(), free_port()
    idp_base = f"http://127.0.0.1:{idp_port}"
    idp_entity = f"{idp_base}/metadata"
    sp_entity = f"http://127.0.0.1:{acs_port}/saml/metadata"
    acs = f"http://127.0.0.1:{acs_port}/saml/acs"
    xmlsec = get_xmlsec_binary(["/usr/bin", "/usr/local/bin"])
    sp_key, sp_cert = os.path.join(work, "sp-key.pem"), os.path.join(work, "sp-cert.pem")
    idp_module.make_keypair(sp_key, sp_cert, "selftest SP")

    def sp_config(idp_md=None, sign_requests=False):
        c = {
            "entityid": sp_entity,
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
                    "want_response_signed": False,
                    "want_assertions_signed": False,
                    "want_assertions_or_response_signed": True,
                    "authn_requests_signed": sign_requests,
                    "allow_unsolicited": False,
                    "name_id_format": NAMEID_FORMAT_EMAILADDRESS,
                },
            },
            "key_file": sp_key,
            "cert_file": sp_cert,
            "xmlsec_binary": xmlsec,
            "attribute_map_dir": os.path.join(HERE, "attributemaps"),
        }
        if idp_md:
            c["metadata"] = {"inline": [idp_md]}
        cfg = SPConfig()
        cfg.load(c)
        return cfg

    sp_md = str(entity_descriptor(sp_config()))

    # ---- start the IdP; the SP metadata URL does not answer yet
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [os.path.join(HERE, "run"), "--dir", work, "--port", str(idp_port),
         "--sp-metadata", f"http://127.0.0.1:{md_port}/saml/metadata"],
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    check("run prints READY", line == "READY\n", repr(line))
    print(f"     (READY after {time.monotonic() - t0:.2f} s)")
    for f in ("idp-key.pem", "idp-cert.pem", "wrong-key.pem", "wrong-cert.pem", "idp-metadata.xml"):
        check(f"{f} written in --dir", os.path.exists(os.path.join(work, f)))

    md_srv = None
    try:
        st, idp_md = http("GET", f"{idp_base}/metadata")
        check("GET /metadata 200", st == 200)
        check("metadata has entity id, signing cert, Redirect+POST SSO",
              f'entityID="{idp_entity}"' in idp_md and 'use="signing"' in idp_md
              and BINDING_HTTP_REDIRECT in idp_md and BINDING_HTTP_POST in idp_md)
        cert_b64 = re.search(r"X509Certificate>([^<]+)<", idp_md).group(1)
        cert_pem_file = os.path.join(work, "idp-cert.pem")
        with open(cert_pem_file) as f:
            check("metadata cert == idp-cert.pem", "".join(cert_b64.split()) in "".join(f.read().splitlines()))

        client = Saml2Client(sp_config(idp_md))
        signing_client = Saml2Client(sp_config(idp_md, sign_requests=True))

        def start_login(relay_state="rs-42/ä&x=1", cl=client, nameid_format=NAMEID_FORMAT_EMAILADDRESS):
            reqid, info = cl.prepare_for_authenticate(
                entityid=idp_entity, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT,
                nameid_format=nameid_format,
            )
            loc = dict(info["headers"])["Location"]
            st, page = http("GET", loc)
            return reqid, st, page

        def login(username, password, relay_state="rs-42/ä&x=1", action=None, cl=client,
                  nameid_format=NAMEID_FORMAT_EMAILADDRESS):
            reqid, st, page = start_login(relay_state, cl, nameid_format)
            assert st == 200, (st, page)
            form = Forms(page).forms[0]
            fields = dict(form["inputs"], username=username, password=password)
            if action:
                fields["action"] = action
            st, page = http("POST", urllib.parse.urljoin(idp_base, form["action"]), fields)
            return reqid, st, page

        def post_form(page):
            forms = Forms(page).forms
            return forms[0] if forms and "SAMLResponse" in forms[0]["inputs"] else None

        def verify(reqid, b64):
            """pysaml2 SP validation -> (AuthnResponse or None, exception or None)"""
            try:
                # conv_info: without it pysaml2 skips the SubjectConfirmationData Recipient check
                r = client.parse_authn_request_response(
                    b64, BINDING_HTTP_POST, outstanding={reqid: "/"}, conv_info={"entity_id": sp_entity}
                )
                return r, None
            except Exception as exc:  # noqa: BLE001
                return None, exc

        def set_mode(**kw):
            st, body = http("POST", f"{idp_base}/_test/mode", data=kw)
            assert st == 200, body
            return json.loads(body)

        # ---- SP metadata not reachable yet -> clear error, and the IdP keeps running
        reqid, st, page = start_login()
        check("AuthnRequest before SP metadata is served -> 502", st == 502, f"{st} {page[:200]}")
        md_srv = serve_sp_metadata(md_port, sp_md)

        # ---- login form
        reqid, st, page = start_login()
        forms = Forms(page).forms
        check("GET /sso (Redirect binding) -> login form", st == 200 and forms and
              {"username", "password", "token"} <= set(forms[0]["inputs"]), page[:300])
        check("form has Sign in and Cancel buttons",
              ("action", "login", "submit") in forms[0]["buttons"] and ("action", "cancel", "submit") in forms[0]["buttons"])
        check("login page has no <script>", "<script" not in page)

        _, st, page = login("alice", "nope")
        p = Forms(page)
        check("wrong password -> form again with an error", st == 200 and p.forms and "token" in p.forms[0]["inputs"]
              and "Invalid username or password" in page)

        # ---- normal mode, default: assertion signed
        reqid, st, page = login("alice", "alice-password")
        pf = post_form(page)
        ok = check("right password -> auto-post form to the ACS", st == 200 and pf and pf["action"] == acs
                   and pf["method"].upper() == "POST" and ("continue" in page.lower()), page[:300])
        check("RelayState kept (non-ASCII, &, / intact)", pf and pf["inputs"].get("RelayState") == "rs-42/ä&x=1")
        b64 = pf["inputs"]["SAMLResponse"]
        xml = base64.b64decode(b64).decode()
        with open(os.path.join(work, "normal-response.xml"), "w") as f:
            f.write(xml)
        r, exc = verify(reqid, b64)
        check("normal: pysaml2 SP accepts (assertion signed)", r is not None, repr(exc))
        if r is not None:
            ava = r.ava
            check("attributes email/displayName/groups",
                  ava.get("email") == ["alice@example.test"] and ava.get("displayName") == ["Alice Liddell"]
                  and sorted(ava.get("groups", [])) == ["admins", "engineers"], repr(ava))
            check("NameID emailAddress = alice@example.test",
                  r.name_id.format == NAMEID_FORMAT_EMAILADDRESS and r.name_id.text == "alice@example.test")
            check("assertion signed, response not", r.assertion.signature is not None and r.response.signature is None)
            check("InResponseTo = request id", r.in_response_to == reqid)
        st, body = http("GET", f"{idp_base}/_test/last_response")
        last = json.loads(body)
        check("/_test/last_response returns that SAMLResponse+RelayState",
              st == 200 and last["SAMLResponse"] == b64 and last["RelayState"] == "rs-42/ä&x=1")

        # xmlsec1 against the metadata certificate
        def xmlsec_verify(xml_file):
            p = subprocess.run(
                [xmlsec, "--verify", "--pubkey-cert-pem", cert_pem_file, "--enabled-key-data", "key-name",
                 "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                 "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response", xml_file],
                capture_output=True, text=True,
            )
            return p.returncode == 0, p.stderr

        ok, err = xmlsec_verify(os.path.join(work, "normal-response.xml"))
        check("normal: xmlsec1 --verify with the metadata cert", ok, err[-500:])
        check("normal: RSA-SHA256 signature, SHA-256 digest, exclusive c14n",
              'SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"' in xml
              and 'DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"' in xml
              and 'CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"' in xml
              and "rsa-sha1" not in xml and "xmldsig#sha1" not in xml)

        # ---- bob and carol
        reqid, _, page = login("bob", "bob-password")
        r, exc = verify(reqid, post_form(page)["inputs"]["SAMLResponse"])
        check("bob: groups = [engineers]", r is not None and r.ava.get("groups") == ["engineers"], repr(exc or r.ava))
        reqid, _, page = login("carol", "carol-password")
        r, exc = verify(reqid, post_form(page)["inputs"]["SAMLResponse"])
        check("carol: no groups attribute", r is not None and "groups" not in r.ava
              and r.ava.get("email") == ["carol@example.test"], repr(exc or r.ava))

        # ---- persistent NameID (requested by NameIDPolicy)
        reqid, _, page = login("alice", "alice-password", nameid_format=NAMEID_FORMAT_PERSISTENT)
        r, exc = verify(reqid, post_form(page)["inputs"]["SAMLResponse"])
        check("NameIDPolicy persistent -> persistent uid", r is not None and r.name_id.format == NAMEID_FORMAT_PERSISTENT
              and r.name_id.text == "5b0f2c1e-7a7d-4d0e-9a51-000000000001", repr(exc or r.name_id))

        # ---- signed AuthnRequest over HTTP-Redirect
        reqid, st, page = login("alice", "alice-password", cl=signing_client)
        check("signed Redirect AuthnRequest accepted", st == 200 and post_form(page) is not None, page[:300])

        _, info = signing_client.prepare_for_authenticate(entityid=idp_entity, relay_state="x",
                                                          binding=BINDING_HTTP_REDIRECT)
        u = urllib.parse.urlsplit(dict(info["headers"])["Location"])
        q = urllib.parse.parse_qs(u.query)
        sig = base64.b64decode(q["Signature"][0])
        q["Signature"] = [base64.b64encode(bytes([sig[0] ^ 1]) + sig[1:]).decode()]
        st, page = http("GET", urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q, doseq=True))))
        check("Redirect AuthnRequest with a bad signature -> 400", st == 400, f"{st} {page[:200]}")

        # ---- sign modes
        for sign, want_a, want_r in (("response", False, True), ("both", True, True)):
            set_mode(sign=sign)
            reqid, _, page = login("alice", "alice-password")
            b64 = post_form(page)["inputs"]["SAMLResponse"]
            r, exc = verify(reqid, b64)
            check(f"sign={sign}: pysaml2 SP accepts", r is not None, repr(exc))
            if r is not None:
                check(f"sign={sign}: signatures where expected",
                      (r.assertion.signature is not None) == want_a and (r.response.signature is not None) == want_r)
            if sign == "response":
                f = os.path.join(work, "response-signed.xml")
                with open(f, "w") as fh:
                    fh.write(base64.b64decode(b64).decode())
                ok, err = xmlsec_verify(f)
                check("sign=response: xmlsec1 --verify with the metadata cert", ok, err[-500:])
        set_mode(sign="assertion")

        # ---- cancel
        reqid, st, page = login("", "", action="cancel")
        pf = post_form(page)
        b64 = pf["inputs"]["SAMLResponse"]
        cancel_xml = base64.b64decode(b64).decode()
        r, exc = verify(reqid, b64)
        check("Cancel -> Responder/AuthnFailed (pysaml2 StatusAuthnFailed)", isinstance(exc, StatusAuthnFailed), repr(exc))
        check("Cancel keeps RelayState", pf["inputs"].get("RelayState") == "rs-42/ä&x=1")
        check("Cancel response is signed (RSA-SHA256)", "SignatureValue" in cancel_xml and "rsa-sha256" in cancel_xml)

        # ---- failure modes: pysaml2's SP must refuse each
        for mode in ("wrong_key", "unsigned", "expired", "not_yet_valid", "wrong_audience",
                     "wrong_recipient", "wrong_issuer", "tampered"):
            set_mode(mode=mode)
            reqid, st, page = login("alice", "alice-password")
            pf = post_form(page)
            if not check(f"{mode}: IdP still answers with a POST form", st == 200 and pf, page[:300]):
                continue
            b64 = pf["inputs"]["SAMLResponse"]
            mxml = base64.b64decode(b64).decode()
            with open(os.path.join(work, f"{mode}-response.xml"), "w") as f:
                f.write(mxml)
            r, exc = verify(reqid, b64)
            check(f"{mode}: pysaml2 SP rejects", r is None, "accepted!")
            print(f"     ({mode}: {type(exc).__name__ if exc else 'None returned'}: {str(exc)[:120]})")
            if mode == "wrong_key":
                ok, _ = xmlsec_verify(os.path.join(work, f"{mode}-response.xml"))
                check("wrong_key: xmlsec1 --verify with the metadata cert fails", not ok)
            if mode == "tampered":
                ok, _ = xmlsec_verify(os.path.join(work, f"{mode}-response.xml"))
                check("tampered: xmlsec1 --verify fails", not ok)
                check("tampered: email value altered", "mallory@example.test" in mxml)
            if mode == "unsigned":
                check("unsigned: no Signature element", "Signature" not in mxml)
        set_mode(mode="normal")

        # ---- bad knob values
        st, _ = http("POST", f"{idp_base}/_test/mode", json_body={"mode": "bogus"})
        check("POST /_test/mode bogus -> 400", st == 400)
        st, body = http("POST", f"{idp_base}/_test/mode", json_body={"mode": "expired"})
        check("POST /_test/mode JSON body works", st == 200 and json.loads(body)["mode"] == "expired")
        set_mode(mode="normal")
        reqid, _, page = login("alice", "alice-password")
        r, exc = verify(reqid, post_form(page)["inputs"]["SAMLResponse"])
        check("back to normal: accepted", r is not None, repr(exc))

        # ---- an SP that is not in the SP metadata (even after a refetch) -> 400
        other = sp_config(idp_md)
        other.entityid = "http://127.0.0.1:9/other-sp/metadata"
        _, info = Saml2Client(other).prepare_for_authenticate(entityid=idp_entity, binding=BINDING_HTTP_REDIRECT)
        st, page = http("GET", dict(info["headers"])["Location"])
        check("AuthnRequest from an SP not in the metadata -> 400", st == 400 and "not in the SP metadata" in page,
              f"{st} {page[:200]}")

        # ---- HTTP-POST binding of the AuthnRequest
        reqid, info = client.prepare_for_authenticate(entityid=idp_entity, relay_state="rs-post",
                                                      binding=BINDING_HTTP_POST)
        p = Forms(info["data"]).forms[0]
        st, page = http("POST", p["action"], p["inputs"])
        check("POST /sso (POST binding) -> login form", st == 200 and "token" in Forms(page).forms[0]["inputs"])
    finally:
        t1 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        dt = time.monotonic() - t1
        check("SIGTERM -> exit within 1 s", dt < 1.0 and rc is not None, f"{dt:.2f}s rc={rc}")
        print(f"     (exit after {dt:.2f} s, rc={rc})")
        if md_srv:
            md_srv.shutdown()

    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print(f"work dir: {work}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
