// Self-test of the upstream OIDC provider (./run), with Node's standard library only: drives
// it the way a relying party and a browser without JavaScript would (forms, cookies,
// redirects), and checks every test mode. Started by selftest.sh; exits non-zero on failure.

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SECRET = 'mcpauth-upstream-secret';
const SCOPE = 'openid email profile groups';

let failures = 0;
let checks = 0;
function check(condition, what, detail) {
  checks += 1;
  if (condition) {
    process.stdout.write(`ok   ${what}\n`);
  } else {
    failures += 1;
    process.stdout.write(`FAIL ${what}${detail === undefined ? '' : `: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}\n`);
  }
  return condition;
}
function must(condition, what, detail) {
  if (!check(condition, what, detail)) throw new Error(`cannot go on after: ${what}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------
// a cookie jar (one host: 127.0.0.1; RFC 6265 path matching and expiry, enough for this)

class Jar {
  #cookies = new Map(); // `${name};${path}` -> { name, value, path }

  store(res, url) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let cpath = new URL(url).pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.toLowerCase();
        if (key === 'path') cpath = v || '/';
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
      }
      const id = `${name};${cpath}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path: cpath, attrs: attrs.map((a) => a.toLowerCase()) });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    const matching = [...this.#cookies.values()].filter((c) => pathname === c.path
      || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  all() { return [...this.#cookies.values()]; }
}

async function request(jar, url, { method = 'GET', headers = {}, body } = {}) {
  const h = { ...headers };
  const cookie = jar?.header(url);
  if (cookie) h.Cookie = cookie;
  const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
  jar?.store(res, url);
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, url };
}

// ---------------------------------------------------------------------------------------
// forms, the way a client without JavaScript sees them

function attrsOf(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = (m[2] ?? m[3] ?? m[4] ?? '')
      .replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  return attrs;
}

function parseForms(html, pageUrl) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const a = attrsOf(m[1]);
    const fields = [];
    for (const f of m[2].matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const fa = attrsOf(f[2]);
      fields.push({ tag: f[1].toLowerCase(), type: (fa.type ?? (f[1].toLowerCase() === 'button' ? 'submit' : 'text')).toLowerCase(), name: fa.name, value: fa.value ?? '' });
    }
    forms.push({
      id: a.id, method: (a.method ?? 'get').toUpperCase(), action: new URL(a.action ?? pageUrl, pageUrl).href, fields,
    });
  }
  return forms;
}

async function submit(jar, form, values = {}) {
  const body = new URLSearchParams();
  for (const f of form.fields) {
    if (!f.name || f.tag === 'button' || f.type === 'submit') continue;
    body.set(f.name, values[f.name] ?? f.value);
  }
  const submitter = form.fields.find((f) => f.type === 'submit' && f.name);
  if (submitter) body.set(submitter.name, submitter.value);
  return request(jar, form.action, {
    method: form.method,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  });
}

// ---------------------------------------------------------------------------------------
// the relying party's side

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function decodeJwt(jwt) {
  const [h, p, s] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url')),
    payload: JSON.parse(Buffer.from(p, 'base64url')),
    input: `${h}.${p}`,
    signature: Buffer.from(s ?? '', 'base64url'),
  };
}

function verifyJwt(jwt, jwks) {
  const { header, input, signature } = decodeJwt(jwt);
  if (!['RS256', 'ES256'].includes(header.alg)) return false;
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk || (jwk.alg && jwk.alg !== header.alg)) return false;
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
  return header.alg === 'RS256'
    ? crypto.verify('sha256', Buffer.from(input), key, signature)
    : crypto.verify('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }, signature);
}

class Rp {
  constructor(issuer, discovery, redirectUri) {
    this.issuer = issuer;
    this.discovery = discovery;
    this.redirectUri = redirectUri;
  }

  // Runs the authorization request and the pages it leads to, up to the redirect to
  // redirect_uri. `login` = {username, password}; `decision` = allow | deny.
  async authorize(jar, {
    clientId = 'mcpauth', login, decision = 'allow', scope = SCOPE, extra = {}, pkce = true, trace = [],
  } = {}) {
    const state = b64url(crypto.randomBytes(12));
    const nonce = b64url(crypto.randomBytes(12));
    const verifier = b64url(crypto.randomBytes(32));
    const params = new URLSearchParams({
      client_id: clientId, redirect_uri: this.redirectUri, response_type: 'code', scope, state, nonce, ...extra,
    });
    if (pkce) {
      params.set('code_challenge', crypto.hash('sha256', verifier, 'base64url'));
      params.set('code_challenge_method', 'S256');
    }
    let res = await request(jar, `${this.discovery.authorization_endpoint}?${params}`);
    for (let step = 0; step < 12; step += 1) {
      if (res.status >= 300 && res.status < 400) {
        const location = new URL(res.headers.get('location'), res.url).href;
        trace.push(`${res.status} -> ${location}`);
        if (location.startsWith(this.redirectUri)) {
          const q = new URL(location).searchParams;
          return {
            location, params: Object.fromEntries(q), state, nonce, verifier, trace,
          };
        }
        res = await request(jar, location);
        continue;
      }
      if (res.status !== 200) return { failed: res, trace };
      const forms = parseForms(res.text, res.url);
      trace.push(`200 ${res.url} forms ${forms.map((f) => f.id).join(',')}`);
      const loginForm = forms.find((f) => f.fields.some((x) => x.type === 'password'));
      if (loginForm) {
        if (!login) return {
          page: res, forms, state, nonce, verifier, trace,
        };
        const page = res;
        res = await submit(jar, loginForm, login);
        if (res.status === 200 && parseForms(res.text, res.url).some((f) => f.id === 'login')) {
          return {
            loginRejected: res, firstPage: page, state, nonce, verifier, trace,
          };
        }
        continue;
      }
      let chosen = forms.find((f) => f.id === decision);
      // a page with one other form: oidc-provider's auto-submitted (JavaScript, with a
      // <noscript> button) form_post, e.g. the sign-out of the previous account when
      // another one signs in with the same cookies; a browser without JS clicks it
      if (!chosen && forms.length === 1 && !['allow', 'deny', 'login'].includes(forms[0].id)) [chosen] = forms;
      if (!chosen) return { page: res, forms, trace };
      trace.push(`POST ${chosen.action}`);
      res = await submit(jar, chosen);
    }
    return { failed: res, trace };
  }

  async token(code, verifier, { clientId = 'mcpauth', auth = 'basic' } = {}) {
    const body = new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: this.redirectUri, code_verifier: verifier,
    });
    const headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (auth === 'basic') {
      headers.Authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(SECRET)}`).toString('base64')}`;
    } else {
      body.set('client_id', clientId);
      body.set('client_secret', SECRET);
    }
    const res = await fetch(this.discovery.token_endpoint, { method: 'POST', headers, body });
    return { status: res.status, json: await res.json() };
  }

  async jwks() {
    return (await fetch(this.discovery.jwks_uri)).json();
  }

  // the whole login for one user, returning the token response and the request's nonce
  async login(jar, opts = {}) {
    const r = await this.authorize(jar, opts);
    if (!r.params?.code) return { error: r };
    const t = await this.token(r.params.code, r.verifier, opts);
    return { ...r, tokens: t.json, tokenStatus: t.status };
  }
}

async function setMode(issuer, mode, extra = {}) {
  const res = await fetch(`${issuer}/_test/mode`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ mode, ...extra }),
  });
  return { status: res.status, json: await res.json() };
}

// ---------------------------------------------------------------------------------------

// --alg ES256, and clients and accounts from files a test writes (redirect_uris in the file)
async function secondInstance(dir) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  const clientsFile = path.join(dir, 'clients.json');
  const accountsFile = path.join(dir, 'accounts.json');
  fs.writeFileSync(clientsFile, JSON.stringify({
    clients: [{
      client_id: 'mcpauth', client_secret: SECRET, grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [redirectUri],
    }],
  }));
  fs.writeFileSync(accountsFile, JSON.stringify([{
    username: 'dave', password: 'pw', sub: 'u-dave', email: 'dave@example.test', email_verified: false, groups: [],
  }]));
  const child = spawn(path.join(HERE, 'run'), ['--port', String(port), '--alg', 'ES256', '--clients', clientsFile, '--accounts', accountsFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('second instance: no READY within 30 s')), 30_000);
      child.stdout.on('data', (d) => { out += d; if (out.includes('READY\n')) { clearTimeout(timer); resolve(); } });
      child.on('exit', (code) => reject(new Error(`second instance exited (${code}) before READY`)));
    });
    const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
    const rp = new Rp(issuer, discovery, redirectUri);
    const r = await rp.login(new Jar(), { login: { username: 'dave', password: 'pw' } });
    const tok = r.tokens?.id_token;
    const { header, payload } = tok ? decodeJwt(tok) : {};
    check(header?.alg === 'ES256' && verifyJwt(tok, await rp.jwks()), '--alg ES256: the default client gets an ES256 ID token that verifies', header ?? r.error?.trace);
    check(payload?.sub === 'u-dave' && payload.email_verified === false && JSON.stringify(payload.groups) === '[]', '--clients/--accounts files: custom client and account', payload);
  } finally {
    child.kill('SIGTERM');
  }
}

async function main() {
  const port = await freePort();
  const rpPort = await freePort(); // nothing listens there: the redirect is only read
  const issuer = `http://127.0.0.1:${port}`;
  const redirectUri = `http://127.0.0.1:${rpPort}/oidc/callback`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-idp-selftest-'));

  const started = Date.now();
  const child = spawn(path.join(HERE, 'run'), ['--port', String(port), '--redirect-uri', redirectUri, '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
  process.on('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });

  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no READY within 30 s; stderr: ${stderr}`)), 30_000);
      child.stdout.on('data', () => { if (stdout.includes('READY\n')) { clearTimeout(timer); resolve(); } });
      child.on('exit', (code) => reject(new Error(`exited (${code}) before READY; stderr: ${stderr}`)));
    });
    check(true, `READY after ${Date.now() - started} ms`);

    // --- discovery
    const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
    must(discovery.issuer === issuer, 'discovery: issuer is exactly http://127.0.0.1:PORT', discovery.issuer);
    check(discovery.jwks_uri === `${issuer}/jwks`, 'discovery: jwks_uri', discovery.jwks_uri);
    check(JSON.stringify(discovery.code_challenge_methods_supported) === '["S256"]', 'discovery: PKCE S256 only');
    check(['openid', 'email', 'profile', 'groups'].every((s) => discovery.scopes_supported.includes(s)), 'discovery: scopes openid email profile groups');
    check(discovery.claims_supported.includes('groups'), 'discovery: groups claim');
    check(JSON.stringify(discovery.response_types_supported) === '["code"]', 'discovery: response_types code only', discovery.response_types_supported);
    check(discovery.token_endpoint_auth_methods_supported.includes('client_secret_basic')
      && discovery.token_endpoint_auth_methods_supported.includes('client_secret_post'), 'discovery: client_secret_basic and client_secret_post');
    check(discovery.userinfo_endpoint === `${issuer}/me`, 'discovery: userinfo endpoint');

    const rp = new Rp(issuer, discovery, redirectUri);
    const jwks0 = await rp.jwks();
    check(jwks0.keys.length === 2 && jwks0.keys.every((k) => !k.d && k.kid), 'jwks: two public keys with kids', jwks0.keys.map((k) => k.kid));

    // --- the full flow as alice: login form, consent form, code, token (client_secret_basic)
    const alice = new Jar();
    const trace = [];
    const a = await rp.authorize(alice, { login: { username: 'alice', password: 'alice-password' }, trace });
    process.stdout.write(`     flow: ${trace.join('\n           ')}\n`);
    must(Boolean(a.params?.code), 'alice: redirect to redirect_uri with a code', a);
    check(a.params.state === a.state, 'alice: state echoed');
    check(a.params.iss === issuer, 'alice: iss in the authorization response (RFC 9207)', a.params.iss);
    check(trace.some((t) => /forms login,cancel/.test(t)) && trace.some((t) => /forms allow,deny/.test(t)), 'alice: saw the login page then the consent page');
    const cookies = alice.all();
    check(cookies.every((c) => !c.attrs.includes('secure')), 'cookies: none is Secure (plain http)', cookies.map((c) => c.name));
    check(cookies.some((c) => c.name === `oidc_idp_${port}_session`), 'cookies: session cookie named oidc_idp_PORT_session', cookies.map((c) => c.name));
    const t = await rp.token(a.params.code, a.verifier);
    must(t.status === 200 && typeof t.json.id_token === 'string', 'alice: token endpoint (client_secret_basic) returns an ID token', t);
    check(t.json.token_type === 'Bearer' && typeof t.json.access_token === 'string', 'alice: bearer access token');
    const idt = decodeJwt(t.json.id_token);
    process.stdout.write(`     id_token header  ${JSON.stringify(idt.header)}\n     id_token payload ${JSON.stringify(idt.payload)}\n`);
    check(idt.header.alg === 'RS256' && jwks0.keys.some((k) => k.kid === idt.header.kid), 'id_token: RS256 with a published kid', idt.header);
    check(verifyJwt(t.json.id_token, jwks0), 'id_token: signature verifies with the JWKS');
    const p = idt.payload;
    check(p.iss === issuer, 'id_token: iss');
    check(p.aud === 'mcpauth', 'id_token: aud', p.aud);
    check(p.nonce === a.nonce, 'id_token: nonce');
    check(p.sub === 'u-alice', 'id_token: sub', p.sub);
    check(p.email === 'alice@example.test' && p.email_verified === true, 'id_token: email, email_verified');
    check(p.name === 'Alice Liddell' && p.preferred_username === 'alice', 'id_token: name, preferred_username');
    check(JSON.stringify(p.groups) === '["engineers","admins"]', 'id_token: groups', p.groups);
    check(p.exp > Date.now() / 1000 && p.iat <= Date.now() / 1000 + 5, 'id_token: iat/exp');
    const ui = await (await fetch(discovery.userinfo_endpoint, { headers: { Authorization: `Bearer ${t.json.access_token}` } })).json();
    check(ui.sub === 'u-alice' && ui.email === 'alice@example.test' && JSON.stringify(ui.groups) === '["engineers","admins"]', 'userinfo: sub, email, groups', ui);

    // --- PKCE is required and checked
    const noPkce = await rp.authorize(new Jar(), { pkce: false });
    check(noPkce.params?.error === 'invalid_request', 'pkce: a request without code_challenge is refused (invalid_request)', noPkce.params ?? noPkce.trace);
    const badVerifier = await rp.authorize(alice, {});
    const bv = await rp.token(badVerifier.params?.code ?? 'x', b64url(crypto.randomBytes(32)));
    check(bv.status === 400 && bv.json.error === 'invalid_grant', 'pkce: a wrong code_verifier is invalid_grant', bv);
    check(!badVerifier.trace?.some((x) => x.includes('forms')), 'session: alice signed in already, no page shown the second time');

    const replay = await rp.token(a.params.code, a.verifier);
    check(replay.status === 400 && replay.json.error === 'invalid_grant', 'code: second use is invalid_grant (and oidc-provider revokes the grant)', replay);

    // --- wrong password: the login form again, with an error; then the right one goes on
    const bobJar = new Jar();
    const wrong = await rp.authorize(bobJar, { login: { username: 'bob', password: 'nope' } });
    must(Boolean(wrong.loginRejected), 'wrong password: the login form again', wrong.trace);
    check(wrong.loginRejected.status === 200 && /id="error"[^>]*>Invalid username or password\./.test(wrong.loginRejected.text), 'wrong password: error shown (id="error")');
    check(/name="username" value="bob"/.test(wrong.loginRejected.text), 'wrong password: username kept in the form');
    const retryForm = parseForms(wrong.loginRejected.text, wrong.loginRejected.url).find((f) => f.id === 'login');
    let res = await submit(bobJar, retryForm, { username: 'bob', password: 'bob-password' });
    let hops = 0;
    while (res.status >= 300 && res.status < 400 && hops < 5) {
      res = await request(bobJar, new URL(res.headers.get('location'), res.url).href);
      hops += 1;
    }
    check(res.status === 200 && parseForms(res.text, res.url).some((f) => f.id === 'allow'), 'wrong password: then the right one reaches the consent page');

    // --- refresh tokens: scope offline_access (with prompt=consent, as OIDC Core wants)
    const off = await rp.login(alice, { scope: `${SCOPE} offline_access`, extra: { prompt: 'consent' } });
    if (check(typeof off.tokens?.refresh_token === 'string', 'offline_access: a refresh token', off.tokens ?? off.error?.trace)) {
      const rr = await fetch(discovery.token_endpoint, {
        method: 'POST',
        headers: { Authorization: `Basic ${Buffer.from(`mcpauth:${SECRET}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: off.tokens.refresh_token }),
      });
      const rj = await rr.json();
      check(rr.status === 200 && rj.id_token && decodeJwt(rj.id_token).payload.sub === 'u-alice', 'refresh_token grant: a new ID token', rj);
    }

    // --- another account signs in with the same cookies (prompt=login): oidc-provider ends
    // the first account's session through a form_post page (one form, a noscript button)
    const switchTrace = [];
    const sw = await rp.login(alice, { extra: { prompt: 'login' }, login: { username: 'carol', password: 'carol-password' }, trace: switchTrace });
    const swp = sw.tokens?.id_token && decodeJwt(sw.tokens.id_token).payload;
    check(swp?.sub === 'u-carol' && switchTrace.some((x) => x.includes('/session/end/confirm')), 'account switch in one cookie jar: via the sign-out form, then carol', switchTrace);
    const back = await rp.login(alice, { extra: { prompt: 'login' }, login: { username: 'alice', password: 'alice-password' } });
    check(back.tokens && decodeJwt(back.tokens.id_token).payload.sub === 'u-alice', 'account switch back to alice');

    // --- Deny at the consent page: error=access_denied at the redirect_uri
    const denied = await rp.authorize(new Jar(), { login: { username: 'bob', password: 'bob-password' }, decision: 'deny' });
    check(denied.params?.error === 'access_denied' && denied.params.state === denied.state && !denied.params.code, 'deny: redirect with error=access_denied and the state', denied.params ?? denied.trace);
    const cancelJar = new Jar();
    const loginPage = await rp.authorize(cancelJar, {});
    const cancelForm = loginPage.forms?.find((f) => f.id === 'cancel');
    if (check(Boolean(cancelForm), 'cancel: the login page has a cancel form')) {
      let r = await submit(cancelJar, cancelForm);
      let location = '';
      for (let i = 0; i < 5 && r.status >= 300 && r.status < 400; i += 1) {
        location = new URL(r.headers.get('location'), r.url).href;
        if (location.startsWith(redirectUri)) break;
        r = await request(cancelJar, location);
      }
      const q = location.startsWith(redirectUri) ? new URL(location).searchParams : new URLSearchParams();
      check(q.get('error') === 'access_denied' && q.get('state') === loginPage.state, 'cancel: redirect with error=access_denied', location);
    }

    // --- bob (client_secret_post) and carol (no groups) and ES256 (client mcpauth-es256)
    const bob = await rp.login(new Jar(), { clientId: 'mcpauth-post', auth: 'post', login: { username: 'bob', password: 'bob-password' } });
    const bp = bob.tokens?.id_token && decodeJwt(bob.tokens.id_token).payload;
    check(bp?.sub === 'u-bob' && bp.aud === 'mcpauth-post' && JSON.stringify(bp.groups) === '["engineers"]', 'bob via client_secret_post: sub, aud, groups', bp ?? bob);
    const carol = await rp.login(new Jar(), { login: { username: 'carol', password: 'carol-password' } });
    const cp = carol.tokens?.id_token && decodeJwt(carol.tokens.id_token).payload;
    check(cp?.sub === 'u-carol' && !('groups' in cp) && cp.email === 'carol@example.test', 'carol: no groups claim', cp ?? carol);
    const es = await rp.login(new Jar(), { clientId: 'mcpauth-es256', login: { username: 'alice', password: 'alice-password' } });
    const eh = es.tokens?.id_token && decodeJwt(es.tokens.id_token).header;
    check(eh?.alg === 'ES256' && verifyJwt(es.tokens.id_token, jwks0), 'client mcpauth-es256: ES256 ID token verifies', eh ?? es);
    const basicWrong = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { Authorization: `Basic ${Buffer.from('mcpauth:wrong').toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x', redirect_uri: redirectUri, code_verifier: 'x'.repeat(43) }),
    });
    check(basicWrong.status === 401 && (await basicWrong.json()).error === 'invalid_client', 'token: a wrong client secret is invalid_client');

    // --- mode bad_signature: same kids, other keys
    let m = await setMode(issuer, 'bad_signature');
    check(m.status === 200 && m.json.mode === 'bad_signature', 'mode bad_signature: accepted', m);
    const bad = await rp.login(alice, {});
    must(Boolean(bad.tokens?.id_token), 'bad_signature: flow still issues an ID token', bad);
    const jwksBad = await rp.jwks();
    check(JSON.stringify(jwksBad.keys.map((k) => k.kid)) === JSON.stringify(jwks0.keys.map((k) => k.kid)), 'bad_signature: the JWKS has the same kids');
    check(!verifyJwt(bad.tokens.id_token, jwksBad), 'bad_signature: the ID token does not verify with the served JWKS');
    check(verifyJwt(bad.tokens.id_token, jwks0), 'bad_signature: (it does with the real keys)');
    m = await setMode(issuer, 'normal');
    check(m.json.mode === 'normal' && JSON.stringify(await rp.jwks()) === JSON.stringify(jwks0), 'mode normal: the real JWKS again');

    // --- mode rotate: a new kid signs, and is published
    const before = await rp.jwks();
    m = await setMode(issuer, 'rotate');
    check(m.status === 200 && m.json.mode === 'normal' && m.json.generation === 2, 'mode rotate: accepted', m.json);
    const rot = await rp.login(alice, {});
    must(Boolean(rot.tokens?.id_token), 'rotate: the flow issues an ID token', rot.error?.trace);
    check(!rot.trace.some((x) => x.includes('forms')), 'rotate: session and grant survived the new Provider instance (no page shown)', rot.trace);
    const rh = decodeJwt(rot.tokens.id_token).header;
    const after = await rp.jwks();
    check(!before.keys.some((k) => k.kid === rh.kid), 'rotate: the ID token has a kid unknown to the old JWKS', rh.kid);
    check(after.keys[0].kid === rh.kid && verifyJwt(rot.tokens.id_token, after), 'rotate: the new JWKS publishes it first, and it verifies', after.keys.map((k) => k.kid));
    check(before.keys.every((k) => after.keys.some((x) => x.kid === k.kid)), 'rotate: the old keys stay published');
    check(verifyJwt(t.json.id_token, after), 'rotate: an ID token from before still verifies');
    check(JSON.parse(fs.readFileSync(path.join(dir, 'keys.json'), 'utf8')).generation === 2, 'rotate: --dir keys.json updated');
    m = await setMode(issuer, 'rotate', { retire_old: true });
    const retired = await rp.jwks();
    check(retired.keys.length === 2 && retired.keys.every((k) => k.kid.includes('-3-')), 'rotate with retire_old: only the newest keys published', retired.keys.map((k) => k.kid));

    // --- tampered ID tokens (valid signature, wrong claims)
    const current = await rp.jwks();
    for (const [mode, test] of [
      ['id_token_wrong_nonce', (pl, r) => pl.nonce !== r.nonce],
      ['id_token_wrong_aud', (pl) => pl.aud !== 'mcpauth'],
      ['id_token_wrong_iss', (pl) => pl.iss !== issuer],
      ['id_token_expired', (pl) => pl.exp < Date.now() / 1000 - 60],
    ]) {
      await setMode(issuer, mode);
      const r = await rp.login(alice, {});
      const tok = r.tokens?.id_token;
      check(tok && verifyJwt(tok, current) && test(decodeJwt(tok).payload, r), `${mode}: signed with the real key, claim wrong`, tok && decodeJwt(tok).payload);
    }
    await setMode(issuer, 'id_token_alg_none');
    const none = await rp.login(alice, {});
    const nt = none.tokens?.id_token;
    check(nt && decodeJwt(nt).header.alg === 'none' && nt.endsWith('.') && !verifyJwt(nt, current), 'id_token_alg_none: unsigned ID token', nt);

    // --- mode down
    await setMode(issuer, 'down');
    const down = await fetch(`${issuer}/.well-known/openid-configuration`);
    const downJwks = await fetch(`${issuer}/jwks`);
    check(down.status === 503 && downJwks.status === 503, 'mode down: 503 from the provider\'s endpoints', [down.status, downJwks.status]);
    const st = await (await fetch(`${issuer}/_test/mode`)).json();
    check(st.mode === 'down', 'mode down: /_test/mode still answers', st);
    m = await setMode(issuer, 'normal');
    check((await fetch(`${issuer}/.well-known/openid-configuration`)).status === 200, 'mode normal: serving again');
    check((await setMode(issuer, 'nonsense')).status === 400, 'unknown mode: 400');

    // --- READY once; SIGTERM exits within 1 s
    check(stdout === 'READY\n', 'stdout: exactly one READY line', stdout);
    const sent = Date.now();
    child.kill('SIGTERM');
    const ex = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 3000))]);
    check(ex && ex.at - sent < 1000, `SIGTERM: exited in ${ex ? ex.at - sent : '>3000'} ms (code ${ex?.code}, signal ${ex?.signal})`);

    await secondInstance(dir);
  } catch (err) {
    failures += 1;
    process.stdout.write(`FAIL ${err.stack}\n`);
    process.stdout.write(`---- provider stderr\n${stderr}\n`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${failures ? 'FAILED' : 'PASSED'}: ${checks - failures}/${checks} checks passed${failures ? `, ${failures} failed` : ''}\n`);
  process.exit(failures ? 1 : 0);
}

main();
