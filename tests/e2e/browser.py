"""A "person without JavaScript": a tiny headless browser for HTML login/consent flows.

It knows nothing about mcpauth's paths or field names. Starting from an authorization URL it

* follows redirects by hand (301/302/303 become GET; 307/308 repeat method and body),
* keeps cookies like a browser does on a loopback origin (``Secure`` cookies are sent over
  ``http://127.0.0.1`` / ``http://localhost``, which browsers treat as secure contexts),
* on an HTML page takes the form to submit (the first ``<form>``, unless a later one is
  obviously the login or consent form), keeps every ``<input>`` name/value (hidden CSRF
  tokens included), fills ``username``/``password``, and presses the submit button
  ``decision=allow`` when there is one,
* stops as soon as a redirect (or a form action) points at the client's callback URL and
  returns the ``code``, ``state`` and ``iss`` parameters found there.

With ``provider="ID"`` it signs in through an upstream identity provider instead: on the first
page offering a link ``<a id="provider-ID" href=...>`` it follows that link (once) rather than
submitting the local login form, and then fills the provider's own login and consent forms by
the same rules (``username``/``password``, the ``decision=allow`` button).

Only ``httpx`` and the standard library are used.
"""

from __future__ import annotations

import http.cookiejar
import ipaddress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
MAX_STEPS = 25


class BrowserError(Exception):
    """The flow did not reach the callback; the message says where it stopped."""


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LoopbackSecurePolicy(http.cookiejar.DefaultCookiePolicy):
    """Like browsers: http://localhost and loopback IPs count as secure for `Secure` cookies."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        if cookie.secure and _is_loopback(urlsplit(request.get_full_url()).hostname):
            return True
        return super().return_ok_secure(cookie, request)


@dataclass
class Form:
    action: str | None
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # successful controls except submit buttons
    submits: list[tuple[str, str]] = field(default_factory=list)  # named submit buttons (name, value)
    has_password: bool = False
    password_names: set[str] = field(default_factory=set)
    _select: str | None = None  # name of the <select> being parsed
    _select_value: str | None = None
    _select_first: str | None = None
    _textarea: str | None = None
    _textarea_text: str = ""


class FormParser(HTMLParser):
    """Collects every <form> with its controls (inputs, buttons, selects, textareas)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._current = Form(action=a.get("action"), method=(a.get("method") or "get").lower())
            self.forms.append(self._current)
            return
        form = self._current
        if form is None:
            return
        if tag == "input":
            itype = (a.get("type") or "text").lower()
            name = a.get("name")
            if itype == "password":
                form.has_password = True
                if name:
                    form.password_names.add(name)
            if not name or "disabled" in a:
                return
            value = a.get("value", "")
            if itype in ("submit", "image"):
                form.submits.append((name, value))
            elif itype in ("checkbox", "radio"):
                if "checked" in a:
                    form.fields.append((name, value or "on"))
            elif itype in ("button", "reset", "file"):
                return
            else:
                form.fields.append((name, value))
        elif tag == "button":
            btype = (a.get("type") or "submit").lower()
            if btype == "submit" and a.get("name") and "disabled" not in a:
                form.submits.append((a["name"], a.get("value", "")))
        elif tag == "select" and a.get("name"):
            form._select, form._select_value, form._select_first = a["name"], None, None
        elif tag == "option" and form._select is not None:
            value = a.get("value", "")
            if form._select_first is None:
                form._select_first = value
            if "selected" in a:
                form._select_value = value
        elif tag == "textarea" and a.get("name"):
            form._textarea, form._textarea_text = a["name"], ""

    def handle_data(self, data: str) -> None:
        if self._current is not None and self._current._textarea is not None:
            self._current._textarea_text += data

    def handle_endtag(self, tag: str) -> None:
        form = self._current
        if form is None:
            return
        if tag == "form":
            self._current = None
        elif tag == "select" and form._select is not None:
            value = form._select_value if form._select_value is not None else form._select_first
            if value is not None:
                form.fields.append((form._select, value))
            form._select = None
        elif tag == "textarea" and form._textarea is not None:
            form.fields.append((form._textarea, form._textarea_text))
            form._textarea = None


def parse_forms(html: str) -> list[Form]:
    parser = FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


class LinkParser(HTMLParser):
    """The ``href`` of every ``<a>`` that has an ``id``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v for k, v in attrs}
        if tag == "a" and a.get("id") and a.get("href"):
            self.links.setdefault(str(a["id"]), str(a["href"]))


def parse_links(html: str) -> dict[str, str]:
    parser = LinkParser()
    parser.feed(html)
    parser.close()
    return parser.links


@dataclass
class AuthorizationResponse:
    code: str | None
    state: str | None
    iss: str | None
    url: str  # the callback URL as the browser saw it


class HeadlessBrowser:
    """Drives an authorization URL to the client's callback, logging in and consenting."""

    def __init__(
        self,
        callback_url: str,
        username: str,
        password: str,
        *,
        decision: str = "allow",
        provider: str | None = None,
        timeout: float = 30.0,
        verbose: bool = False,
    ) -> None:
        self.callback = urlsplit(callback_url)
        self.provider = provider  # sign in with the upstream provider of this id (see the module doc)
        self.username = username
        self.password = password
        self.decision = decision
        self.timeout = timeout
        self.verbose = verbose
        self.invocations = 0
        self.steps: list[str] = []  # "METHOD url -> status" lines of the last run (for diagnostics)
        self.jar = http.cookiejar.CookieJar(policy=LoopbackSecurePolicy())

    # -- helpers -------------------------------------------------------------------------
    def _log(self, line: str) -> None:
        self.steps.append(line)
        if self.verbose:
            print(f"[browser] {line}", flush=True)

    def _is_callback(self, url: str) -> bool:
        u = urlsplit(url)
        c = self.callback
        return (u.scheme, (u.hostname or "").lower(), u.port, u.path or "/") == (
            c.scheme,
            (c.hostname or "").lower(),
            c.port,
            c.path or "/",
        )

    def _choose_form(self, forms: list[Form]) -> Form:
        for form in forms:
            if form.has_password or any(n == "decision" and v == self.decision for n, v in form.submits):
                return form
        return forms[0]

    def _fill(self, form: Form) -> list[tuple[str, str]]:
        data: list[tuple[str, str]] = []
        for name, value in form.fields:
            lname = name.lower()
            if lname in ("username", "user", "login", "email"):
                value = self.username
            elif lname == "password" or name in form.password_names:
                value = self.password
            data.append((name, value))
        if form.submits:
            chosen = next((s for s in form.submits if s == ("decision", self.decision)), None)
            if chosen is None and any(n == "decision" for n, _ in form.submits):
                raise BrowserError(f"consent form offers no decision={self.decision!r} button: {form.submits}")
            data.append(chosen or form.submits[0])
        return data

    def _result_from(self, url: str) -> AuthorizationResponse:
        q = parse_qs(urlsplit(url).query, keep_blank_values=True)

        def one(key: str) -> str | None:
            vals = q.get(key)
            return vals[0] if vals else None

        if one("error") is not None:
            raise BrowserError(
                f"authorization server redirected to the callback with error={one('error')!r} "
                f"error_description={one('error_description')!r} (url {url})"
            )
        return AuthorizationResponse(code=one("code"), state=one("state"), iss=one("iss"), url=url)

    # -- the walk -------------------------------------------------------------------------
    async def authorize(self, authorization_url: str) -> AuthorizationResponse:
        self.invocations += 1
        self.steps = []
        method, url, body = "GET", authorization_url, None
        logins = 0
        provider_followed = False
        # httpx copies a client's cookie jar into a default-policy jar for every request, which
        # drops Secure cookies on http://127.0.0.1; so the client itself keeps no cookies
        # (its jar refuses all) and `_send` applies our browser-like jar by hand.
        refuse_all = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        async with httpx.AsyncClient(
            cookies=refuse_all, follow_redirects=False, timeout=self.timeout, headers={"Accept": "text/html"}
        ) as client:
            for _ in range(MAX_STEPS):
                if self._is_callback(url):
                    self._log(f"{method} {url} (callback reached)")
                    return self._result_from(url)
                request = client.build_request(
                    method,
                    url,
                    content=urlencode(body).encode() if body is not None else None,
                    headers={"Content-Type": "application/x-www-form-urlencoded"} if body is not None else None,
                )
                httpx.Cookies(self.jar).set_cookie_header(request)
                resp = await client.send(request)
                httpx.Cookies(self.jar).extract_cookies(resp)
                self._log(f"{method} {url} -> {resp.status_code}")
                if resp.status_code in REDIRECT_STATUSES:
                    location = resp.headers.get("location")
                    if not location:
                        raise BrowserError(f"{resp.status_code} without Location from {url}")
                    url = urljoin(str(resp.url), location)
                    if resp.status_code in (307, 308):
                        continue  # same method and body
                    method, body = "GET", None
                    continue
                if resp.status_code != 200:
                    raise BrowserError(
                        f"{method} {resp.url} answered {resp.status_code}: {resp.text[:500]!r}\nsteps:\n  "
                        + "\n  ".join(self.steps)
                    )
                ctype = resp.headers.get("content-type", "")
                if "html" not in ctype:
                    raise BrowserError(f"{resp.url} answered 200 with {ctype!r}, not HTML: {resp.text[:300]!r}")
                if self.provider is not None:
                    href = parse_links(resp.text).get(f"provider-{self.provider}")
                    if href is not None:
                        if provider_followed:
                            raise BrowserError(
                                f"the sign-in page came back after signing in with {self.provider!r} at {resp.url}: "
                                f"{resp.text[:500]!r}\nsteps:\n  " + "\n  ".join(self.steps)
                            )
                        provider_followed = True
                        method, url, body = "GET", urljoin(str(resp.url), href), None
                        self._log(f"  link provider-{self.provider} -> {url}")
                        continue
                    if not provider_followed:
                        raise BrowserError(
                            f"page {resp.url} offers no link id=provider-{self.provider}: {resp.text[:800]!r}"
                        )
                forms = parse_forms(resp.text)
                if not forms:
                    raise BrowserError(f"page {resp.url} has no <form>: {resp.text[:800]!r}")
                form = self._choose_form(forms)
                if form.has_password:
                    logins += 1
                    if logins > 1:
                        raise BrowserError(
                            f"the login form came back after submitting credentials (wrong password, CSRF "
                            f"cookie/token refused, or session cookie not set?) at {resp.url}: "
                            f"{resp.text[:500]!r}\nsteps:\n  " + "\n  ".join(self.steps)
                        )
                data = self._fill(form)
                action = urljoin(str(resp.url), form.action) if form.action else str(resp.url)
                action = urlunsplit(urlsplit(action)._replace(fragment=""))
                if self._is_callback(action):  # response_mode=form_post style
                    self._log(f"form posts to the callback {action}")
                    fields = dict(data)
                    if "error" in fields:
                        raise BrowserError(f"form_post carries error {fields}")
                    return AuthorizationResponse(
                        code=fields.get("code"), state=fields.get("state"), iss=fields.get("iss"), url=action
                    )
                shown = [(n, "***" if n.lower() == "password" else v) for n, v in data]
                self._log(f"  form {form.method.upper()} {action} fields={shown}")
                if form.method == "post":
                    method, url, body = "POST", action, data
                else:
                    parts = urlsplit(action)
                    method, url, body = "GET", urlunsplit(parts._replace(query=urlencode(data))), None
            raise BrowserError(f"no callback after {MAX_STEPS} steps:\n  " + "\n  ".join(self.steps))
