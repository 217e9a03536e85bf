// The peer of mcpauth's benchmark: oidc-provider (OpenID Certified), one process, state in
// memory, configured to do the same work per request as mcpauth does:
//   - state kept in memory until it expires: oidc-provider's own memory adapter, but over an
//     unbounded store. Its quick-start default keeps only the last 1,000-2,000 entries (an
//     LRU), so under load it forgets sessions, grants and consumed refresh tokens (the next
//     authorization asks to sign in again; a replayed refresh token is no longer detected).
//     PEER_STORE=lru selects that default instead;
//   - dynamic client registration (RFC 7591), open (no initial access token);
//   - the code flow with PKCE S256 required, through its plain-HTML dev interactions (any
//     login and password are accepted; the consent page has one "Continue" button);
//   - refresh tokens issued to every client allowed the refresh_token grant (as mcpauth does)
//     and rotated on every use, a reused one revoking the grant (as mcpauth does);
//   - ES256 JWT access tokens (RFC 9068) for one resource (RFC 8707), like mcpauth's, signed
//     with a P-256 key generated at start;
//   - lifetimes as mcpauth's defaults: access token 1 h, code 60 s, refresh token 30 days.
//
// Environment: PORT (default 3100), RESOURCE (default http://127.0.0.1:3000/mcp),
// PEER_STORE (unbounded, the default, or lru).
// Issuer: http://127.0.0.1:PORT. Listens on 127.0.0.1 only.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const port = Number(process.env.PORT ?? 3100);
const issuer = `http://127.0.0.1:${port}`;
const resource = process.env.RESOURCE ?? 'http://127.0.0.1:3000/mcp';

const CLOCK_TOLERANCE = 15; // seconds, oidc-provider's default

// The interface of oidc-provider's LRU (get, set with maxAge in ms, delete), without the
// bound: entries live until they expire; a sweep drops expired ones every minute.
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
    const expiry = typeof maxAge === 'number' && Number.isFinite(maxAge)
      ? Date.now() + maxAge
      : undefined;
    this.#entries.set(key, { value, expiry });
    return this;
  }

  has(key) {
    return this.get(key) !== undefined;
  }

  delete(key) {
    return this.#entries.delete(key);
  }
}

const storeKind = process.env.PEER_STORE ?? 'unbounded';
let adapter;
if (storeKind === 'unbounded') {
  const store = new UnboundedStore();
  adapter = (model) => new MemoryAdapter(model, store, CLOCK_TOLERANCE);
} else if (storeKind !== 'lru') {
  throw new Error(`PEER_STORE must be unbounded or lru, not ${storeKind}`);
}

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'bench-es256',
  alg: 'ES256',
  use: 'sig',
};

const resourceServer = {
  audience: resource,
  scope: 'mcp',
  accessTokenTTL: 3600,
  accessTokenFormat: 'jwt',
  jwt: { sign: { alg: 'ES256' } },
};

const provider = new Provider(issuer, {
  adapter,
  clockTolerance: CLOCK_TOLERANCE,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // mcpauth offers these scopes; oidc-provider needs them listed to accept them.
  scopes: ['openid', 'offline_access', 'profile', 'email', 'mcp'],
  clientDefaults: {
    grant_types: ['authorization_code'],
    id_token_signed_response_alg: 'ES256',
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // A request naming no resource gets the only one (mcpauth does the same).
      defaultResource: async () => resource,
      // The token endpoint issues for the resource granted at authorization when the
      // token request names none (else an openid request would get an opaque token for
      // the userinfo endpoint instead of a JWT for the resource).
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return resourceServer;
      },
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 30 * 24 * 3600,
    Grant: 30 * 24 * 3600,
    Session: 14 * 24 * 3600,
    Interaction: 3600,
  },
});
provider.proxy = false;

provider.listen(port, '127.0.0.1', () => {
  process.stderr.write(`oidc-provider ${issuer} (resource ${resource}, ${storeKind} store)\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
