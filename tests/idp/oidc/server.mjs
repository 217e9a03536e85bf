// Upstream OpenID Connect provider for mcpauth's federated-login tests: oidc-provider
// (OpenID Certified) on http://127.0.0.1:PORT, state in memory, with
//   - clients and accounts read from JSON files (clients.json, accounts.json by default);
//   - its own plain-HTML login and consent pages (no JavaScript; devInteractions are off);
//   - test knobs at /_test/mode (bad JWKS, key rotation, tampered ID tokens, down).
// See README.md for the contract. Started through ./run, which picks the pinned Node.
//
// Usage: server.mjs --port P [--clients FILE] [--accounts FILE] [--dir DIR]
//                   [--redirect-uri URI]... [--alg RS256|ES256] [--id-token-claims all|conform]
// Prints one line "READY" on stdout once it serves; everything else goes to stderr.
// Exit status: 0 on SIGTERM/SIGINT, 2 on a usage or configuration error, 3 when the port is
// taken, 1 otherwise.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLOCK_TOLERANCE = 15; // seconds

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}

function fail(message, status = 2) {
  process.stderr.write(`oidc-idp: ${message}\n`);
  process.exit(status);
}

// ---------------------------------------------------------------------------------------
// command line

function parseArgs(argv) {
  const opts = {
    port: undefined,
    clients: path.join(HERE, 'clients.json'),
    accounts: path.join(HERE, 'accounts.json'),
    dir: undefined,
    redirectUris: [],
    alg: 'RS256',
    idTokenClaims: 'all',
  };
  const takes = new Set(['--port', '--clients', '--accounts', '--dir', '--redirect-uri', '--alg', '--id-token-claims']);
  for (let i = 0; i < argv.length; i += 1) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (arg === '-h' || arg === '--help') {
      process.stdout.write('usage: run --port P [--clients FILE] [--accounts FILE] [--dir DIR] '
        + '[--redirect-uri URI]... [--alg RS256|ES256] [--id-token-claims all|conform]\n');
      process.exit(0);
    }
    if (!takes.has(arg)) fail(`unknown argument ${arg}`);
    if (value === undefined) {
      i += 1;
      if (i >= argv.length) fail(`${arg} needs a value`);
      value = argv[i];
    }
    switch (arg) {
      case '--port': opts.port = value; break;
      case '--clients': opts.clients = value; break;
      case '--accounts': opts.accounts = value; break;
      case '--dir': opts.dir = value; break;
      case '--redirect-uri': opts.redirectUris.push(value); break;
      case '--alg': opts.alg = value; break;
      case '--id-token-claims': opts.idTokenClaims = value; break;
      default: break;
    }
  }
  if (opts.port === undefined) fail('--port is required');
  if (!/^\d+$/.test(opts.port) || Number(opts.port) < 1 || Number(opts.port) > 65535) {
    fail(`--port must be 1..65535, not ${opts.port}`);
  }
  opts.port = Number(opts.port);
  if (!['RS256', 'ES256'].includes(opts.alg)) fail(`--alg must be RS256 or ES256, not ${opts.alg}`);
  if (!['all', 'conform'].includes(opts.idTokenClaims)) {
    fail(`--id-token-claims must be all or conform, not ${opts.idTokenClaims}`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const issuer = `http://127.0.0.1:${opts.port}`;

function readJson(file, what) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return fail(`cannot read ${what} file ${file}: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------------------
// clients and accounts

function loadClients() {
  let clients = readJson(opts.clients, 'clients');
  if (!Array.isArray(clients)) clients = clients?.clients;
  if (!Array.isArray(clients) || clients.length === 0) {
    fail(`${opts.clients}: expected a non-empty JSON array of client metadata (or {"clients": [...]})`);
  }
  return clients.map((client) => {
    if (!client || typeof client.client_id !== 'string') fail(`${opts.clients}: every client needs a client_id`);
    const copy = { ...client };
    if (opts.redirectUris.length) copy.redirect_uris = [...opts.redirectUris];
    return copy;
  });
}

function loadAccounts() {
  let accounts = readJson(opts.accounts, 'accounts');
  if (!Array.isArray(accounts)) accounts = accounts?.accounts;
  if (!Array.isArray(accounts)) fail(`${opts.accounts}: expected a JSON array of accounts (or {"accounts": [...]})`);
  const byUsername = new Map();
  const bySub = new Map();
  for (const account of accounts) {
    const { username, password, sub } = account ?? {};
    if (typeof username !== 'string' || typeof password !== 'string' || typeof sub !== 'string') {
      fail(`${opts.accounts}: every account needs string username, password and sub`);
    }
    if (byUsername.has(username) || bySub.has(sub)) fail(`${opts.accounts}: duplicate username or sub (${username}, ${sub})`);
    const { password: _password, username: _username, ...claims } = account;
    claims.preferred_username ??= username;
    const entry = { username, password, sub, claims };
    byUsername.set(username, entry);
    bySub.set(sub, entry);
  }
  return { byUsername, bySub };
}

const clients = loadClients();
const accounts = loadAccounts();

// ---------------------------------------------------------------------------------------
// signing keys: one RSA (RS256) and one P-256 (ES256) key per generation, newest first.
// With --dir they are kept in DIR/keys.json, so a restart with the same DIR signs with the
// same keys (and a rotation survives a restart).

const keysFile = opts.dir ? path.join(opts.dir, 'keys.json') : undefined;
if (opts.dir) fs.mkdirSync(opts.dir, { recursive: true });

function generateKeys(generation) {
  const suffix = crypto.randomBytes(4).toString('hex');
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: `rs256-${generation}-${suffix}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `es256-${generation}-${suffix}`, alg: 'ES256', use: 'sig' },
  ];
}

const keyState = (() => {
  if (keysFile && fs.existsSync(keysFile)) {
    const saved = readJson(keysFile, 'keys');
    if (Array.isArray(saved?.keys) && saved.keys.length && Number.isInteger(saved.generation)) return saved;
    fail(`${keysFile}: not a keys file written by this server`);
  }
  return { generation: 1, keys: generateKeys(1) };
})();

function saveKeys() {
  if (!keysFile) return;
  const tmp = `${keysFile}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(keyState, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, keysFile);
}
saveKeys();

const publicJwk = ({
  d, p, q, dp, dq, qi, oth, ...pub
}) => pub;

// bad_signature: per kid, a public key of the same type that is not the signing key's
const decoys = new Map();
function decoyFor(jwk) {
  if (!decoys.has(jwk.kid)) {
    const fresh = jwk.kty === 'RSA'
      ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
      : crypto.generateKeyPairSync('ec', { namedCurve: jwk.crv });
    decoys.set(jwk.kid, { ...fresh.publicKey.export({ format: 'jwk' }), kid: jwk.kid, alg: jwk.alg, use: 'sig' });
  }
  return decoys.get(jwk.kid);
}

// ---------------------------------------------------------------------------------------
// test mode

const TAMPER_MODES = new Set([
  'id_token_wrong_nonce', 'id_token_wrong_aud', 'id_token_wrong_iss', 'id_token_expired', 'id_token_alg_none',
]);
const MODES = new Set(['normal', 'bad_signature', 'down', 'userinfo_wrong_sub', ...TAMPER_MODES]);
let mode = 'normal';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const b64json = (obj) => b64url(JSON.stringify(obj));

// Re-signs an ID token (same kid, same key) after changing its payload, or strips its
// signature (alg none): the RP must refuse each of these although the signature is valid.
function tamperIdToken(idToken, how) {
  const [h, p] = idToken.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const payload = JSON.parse(Buffer.from(p, 'base64url'));
  const now = Math.floor(Date.now() / 1000);
  switch (how) {
    case 'id_token_wrong_nonce': payload.nonce = `not-${payload.nonce ?? 'the-nonce'}`; break;
    case 'id_token_wrong_aud': payload.aud = 'some-other-client'; break;
    case 'id_token_wrong_iss': payload.iss = `${issuer}/not-the-issuer`; break;
    case 'id_token_expired': payload.iat = now - 7200; payload.exp = now - 3600; break;
    case 'id_token_alg_none': {
      const noneHeader = { alg: 'none', typ: header.typ };
      return `${b64json(noneHeader)}.${b64json(payload)}.`;
    }
    default: return idToken;
  }
  const jwk = keyState.keys.find((k) => k.kid === header.kid);
  if (!jwk) return idToken;
  const input = `${b64json(header)}.${b64json(payload)}`;
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const signature = jwk.kty === 'RSA'
    ? crypto.sign('sha256', Buffer.from(input), key)
    : crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

// ---------------------------------------------------------------------------------------
// HTML

const esc = (value) => String(value).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
</body>
</html>
`;
}

function loginPage(uid, clientId, { error, username } = {}) {
  const base = `${issuer}/interaction/${encodeURIComponent(uid)}`;
  return page('Sign in', `<p>Sign in to continue to <strong id="client">${esc(clientId)}</strong>.</p>
${error ? `<p class="error" id="error" role="alert">${esc(error)}</p>\n` : ''}<form id="login" method="post" action="${base}/login">
<p><label for="username">Username</label> <input type="text" id="username" name="username" value="${esc(username ?? '')}" autocomplete="username" autofocus></p>
<p><label for="password">Password</label> <input type="password" id="password" name="password" autocomplete="current-password"></p>
<p><button type="submit" id="sign-in">Sign in</button></p>
</form>
<form id="cancel" method="post" action="${base}/abort">
<p><button type="submit" id="cancel-button">Cancel</button></p>
</form>`);
}

function consentPage(uid, clientId, account, scopes) {
  const base = `${issuer}/interaction/${encodeURIComponent(uid)}`;
  return page('Authorize', `<p>Signed in as <strong id="account">${esc(account?.username ?? '?')}</strong>.</p>
<p><strong id="client">${esc(clientId)}</strong> asks for: <span id="scopes">${esc(scopes.join(' '))}</span></p>
<form id="allow" method="post" action="${base}/confirm">
<button type="submit" id="allow-button" name="decision" value="allow">Allow</button>
</form>
<form id="deny" method="post" action="${base}/abort">
<button type="submit" id="deny-button" name="decision" value="deny">Deny</button>
</form>`);
}

async function readForm(req, limit = 64 * 1024) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new errors.InvalidRequest('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// ---------------------------------------------------------------------------------------
// the provider. Re-created on every key rotation (oidc-provider fixes its keystore at
// construction); all instances share the memory store and the cookie keys, so sessions,
// interactions, grants, codes and tokens survive a rotation.

class UnboundedStore {
  #entries = new Map();

  constructor() {
    setInterval(() => {
      const now = Date.now();
      for (const [key, entry] of this.#entries) {
        if (entry.expiry !== undefined && entry.expiry <= now) this.#entries.delete(key);
      }
    }, 60_000).unref();
  }

  get(key) {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiry !== undefined && entry.expiry <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key, value, { maxAge } = {}) {
    const expiry = typeof maxAge === 'number' && Number.isFinite(maxAge) ? Date.now() + maxAge : undefined;
    this.#entries.set(key, { value, expiry });
    return this;
  }

  has(key) { return this.get(key) !== undefined; }

  delete(key) { return this.#entries.delete(key); }
}

const store = new UnboundedStore();
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
// Cookies on 127.0.0.1 are shared by every port; the port in their names keeps two
// providers (and anything else on loopback) from overwriting each other's session.
const cookiePrefix = `oidc_idp_${opts.port}`;

function providerConfig() {
  return {
    adapter: (name) => new MemoryAdapter(name, store, CLOCK_TOLERANCE),
    clients,
    clockTolerance: CLOCK_TOLERANCE,
    jwks: { keys: keyState.keys },
    cookies: {
      keys: cookieKeys,
      names: {
        session: `${cookiePrefix}_session`,
        interaction: `${cookiePrefix}_interaction`,
        resume: `${cookiePrefix}_resume`,
      },
    },
    responseTypes: ['code'],
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      groups: ['groups'],
    },
    // `all`: the scope-requested claims go in the ID token too, not only to userinfo.
    // `conform` (oidc-provider's own default, OpenID Connect Core §5.4): when an access token
    // is issued, which is always here, the ID token carries only `sub` and the profile
    // claims come from userinfo alone.
    conformIdTokenClaims: opts.idTokenClaims === 'conform',
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: opts.alg,
      token_endpoint_auth_method: 'client_secret_basic',
    },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true }, // and oidc-provider 9 knows only S256
    interactions: {
      url: async (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(_ctx, sub) {
      const account = accounts.bySub.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        // oidc-provider keeps only the claims the granted scopes (or claims parameter) allow
        async claims() { return { ...account.claims, sub }; },
      };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', Object.entries(out)
        .map(([key, value]) => `<p><strong>${esc(key)}</strong>: <span id="${esc(key)}">${esc(value)}</span></p>`)
        .join('\n'));
    },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
      Interaction: 3600,
    },
  };
}

// the login and consent pages, before the provider's own routes
async function interactionRoutes(ctx, next) {
  const match = /^\/interaction\/([^/]+)(?:\/(login|confirm|abort))?$/.exec(ctx.path);
  if (!match) return next();
  const provider = ctx.app;
  const action = match[2];
  ctx.set('Cache-Control', 'no-store');
  try {
    if (!action && ctx.method !== 'GET' && ctx.method !== 'HEAD') ctx.throw(405);
    if (action && ctx.method !== 'POST') ctx.throw(405);
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== match[1]) throw new errors.SessionNotFound('interaction does not match its cookie');
    const { prompt, params } = details;
    const clientId = params.client_id;

    if (!action) {
      ctx.type = 'html';
      if (prompt.name === 'login') {
        ctx.body = loginPage(details.uid, clientId, { username: params.login_hint });
      } else if (prompt.name === 'consent') {
        const account = accounts.bySub.get(details.session?.accountId);
        ctx.body = consentPage(details.uid, clientId, account, String(params.scope ?? '').split(' ').filter(Boolean));
      } else {
        ctx.throw(400, `unsupported prompt ${prompt.name}`);
      }
      return undefined;
    }

    const form = await readForm(ctx.req);
    let result;
    if (action === 'abort') {
      result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    } else if (action === 'login') {
      if (prompt.name !== 'login') ctx.throw(400, 'this interaction is not a login');
      const username = form.get('username') ?? '';
      const account = accounts.byUsername.get(username);
      if (!account || !crypto.timingSafeEqual(
        crypto.hash('sha256', form.get('password') ?? '', 'buffer'),
        crypto.hash('sha256', account.password, 'buffer'),
      )) {
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, clientId, { error: 'Invalid username or password.', username });
        return undefined;
      }
      result = { login: { accountId: account.sub } };
    } else {
      if (prompt.name !== 'consent') ctx.throw(400, 'this interaction is not a consent');
      const { session: { accountId }, grantId } = details;
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId, clientId });
      const missing = prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const savedId = await grant.save();
      result = { consent: grantId ? {} : { grantId: savedId } };
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result);
    ctx.redirect(returnTo);
    ctx.status = 303;
  } catch (err) {
    ctx.status = err.status ?? err.statusCode ?? 500;
    ctx.type = 'html';
    ctx.body = page('Error', `<p><strong>error</strong>: <span id="error">${esc(err.error ?? err.name ?? 'error')}</span></p>
<p><strong>error_description</strong>: <span id="error_description">${esc(err.error_description ?? err.message)}</span></p>`);
    if (ctx.status >= 500) process.stderr.write(`oidc-idp: interaction error: ${err.stack}\n`);
  }
  return undefined;
}

// tampered ID tokens from the token endpoint (test modes id_token_*)
async function tamperTokenResponse(ctx, next) {
  await next();
  if (!TAMPER_MODES.has(mode) || ctx.method !== 'POST' || ctx.path !== '/token') return;
  if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object' && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: tamperIdToken(ctx.body.id_token, mode) };
  }
}

// userinfo about someone else (test mode userinfo_wrong_sub): the JSON answer's `sub` is
// another account's, as a confused or hostile provider would send; the RP must refuse it
async function tamperUserinfo(ctx, next) {
  await next();
  if (mode !== 'userinfo_wrong_sub' || ctx.path !== '/me') return;
  if (ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...ctx.body, sub: `not-${ctx.body.sub}` };
  }
}

function buildProvider() {
  let provider;
  try {
    provider = new Provider(issuer, providerConfig());
  } catch (err) {
    return fail(`provider configuration rejected: ${err.message}${err.cause ? ` (${err.cause.message ?? err.cause})` : ''}`);
  }
  provider.proxy = false;
  provider.use(interactionRoutes);
  provider.use(tamperTokenResponse);
  provider.use(tamperUserinfo);
  provider.on('server_error', (_ctx, err) => process.stderr.write(`oidc-idp: server_error: ${err.stack}\n`));
  return { provider, handler: provider.callback() };
}

let current = buildProvider();

// ---------------------------------------------------------------------------------------
// the HTTP server: /_test/*, then the modes that answer for the provider, then the provider

function sendJson(res, status, body, extraHeaders = {}) {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    ...extraHeaders,
  });
  res.end(text);
}

function status() {
  return {
    mode,
    issuer,
    generation: keyState.generation,
    signing_kids: keyState.keys.slice(0, 2).map((k) => k.kid),
    published_kids: keyState.keys.map((k) => k.kid),
  };
}

function rotate({ retireOld }) {
  keyState.generation += 1;
  const fresh = generateKeys(keyState.generation);
  keyState.keys = retireOld ? fresh : [...fresh, ...keyState.keys];
  saveKeys();
  current = buildProvider();
}

async function testControl(req, res, url) {
  if (url.pathname !== '/_test/mode') return sendJson(res, 404, { error: 'not_found' });
  if (req.method === 'GET' || req.method === 'HEAD') return sendJson(res, 200, status());
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'method_not_allowed' }, { Allow: 'GET, POST' });
  let body;
  try {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    body = text.trim() ? JSON.parse(text) : {};
  } catch {
    return sendJson(res, 400, { error: 'invalid_request', error_description: 'body must be JSON like {"mode": "normal"}' });
  }
  const wanted = body?.mode ?? url.searchParams.get('mode');
  if (wanted === 'rotate') {
    rotate({ retireOld: body?.retire_old === true });
    mode = 'normal';
  } else if (MODES.has(wanted)) {
    mode = wanted;
  } else {
    return sendJson(res, 400, {
      error: 'invalid_request',
      error_description: `mode must be one of ${[...MODES, 'rotate'].join(', ')}`,
    });
  }
  process.stderr.write(`oidc-idp: mode ${wanted} -> ${JSON.stringify(status())}\n`);
  return sendJson(res, 200, status());
}

const server = http.createServer((req, res) => {
  let url;
  try {
    url = new URL(req.url, issuer);
  } catch {
    res.writeHead(400).end();
    return;
  }
  if (url.pathname.startsWith('/_test/')) {
    testControl(req, res, url).catch((err) => {
      process.stderr.write(`oidc-idp: ${err.stack}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
    });
    return;
  }
  if (mode === 'down') {
    const text = 'Service Unavailable (test mode "down")\n';
    res.writeHead(503, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      'Retry-After': '1',
      Connection: 'close',
    });
    res.end(req.method === 'HEAD' ? undefined : text);
    return;
  }
  if (mode === 'bad_signature' && url.pathname === '/jwks' && (req.method === 'GET' || req.method === 'HEAD')) {
    sendJson(res, 200, { keys: keyState.keys.map((k) => decoyFor(k)) }, { 'Content-Type': 'application/jwk-set+json; charset=utf-8' });
    return;
  }
  current.handler(req, res);
});

server.on('error', (err) => {
  if (err.code === 'EADDRINUSE') fail(`127.0.0.1:${opts.port} is already in use`, 3);
  fail(`cannot listen on 127.0.0.1:${opts.port}: ${err.message}`, 1);
});

// static clients are only validated when first used: check them all before serving
for (const { client_id: id } of clients) {
  try {
    // eslint-disable-next-line no-await-in-loop
    if (!await current.provider.Client.find(id)) throw new Error('not found');
  } catch (err) {
    fail(`${opts.clients}: client ${id} rejected: ${err.error_description ?? err.message}`);
  }
}

server.listen(opts.port, '127.0.0.1', () => {
  if (opts.dir) {
    fs.writeFileSync(path.join(opts.dir, 'info.json'), `${JSON.stringify({ issuer, port: opts.port, pid: process.pid }, null, 2)}\n`);
  }
  process.stderr.write(`oidc-idp: ${issuer} (node ${process.version}, oidc-provider 9, ${clients.length} clients, ${accounts.bySub.size} accounts, id_token ${opts.alg} by default, id token claims: ${opts.idTokenClaims})\n`);
  process.stdout.write('READY\n');
});
