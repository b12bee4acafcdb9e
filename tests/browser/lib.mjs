// What the browser tests share: starting `keyfleet serve` on a fresh SQLite file, launching
// Debian's Chromium, a person (a context with a CDP virtual authenticator), test steps.
//
// Environment: KEYFLEET_BIN (required: the keyfleet binary), KEYFLEET_CHROMIUM
// (/usr/bin/chromium), KEYFLEET_E2E_SCREENSHOTS (<repo>/target/e2e-screenshots).

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.KEYFLEET_BIN;
export const CHROMIUM = process.env.KEYFLEET_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.KEYFLEET_E2E_SCREENSHOTS || path.resolve(HERE, '../../target/e2e-screenshots');
// The flags of shared/docs/browser-testing.md.
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const log = (...a) => process.stderr.write(`# ${a.join(' ')}\n`);
export const b64u = (buf) => Buffer.from(buf).toString('base64url');
export const fromB64u = (s) => Buffer.from(s, 'base64url');
// CDP reports ids and handles as standard base64 with padding; the page uses base64url.
export const cdpToB64u = (s) => b64u(Buffer.from(s, 'base64'));

// ---------------------------------------------------------------------------------------------
// keyfleet processes

export const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** Ends the test file (failing) if it has not finished within `ms`. */
export function watchdog(ms, what) {
  setTimeout(() => {
    process.stderr.write(`# watchdog: ${what} did not finish within ${ms / 1000} s\n`);
    process.exit(1);
  }, ms).unref();
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Keyfleet {
  /**
   * Starts `serve` on a new database. With `username`, first creates that worker and a
   * one-time TAP with the CLI (`k.tap`); without, reads the first administrator's setup TAP
   * from the start-up banner (`k.setupTap`).
   */
  static async start(name, { username, extraEnv = {} } = {}) {
    const k = new Keyfleet();
    k.name = name;
    k.dir = fs.mkdtempSync(path.join(os.tmpdir(), `keyfleet-e2e-${name}-`));
    k.port = await freePort();
    k.origin = `http://localhost:${k.port}`;
    k.logFile = path.join(k.dir, 'serve.log');
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('KEYFLEET_') && key !== 'RUST_LOG'));
    Object.assign(env, {
      KEYFLEET_DATABASE_URL: `sqlite://${path.join(k.dir, 'keyfleet.db')}`,
      KEYFLEET_MASTER_KEY: randomBytes(32).toString('base64'),
      // A first start (no username) is a newcomer's: RP ID and origin left to their defaults,
      // the origin following the port (checked against the banner below).
      ...(username ? { KEYFLEET_RP_ID: 'localhost', KEYFLEET_ORIGINS: k.origin } : {}),
      KEYFLEET_LOG_FORMAT: 'json',
      ...extraEnv,
    });
    k.env = env;
    if (username) await k.cli(['admin', 'create-user', '--username', username, '--display-name', `${username[0].toUpperCase()}${username.slice(1)} Example`,
      '--email', `${username}@example.com`]);
    if (username) {
      k.tap = (await k.cli(['admin', 'issue-tap', '--username', username, '--one-time'])).trim();
      assert.match(k.tap, /^\S{8,}$/, 'issue-tap prints the code alone');
    }

    const out = fs.openSync(k.logFile, 'a');
    k.child = spawn(BIN, ['serve', '--listen', `127.0.0.1:${k.port}`], { cwd: k.dir, env, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    children.add(k.child);
    k.exited = new Promise((resolve) => k.child.on('exit', (code, signal) => { children.delete(k.child); resolve({ code, signal }); }));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (k.child.exitCode !== null || k.child.signalCode !== null) {
        throw new Error(`keyfleet serve (${name}) exited early:\n${k.logTail()}`);
      }
      try {
        const r = await fetch(`http://127.0.0.1:${k.port}/healthz`);
        if (r.ok) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) throw new Error(`keyfleet serve (${name}) not healthy after 30 s:\n${k.logTail()}`);
      await sleep(25);
    }
    if (!username) {
      const banner = fs.readFileSync(k.logFile, 'utf8').match(/temporary access pass \(it is shown only now\):\s+(\S+)/);
      assert.ok(banner, `no setup TAP in the start-up banner:\n${k.logTail()}`);
      k.setupTap = banner[1];
      const open = fs.readFileSync(k.logFile, 'utf8').match(/Open (\S+)\/login/);
      assert.equal(open?.[1], k.origin, `the banner names another address than the one served:\n${k.logTail()}`);
    }
    return k;
  }

  async cli(args) {
    try {
      const { stdout } = await promisify(execFile)(BIN, args, { cwd: this.dir, env: this.env, timeout: 30_000 });
      return stdout;
    } catch (e) {
      throw new Error(`keyfleet ${args.join(' ')} failed: ${e.stderr || e.message}`);
    }
  }

  logTail(n = 40) {
    try { return fs.readFileSync(this.logFile, 'utf8').split('\n').slice(-n).join('\n'); } catch { return '(no log)'; }
  }

  async stop({ keep }) {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      let timer;
      const done = await Promise.race([this.exited, new Promise((r) => { timer = setTimeout(r, 10_000, null); })]);
      clearTimeout(timer);
      if (!done) {
        log(`keyfleet serve (${this.name}) ignored SIGTERM for 10 s; killing it`);
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    if (keep) log(`kept ${this.dir} (server log: ${this.logFile}); last lines:\n${this.logTail()}`);
    else fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// people in the browser

/**
 * A person: a browser context (cookie jar) at desktop or phone size, a page, and a CDP
 * virtual authenticator (`p.addAuthenticator(transport)` adds another). Page script errors
 * and console errors (CSP violations among them) are collected in `p.errors`: a defect.
 * An error status of a page the test expects, such as a 403, is reported by Chromium as
 * "Failed to load resource" and left to the test to check. `context`: more options for
 * browser.newContext (time zone, permissions, …).
 */
export async function newPerson(browser, who, { phone = false, transport = 'usb', context: more = {} } = {}) {
  const viewport = phone ? { width: 390, height: 844 } : { width: 1280, height: 860 };
  const context = await browser.newContext({ viewport, isMobile: phone, hasTouch: phone, ...more });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const p = { who, context, page, cdp, errors: [] };
  p.addAuthenticator = async (t = transport) => {
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: t, hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
      },
    });
    p.authenticatorId = authenticatorId;
    return authenticatorId;
  };
  await p.addAuthenticator();
  page.on('pageerror', (e) => p.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) p.errors.push(`console: ${m.text()}`);
  });
  return p;
}


/** First sign-in with a temporary access pass on `origin`'s /login, then the first key
 * registered as `nickname` on /security-info (the person's virtual authenticator). */
export async function registerFirstKey(page, origin, username, tap, nickname) {
  await page.goto(`${origin}/login`);
  await page.locator('#tap-username').fill(username);
  await page.locator('#tap-code').fill(tap);
  await page.getByRole('button', { name: 'Sign in with the pass' }).click();
  await page.waitForURL((u) => u.pathname === '/security-info');
  await page.locator('#nickname').fill(nickname);
  await page.getByRole('button', { name: 'Add security key' }).click();
  await page.waitForURL((u) => u.search.includes('done=added'));
}
/**
 * A story told in steps: `step(name, fn)` is a test that records its time and outcome;
 * `need(key)` reads a result an earlier step left in `state`, failing loudly (never skipping)
 * when that step failed. `onFail` is told of every failure.
 */
export function story(it, onFail) {
  const timings = [];
  const state = {};
  const step = (name, fn) => it(name, async () => {
    const t = performance.now();
    try {
      await fn();
      timings.push([name, performance.now() - t, 'ok']);
    } catch (e) {
      onFail();
      timings.push([name, performance.now() - t, 'FAILED']);
      throw e;
    }
  });
  const need = (key) => {
    if (state[key] === undefined) throw new Error(`an earlier step failed: no ${key}`);
    return state[key];
  };
  return { timings, state, step, need };
}
