// Single sign-on applications on the console, and the consent page of a third-party
// application, in Debian's headless Chromium with its CDP virtual authenticator (issue 13).
//
//   admin: setup TAP -> adds a key -> signs in with it -> Applications -> New application
//   (a third-party one, a loopback redirect URI, a strength from the list) -> the secret shown
//   once -> the application's page (saved edit) -> the authorization request of that
//   application: the consent page names it and its scopes -> Deny: access_denied with state and
//   iss at the redirect URI -> Allow: a code, redeemed at the token endpoint -> the next
//   request goes straight through (consent remembered). No page logs a script or CSP error.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { chromium } from 'playwright-core';
import { ARGS, BIN, CHROMIUM, Keyfleet, freePort, log, newPerson, story, watchdog, registerFirstKey } from './lib.mjs';

watchdog(180_000, 'the applications browser test');

let browser;
let server;
let app;
let failed = false;

const b64u = (buf) => Buffer.from(buf).toString('base64url');

describe('applications console and consent page in Chromium', () => {
  const { step, state, need } = story(it, () => { failed = true; });

  before(async () => {
    assert.ok(BIN, 'KEYFLEET_BIN must name the keyfleet binary');
    server = await Keyfleet.start('applications');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const port = await freePort();
    app = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`application got ${req.url}`);
    });
    await new Promise((r) => app.listen(port, '127.0.0.1', r));
    state.appBase = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    const p = state.admin;
    if (p?.errors.length) {
      failed = true;
      log(`browser errors:\n  ${p.errors.join('\n  ')}`);
    }
    await browser?.close();
    app?.close();
    await server?.stop({ keep: failed });
  });

  step('the administrator signs in with a key', async () => {
    const p = await newPerson(browser, 'admin');
    await registerFirstKey(p.page, server.origin, 'admin', server.setupTap, 'Admin key');
    await p.page.getByRole('button', { name: 'Sign out and sign in with my key' }).click();
    await p.page.waitForURL((u) => u.pathname === '/login');
    await p.page.getByRole('button', { name: 'Continue with my security key' }).click();
    await p.page.waitForURL((u) => u.pathname === '/security-info');
    state.admin = p;
  });

  step('creates a third-party application; the secret is shown once', async () => {
    const p = need('admin');
    await p.page.getByRole('link', { name: 'Applications' }).click();
    await p.page.waitForURL((u) => u.pathname === '/admin/applications');
    assert.ok(await p.page.locator('#no-applications').isVisible());
    await p.page.locator('#new-application').click();
    await p.page.waitForURL((u) => u.pathname === '/admin/applications/new');
    const resp = await p.page.reload();
    const csp = resp.headers()['content-security-policy'];
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await p.page.getByLabel('Name', { exact: true }).fill('Partner Portal');
    await p.page.getByLabel(/^Redirect URIs/).fill(`${need('appBase')}/cb`);
    await p.page.getByLabel('Required authentication strength').selectOption('phishing-resistant');
    await p.page.locator('#app-third-party').check();
    await p.page.locator('#save-application').click();
    await p.page.waitForSelector('#client-secret');
    const clientId = (await p.page.locator('#client-id').innerText()).trim();
    const secret = (await p.page.locator('#client-secret').innerText()).trim();
    assert.match(clientId, /^kfa_/);
    assert.match(secret, /^kfas_/);
    await p.page.locator('#go-to-application').click();
    await p.page.waitForURL((u) => u.pathname === `/admin/applications/${clientId}`);
    assert.match(await p.page.locator('#notice').innerText(), /created/);
    assert.ok(!(await p.page.content()).includes(secret), 'the secret is not shown again');
    assert.equal(await p.page.locator('#app-strength').inputValue(), 'phishing-resistant');
    assert.ok(await p.page.locator('#app-third-party').isChecked());
    state.client = { clientId, secret };
  });

  step('edits it: a post-logout URI and a shorter token lifetime', async () => {
    const p = need('admin');
    need('client');
    await p.page.getByLabel(/^Post-logout redirect URIs/).fill(`${need('appBase')}/bye`);
    await p.page.getByLabel(/^Access and ID token lifetime/).fill('300');
    await p.page.locator('#save-application').click();
    await p.page.waitForURL((u) => u.search.includes('done=saved'));
    assert.equal(await p.page.locator('#app-access-lifetime').inputValue(), '300');
    assert.equal(await p.page.locator('#app-post-logout').inputValue(), `${need('appBase')}/bye`);
    // A refused change keeps the form and says why.
    await p.page.getByLabel(/^Redirect URIs/).fill('http://partner.example.com/cb');
    await p.page.locator('#save-application').click();
    await p.page.locator('#form-error').waitFor();
    assert.match(await p.page.locator('#form-error').innerText(), /Nothing was saved/);
  });

  const authorizeUrl = (clientId, verifier, st) => {
    const q = new URLSearchParams({
      client_id: clientId, redirect_uri: `${need('appBase')}/cb`, response_type: 'code',
      scope: 'openid profile email', state: st, nonce: 'n-1', code_challenge_method: 'S256',
      code_challenge: b64u(crypto.createHash('sha256').update(verifier).digest()),
    });
    return `${server.origin}/oauth2/authorize?${q}`;
  };

  step('the consent page: Deny sends access_denied with state and iss', async () => {
    const p = need('admin');
    const { clientId } = need('client');
    await p.page.goto(authorizeUrl(clientId, 'v'.repeat(43), 'deny-state'));
    await p.page.locator('#consent-title').waitFor();
    assert.equal(await p.page.locator('#consent-app').innerText(), 'Partner Portal');
    const scopes = await p.page.locator('#consent-scopes li').evaluateAll((lis) => lis.map((li) => li.dataset.scope));
    assert.deepEqual(scopes, ['openid', 'profile', 'email']);
    await p.page.locator('#consent-deny').click();
    await p.page.waitForURL((u) => u.href.startsWith(`${need('appBase')}/cb`));
    const u = new URL(p.page.url());
    assert.equal(u.searchParams.get('error'), 'access_denied');
    assert.equal(u.searchParams.get('state'), 'deny-state');
    assert.equal(u.searchParams.get('iss'), server.origin);
    assert.equal(u.searchParams.get('code'), null);
  });

  step('Allow sends a code that redeems; the next request needs no consent', async () => {
    const p = need('admin');
    const { clientId, secret } = need('client');
    const verifier = b64u(crypto.randomBytes(32));
    await p.page.goto(authorizeUrl(clientId, verifier, 'allow-state'));
    await p.page.locator('#consent-allow').click();
    await p.page.waitForURL((u) => u.href.startsWith(`${need('appBase')}/cb`));
    const u = new URL(p.page.url());
    assert.equal(u.searchParams.get('state'), 'allow-state');
    const code = u.searchParams.get('code');
    assert.ok(code, p.page.url());
    const r = await fetch(`${server.origin}/oauth2/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: `${need('appBase')}/cb`, code_verifier: verifier }),
    });
    assert.equal(r.status, 200, await r.clone().text());
    const tokens = await r.json();
    const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
    assert.equal(claims.aud, clientId);
    assert.equal(claims.acr, 'phr');
    await p.page.goto(authorizeUrl(clientId, verifier, 'again'));
    await p.page.waitForURL((x) => x.href.startsWith(`${need('appBase')}/cb`));
    assert.ok(new URL(p.page.url()).searchParams.get('code'), 'consent is remembered');
  });

  step('the application is deleted after a confirmation', async () => {
    const p = need('admin');
    const { clientId } = need('client');
    await p.page.goto(`${server.origin}/admin/applications/${clientId}`);
    await p.page.locator('#delete-application').click();
    await p.page.locator('#confirm-button').click();
    await p.page.waitForURL((u) => u.search.includes('done=deleted'));
    assert.ok(await p.page.locator('#no-applications').isVisible());
  });
});
