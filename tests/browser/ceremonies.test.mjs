// The WebAuthn ceremonies in a real browser (issue 3, "A real browser completes the ceremonies").
//
// Debian's headless Chromium, driven by playwright-core, with a CDP virtual authenticator
// (CTAP2, USB, resident keys, user verification, automatic presence) runs the ceremony
// JavaScript against `keyfleet serve` on a fresh SQLite file:
//
//   TAP sign-in -> registration options (attestation direct) -> navigator.credentials.create
//   -> registration verify (201, packed) -> logout -> /me is 401 -> username-less sign-in
//   -> /me is a full session -> logout -> username-first sign-in -> the key's sign count rose;
//   then a second create for the same user is refused by the browser (excludeCredentials,
//   InvalidStateError), and on a server requiring user verification an authenticator that
//   cannot verify its user gives NotAllowedError and the server stores nothing.
//
// The page is keyfleet's sign-in page (its strict CSP allows same-origin fetch), and the
// ceremony code runs in it through page.evaluate: same-origin fetch calls to
// the JSON routes (the browser adds the Origin header and the session cookie), the Level 3 JSON
// helpers (parseCreationOptionsFromJSON, toJSON) with a manual base64url fallback.
//
// Environment: KEYFLEET_BIN (required: the keyfleet binary), KEYFLEET_CHROMIUM
// (/usr/bin/chromium), KEYFLEET_E2E_SCREENSHOTS (<repo>/target/e2e-screenshots).
// tests/browser/run.sh sets them up; run that.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ARGS, BIN, CHROMIUM, Keyfleet, SHOTS, b64u, cdpToB64u, fromB64u, log, story, watchdog } from './lib.mjs';

const T0 = performance.now();
watchdog(240_000, 'the ceremonies browser test');
// What Chromium's virtual authenticator puts in a `direct` (packed) attestation.
const CHROMIUM_AAGUID = '01020304-0506-0708-0102-030405060708';
const NICKNAME = 'Chromium virtual key';

// ---------------------------------------------------------------------------------------------
// The page side. Serialised by Playwright into the page: it must not close over anything.

function installHelpers() {
  const toB64u = (buf) => {
    const bytes = new Uint8Array(buf);
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };
  const fromB64u = (s) => {
    const t = s.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(t + '='.repeat((4 - (t.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  };
  const native = typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function'
    && typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';
  const nativeToJSON = typeof PublicKeyCredential.prototype.toJSON === 'function';
  const descriptor = (d) => ({ ...d, id: fromB64u(d.id) });
  const creationOptions = (j) => (native ? PublicKeyCredential.parseCreationOptionsFromJSON(j) : {
    ...j,
    challenge: fromB64u(j.challenge),
    user: { ...j.user, id: fromB64u(j.user.id) },
    excludeCredentials: (j.excludeCredentials || []).map(descriptor),
  });
  const requestOptions = (j) => (native ? PublicKeyCredential.parseRequestOptionsFromJSON(j) : {
    ...j,
    challenge: fromB64u(j.challenge),
    allowCredentials: (j.allowCredentials || []).map(descriptor),
  });
  const credentialJSON = (c) => {
    if (nativeToJSON) return c.toJSON();
    const r = c.response;
    const response = r.attestationObject
      ? { clientDataJSON: toB64u(r.clientDataJSON), attestationObject: toB64u(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : [] }
      : { clientDataJSON: toB64u(r.clientDataJSON), authenticatorData: toB64u(r.authenticatorData),
        signature: toB64u(r.signature), ...(r.userHandle ? { userHandle: toB64u(r.userHandle) } : {}) };
    return { id: c.id, rawId: toB64u(c.rawId), type: c.type, authenticatorAttachment: c.authenticatorAttachment,
      clientExtensionResults: c.getClientExtensionResults(), response };
  };
  const ceremony = async (fn) => {
    const t = performance.now();
    try {
      const credential = credentialJSON(await fn());
      return { ok: true, credential, ms: performance.now() - t };
    } catch (e) {
      return { ok: false, name: e.name, message: e.message, ms: performance.now() - t };
    }
  };
  window.kf = {
    async api(method, url, body) {
      const init = { method, credentials: 'same-origin', headers: {} };
      if (body !== undefined) {
        init.headers['content-type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
      const r = await fetch(url, init);
      const text = await r.text();
      let json = null;
      try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
      return { status: r.status, contentType: r.headers.get('content-type'), location: r.headers.get('location'), json, text };
    },
    create: (publicKey) => ceremony(() => navigator.credentials.create({ publicKey: creationOptions(publicKey) })),
    get: (publicKey) => ceremony(() => navigator.credentials.get({ publicKey: requestOptions(publicKey) })),
  };
  return { native, nativeToJSON, origin: location.origin, userAgent: navigator.userAgent };
}

function renderSummary(text) {
  document.title = 'keyfleet browser e2e';
  const pre = document.createElement('pre');
  pre.textContent = text;
  pre.style.font = '14px monospace';
  pre.style.margin = '16px';
  document.body.replaceChildren(pre);
}

// ---------------------------------------------------------------------------------------------
// One browser for the file; one context (cookie jar), page and virtual authenticator per server.

let browser;

async function openPage(server, authenticatorOptions = {}) {
  // The sign-in page is the document: its CSP (connect-src 'self') lets same-origin fetch calls
  // through, so nothing is bypassed.
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'usb', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
      ...authenticatorOptions,
    },
  });
  const events = [];
  cdp.on('WebAuthn.credentialAdded', (e) => events.push({ kind: 'added', id: cdpToB64u(e.credential.credentialId) }));
  cdp.on('WebAuthn.credentialAsserted', (e) => events.push({ kind: 'asserted', id: cdpToB64u(e.credential.credentialId) }));
  const resp = await page.goto(`${server.origin}/login`);
  assert.equal(resp.status(), 200, 'the same-origin page loads');
  const info = await page.evaluate(installHelpers);
  assert.equal(info.origin, server.origin);
  const api = (method, url, body) => page.evaluate(([m, u, b]) => window.kf.api(m, u, b), [method, url, body]);
  const create = (publicKey) => page.evaluate((pk) => window.kf.create(pk), publicKey);
  const get = (publicKey) => page.evaluate((pk) => window.kf.get(pk), publicKey);
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  return { context, page, cdp, authenticatorId, events, info, api, create, get, credentials };
}

const show = (r) => `${r.status} ${r.text?.slice(0, 600)}`;

function assertProblem(r, status, what) {
  assert.equal(r.status, status, `${what}: ${show(r)}`);
  assert.match(r.contentType ?? '', /^application\/problem\+json/, `${what}: problem+json`);
  assert.equal(typeof r.json?.code, 'string', `${what}: a problem with a code`);
}

// ---------------------------------------------------------------------------------------------

describe('WebAuthn ceremonies in headless Chromium against keyfleet serve (SQLite)', { timeout: 180_000 }, () => {
  let failed = false;
  const { timings, state, step, need } = story(it, () => { failed = true; });
  let main;
  let uvServer;
  let tab;

  // A step of the story: records its time and outcome; a later step needing an earlier
  // result fails loudly (never skips) when that result is missing.

  before(async () => {
    assert.ok(BIN, 'KEYFLEET_BIN must name the keyfleet binary (tests/browser/run.sh sets it)');
    assert.ok(fs.existsSync(BIN), `no keyfleet binary at ${BIN}`);
    assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    const t = performance.now();
    // Settled one by one, so that `after` stops whatever did start when something else failed.
    const started = await Promise.allSettled([
      Keyfleet.start('main', { username: 'alice' }).then((k) => { main = k; }),
      Keyfleet.start('uv', { username: 'bob', extraEnv: { KEYFLEET_USER_VERIFICATION: 'required' } }).then((k) => { uvServer = k; }),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 }).then((b) => { browser = b; }),
    ]);
    const problem = started.find((r) => r.status === 'rejected');
    if (problem) {
      failed = true;
      throw problem.reason;
    }
    log(`Chromium ${browser.version()}, servers ${main.origin} and ${uvServer.origin}: ready in ${(performance.now() - t).toFixed(0)} ms`);
    tab = await openPage(main);
    log(`page: native JSON helpers ${tab.info.native}, toJSON ${tab.info.nativeToJSON}`);
  }, { timeout: 90_000 });

  after(async () => {
    let screenshotError;
    try {
      if (tab) {
        const lines = timings.map(([n, ms, s]) => `${s.padEnd(6)} ${ms.toFixed(0).padStart(5)} ms  ${n}`);
        const text = [`keyfleet: WebAuthn ceremonies in ${browser?.version() ?? 'Chromium'} against ${main?.origin}`, '',
          ...lines, '', `GET /api/v1/me/credentials after two sign-ins: ${JSON.stringify(state.listed ?? null, null, 2)}`].join('\n');
        fs.mkdirSync(SHOTS, { recursive: true });
        await tab.page.evaluate(renderSummary, text);
        await tab.page.screenshot({ path: path.join(SHOTS, 'ceremonies.png'), fullPage: true });
        log(`screenshot: ${path.join(SHOTS, 'ceremonies.png')}`);
      }
    } catch (e) {
      failed = true;
      screenshotError = e;
    } finally {
      try { await browser?.close(); } finally {
        await Promise.all([main?.stop({ keep: failed }), uvServer?.stop({ keep: failed })]);
        for (const [n, ms, s] of timings) log(`${s.padEnd(6)} ${ms.toFixed(0).padStart(5)} ms  ${n}`);
        log(`browser e2e total: ${((performance.now() - T0) / 1000).toFixed(2)} s (process start to teardown)`);
      }
    }
    // The screenshot is part of the contract (target/e2e-screenshots/): its failure fails the run.
    if (screenshotError) throw screenshotError;
  }, { timeout: 60_000 });

  step('a worker signs in with a temporary access pass (session kind tap)', async () => {
    const r = await tab.api('POST', '/api/v1/auth/tap', { username: 'alice', code: main.tap });
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.user.username, 'alice');
    assert.equal(r.json.session.kind, 'tap');
    const me = await tab.api('GET', '/api/v1/me');
    assert.equal(me.status, 200, show(me));
    assert.equal(me.json.session.kind, 'tap');
    state.userId = r.json.user.id;
  });

  step('registration options ask for direct attestation and a preferred resident key', async () => {
    const r = await tab.api('POST', '/api/v1/me/credentials/registration/options');
    assert.equal(r.status, 200, show(r));
    const { ceremonyId, publicKey: pk } = r.json;
    assert.equal(typeof ceremonyId, 'string');
    assert.equal(pk.rp.id, 'localhost');
    assert.equal(pk.user.name, 'alice');
    assert.equal(pk.attestation, 'direct');
    assert.equal(pk.authenticatorSelection.residentKey, 'preferred');
    assert.equal(pk.authenticatorSelection.userVerification, 'preferred');
    assert.equal(fromB64u(pk.challenge).length, 32, 'a 32-byte challenge');
    assert.deepEqual(pk.excludeCredentials ?? [], [], 'no keys to exclude yet');
    assert.ok(pk.pubKeyCredParams.some((p) => p.type === 'public-key' && p.alg === -7), 'ES256 offered');
    const handle = fromB64u(pk.user.id);
    assert.ok(handle.length >= 16, 'a random user handle');
    assert.ok(!handle.toString('latin1').toLowerCase().includes('alice'), 'the user handle is not the username');
    assert.notEqual(pk.user.id, b64u('alice'));
    assert.notEqual(handle.toString('latin1'), state.userId, 'the user handle is not the user id');
    state.regOptions = r.json;
  });

  step('navigator.credentials.create on the virtual authenticator, then verify: 201, packed', async () => {
    const { ceremonyId, publicKey } = need('regOptions');
    const c = await tab.create(publicKey);
    assert.ok(c.ok, `create failed: ${c.name}: ${c.message}`);
    const cred = c.credential;
    assert.equal(cred.type, 'public-key');
    assert.equal(cred.authenticatorAttachment, 'cross-platform');
    assert.deepEqual(cred.response.transports, ['usb']);
    assert.equal(cred.clientExtensionResults?.credProps?.rk, true, 'a discoverable credential (credProps.rk)');
    const clientData = JSON.parse(fromB64u(cred.response.clientDataJSON).toString('utf8'));
    assert.equal(clientData.type, 'webauthn.create');
    assert.equal(clientData.origin, main.origin);
    assert.equal(clientData.challenge, publicKey.challenge);

    const r = await tab.api('POST', '/api/v1/me/credentials/registration/verify', { ceremonyId, nickname: NICKNAME, credential: cred });
    assert.equal(r.status, 201, show(r));
    const k = r.json;
    assert.equal(k.id, cred.id);
    assert.equal(r.location, `/api/v1/me/credentials/${cred.id}`);
    assert.equal(k.nickname, NICKNAME);
    assert.equal(k.attestationFormat, 'packed');
    assert.equal(k.aaguid, CHROMIUM_AAGUID);
    assert.equal(k.alg, -7);
    assert.deepEqual(k.transports, ['usb']);
    assert.equal(k.userVerified, true);
    assert.equal(k.possiblyCloned, false);
    assert.ok(['trusted', 'not_evaluated', 'none', 'self'].includes(k.attestationTrust), k.attestationTrust);

    const onKey = await tab.credentials();
    assert.equal(onKey.length, 1, 'one credential on the authenticator');
    assert.equal(cdpToB64u(onKey[0].credentialId), cred.id);
    assert.equal(onKey[0].isResidentCredential, true);
    assert.equal(onKey[0].rpId, 'localhost');
    assert.equal(cdpToB64u(onKey[0].userHandle), publicKey.user.id);
    assert.equal(k.signCount, onKey[0].signCount, 'the stored sign count is the authenticator\'s');
    state.credentialId = cred.id;
    state.userHandle = publicKey.user.id;
    state.registered = k;
  });

  step('sign-out: logout is 204, then /me is 401', async () => {
    need('credentialId');
    const r = await tab.api('POST', '/api/v1/auth/logout');
    assert.equal(r.status, 204, show(r));
    assertProblem(await tab.api('GET', '/api/v1/me'), 401, 'GET /me after logout');
  });

  const signIn = async (body, check) => {
    const o = await tab.api('POST', '/api/v1/auth/webauthn/options', body);
    assert.equal(o.status, 200, show(o));
    const { ceremonyId, publicKey: pk } = o.json;
    assert.equal(typeof ceremonyId, 'string');
    assert.equal(pk.rpId, 'localhost');
    assert.equal(fromB64u(pk.challenge).length, 32, 'a 32-byte challenge');
    check(pk);
    const g = await tab.get(pk);
    assert.ok(g.ok, `get failed: ${g.name}: ${g.message}`);
    const cred = g.credential;
    assert.equal(cred.id, state.credentialId);
    const clientData = JSON.parse(fromB64u(cred.response.clientDataJSON).toString('utf8'));
    assert.equal(clientData.type, 'webauthn.get');
    assert.equal(clientData.origin, main.origin);
    const v = await tab.api('POST', '/api/v1/auth/webauthn/verify', { ceremonyId, credential: cred });
    assert.equal(v.status, 200, show(v));
    assert.equal(v.json.user.username, 'alice');
    assert.equal(v.json.user.id, state.userId);
    assert.equal(v.json.session.kind, 'full');
    const me = await tab.api('GET', '/api/v1/me');
    assert.equal(me.status, 200, show(me));
    assert.equal(me.json.user.username, 'alice');
    assert.equal(me.json.session.kind, 'full');
    return cred;
  };

  step('username-less sign-in: empty allowCredentials, the user found by its handle, a full session', async () => {
    need('credentialId');
    const cred = await signIn({}, (pk) => assert.deepEqual(pk.allowCredentials ?? [], [], 'discoverable: no allowCredentials'));
    assert.equal(cred.response.userHandle, state.userHandle, 'the authenticator returns the user handle');
    const r = await tab.api('POST', '/api/v1/auth/logout');
    assert.equal(r.status, 204, show(r));
    assertProblem(await tab.api('GET', '/api/v1/me'), 401, 'GET /me after the second logout');
  });

  step('username-first sign-in: allowCredentials names the key', async () => {
    const id = need('credentialId');
    await signIn({ username: 'alice' }, (pk) => {
      assert.ok(Array.isArray(pk.allowCredentials) && pk.allowCredentials.length > 0, 'allowCredentials is not empty');
      assert.ok(pk.allowCredentials.some((d) => d.id === id && d.type === 'public-key'), 'allowCredentials holds the key');
    });
  });

  step('the key is listed with its sign count increased', async () => {
    const registered = need('registered');
    const r = await tab.api('GET', '/api/v1/me/credentials');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.json.length, 1, show(r));
    const [k] = r.json;
    assert.equal(k.id, state.credentialId);
    assert.equal(k.nickname, NICKNAME);
    assert.ok(k.signCount > registered.signCount, `sign count ${k.signCount} > ${registered.signCount}`);
    const [onKey] = await tab.credentials();
    assert.equal(k.signCount, onKey.signCount, 'the stored sign count is the authenticator\'s');
    assert.ok(k.lastUsedAt, 'lastUsedAt is set');
    assert.deepEqual(tab.events.map((e) => e.kind), ['added', 'asserted', 'asserted']);
    assert.ok(tab.events.every((e) => e.id === state.credentialId));
    state.listed = k;
  });

  step('registering the same key again: excludeCredentials, InvalidStateError, nothing stored', async () => {
    const id = need('credentialId');
    const o = await tab.api('POST', '/api/v1/me/credentials/registration/options');
    assert.equal(o.status, 200, show(o));
    const pk = o.json.publicKey;
    assert.ok(pk.excludeCredentials.some((d) => d.id === id && d.type === 'public-key'), 'excludeCredentials holds the key');
    const c = await tab.create(pk);
    assert.equal(c.ok, false, 'the browser refuses to register an excluded key');
    assert.equal(c.name, 'InvalidStateError', c.message);
    const list = await tab.api('GET', '/api/v1/me/credentials');
    assert.equal(list.status, 200, show(list));
    assert.equal(list.json.length, 1, 'still one key');
    assert.equal((await tab.credentials()).length, 1, 'still one credential on the authenticator');
  });

  step('user verification required: an unverified authenticator gives NotAllowedError and nothing is stored', async () => {
    const uv = await openPage(uvServer);
    try {
      await uv.cdp.send('WebAuthn.setUserVerified', { authenticatorId: uv.authenticatorId, isUserVerified: false });
      const t = await uv.api('POST', '/api/v1/auth/tap', { username: 'bob', code: uvServer.tap });
      assert.equal(t.status, 200, show(t));
      assert.equal(t.json.session.kind, 'tap');
      const o = await uv.api('POST', '/api/v1/me/credentials/registration/options');
      assert.equal(o.status, 200, show(o));
      assert.equal(o.json.publicKey.authenticatorSelection.userVerification, 'required');
      const c = await uv.create(o.json.publicKey);
      assert.equal(c.ok, false, 'create without user verification fails');
      assert.equal(c.name, 'NotAllowedError', c.message);
      assert.deepEqual(await uv.credentials(), [], 'nothing on the authenticator');
      // The server stores nothing: a new ceremony has no key to exclude.
      const again = await uv.api('POST', '/api/v1/me/credentials/registration/options');
      assert.equal(again.status, 200, show(again));
      assert.deepEqual(again.json.publicKey.excludeCredentials ?? [], [], 'the server holds no key for bob');

      // The same server and authenticator succeed once the user is verified.
      await uv.cdp.send('WebAuthn.setUserVerified', { authenticatorId: uv.authenticatorId, isUserVerified: true });
      const ok = await uv.create(again.json.publicKey);
      assert.ok(ok.ok, `create with user verification: ${ok.name}: ${ok.message}`);
      const v = await uv.api('POST', '/api/v1/me/credentials/registration/verify',
        { ceremonyId: again.json.ceremonyId, nickname: 'verified key', credential: ok.credential });
      assert.equal(v.status, 201, show(v));
      assert.equal(v.json.userVerified, true);
    } finally {
      await uv.context.close();
    }
  });
});
