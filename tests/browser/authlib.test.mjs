// Single sign-on with Authlib (PyPI), a second client nobody here wrote (issue 13), against
// `keyfleet serve`; the key sign-in in between done in Debian's headless Chromium with its CDP
// virtual authenticator. The application's side is authlib_rp.py (discovery, code + PKCE S256,
// the ID token validated with Authlib's jwt and the JWKS, UserInfo, refresh, logout); this file
// drives the browser and hands the URLs back and forth. KEYFLEET_AUTHLIB_PYTHON names the
// venv's python (tests/browser/run.sh makes the venv).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ARGS, BIN, CHROMIUM, Keyfleet, children, freePort, log, newPerson, story, watchdog, registerFirstKey } from './lib.mjs';

watchdog(120_000, 'the Authlib single sign-on test');

const PYTHON = process.env.KEYFLEET_AUTHLIB_PYTHON;
const HERE = path.dirname(fileURLToPath(import.meta.url));
let browser;
let server;
let app;
let rp;
let failed = false;

/** The Python side: one JSON line at a time. */
function startRp(args) {
  const child = spawn(PYTHON, [path.join(HERE, 'authlib_rp.py'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise((r) => child.on('exit', (code) => { children.delete(child); r(code); }));
  return {
    async next() {
      const { value, done } = await lines.next();
      if (done) throw new Error(`authlib_rp.py ended (exit ${await exited}): ${stderr}`);
      return JSON.parse(value);
    },
    send(line) { child.stdin.write(`${line}\n`); },
    stop() { child.kill(); },
  };
}

describe('single sign-on: Authlib against keyfleet, sign-in in Chromium', () => {
  const { step, state, need } = story(it, () => { failed = true; });

  before(async () => {
    assert.ok(BIN, 'KEYFLEET_BIN must name the keyfleet binary');
    assert.ok(PYTHON, 'KEYFLEET_AUTHLIB_PYTHON must name a python with Authlib (tests/browser/run.sh)');
    server = await Keyfleet.start('authlib', { username: 'alice' });
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
    rp?.stop();
    await browser?.close();
    app?.close();
    await server?.stop({ keep: failed });
  });

  step('alice registers a key; the application is registered with the CLI', async () => {
    const p = await newPerson(browser, 'alice');
    await registerFirstKey(p.page, server.origin, 'alice', server.tap, 'Authlib key');
    await p.context.clearCookies();
    state.alice = p;
    const created = JSON.parse(await server.cli(['admin', 'create-application', '--name', 'Authlib app',
      '--redirect-uri', `${need('appBase')}/cb`, '--post-logout-redirect-uri', `${need('appBase')}/bye`]));
    assert.match(created.client_secret, /^kfas_/);
    state.created = created;
  });

  step('Authlib: discovery, code + PKCE with the key sign-in, ID token, UserInfo, refresh, logout', async () => {
    const p = need('alice');
    const { client_id, client_secret } = need('created');
    rp = startRp([server.origin, client_id, client_secret, `${need('appBase')}/cb`, `${need('appBase')}/bye`]);
    const { authorize } = await rp.next();
    assert.ok(authorize.startsWith(`${server.origin}/oauth2/authorize?`), authorize);
    await p.page.goto(authorize);
    await p.page.waitForURL((u) => u.pathname === '/login');
    await p.page.getByRole('button', { name: 'Sign in with a security key' }).click();
    await p.page.waitForURL((u) => u.href.startsWith(`${need('appBase')}/cb`), { timeout: 15_000 });
    rp.send(p.page.url());
    const { logout } = await rp.next();
    await p.page.goto(logout);
    await p.page.waitForURL((u) => u.href.startsWith(`${need('appBase')}/bye`));
    rp.send(p.page.url());
    const done = await rp.next();
    assert.equal(done.ok, true);
    assert.ok(done.amr.includes('hwk'));
    log(`Authlib signed in ${done.sub} with amr ${JSON.stringify(done.amr)}, acr ${done.acr}`);
  });
});
