// Single sign-on with a client nobody here wrote (issue 13): openid-client (npm, by the
// author of node-oidc-provider) against `keyfleet serve`, the sign-in in between done in
// Debian's headless Chromium with its CDP virtual authenticator.
//
//   alice: signs in with her TAP and registers a key (pages) -> her cookies are cleared;
//   the application (created with `keyfleet admin create-application`, a loopback redirect
//   URI served by this test): discovery -> authorization URL with PKCE S256, state, nonce ->
//   the browser is sent to keyfleet's sign-in page and back with a code (and iss) ->
//   openid-client checks the response (state, iss), redeems the code and validates the ID
//   token (ES256 against the JWKS, iss, aud, nonce, at_hash; amr and acr) -> UserInfo -> refresh (rotation)
//   -> the rotated-out refresh token replayed is refused -> RP-initiated logout to the
//   registered post-logout URI -> the tokens are dead and prompt=none says login_required.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';
import { ARGS, BIN, CHROMIUM, Keyfleet, freePort, log, newPerson, story, watchdog, registerFirstKey } from './lib.mjs';

watchdog(240_000, 'the single sign-on browser test');

let browser;
let server;
let app;
let failed = false;

describe('single sign-on: openid-client against keyfleet, sign-in in Chromium', () => {
  const { step, state, need } = story(it, () => { failed = true; });

  before(async () => {
    assert.ok(BIN, 'KEYFLEET_BIN must name the keyfleet binary');
    server = await Keyfleet.start('sso', { username: 'alice' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    // The application's redirect URIs: a loopback server that answers every request.
    const port = await freePort();
    app = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`application got ${req.url}`);
    });
    await new Promise((r) => app.listen(port, '127.0.0.1', r));
    state.appBase = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await browser?.close();
    app?.close();
    await server?.stop({ keep: failed });
  });

  step('alice signs in with her TAP and registers a key', async () => {
    const p = await newPerson(browser, 'alice');
    await registerFirstKey(p.page, server.origin, 'alice', server.tap, 'SSO key');
    await p.context.clearCookies();
    state.alice = p;
  });

  step('an administrator registers the application with the CLI', async () => {
    const out = await server.cli(['admin', 'create-application', '--name', 'Expenses',
      '--redirect-uri', `${need('appBase')}/cb`, '--post-logout-redirect-uri', `${need('appBase')}/bye`]);
    const created = JSON.parse(out);
    assert.match(created.client_id, /^kfa_/);
    assert.match(created.client_secret, /^kfas_/);
    state.created = created;
  });

  step('discovery', async () => {
    const { client_id, client_secret } = need('created');
    const config = await oidc.discovery(new URL(server.origin), client_id,
      { client_secret, id_token_signed_response_alg: 'ES256' }, oidc.ClientSecretBasic(client_secret),
      { execute: [oidc.allowInsecureRequests] });
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, server.origin);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    state.config = config;
  });

  step('code flow with PKCE: keyfleet sign-in with the key in between, ID token validated', async () => {
    const config = need('config');
    const p = need('alice');
    const verifier = oidc.randomPKCECodeVerifier();
    const expectedState = oidc.randomState();
    const expectedNonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${need('appBase')}/cb`,
      scope: 'openid profile email groups offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: expectedState,
      nonce: expectedNonce,
    });
    await p.page.goto(url.href);
    await p.page.waitForURL((u) => u.pathname === '/login');
    await p.page.getByRole('button', { name: 'Sign in with a security key' }).click();
    await p.page.waitForURL((u) => u.href.startsWith(`${need('appBase')}/cb`), { timeout: 15_000 });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(p.page.url()), {
      pkceCodeVerifier: verifier, expectedState, expectedNonce, idTokenExpected: true,
    });
    const claims = tokens.claims();
    assert.equal(claims.iss, server.origin);
    assert.equal(claims.aud, need('created').client_id);
    assert.equal(claims.preferred_username, 'alice');
    assert.ok(claims.amr.includes('hwk'), `amr ${claims.amr}`);
    assert.ok(['phr', 'phrh'].includes(claims.acr), `acr ${claims.acr}`);
    assert.ok(claims.auth_time > 0);
    assert.ok(tokens.refresh_token);
    state.tokens = tokens;
    state.sub = claims.sub;
    log(`signed in to the application as ${claims.sub} with amr ${JSON.stringify(claims.amr)}, acr ${claims.acr}`);
  });

  step('UserInfo', async () => {
    const info = await oidc.fetchUserInfo(need('config'), need('tokens').access_token, need('sub'));
    assert.equal(info.email, 'alice@example.com');
    assert.equal(info.name, 'Alice Example');
  });

  step('refresh rotates the refresh token; the rotated-out one replayed is refused', async () => {
    const config = need('config');
    const first = need('tokens');
    const second = await oidc.refreshTokenGrant(config, first.refresh_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.equal(second.claims().sub, need('sub'));
    state.second = second;
    await assert.rejects(oidc.refreshTokenGrant(config, first.refresh_token), (e) => e.error === 'invalid_grant');
    await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token), (e) => e.error === 'invalid_grant',
      'the whole family is revoked');
  });

  step('RP-initiated logout ends the keyfleet session and the tokens', async () => {
    const config = need('config');
    const p = need('alice');
    const second = need('second');
    const url = oidc.buildEndSessionUrl(config, {
      id_token_hint: second.id_token,
      post_logout_redirect_uri: `${need('appBase')}/bye`,
      state: 'bye-state',
    });
    await p.page.goto(url.href);
    await p.page.waitForURL((u) => u.href === `${need('appBase')}/bye?state=bye-state`);
    // prompt=none now answers login_required (the session ended), with iss.
    const verifier = oidc.randomPKCECodeVerifier();
    const expectedState = oidc.randomState();
    const again = oidc.buildAuthorizationUrl(config, {
      redirect_uri: `${need('appBase')}/cb`, scope: 'openid', prompt: 'none', state: expectedState,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    await p.page.goto(again.href);
    await p.page.waitForURL((u) => u.href.startsWith(`${need('appBase')}/cb`));
    await assert.rejects(
      oidc.authorizationCodeGrant(config, new URL(p.page.url()), { pkceCodeVerifier: verifier, expectedState }),
      (e) => e.error === 'login_required',
    );
  });
});
