// The web portal and admin console in a real browser (issue 4).
//
// Debian's headless Chromium (playwright-core), one CDP virtual authenticator per person,
// against `keyfleet serve` on a fresh SQLite file. Everything goes through the pages, as
// people would use them (labels, buttons, links); nothing calls the JSON API directly:
//
//   admin: setup TAP from the start-up banner -> adds a key -> signs in with it (login_hint)
//          -> creates the worker wendy, the worker walt and the helpdesk user hank, issuing
//          each a TAP shown once;
//   wendy: signs in with the TAP -> registers "Blue key" -> signs out -> signs in username-less
//          -> renames the key -> tries the same key again (already registered: a human error)
//          -> adds a second key ("Green key", another authenticator) -> removes it (the
//          confirmation says sessions stay) -> reports the first one lost (last-key
//          confirmation) and is signed out at once;
//   walt:  signs in with his TAP and registers a key;
//   hank (helpdesk): adds a key, signs in, finds walt, resets all his keys (walt's session
//          ends), and is refused an administrator's page and the API-clients section.
//
// Then, on a second server that requires user verification and trusted attestation (roots that
// Chromium's virtual authenticator does not chain to), the failures a browser can report are
// shown in words: a policy refusal, a key that cannot verify its user (NotAllowedError), and
// a key never touched (the ceremony times out).
//
// Every page visited is saved as a screenshot under target/e2e-screenshots/portal/, at phone
// width for the worker and desktop width for the staff.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { chromium } from 'playwright-core';
import { ARGS, BIN, CHROMIUM, Keyfleet, SHOTS, log, newPerson, story, watchdog } from './lib.mjs';

const T0 = performance.now();
watchdog(360_000, 'the portal browser test');
const DIR = path.join(SHOTS, 'portal');

let browser;
let server;
let failed = false;
let shotNo = 0;
const shots = [];

/** A person: a browser context (cookie jar), a page, and a virtual authenticator. */
// Berlin, not UTC: the pages must show local time with the zone (UTC on hover).
const person = (who, opts) => newPerson(browser, who, {
  ...opts, context: { timezoneId: 'Europe/Berlin', permissions: ['clipboard-read', 'clipboard-write'] },
});

/** Saves a screenshot of the page as it is now. */
async function shot(p, name) {
  shotNo += 1;
  const file = path.join(DIR, `${String(shotNo).padStart(2, '0')}-${p.who}-${name}.png`);
  await p.page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

/** Goes to a path, checks the status, and saves a screenshot. */
async function visit(p, url, name, status = 200) {
  const resp = await p.page.goto(`${server.origin}${url}`);
  assert.equal(resp.status(), status, `${p.who}: GET ${url}`);
  await shot(p, name);
  return resp;
}

/** Waits for a navigation to `pathname` (and optional query), then screenshots it. */
async function arrived(p, pathname, name, query) {
  await p.page.waitForURL((u) => u.pathname === pathname && (!query || u.search.includes(query)), { timeout: 15_000 });
  await p.page.waitForLoadState('load');
  await shot(p, name);
}

const text = async (p, selector) => (await p.page.locator(selector).innerText()).trim();

async function tapSignIn(p, username, code) {
  await visit(p, '/login', 'login');
  await p.page.locator('#tap-username').fill(username);
  await p.page.locator('#tap-code').fill(code);
  await p.page.getByRole('button', { name: 'Sign in with the pass' }).click();
  await arrived(p, '/security-info', 'security-info-tap');
  assert.match(await text(p, 'h2#welcome-title'), /Welcome/);
  // Issue 10, the TAP trap: no "sign in with my key" before there is a key.
  assert.equal(await p.page.locator('#signin-with-key').count(), 0, 'no sign-in-with-key button before a key is added');
  assert.ok(await p.page.locator('#tap-add-first').isVisible());
}

async function addKey(p, nickname) {
  await p.page.locator('#nickname').fill(nickname);
  await p.page.getByRole('button', { name: 'Add security key' }).click();
  await arrived(p, '/security-info', `key-added-${nickname.replace(/\W+/g, '-').toLowerCase()}`, 'done=added');
  assert.match(await text(p, '#notice'), /was added/);
}

/** From a TAP session with a key just added: sign out, then sign in with the key (login_hint). */
async function signInWithNewKey(p, username) {
  await p.page.getByRole('button', { name: 'Sign out and sign in with my key' }).click();
  await arrived(p, '/login', 'login-hinted', `login_hint=${username}`);
  assert.equal(await text(p, '#hint-name'), username, 'login_hint pre-fills the username');
  assert.equal(await p.page.locator('#username-form').count(), 0, 'login_hint skips the username step');
  await p.page.getByRole('button', { name: 'Continue with my security key' }).click();
  await arrived(p, '/security-info', 'security-info');
}

async function createUser(admin, { username, displayName, role }) {
  await visit(admin, '/admin/users', 'users');
  await admin.page.locator('#new-user').click();
  await arrived(admin, '/admin/users/new', 'user-new');
  await admin.page.getByLabel('Username').fill(username);
  await admin.page.getByLabel('Display name').fill(displayName);
  await admin.page.getByLabel('Email', { exact: true }).fill(`${username}@example.com`);
  if (role) await admin.page.getByLabel('Role').selectOption(role);
  await admin.page.locator('#create-user').click();
  await admin.page.waitForURL(/\/admin\/users\/[0-9a-f-]{36}/);
  await shot(admin, `user-${username}`);
  const userUrl = new URL(admin.page.url()).pathname;
  await admin.page.locator('#issue-tap').click();
  await admin.page.waitForLoadState('load');
  await shot(admin, `tap-${username}`);
  const code = await admin.page.locator('#tap-code').getAttribute('data-code');
  assert.match(code, /^\S{16,}$/, 'the TAP is shown');
  // Issue 10: read out in blocks of four, with a copy button that copies the code itself.
  const blocks = await admin.page.locator('#tap-code .code-block').allInnerTexts();
  assert.equal(blocks.join(''), code);
  assert.ok(blocks.every((b) => b.length === 4), `blocks of four: ${blocks}`);
  await admin.page.locator('#copy-tap').click();
  await admin.page.locator('#copy-status').filter({ hasText: 'Copied' }).waitFor();
  assert.equal(await admin.page.evaluate(() => navigator.clipboard.readText()), code);
  // Issue 10: reloading the page shows the pass's status, never a new code.
  await admin.page.reload();
  await shot(admin, `tap-reloaded-${username}`);
  assert.equal(await admin.page.locator('#tap-code').count(), 0, 'a reload does not show a code');
  assert.ok(await admin.page.locator('#tap-shown-once').isVisible());
  return { userUrl, code };
}

describe('portal and admin console in headless Chromium against keyfleet serve (SQLite)', { timeout: 240_000 }, () => {
  const { timings, state, step, need } = story(it, () => { failed = true; });
  let admin;
  let wendy;
  let walt;
  let hank;


  before(async () => {
    assert.ok(BIN, 'KEYFLEET_BIN must name the keyfleet binary (tests/browser/run.sh sets it)');
    assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    fs.rmSync(DIR, { recursive: true, force: true });
    fs.mkdirSync(DIR, { recursive: true });
    const started = await Promise.allSettled([
      Keyfleet.start('portal').then((k) => { server = k; }),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 }).then((b) => { browser = b; }),
    ]);
    const problem = started.find((r) => r.status === 'rejected');
    if (problem) {
      failed = true;
      throw problem.reason;
    }
    log(`Chromium ${browser.version()}, server ${server.origin}`);
    admin = await person('admin');
  }, { timeout: 90_000 });

  after(async () => {
    try {
      for (const p of [admin, wendy, walt, hank]) {
        if (p && p.errors.length) {
          failed = true;
          log(`${p.who}: browser errors:\n  ${p.errors.join('\n  ')}`);
        }
      }
    } finally {
      await server?.stop({ keep: failed });
      for (const [n, ms, s] of timings) log(`${s.padEnd(6)} ${ms.toFixed(0).padStart(5)} ms  ${n}`);
      log(`${shots.length} screenshots in ${DIR}`);
      log(`portal e2e total: ${((performance.now() - T0) / 1000).toFixed(2)} s`);
    }
  }, { timeout: 60_000 });

  step('pages carry a strict CSP and the security headers', async () => {
    const resp = await visit(admin, '/login', 'login');
    const h = resp.headers();
    assert.match(h['content-security-policy'], /default-src 'none'/);
    assert.match(h['content-security-policy'], /script-src 'self'/);
    assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
    assert.doesNotMatch(h['content-security-policy'], /unsafe-inline|unsafe-eval/);
    assert.equal(h['x-content-type-options'], 'nosniff');
    assert.equal(h['referrer-policy'], 'same-origin');
    assert.equal(h['x-frame-options'], 'DENY');
  });

  step('the administrator takes keyfleet in with the setup TAP, adds a key and signs in with it', async () => {
    await tapSignIn(admin, 'admin', server.setupTap);
    await addKey(admin, 'Admin key');
    await signInWithNewKey(admin, 'admin');
    assert.match(await text(admin, '.keys'), /Admin key/);
    await admin.page.getByRole('link', { name: 'Users' }).click();
    await arrived(admin, '/admin/users', 'console-users');
    state.adminUrl = await admin.page.locator('a', { hasText: /^admin$/ }).first().getAttribute('href');
    assert.match(state.adminUrl ?? '', /^\/admin\/users\/[0-9a-f-]{36}$/);
  });

  step('the administrator creates a worker, a second worker and a helpdesk user, each with a TAP', async () => {
    need('adminUrl');
    state.wendy = await createUser(admin, { username: 'wendy', displayName: 'Wendy Worker' });
    state.walt = await createUser(admin, { username: 'walt', displayName: 'Walt Worker' });
    state.hank = await createUser(admin, { username: 'hank', displayName: 'Hank Helpdesk', role: 'helpdesk' });
    await visit(admin, '/admin/users?q=w', 'users-search');
    const rows = await admin.page.locator('tbody tr').allInnerTexts();
    assert.ok(rows.some((r) => r.includes('wendy')) && rows.some((r) => r.includes('walt')), rows.join('|'));
    assert.ok(!rows.some((r) => r.includes('hank')), 'the search filters');
  });

  step('the worker signs in with the TAP and registers a key with a nickname', async () => {
    const { code } = need('wendy');
    wendy = await person('wendy', { phone: true });
    await tapSignIn(wendy, 'wendy', code);
    assert.equal(await wendy.page.locator('#keys').count(), 0, 'a TAP session does not list keys');
    await addKey(wendy, 'Blue key');
    state.wendyKey = true;
  });

  step('she signs out, then signs in username-less with the key', async () => {
    need('wendyKey');
    await wendy.page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await arrived(wendy, '/login', 'signed-out', 'done=signed-out');
    await wendy.page.getByRole('button', { name: 'Sign in with a security key' }).click();
    await arrived(wendy, '/security-info', 'security-info');
    const key = wendy.page.locator('li.key', { hasText: 'Blue key' });
    await assert.doesNotReject(key.waitFor());
    assert.match(await key.innerText(), /Used for this sign-in/);
    assert.match(await key.innerText(), /Added/);
  });

  step('she renames the key', async () => {
    need('wendyKey');
    const key = wendy.page.locator('li.key', { hasText: 'Blue key' });
    await key.locator('summary', { hasText: 'Rename' }).click();
    await key.getByLabel(/New nickname/).fill('Blue key on my lanyard');
    await key.getByRole('button', { name: 'Save changes' }).click();
    await arrived(wendy, '/security-info', 'renamed', 'done=renamed');
    assert.match(await text(wendy, '.keys'), /Blue key on my lanyard/);
  });

  step('nicknames with markup are shown as text; a right-to-left override or 10 000 characters are refused', async () => {
    need('wendyKey');
    const dialogs = [];
    wendy.page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    const rename = async (to) => {
      const key = wendy.page.locator('li.key').first();
      await key.locator('summary', { hasText: 'Rename' }).click();
      await key.getByLabel(/New nickname/).fill(to);
      await key.getByRole('button', { name: 'Save changes' }).click();
      await wendy.page.waitForLoadState('load');
    };
    const hostile = '<img src=x onerror=alert(1)> "q" & <script>alert(2)</script>';
    await rename(hostile);
    await arrived(wendy, '/security-info', 'nickname-markup', 'done=renamed');
    assert.equal(await text(wendy, 'li.key .key-name'), hostile, 'shown exactly, as text');
    assert.equal(await wendy.page.locator('li.key img, li.key .key-name script').count(), 0, 'no element made from it');
    await rename('Evil\u202Egpj.exe');
    await shot(wendy, 'nickname-rlo');
    assert.match(await text(wendy, '#page-error'), /not changed/);
    assert.equal(await text(wendy, 'li.key .key-name'), hostile, 'unchanged');
    // The field holds 64 characters; a request with more is refused by the server too.
    await rename('x'.repeat(10_000));
    const now = await text(wendy, 'li.key .key-name');
    assert.ok(now === hostile || now.length <= 64, `stored ${now.length} characters`);
    await rename('Blue key on my lanyard');
    assert.equal(await text(wendy, 'li.key .key-name'), 'Blue key on my lanyard');
    assert.deepEqual(dialogs, [], 'no script ran');
  });

  step('a form posted from another site is refused and changes nothing', async () => {
    need('wendyKey');
    // Another origin (another port) with a form aimed at keyfleet's sign-out-everywhere.
    const evil = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>prize</title><form method="post" action="${server.origin}/logout">
        <input type="hidden" name="_csrf" value="guessed"><input type="hidden" name="everywhere" value="1">
        <button id="go">Claim your prize</button></form>`);
    });
    await new Promise((r) => evil.listen(0, '127.0.0.1', r));
    try {
      await wendy.page.goto(`http://127.0.0.1:${evil.address().port}/`);
      await wendy.page.locator('#go').click();
      await wendy.page.waitForLoadState('load');
      await shot(wendy, 'cross-site-refused');
      assert.match(await text(wendy, 'h1'), /This form could not be sent/);
    } finally {
      evil.close();
    }
    await visit(wendy, '/security-info', 'still-signed-in');
    assert.equal(new URL(wendy.page.url()).pathname, '/security-info', 'still signed in');
  });

  step('adding the same key again gives a human error and changes nothing', async () => {
    need('wendyKey');
    await wendy.page.locator('#nickname').fill('Same key again');
    await wendy.page.getByRole('button', { name: 'Add security key' }).click();
    const status = wendy.page.locator('#add-status');
    await status.filter({ hasText: /already registered/ }).waitFor({ timeout: 15_000 });
    await shot(wendy, 'already-registered');
    assert.equal(await wendy.page.locator('li.key').count(), 1);
  });

  step('she adds a second key from another authenticator', async () => {
    need('wendyKey');
    // Take the first key out of the "reader" and put another one in (NFC this time); the first
    // key's credential is kept to sign in with it again.
    const { credentials } = await wendy.cdp.send('WebAuthn.getCredentials', { authenticatorId: wendy.authenticatorId });
    assert.equal(credentials.length, 1);
    state.blueCredential = credentials[0];
    await wendy.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: wendy.authenticatorId });
    await wendy.addAuthenticator('nfc');
    await visit(wendy, '/security-info', 'security-info-before-second');
    await addKey(wendy, 'Green key');
    assert.equal(await wendy.page.locator('li.key').count(), 2);
    assert.match(await wendy.page.locator('li.key', { hasText: 'Green key' }).innerText(), /NFC/);
  });

  step('she removes one key: the confirmation says what happens next', async () => {
    need('blueCredential');
    await wendy.page.locator('li.key', { hasText: 'Green key' }).getByRole('link', { name: 'Remove' }).click();
    await wendy.page.waitForURL(/\/remove$/);
    await shot(wendy, 'confirm-remove');
    assert.match(await text(wendy, 'main'), /Sessions already open last until your next sign-in/);
    assert.equal(await wendy.page.locator('#confirm-last').count(), 0, 'not the last key: no extra confirmation');
    await wendy.page.getByRole('button', { name: 'Remove the key' }).click();
    await arrived(wendy, '/security-info', 'removed', 'done=removed');
    assert.equal(await wendy.page.locator('li.key').count(), 1);
  });

  step('she reports the other key lost: last-key confirmation, then she is signed out at once', async () => {
    need('blueCredential');
    await wendy.page.locator('li.key', { hasText: 'Blue key' }).getByRole('link', { name: 'I lost this key' }).click();
    await wendy.page.waitForURL(/\/lost$/);
    await shot(wendy, 'confirm-lost');
    assert.match(await text(wendy, 'main'), /only security key/);
    assert.match(await text(wendy, 'main'), /temporary access pass/);
    // The box must be ticked: the browser will not send the form without it.
    await wendy.page.getByRole('button', { name: 'Remove the key and end its sessions' }).click();
    assert.match(wendy.page.url(), /\/lost$/, 'not sent without the confirmation');
    await wendy.page.getByLabel(/I understand/).check();
    await wendy.page.getByRole('button', { name: 'Remove the key and end its sessions' }).click();
    await arrived(wendy, '/login', 'lost-signed-out', 'done=lost');
    assert.match(await text(wendy, 'main'), /session opened with it has ended/);
    const r = await wendy.page.goto(`${server.origin}/security-info`);
    assert.equal(new URL(wendy.page.url()).pathname, '/login', 'signed out: sent to sign-in');
    assert.equal(r.status(), 200);
    await shot(wendy, 'after-lost');
  });

  step('the console and the portal say the key was reported lost; times are local', async () => {
    const { userUrl } = need('wendy');
    await visit(admin, userUrl, 'user-wendy-lost');
    assert.match(await text(admin, '#lost-note'), /reported the key “Blue key[^”]*” lost/);
    const record = admin.page.locator('#retired');
    assert.match(await record.innerText(), /Reported lost or stolen/);
    assert.match(await record.innerText(), /Green key/, 'the key removed earlier is listed too');
    // Local time with the zone, UTC on hover.
    const when = admin.page.locator('#retired time').first();
    assert.match(await when.getAttribute('title'), /UTC$/);
    assert.match(await when.innerText(), /GMT\+1|CET/, 'Berlin time in December');
    // A new pass, and the portal names the loss instead of "no key yet".
    await admin.page.locator('#issue-tap').click();
    await admin.page.waitForURL(/\/tap$/);
    const code = await admin.page.locator('#tap-code').getAttribute('data-code');
    await visit(wendy, '/login', 'login-again');
    await wendy.page.locator('#tap-username').fill('wendy');
    await wendy.page.locator('#tap-code').fill(code);
    await wendy.page.getByRole('button', { name: 'Sign in with the pass' }).click();
    await arrived(wendy, '/security-info', 'security-info-after-lost');
    assert.match(await text(wendy, '#lost-key'), /Blue key.* was reported lost/);
  });

  step('another worker registers a key with his TAP', async () => {
    const { code } = need('walt');
    walt = await person('walt');
    await tapSignIn(walt, 'walt', code);
    await addKey(walt, 'Walt key');
    state.waltKey = true;
  });

  step('a helpdesk user resets the worker\'s keys, which ends his session', async () => {
    const { code } = need('hank');
    need('waltKey');
    hank = await person('hank');
    await tapSignIn(hank, 'hank', code);
    await addKey(hank, 'Hank key');
    await signInWithNewKey(hank, 'hank');
    await hank.page.getByRole('link', { name: 'Users' }).click();
    await arrived(hank, '/admin/users', 'console-users');
    await hank.page.getByLabel('Search users').fill('walt');
    await hank.page.getByRole('button', { name: 'Search' }).click();
    await arrived(hank, '/admin/users', 'users-search', 'q=walt');
    await hank.page.getByRole('link', { name: 'walt', exact: true }).click();
    await hank.page.waitForURL(/\/admin\/users\/[0-9a-f-]{36}$/);
    await shot(hank, 'user-walt');
    assert.match(await text(hank, 'main'), /Walt key/);
    await hank.page.locator('#reset-keys').click();
    await hank.page.waitForURL(/\/reset$/);
    await shot(hank, 'confirm-reset');
    await hank.page.locator('#confirm-button').click();
    await hank.page.waitForURL(/\/admin\/users\/[0-9a-f-]{36}(\?.*)?$/);
    await shot(hank, 'reset-done');
    assert.ok(await hank.page.locator('#no-keys').isVisible(), 'no key left');
    assert.match(await text(hank, '#retired'), /Walt key\s+Removed when all keys were reset\s+Hank Helpdesk/);
    // Walt's TAP session ended with the reset.
    await walt.page.goto(`${server.origin}/security-info`);
    assert.equal(new URL(walt.page.url()).pathname, '/login');
    await shot(walt, 'after-reset');
  });

  step('an administrator creates a group policy through its page: the preview first, then the confirmation', async () => {
    await visit(admin, '/admin/policies', 'policies');
    assert.match(await text(admin, '#policies'), /Default/);
    await admin.page.locator('#new-policy').click();
    await arrived(admin, '/admin/policies/new', 'policy-new');
    await admin.page.getByLabel('Name', { exact: true }).fill('Only listed keys');
    await admin.page.getByLabel('Key models').selectOption('allow');
    await admin.page.getByLabel('Models (AAGUIDs, one per line)').fill('00000000-0000-4000-8000-0000000000aa');
    await admin.page.locator('#preview-policy').click();
    await admin.page.locator('#preview').waitFor();
    await shot(admin, 'policy-preview');
    // Nobody holds that model: every key in use would be refused, and its holders stranded.
    assert.match(await text(admin, '#preview-refused'), /^[1-9]\d* key\(s\) in use now would be refused/);
    assert.ok(await admin.page.locator('#stranded-users').isVisible());
    // Saving without the confirmation saves nothing and says why.
    await admin.page.locator('#save-policy').click();
    await admin.page.locator('#form-error').waitFor();
    assert.match(await text(admin, '#form-error'), /without a usable key/);
    await shot(admin, 'policy-confirmation-needed');
    await admin.page.locator('#policy-confirm').check();
    await admin.page.locator('#save-policy').click();
    await admin.page.waitForURL(/\/admin\/policies\/[0-9a-f-]{36}\?done=created$/);
    await shot(admin, 'policy-created');
    // Deleted again, so that the later steps' keys still sign in.
    await admin.page.locator('#delete-policy').click();
    await admin.page.waitForURL(/\/admin\/policies\?done=deleted$/);
    assert.doesNotMatch(await text(admin, '#policies'), /Only listed keys/);
  });

  step('the helpdesk user sees an administrator read-only and is refused the API-clients section', async () => {
    const adminUrl = need('adminUrl');
    assert.ok(hank, 'an earlier step failed: no helpdesk session');
    // Issue 10: what helpdesk may see, they see read-only, without links to what is refused.
    await visit(hank, adminUrl, 'admin-page-read-only');
    assert.ok(await hank.page.locator('#read-only').isVisible());
    assert.equal(await hank.page.locator(`main form[action^="${adminUrl}"]`).count(), 0, 'no form acts on the administrator');
    assert.equal(await hank.page.locator('#disable-user, #reset-keys, #issue-tap').count(), 0);
    await visit(hank, `${adminUrl}/reset`, 'admin-reset-refused', 403);
    assert.match(await text(hank, 'h1'), /Not allowed/);
    // The error page keeps the navigation and sign-out.
    assert.ok(await hank.page.getByRole('button', { name: 'Sign out' }).isVisible());
    assert.ok(await hank.page.getByRole('link', { name: 'Users' }).isVisible());
    await visit(hank, '/admin/clients', 'clients-refused', 403);
    assert.equal(await hank.page.getByRole('link', { name: 'API clients' }).count(), 0, 'no link to it either');
    // Groups are readable, without forms.
    await hank.page.getByRole('link', { name: 'Groups' }).click();
    await arrived(hank, '/admin/groups', 'groups-read-only');
    assert.ok(await hank.page.locator('#read-only').isVisible());
    assert.equal(await hank.page.locator('main form').count(), 0);
    // An unknown page in a browser: the HTML error page, with the navigation.
    await visit(hank, '/admin/no-such-page', 'not-found', 404);
    assert.match(await text(hank, 'h1'), /Not found/);
    assert.ok(await hank.page.getByRole('button', { name: 'Sign out' }).isVisible());
    // The administrator sees the refusals in the audit log.
    await visit(admin, '/admin/audit?action=access.denied', 'audit-denied');
    assert.match(await text(admin, 'main'), /access\.denied/);
  });

  step('an administrator disables the helpdesk user after a confirmation; at sign-in he is told why', async () => {
    const { userUrl } = need('hank');
    assert.ok(hank, 'an earlier step failed: no helpdesk session');
    await visit(admin, userUrl, 'user-hank');
    await admin.page.locator('#disable-user').click();
    await arrived(admin, `${userUrl}/disable`, 'confirm-disable');
    assert.match(await text(admin, 'main'), /can no longer sign in/);
    await admin.page.locator('#confirm-button').click();
    await arrived(admin, userUrl, 'user-hank-disabled', 'done=disabled');
    assert.match(await text(admin, 'h1'), /Disabled/);
    await hank.page.goto(`${server.origin}/security-info`);
    assert.equal(new URL(hank.page.url()).pathname, '/login', 'his session ended');
    await hank.page.getByRole('button', { name: 'Sign in with a security key' }).click();
    await hank.page.locator('#signin-status.error').filter({ hasText: 'Your account is disabled' }).waitFor({ timeout: 15_000 });
    await shot(hank, 'signin-disabled');
  });
});

describe('errors a browser can report, in words (user verification and trusted attestation required)', { timeout: 120_000 }, () => {
  let strict;
  let rosa;
  let dir;

  before(async () => {
    assert.ok(browser, 'the browser did not start');
    // An attestation root nobody's key chains to: every attestation is untrusted here.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyfleet-e2e-roots-'));
    const roots = path.join(dir, 'roots.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=keyfleet e2e unrelated root', '-days', '2', '-keyout', path.join(dir, 'key.pem'), '-out', roots],
    { stdio: 'ignore' });
    strict = await Keyfleet.start('strict', {
      username: 'rosa',
      extraEnv: {
        KEYFLEET_USER_VERIFICATION: 'required',
        KEYFLEET_ATTESTATION_ROOTS_FILE: roots,
        KEYFLEET_REQUIRE_TRUSTED_ATTESTATION: 'true',
        KEYFLEET_CHALLENGE_TIMEOUT_SECONDS: '30',
      },
    });
  }, { timeout: 60_000 });

  after(async () => {
    try {
      if (rosa?.errors.length) {
        failed = true;
        log(`rosa: browser errors:\n  ${rosa.errors.join('\n  ')}`);
      }
      await browser?.close();
    } finally {
      await strict?.stop({ keep: failed });
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  }, { timeout: 60_000 });

  const tryAdd = async (nickname, name, pattern, timeout = 15_000) => {
    await rosa.page.locator('#nickname').fill(nickname);
    await rosa.page.getByRole('button', { name: 'Add security key' }).click();
    await rosa.page.locator('#add-status.error').filter({ hasText: pattern }).waitFor({ timeout });
    await shot(rosa, name);
    assert.equal(await rosa.page.getByRole('button', { name: 'Add security key' }).isEnabled(), true, 'the form can be used again');
  };

  it('a key the policy does not allow is refused with a sentence saying so', async () => {
    server = strict; // visit() and shot() use the current server
    rosa = await person('rosa', { phone: true });
    await tapSignIn(rosa, 'rosa', strict.tap);
    await tryAdd('Not allowed key', 'policy-refusal', /policy does not allow this security key/);
  });

  it('a key that cannot verify its user gives "cancelled or not allowed"', async () => {
    assert.ok(rosa, 'an earlier step failed: no session');
    await rosa.cdp.send('WebAuthn.setUserVerified', { authenticatorId: rosa.authenticatorId, isUserVerified: false });
    await tryAdd('Unverified key', 'not-allowed', /cancelled or not allowed/);
  });

  it('a key never touched runs out of time and says so', async () => {
    assert.ok(rosa, 'an earlier step failed: no session');
    await rosa.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: rosa.authenticatorId });
    const { authenticatorId } = await rosa.cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'usb', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: false },
    });
    rosa.authenticatorId = authenticatorId;
    await tryAdd('Untouched key', 'timed-out', /not used in time/, 60_000);
  });
});
