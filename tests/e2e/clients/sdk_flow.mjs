#!/usr/bin/env node
// The official TypeScript MCP SDK's OAuth client against mcpauth, end to end.
//
// Why this file exists: the TypeScript SDK (v1 `@modelcontextprotocol/sdk`, v2
// `@modelcontextprotocol/client`) is what Claude Code, the Inspector and most Node MCP hosts
// sign in with, and its OAuth client differs from the Python one (it refreshes only on a 401,
// it validates `iss`, v2 checks the metadata issuer and scope). This script drives it as a
// command-line MCP host does:
//
//  1. a loopback callback server on a free port (the registered redirect URI);
//  2. `StreamableHTTPClientTransport` with an in-memory `OAuthClientProvider`; the SDK gets a 401,
//     discovers, registers (DCR) and calls `redirectToAuthorization`, where we start `--browser`
//     with the URL (like `open`); that "browser" (tests/e2e/person.py) logs in, consents and
//     follows the redirect to our callback; `finishAuth` redeems the code;
//  3. a new connection: `tools/list`, `whoami`;
//  4. forced refresh: the stored access token is replaced by a revoked-looking one, so the MCP
//     server answers 401 and the SDK must use its refresh token (and not open the browser);
//  5. with `--wait-expiry S`: waits S seconds (past the real `expires_in`) and calls `whoami`
//     again: the expired token gets a 401 and the SDK refreshes again;
//  6. refusal: both stored tokens spoiled; mcpauth answers the refresh with `invalid_grant`, and
//     the SDK must drop its tokens and open the browser for a second login, then work again.
//
// Usage: node sdk_flow.mjs --sdk v1|v2 --mcp-url URL --browser CMD --report FILE [--wait-expiry S]
// Prints the JSON report to stdout too. Exit 0 when every step passed, else 1 (`error` says why).

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
    options: {
        sdk: { type: 'string' },
        'mcp-url': { type: 'string' },
        browser: { type: 'string' },
        report: { type: 'string' },
        'wait-expiry': { type: 'string', default: '0' },
        'callback-timeout': { type: 'string', default: '60' }
    }
});

/** The version npm installed next to this script (the packages' exports maps hide package.json). */
function installedVersion(pkg) {
    return JSON.parse(readFileSync(new URL(`./node_modules/${pkg}/package.json`, import.meta.url), 'utf8')).version;
}

/** The SDK's classes, by major version; the rest of the script does not care which. */
async function loadSdk(which) {
    if (which === 'v1') {
        const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
        const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
        const { UnauthorizedError } = await import('@modelcontextprotocol/sdk/client/auth.js');
        const pkg = '@modelcontextprotocol/sdk';
        return { Client, StreamableHTTPClientTransport, UnauthorizedError, version: installedVersion(pkg), pkg };
    }
    if (which === 'v2') {
        const pkg = '@modelcontextprotocol/client';
        return { ...(await import(pkg)), version: installedVersion(pkg), pkg };
    }
    throw new Error(`--sdk must be v1 or v2, not ${which}`);
}

class FlowFailure extends Error {
    name = 'FlowFailure';
}
function check(cond, message) {
    if (!cond) throw new FlowFailure(message);
}

const report = { sdk: args.sdk, ok: false, http_trace: [], tokens: [], whoami: [], browser_invocations: 0, steps: [] };
function step(line) {
    report.steps.push(line);
    process.stderr.write(`[sdk_flow ${args.sdk}] ${line}\n`);
}

/** fetch that records every request the SDK makes, OAuth ones included (secrets shortened). */
function tracingFetch(trace) {
    return async (input, init = {}) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        const method = init.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET');
        const entry = { method, url };
        const body = init.body;
        if (typeof body === 'string' || body instanceof URLSearchParams) {
            const text = String(body);
            if (text.includes('grant_type=')) {
                const form = Object.fromEntries(new URLSearchParams(text));
                entry.grant_type = form.grant_type;
                entry.resource = form.resource;
                entry.scope = form.scope;
            } else if (text.startsWith('{') && url.includes('/register')) {
                try {
                    entry.json = JSON.parse(text);
                } catch {
                    /* not JSON */
                }
            }
        }
        const headers = new Headers(init.headers ?? (typeof input === 'object' && 'headers' in input ? input.headers : {}));
        entry.authorization = headers.get('authorization')?.slice(0, 12) ?? null;
        trace.push(entry);
        const response = await fetch(input, init);
        entry.status = response.status;
        if (entry.grant_type && response.status !== 200) {
            // the OAuth error code only (the description may quote what was sent)
            entry.error = await response.clone().json().then(b => b.error, () => '(not JSON)');
        }
        return response;
    };
}

/** The loopback redirect URI's server; `next()` is the query of the next callback it receives. */
function callbackServer() {
    const waiting = [];
    const server = createServer((req, res) => {
        const url = new URL(req.url, 'http://127.0.0.1');
        if (url.pathname !== '/callback') {
            res.writeHead(404).end();
            return;
        }
        res.writeHead(200, { 'Content-Type': 'text/html' }).end('<p>Done. You can close this page.</p>');
        waiting.shift()?.(url.searchParams);
    });
    const next = () => new Promise(resolve => waiting.push(resolve));
    return new Promise(resolve => server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, next })));
}

/** An in-memory provider; keeps every token set it was given (the report's `tokens`). */
class MemoryProvider {
    constructor(redirectUrl, browser) {
        this._redirectUrl = redirectUrl;
        this._browser = browser;
        this._client = undefined;
        this._tokens = undefined;
        this._verifier = undefined;
        this._state = undefined;
        this.browserFailed = new Promise(() => {});
    }
    get redirectUrl() {
        return this._redirectUrl;
    }
    get clientMetadata() {
        return {
            client_name: `mcpauth e2e (TypeScript SDK ${args.sdk})`,
            redirect_uris: [this._redirectUrl],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: 'none'
        };
    }
    state() {
        this._state = crypto.randomUUID();
        return this._state;
    }
    clientInformation() {
        return this._client;
    }
    saveClientInformation(info) {
        this._client = info;
        report.client_info = { ...info, client_secret: info.client_secret ? '(set)' : undefined };
    }
    tokens() {
        return this._tokens;
    }
    saveTokens(tokens) {
        this._tokens = tokens;
        report.tokens.push({
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_in: tokens.expires_in,
            scope: tokens.scope,
            token_type: tokens.token_type
        });
        step(`saved tokens #${report.tokens.length} (expires_in ${tokens.expires_in}, scope ${JSON.stringify(tokens.scope)})`);
    }
    redirectToAuthorization(url) {
        report.browser_invocations += 1;
        report.authorization_url = url.href;
        step(`opening the browser: ${url.origin}${url.pathname}`);
        const child = spawn(this._browser, [url.href], { stdio: ['ignore', 'ignore', 'inherit'] });
        // a browser that gave up (the person could not sign in) fails the flow now, not at the timeout
        this.browserFailed = new Promise((_, reject) => {
            child.on('error', err => reject(new FlowFailure(`the browser did not start: ${err.message}`)));
            child.on('exit', code => code !== 0 && reject(new FlowFailure(`the browser exited with status ${code}`)));
        });
        this.browserFailed.catch(() => {}); // handled by the race in main(); never an unhandled rejection
    }
    // kept so that v2 checks the callback leg against the discovered authorization server (SEP-2352)
    saveDiscoveryState(state) {
        this._discovery = state;
    }
    discoveryState() {
        return this._discovery;
    }
    saveCodeVerifier(v) {
        this._verifier = v;
    }
    codeVerifier() {
        return this._verifier;
    }
    invalidateCredentials(scope) {
        step(`SDK invalidated credentials: ${scope}`);
        report.invalidated = [...(report.invalidated ?? []), scope];
        if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
        if (scope === 'all' || scope === 'client') this._client = undefined;
        if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
    }
    /** What a revoked token looks like to the client: the server stops accepting it. */
    spoilAccessToken() {
        this._tokens = { ...this._tokens, access_token: 'revoked.' + this._tokens.access_token.slice(8) };
    }
    /** A refresh token mcpauth never issued (revoked, or from another server's store). */
    spoilRefreshToken() {
        this._tokens = { ...this._tokens, refresh_token: 'unknown-' + this._tokens.refresh_token.slice(8) };
    }
}

function payload(result) {
    check(!result.isError, `whoami returned an error: ${JSON.stringify(result)}`);
    const sc = result.structuredContent;
    if (sc && typeof sc === 'object') {
        if ('sub' in sc) return sc;
        if (sc.result && typeof sc.result === 'object') return sc.result;
    }
    for (const block of result.content ?? []) {
        if (block.type === 'text') {
            try {
                const value = JSON.parse(block.text);
                if (value && typeof value === 'object') return value;
            } catch {
                /* not JSON */
            }
        }
    }
    throw new FlowFailure(`cannot read whoami's result: ${JSON.stringify(result)}`);
}

const grants = () => report.http_trace.filter(e => e.grant_type).map(e => e.grant_type);

async function main() {
    check(args['mcp-url'] && args.browser && args.report, '--mcp-url, --browser and --report are required');
    const sdk = await loadSdk(args.sdk);
    report.package = sdk.pkg;
    report.version = sdk.version;
    const mcpUrl = new URL(args['mcp-url']);
    const cb = await callbackServer();
    const provider = new MemoryProvider(`http://127.0.0.1:${cb.port}/callback`, args.browser);
    const fetchFn = tracingFetch(report.http_trace);
    const transport = () => new sdk.StreamableHTTPClientTransport(mcpUrl, { authProvider: provider, fetch: fetchFn });
    const newClient = () => new sdk.Client({ name: `mcpauth-e2e-${args.sdk}`, version: '0' }, { capabilities: {} });

    /** The browser's round trip: the callback's query, checked, then redeemed by `finishAuth`. */
    const timeout = Number(args['callback-timeout']) * 1000;
    const completeLogin = async (pendingTransport, label) => {
        const params = await Promise.race([
            callback,
            provider.browserFailed,
            new Promise((_, reject) => setTimeout(() => reject(new FlowFailure(`${label}: no callback from the browser`)), timeout).unref())
        ]);
        callback = cb.next();
        report.callbacks.push({ label, code_present: params.has('code'), state_matches: params.get('state') === provider._state, iss: params.get('iss') });
        check(!params.has('error'), `${label}: the callback carries error=${params.get('error')} (${params.get('error_description')})`);
        check(params.get('state') === provider._state, `${label}: the callback state differs from the one sent`);
        const saved = report.tokens.length;
        if (args.sdk === 'v2') await pendingTransport.finishAuth(params);
        else await pendingTransport.finishAuth(params.get('code'));
        check(report.tokens.length === saved + 1, `${label}: finishAuth saved no tokens`);
    };
    const isUnauthorized = err => err instanceof sdk.UnauthorizedError || err?.name === 'UnauthorizedError';
    report.callbacks = [];
    let callback = cb.next();

    // 1-2: the first connection needs a login
    const first = transport();
    let client = newClient();
    try {
        await client.connect(first);
        throw new FlowFailure('the first connection succeeded without a login');
    } catch (err) {
        if (err instanceof FlowFailure) throw err;
        check(isUnauthorized(err), `the first connection failed with ${err?.name}: ${err?.message}`);
        step(`first connection: ${err.name} (login needed)`);
    }
    check(report.browser_invocations === 1, `the browser was opened ${report.browser_invocations} times`);
    await completeLogin(first, 'login');
    report.callback = report.callbacks[0];
    await client.close().catch(() => {});

    // 3: signed in
    client = newClient();
    await client.connect(transport());
    const tools = await client.listTools();
    report.tools = tools.tools.map(t => t.name);
    check(report.tools.includes('whoami'), `tools/list has no whoami: ${report.tools}`);
    const whoami = async label => {
        const w = payload(await client.callTool({ name: 'whoami', arguments: {} }));
        report.whoami.push({ label, sub: w.sub, client_id: w.client_id, jti: w.jti, scope: w.scope, distinct_jti_count: w.distinct_jti_count });
        step(`${label}: whoami sub=${w.sub} client_id=${w.client_id} jti=${w.jti}`);
        return w;
    };
    const login = await whoami('after login');
    check(login.sub, 'whoami has no sub');
    check(login.client_id === provider._client?.client_id, `whoami's client_id ${login.client_id} is not the registered one`);

    // 4: forced refresh: the access token stops working
    const refreshed = async label => {
        const before = grants().filter(g => g === 'refresh_token').length;
        const tokensBefore = report.tokens.length;
        const w = await whoami(label);
        check(grants().filter(g => g === 'refresh_token').length === before + 1, `${label}: no refresh_token grant was made (${grants()})`);
        check(report.tokens.length === tokensBefore + 1, `${label}: no new tokens were saved`);
        const [prev, now] = report.tokens.slice(-2);
        check(now.access_token !== prev.access_token, `${label}: the access token did not change`);
        check(now.refresh_token && now.refresh_token !== prev.refresh_token, `${label}: the refresh token did not rotate`);
        check(report.browser_invocations === 1, `${label}: the browser was opened again`);
        check(w.sub === login.sub && w.client_id === login.client_id, `${label}: sub/client_id changed: ${w.sub} ${w.client_id}`);
        return w;
    };
    provider.spoilAccessToken();
    await refreshed('forced refresh');

    // 5: the real expiry
    const wait = Number(args['wait-expiry']);
    if (wait > 0) {
        step(`waiting ${wait}s for the access token to expire`);
        await new Promise(r => setTimeout(r, wait * 1000));
        await refreshed('refresh after expiry');
    }
    await client.close().catch(() => {});

    // 6: refusal: a refresh token mcpauth does not know gets invalid_grant; the SDK must drop
    // its tokens and start a new login (the browser opens again), not retry or give up
    provider.spoilAccessToken();
    provider.spoilRefreshToken();
    const refreshesBefore = report.http_trace.filter(e => e.grant_type === 'refresh_token').length;
    const again = transport();
    client = newClient();
    try {
        await client.connect(again);
        throw new FlowFailure('refusal: the connection succeeded with a spoiled refresh token');
    } catch (err) {
        if (err instanceof FlowFailure) throw err;
        check(isUnauthorized(err), `refusal: the connection failed with ${err?.name}: ${err?.message}`);
    }
    const refused = report.http_trace.filter(e => e.grant_type === 'refresh_token').slice(refreshesBefore);
    report.refused_refresh = refused.map(e => ({ status: e.status, error: e.error }));
    check(refused.length === 1 && refused[0].status === 400 && refused[0].error === 'invalid_grant', `refusal: the spoiled refresh was answered ${JSON.stringify(report.refused_refresh)}`);
    check(report.browser_invocations === 2, `refusal: the browser was opened ${report.browser_invocations} times, expected a second login`);
    await completeLogin(again, 'login after invalid_grant');
    client = newClient();
    await client.connect(transport());
    const relogin = await whoami('after the second login');
    check(relogin.sub === login.sub && relogin.client_id === login.client_id, `refusal: sub/client_id changed after the second login`);
    await client.close().catch(() => {});
    report.ok = true;
}

try {
    await main();
} catch (err) {
    report.error = `${err?.name ?? 'Error'}: ${err?.message ?? err}`;
    if (!(err instanceof FlowFailure)) report.stack = err?.stack;
}
report.grants = grants();
const text = JSON.stringify(report, null, 2);
if (args.report) writeFileSync(args.report, text);
process.stdout.write(text + '\n');
process.exit(report.ok ? 0 : 1);
