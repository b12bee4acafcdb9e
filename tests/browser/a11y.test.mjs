// Accessibility and phone width of every page (issue 10: "an accessibility check of every page,
// 0 serious violations, and a phone-width screenshot of each page").
//
// One `keyfleet serve` on a fresh SQLite file; the people are made with the CLI and enrol their
// keys through the pages, each in their own browser context with a CDP virtual authenticator:
//
//   admin     the first administrator (setup TAP from the start-up banner), with a key;
//   helpdesk  hank, with a key;            worker  wendy, with a key;
//   tap       tina, a worker signed in with a temporary access pass and no key yet;
//   anon      nobody signed in.
//
// Then every page in PAGES (below, one line each) is visited by its person, in order. At desktop
// width (1280×860) and at phone width (390×844) each page is
//   - screenshotted: <KEYFLEET_E2E_SCREENSHOTS>/a11y/<name>.png and <name>-phone.png;
//   - checked with axe-core (WCAG 2.0/2.1 A and AA rules): any violation of impact "serious" or
//     "critical" fails the page's test, listed with rule, impact, selectors and help URL; minor
//     and moderate ones are printed in the summary at the end (and in axe-report.json);
//   - at phone width, checked not to scroll sideways (only a `.table-wrap` may scroll inside),
//     and every table to keep its labels (cards with data-label, or a visible header row);
//   - checked for ids used twice, and on a few pages (`keys`) tabbed through: every control
//     shows a focus ring.
//
// axe-core is evaluated through the DevTools protocol (page.evaluate of axe.min.js's source):
// the page's CSP (`script-src 'self'`) blocks page.addScriptTag, whose script is inline, and
// this way the pages are checked exactly as served, CSP on (no `bypassCSP`).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ARGS, BIN, CHROMIUM, Keyfleet, SHOTS, log, newPerson, story, watchdog } from './lib.mjs';

const T0 = performance.now();
watchdog(300_000, 'the accessibility browser test');
const DIR = path.join(SHOTS, 'a11y');
const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const AXE_VERSION = JSON.parse(fs.readFileSync(require.resolve('axe-core/package.json'), 'utf8')).version;
// The gate: WCAG 2.0 and 2.1, levels A and AA. WCAG 2.2 AA (target size, …) and axe's best
// practices (landmarks, heading order, …) run in the same pass and are reported, not gated.
const GATED_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const AXE_OPTIONS = {
  runOnly: { type: 'tag', values: [...GATED_TAGS, 'wcag22aa', 'best-practice'] },
  // Only what the report uses (CSS selectors of the violations): about 40 % faster.
  resultTypes: ['violations'], iframes: false, ancestry: false, xpath: false, elementRef: false, performanceTimer: false,
};
const GATED_IMPACTS = new Set(['serious', 'critical']);
const gated = (v) => GATED_IMPACTS.has(v.impact) && v.tags.some((t) => GATED_TAGS.includes(t));
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

// ---------------------------------------------------------------------------------------------
// Steps to reach a page state that a plain GET does not show. `p` is the person (`p.goto(path)`,
// `p.page`), `s` what setup and earlier pages learnt (user pages, the group, the client, …).

const go = (pathOf) => (p, s) => p.goto(pathOf(s));
/** Clicks a link or a form's button and waits for the page it leads to. */
const click = async (p, locator) => {
  const loaded = p.page.waitForEvent('load', { timeout: 15_000 });
  await locator.click();
  await loaded;
};
const waitPath = (p, re) => p.page.waitForURL((u) => re.test(u.pathname + u.search), { timeout: 15_000 });

async function loginUsernameMissing(p) {
  await p.goto('/login');
  await p.page.getByRole('button', { name: 'Next' }).click();
  await p.page.locator('#signin-status.error').waitFor();
}
async function loginTapError(p) {
  await p.goto('/login');
  await p.page.locator('#tap-username').fill('nobody');
  await p.page.locator('#tap-code').fill('NOT-A-VALID-PASS-0000');
  await click(p, p.page.getByRole('button', { name: 'Sign in with the pass' }));
  await p.page.locator('#tap-error').waitFor();
}
async function tapNicknameMissing(p) {
  await p.goto('/security-info');
  await p.page.getByRole('button', { name: 'Add security key' }).click();
  await p.page.locator('#add-status.error').waitFor();
}
async function tapKeyAdded(p) {
  await p.goto('/security-info');
  await p.page.locator('#nickname').fill('Tina key');
  await p.page.getByRole('button', { name: 'Add security key' }).click();
  await waitPath(p, /done=added/);
  await p.page.locator('#signin-with-key').waitFor();
}
async function renameOpen(p) {
  await p.goto('/security-info');
  await p.page.locator('li.key summary', { hasText: 'Rename' }).first().click();
}
async function renameError(p) {
  await renameOpen(p);
  await p.page.locator('li.key').first().getByLabel(/New nickname/).fill('Evil\u202Egpj.exe');
  await click(p, p.page.getByRole('button', { name: 'Save changes' }));
  await p.page.locator('#page-error').waitFor();
}
async function alreadyRegistered(p) {
  await p.goto('/security-info');
  await p.page.locator('#nickname').fill('Same key again');
  await p.page.getByRole('button', { name: 'Add security key' }).click();
  await p.page.locator('#add-status.error').filter({ hasText: /already registered/ }).waitFor({ timeout: 15_000 });
}
async function keyLink(p, name) {
  await p.goto('/security-info');
  await click(p, p.page.locator('li.key').first().getByRole('link', { name }));
}
async function newUserError(p) {
  await p.goto('/admin/users/new');
  await p.page.getByLabel('Username').fill('not a username!');
  await p.page.getByLabel('Display name').fill('Nobody');
  await p.page.getByLabel('Email', { exact: true }).fill('nobody@example.com');
  await click(p, p.page.locator('#create-user'));
  await p.page.locator('#form-error').waitFor();
}
async function tapIssued(p, s) {
  await p.goto(s.tomUrl);
  await click(p, p.page.locator('#issue-tap'));
  s.tomTap = await p.page.locator('#tap-code').getAttribute('data-code');
}
async function userDisabled(p, s) {
  await p.goto(`${s.tomUrl}/disable`);
  await click(p, p.page.locator('#confirm-button'));
  await p.page.locator('#disabled-note').waitFor();
}
async function loginDisabled(p, s) {
  await p.goto('/login');
  await p.page.locator('#tap-username').fill('tom');
  await p.page.locator('#tap-code').fill(s.tomTap);
  await click(p, p.page.getByRole('button', { name: 'Sign in with the pass' }));
  await p.page.locator('#tap-error').waitFor();
}
async function userKeyRemoved(p, s) {
  await p.goto(s.tinaUrl);
  await click(p, p.page.locator('#keys').getByRole('link', { name: /Remove/ }).first());
  await click(p, p.page.locator('#confirm-button'));
  await p.page.locator('#retired').waitFor();
}
async function adminRemoveKey(p, s) {
  await p.goto(s.wendyUrl);
  await click(p, p.page.locator('#keys').getByRole('link', { name: /Remove/ }).first());
}
async function groupCreated(p, s) {
  await p.goto('/admin/groups');
  await p.page.getByLabel('Name', { exact: true }).fill('Night shift');
  await p.page.getByLabel('Description (optional)').fill('Warehouse, 22:00 to 06:00');
  await click(p, p.page.locator('#create-group'));
  await waitPath(p, /^\/admin\/groups\/[^/]+\?done=created/);
  s.groupUrl = new URL(p.page.url()).pathname;
}
async function groupCreateError(p) {
  await p.goto('/admin/groups');
  await p.page.getByLabel('Name', { exact: true }).fill('night SHIFT');
  await click(p, p.page.locator('#create-group'));
  await p.page.locator('#form-error').waitFor();
}
async function memberAdded(p, s) {
  await p.goto(s.groupUrl);
  await p.page.getByLabel('Username').fill('wendy');
  await click(p, p.page.locator('#add-member'));
  await p.page.locator('#members').waitFor();
}
async function memberError(p, s) {
  await p.goto(s.groupUrl);
  await p.page.getByLabel('Username').fill('nobody');
  await click(p, p.page.locator('#add-member'));
  await p.page.locator('#form-error').waitFor();
}
async function ruleCreated(p) {
  await p.goto('/admin/group-rules');
  await p.page.getByLabel('Group', { exact: true }).selectOption({ label: 'Night shift' });
  await p.page.getByLabel('Model', { exact: true }).selectOption('band');
  await click(p, p.page.locator('#create-rule'));
  await waitPath(p, /^\/admin\/group-rules\?done=created/);
  assert.match(await p.page.locator('#rules').innerText(), /Night shift\s+band\s+required\s+Enabled/);
}
async function orderApproved(p) {
  await p.goto('/admin/shipments');
  // wendy, a member of Night shift without a band, was ordered one by the rule.
  const row = p.page.locator('tr[data-state="pendingApproval"]', { hasText: 'wendy' });
  await click(p, row.locator('.approve-order'));
  await waitPath(p, /^\/admin\/shipments\?done=approved/);
  await p.page.locator('tr[data-state="requested"]', { hasText: 'wendy' }).waitFor();
}
async function policyPreviewed(p) {
  await p.goto('/admin/policies/new');
  await p.page.getByLabel('Name', { exact: true }).fill('Night policy');
  await p.page.getByLabel('Applies to').fill('Night shift');
  await p.page.getByLabel('Key models').selectOption('block');
  await p.page.getByLabel('Models (AAGUIDs, one per line)').fill('00000000-0000-4000-8000-0000000000aa');
  await click(p, p.page.locator('#preview-policy'));
  await p.page.locator('#preview').waitFor();
}
async function policyCreated(p, s) {
  await policyPreviewed(p);
  await click(p, p.page.locator('#save-policy'));
  await waitPath(p, /^\/admin\/policies\/[^/]+\?done=created/);
  s.policyUrl = new URL(p.page.url()).pathname;
}
async function clientCreateError(p) {
  await p.goto('/admin/clients');
  await p.page.getByLabel('Name').fill('No scopes');
  await click(p, p.page.locator('#create-client'));
  await p.page.locator('#form-error').waitFor();
}
async function clientCreated(p, s) {
  await p.goto('/admin/clients');
  await p.page.getByLabel('Name').fill('HR sync');
  await p.page.locator('input[name="scope"]').first().check();
  await click(p, p.page.locator('#create-client'));
  await p.page.locator('#client-secret').waitFor();
  s.clientUrl = await p.page.getByRole('link', { name: /go to the client/ }).getAttribute('href');
}
async function clientRotated(p, s) {
  await p.goto(s.clientUrl);
  await click(p, p.page.locator('#rotate-secret'));
  await p.page.locator('#client-secret').waitFor();
}
async function clientRevokeConfirm(p, s) {
  await p.goto(s.clientUrl);
  await click(p, p.page.locator('#secrets').getByRole('link', { name: /Revoke/ }).first());
}
async function auditEntries(p, s) {
  await p.goto('/admin/audit');
  s.eventId = await p.page.locator('#events tr[data-event-id]').first().getAttribute('data-event-id');
}

/**
 * Every table keeps its labels at phone width (issue 10): shown as cards, each cell that has a
 * value shows its data-label before it; otherwise the header row is shown.
 */
function unlabelledCells(page) {
  return page.evaluate(() => {
    const problems = [];
    for (const table of document.querySelectorAll('table')) {
      const name = table.id ? `table#${table.id}` : 'a table';
      const cells = [...table.querySelectorAll('tbody td')];
      if (!cells.length) continue;
      if (getComputedStyle(cells[0]).display !== 'block') {
        const head = table.querySelector('thead');
        // A table of figures labels each row with its own header cell (<th scope="row">).
        const rows = [...table.querySelectorAll('tbody tr')];
        const rowHeaded = rows.every((tr) => {
          const th = tr.querySelector('th[scope="row"]');
          return th && th.getBoundingClientRect().height > 0;
        });
        if (!rowHeaded && (!head || head.getBoundingClientRect().height === 0)) {
          problems.push(`${name}: no visible header row`);
        }
        continue;
      }
      for (const td of cells) {
        if (!td.textContent.trim() || td.querySelector('button, a.button')) continue; // an action explains itself
        const before = getComputedStyle(td, '::before').content;
        if (!td.dataset.label || before === 'none') problems.push(`${name}: a card cell "${td.textContent.trim().slice(0, 30)}" has no label`);
      }
    }
    return problems;
  });
}

/** Ids used more than once (a label's `for`, aria-describedby and #links would be ambiguous). */
function duplicateIds(page) {
  return page.evaluate(() => {
    const seen = new Map();
    for (const el of document.querySelectorAll('[id]')) seen.set(el.id, (seen.get(el.id) ?? 0) + 1);
    return [...seen].filter(([, n]) => n > 1).map(([id, n]) => `#${id} (${n} times)`);
  });
}

/**
 * Keyboard: Tab from the top of the page through every control; each one must show a focus ring
 * (an outline of at least 2 px or a box-shadow ring) and be on screen. Returns what did not.
 */
async function focusProblems(page) {
  // Start at the top: focus a placeholder before everything else; Tab then moves on by keyboard.
  await page.evaluate(() => {
    const start = Object.assign(document.createElement('span'), { id: 'a11y-focus-start', tabIndex: -1 });
    document.body.prepend(start);
    start.focus();
  });
  const problems = [];
  const seen = new Set();
  for (let i = 0; i < 80; i += 1) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body || el.id === 'a11y-focus-start') return null;
      const cs = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      const text = (el.getAttribute('aria-label') || el.textContent || el.id || el.name || '').trim().replace(/\s+/g, ' ').slice(0, 40);
      return {
        key: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${text}"@${Math.round(r.top + window.scrollY)},${Math.round(r.left)}`,
        ring: (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2) || cs.boxShadow !== 'none',
        onScreen: r.bottom > 0 && r.top < window.innerHeight && r.right > 0 && r.left < window.innerWidth,
      };
    });
    if (!f || seen.has(f.key)) break; // back at the start
    seen.add(f.key);
    if (!f.ring) problems.push(`${f.key}: no visible focus ring`);
    if (!f.onScreen) problems.push(`${f.key}: focused but off screen`);
  }
  if (seen.size < 2) problems.push(`Tab reached ${seen.size} control(s)`);
  await page.evaluate(() => {
    document.activeElement?.blur();
    document.getElementById('a11y-focus-start')?.remove();
    window.scrollTo(0, 0);
  });
  return problems;
}

/** At phone width the sessions table is a list of cards; each cell keeps its label (issue 10). */
async function sessionLabelsShown(p) {
  const cells = await p.page.evaluate(() => [...document.querySelectorAll('#sessions td')].map((td) => {
    const before = getComputedStyle(td, '::before');
    return { label: td.dataset.label, content: before.content, display: before.display, cell: getComputedStyle(td).display };
  }));
  assert.ok(cells.length >= 4, 'the sessions table has cells');
  assert.ok(cells.every((c) => c.cell === 'block'), 'at phone width the sessions are cards');
  for (const c of cells) {
    assert.ok(c.label, 'every cell has a data-label');
    assert.ok(c.content.startsWith(`"${c.label}`), `the label "${c.label}" is shown before the cell, not ${c.content}`);
    assert.notEqual(c.display, 'none');
  }
  const label = p.page.locator('#sessions td').first();
  assert.ok(await label.isVisible(), 'the first cell (with its label) is visible');
}

// ---------------------------------------------------------------------------------------------
// Every page, one line each, visited in this order:
//   [name (screenshot file), who, where, options]
// where: a path; go((s) => path) for a path known once setup or an earlier page has run (s holds
//   wendyUrl, tinaUrl, tomUrl, adminUrl, groupUrl, clientUrl, eventId); or steps, an async
//   (p, s) => {}.
// options: status (of the last page load, default 200); phone: extra checks at phone width;
//   keys: Tab through the page at both widths (focus ring on every control; a few pages, for
//   time); skip: 'why' (a page that does not exist yet: drop the skip to check it).
// A new page is one more line, e.g. ['audit-entry', 'admin', go((s) => `/admin/audit/${s.eventId}`)].

const PAGES = [
  ['login',                      'anon',     '/login', { keys: true }],
  ['login-hinted',               'anon',     '/login?login_hint=wendy'],
  ['login-signed-out',           'anon',     '/login?done=signed-out'],
  ['login-lost',                 'anon',     '/login?done=lost'],
  ['login-username-missing',     'anon',     loginUsernameMissing],
  ['login-tap-error',            'anon',     loginTapError, { status: 401 }],
  ['error-404',                  'anon',     '/no-such-page', { status: 404 }],

  ['security-info-tap',          'tap',      '/security-info'],
  ['security-info-tap-no-name',  'tap',      tapNicknameMissing],
  ['tap-refused-console',        'tap',      '/admin/users', { status: 403 }],
  ['security-info-tap-key-added', 'tap',     tapKeyAdded],

  ['security-info',              'worker',   '/security-info', { phone: sessionLabelsShown, keys: true }],
  ['security-info-renamed',      'worker',   '/security-info?done=renamed'],
  ['security-info-rename-open',  'worker',   renameOpen],
  ['security-info-rename-error', 'worker',   renameError, { status: 422 }],
  ['security-info-already-registered', 'worker', alreadyRegistered],
  ['confirm-key-remove',         'worker',   (p) => keyLink(p, 'Remove')],
  ['confirm-key-lost',           'worker',   (p) => keyLink(p, 'I lost this key')],
  ['error-403-worker',           'worker',   '/admin/users', { status: 403 }],

  ['users',                      'admin',    '/admin/users'],
  ['users-search',               'admin',    '/admin/users?q=w'],
  ['users-search-none',          'admin',    '/admin/users?q=nobody-matches-this'],
  ['user-new',                   'admin',    '/admin/users/new'],
  ['user-new-error',             'admin',    newUserError, { status: 422 }],
  ['user',                       'admin',    go((s) => s.wendyUrl), { keys: true }],
  ['user-self',                  'admin',    go((s) => s.adminUrl)],
  ['user-tap-issued',            'admin',    tapIssued],
  ['user-tap-status',            'admin',    go((s) => `${s.tomUrl}/tap`)],
  ['user-confirm-remove-key',    'admin',    adminRemoveKey],
  ['user-confirm-reset',         'admin',    go((s) => `${s.wendyUrl}/reset`)],
  ['user-confirm-delete',        'admin',    go((s) => `${s.tomUrl}/delete`)],
  ['user-confirm-disable',       'admin',    go((s) => `${s.tomUrl}/disable`)],
  ['user-disabled',              'admin',    userDisabled],
  ['login-disabled',             'anon',     loginDisabled, { status: 403 }],
  ['user-key-removed',           'admin',    userKeyRemoved],
  ['groups-empty',               'admin',    '/admin/groups'],
  ['group-created',              'admin',    groupCreated],
  ['groups',                     'admin',    '/admin/groups'],
  ['groups-create-error',        'admin',    groupCreateError, { status: 409 }],
  ['group-member-added',         'admin',    memberAdded],
  ['group-member-error',         'admin',    memberError, { status: 422 }],
  ['group-confirm-delete',       'admin',    go((s) => `${s.groupUrl}/delete`)],
  ['group-rules-empty',          'admin',    '/admin/group-rules'],
  ['group-rule-created',         'admin',    ruleCreated],
  ['shipments',                  'admin',    '/admin/shipments'],
  ['shipment-approved',          'admin',    orderApproved],
  ['policy-new',                 'admin',    '/admin/policies/new'],
  ['policy-preview',             'admin',    policyPreviewed],
  ['policy-created',             'admin',    policyCreated],
  ['policies',                   'admin',    '/admin/policies'],
  ['clients-empty',              'admin',    '/admin/clients'],
  ['clients-create-error',       'admin',    clientCreateError, { status: 422 }],
  ['client-created',             'admin',    clientCreated],
  ['clients',                    'admin',    '/admin/clients'],
  ['client',                     'admin',    go((s) => s.clientUrl)],
  ['client-new-secret',          'admin',    clientRotated],
  ['client-confirm-revoke',      'admin',    clientRevokeConfirm],
  ['client-confirm-delete',      'admin',    go((s) => `${s.clientUrl}/delete`)],
  ['audit',                      'admin',    auditEntries],
  ['audit-filtered',             'admin',    '/admin/audit?action=user.'],
  ['audit-no-match',             'admin',    '/admin/audit?actor=user:nobody'],
  ['audit-filter-error',         'admin',    '/admin/audit?from=2030-01-01T00:00:00&to=2020-01-01T00:00:00', { status: 422 }],
  ['audit-entry',                'admin',    go((s) => `/admin/audit/${s.eventId}`)],
  ['admin-dashboard',            'admin',    '/admin'],
  ['admin-dashboard-30-days',    'admin',    '/admin?unused_days=30'],
  ['report-registration',        'admin',    '/admin/reports/registration'],
  ['report-without-key',         'admin',    '/admin/reports/registration?keys=without'],
  ['report-bad-filter',          'admin',    '/admin/reports/registration?unused_days=abc', { status: 422 }],
  ['helpdesk-dashboard',         'helpdesk', '/admin'],
  ['helpdesk-report',            'helpdesk', '/admin/reports/registration'],
  ['audit-user-history',         'admin',    '/admin/audit?user=wendy'],
  ['audit-unknown-user',         'admin',    '/admin/audit?user=nobody-here', { status: 422 }],
  ['error-404-user',             'admin',    '/admin/users/00000000-0000-4000-8000-000000000000', { status: 404 }],

  ['helpdesk-users',             'helpdesk', '/admin/users'],
  ['helpdesk-user',              'helpdesk', go((s) => s.wendyUrl)],
  ['helpdesk-user-read-only',    'helpdesk', go((s) => s.adminUrl)],
  ['helpdesk-groups',            'helpdesk', '/admin/groups'],
  ['helpdesk-group',             'helpdesk', go((s) => s.groupUrl)],
  ['helpdesk-policies',          'helpdesk', '/admin/policies'],
  ['helpdesk-group-rules',       'helpdesk', '/admin/group-rules'],
  ['helpdesk-shipments',         'helpdesk', '/admin/shipments'],
  ['helpdesk-policy',            'helpdesk', go((s) => s.policyUrl)],
  ['helpdesk-audit',             'helpdesk', '/admin/audit'],
  ['error-403',                  'helpdesk', '/admin/clients', { status: 403 }],
];

// ---------------------------------------------------------------------------------------------

let browser;
let server;
let failed = false;
const people = {};
const report = []; // { page, who, url, desktop: violations, phone: violations }

async function person(who) {
  const p = await newPerson(browser, who);
  p.status = undefined;
  // The status of the last document the page loaded (after redirects), however it got there.
  p.page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.frame() === p.page.mainFrame()) p.status = r.status();
  });
  p.goto = async (url) => {
    const resp = await p.page.goto(`${server.origin}${url}`);
    return resp;
  };
  return p;
}

/** TAP sign-in through the login page; with `key`, adds a key and signs in with it. */
async function enrol(p, username, code, { key = true } = {}) {
  await p.goto('/login');
  await p.page.locator('#tap-username').fill(username);
  await p.page.locator('#tap-code').fill(code);
  await p.page.getByRole('button', { name: 'Sign in with the pass' }).click();
  await waitPath(p, /^\/security-info$/);
  if (!key) return;
  await p.page.locator('#nickname').fill(`${username} key`);
  await p.page.getByRole('button', { name: 'Add security key' }).click();
  await waitPath(p, /done=added/);
  await p.page.getByRole('button', { name: 'Sign out and sign in with my key' }).click();
  await waitPath(p, /^\/login\?.*login_hint=/);
  await p.page.getByRole('button', { name: 'Continue with my security key' }).click();
  await waitPath(p, /^\/security-info$/);
}

async function createUser(username, role = 'worker') {
  const out = await server.cli(['admin', 'create-user', '--username', username, '--role', role,
    '--display-name', `${username[0].toUpperCase()}${username.slice(1)} Example`, '--email', `${username}@example.com`]);
  const { id } = JSON.parse(out);
  assert.match(id, /^[0-9a-f-]{36}$/);
  const tap = (await server.cli(['admin', 'issue-tap', '--username', username, '--one-time'])).trim();
  return { url: `/admin/users/${id}`, tap };
}

/** Runs axe-core on the page as it is now; returns its violations, trimmed for the report. */
async function axe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (options) => {
    const r = await window.axe.run(document, options);
    return r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      tags: v.tags.filter((t) => /^wcag\d+a+$|^best-practice$/.test(t)),
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
  }, AXE_OPTIONS);
}

/** At phone width, what makes the page wider than the screen (nothing inside a .table-wrap). */
function sidewaysScroll(page) {
  return page.evaluate(() => {
    const vw = window.innerWidth;
    const sw = document.documentElement.scrollWidth;
    if (sw <= vw + 1) return null;
    const wide = [];
    for (const el of document.body.querySelectorAll('*')) {
      const wrap = el.parentElement?.closest('.table-wrap');
      if (wrap) continue;
      const r = el.getBoundingClientRect();
      if (r.right <= vw + 1 || r.width === 0) continue;
      // The innermost culprits: skip an element whose child is too wide as well.
      if ([...el.children].some((c) => c.getBoundingClientRect().right > vw + 1)) continue;
      const id = el.id ? `#${el.id}` : '';
      const cls = el.classList.length ? `.${[...el.classList].join('.')}` : '';
      wide.push(`${el.tagName.toLowerCase()}${id}${cls} (right edge ${Math.round(r.right)} px)`);
    }
    return { scrollWidth: sw, innerWidth: vw, wide: wide.slice(0, 8) };
  });
}

// Where the time goes, summed over the pages (the CI budget is tight).
const spent = {};
function timer() {
  let t = performance.now();
  return (what) => {
    const now = performance.now();
    spent[what] = (spent[what] ?? 0) + (now - t);
    t = now;
  };
}

const settle = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));

const describeViolation = (v) => `  ${v.impact.padEnd(8)} ${v.id}: ${v.help} (${v.tags.join(', ')})\n` +
  `           ${v.helpUrl}\n${v.nodes.slice(0, 6).map((n) => `           at ${n.target}`).join('\n')}` +
  `${v.nodes.length > 6 ? `\n           … and ${v.nodes.length - 6} more` : ''}`;

describe('every page: axe-core (WCAG 2.1 A/AA) and phone width, in headless Chromium', { timeout: 240_000 }, () => {
  const { timings, state, step, need } = story(it, () => { failed = true; });

  before(async () => {
    assert.ok(BIN, 'KEYFLEET_BIN must name the keyfleet binary (tests/browser/run.sh sets it)');
    assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    fs.rmSync(DIR, { recursive: true, force: true });
    fs.mkdirSync(DIR, { recursive: true });
    const started = await Promise.allSettled([
      Keyfleet.start('a11y').then((k) => { server = k; }),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 30_000 }).then((b) => { browser = b; }),
    ]);
    const problem = started.find((r) => r.status === 'rejected');
    if (problem) {
      failed = true;
      throw problem.reason;
    }
    log(`Chromium ${browser.version()}, axe-core ${AXE_VERSION}, server ${server.origin}, ` +
      `both up after ${((performance.now() - T0) / 1000).toFixed(1)} s`);
  }, { timeout: 90_000 });

  after(async () => {
    const t = performance.now();
    try {
      for (const p of Object.values(people)) {
        if (p.errors.length) {
          failed = true;
          log(`${p.who}: browser errors:\n  ${p.errors.join('\n  ')}`);
        }
      }
      await browser?.close();
    } finally {
      await server?.stop({ keep: failed });
      log(`browser and server stopped in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      summarise();
      for (const [n, ms, s] of timings) log(`${s.padEnd(6)} ${ms.toFixed(0).padStart(5)} ms  ${n}`);
      log(`accessibility e2e total: ${((performance.now() - T0) / 1000).toFixed(2)} s`);
    }
  }, { timeout: 60_000 });

  step('the people sign in: an administrator, a helpdesk user and a worker with keys, a worker with a pass', async () => {
    const [hank, wendy, tina, tom] = await Promise.all([
      createUser('hank', 'helpdesk'), createUser('wendy'), createUser('tina'), createUser('tom'),
    ]);
    Object.assign(state, { wendyUrl: wendy.url, tinaUrl: tina.url, tomUrl: tom.url });
    for (const who of ['anon', 'admin', 'helpdesk', 'worker', 'tap']) people[who] = await person(who);
    await Promise.all([
      enrol(people.admin, 'admin', server.setupTap),
      enrol(people.helpdesk, 'hank', hank.tap),
      enrol(people.worker, 'wendy', wendy.tap),
      enrol(people.tap, 'tina', tina.tap, { key: false }),
    ]);
    await people.admin.goto('/admin/users?q=admin');
    state.adminUrl = await people.admin.page.getByRole('link', { name: 'admin', exact: true }).getAttribute('href');
    assert.match(state.adminUrl ?? '', /^\/admin\/users\/[0-9a-f-]{36}$/);
    state.ready = true;
  });

  step('axe-core runs in a page under the page CSP and finds what it should', async () => {
    need('ready');
    // A keyfleet page (its CSP on) with a defect added through the DevTools protocol: an image
    // without a text alternative must be reported, or the check would pass by checking nothing.
    const { page } = people.anon;
    await people.anon.goto('/login');
    await page.evaluate(() => document.querySelector('main').append(Object.assign(document.createElement('img'), { src: '/assets/icon.svg' })));
    const found = await axe(page);
    assert.ok(found.some((v) => v.id === 'image-alt' && gated(v)), `axe-core did not report the image: ${JSON.stringify(found)}`);
  });

  for (const [name, who, where, opts = {}] of PAGES) {
    const title = `${name} (${who})`;
    if (opts.skip) {
      it.skip(`${title}: ${opts.skip}`);
      continue;
    }
    step(title, async () => {
      need('ready');
      const p = people[who];
      assert.ok(p, `no person "${who}" (one of ${Object.keys(people).join(', ')})`);
      const { page } = p;
      const clock = timer();
      await page.setViewportSize(DESKTOP);
      if (typeof where === 'string') await p.goto(where);
      else await where(p, state);
      await page.waitForLoadState('load');
      assert.equal(p.status, opts.status ?? 200, `${who}: the status of ${page.url()}`);
      clock('reach');

      await page.screenshot({ path: path.join(DIR, `${name}.png`), fullPage: true });
      clock('screenshot');
      const desktop = await axe(page);
      clock('axe');
      const dupes = await duplicateIds(page);
      const keys = opts.keys ? await focusProblems(page) : [];
      clock('checks');

      await page.setViewportSize(PHONE);
      await settle(page);
      await page.screenshot({ path: path.join(DIR, `${name}-phone.png`), fullPage: true });
      clock('screenshot');
      const phone = await axe(page);
      clock('axe');
      const wide = await sidewaysScroll(page);
      const unlabelled = await unlabelledCells(page);
      if (opts.keys) keys.push(...(await focusProblems(page)).map((k) => `phone: ${k}`));
      if (opts.phone) await opts.phone(p, state);
      clock('checks');

      report.push({ page: name, who, url: page.url().replace(server.origin, ''), desktop, phone });
      const gate = [...desktop.map((v) => ['desktop', v]), ...phone.map((v) => ['phone', v])]
        .filter(([, v]) => gated(v));
      const problems = [];
      if (gate.length) {
        problems.push(`${gate.length} serious or critical axe-core violation(s):\n` +
          gate.map(([w, v]) => `[${w}]\n${describeViolation(v)}`).join('\n'));
      }
      if (wide) {
        problems.push(`at phone width the page scrolls sideways: scrollWidth ${wide.scrollWidth} > ${wide.innerWidth}; ` +
          `too wide: ${wide.wide.join(', ') || '(nothing found outside .table-wrap)'}`);
      }
      if (dupes.length) problems.push(`ids used more than once: ${dupes.join(', ')}`);
      if (keys.length) problems.push(`keyboard:\n  ${keys.join('\n  ')}`);
      if (unlabelled.length) problems.push(`at phone width a table lost its labels: ${unlabelled.join('; ')}`);
      assert.ok(problems.length === 0, `${title}:\n${problems.join('\n')}`);
    });
  }
});

/** Counts by impact, every violation by rule (minor and moderate ones too), axe-report.json. */
function summarise() {
  if (!report.length) return;
  const groups = { 'WCAG 2.0/2.1 A and AA': {}, 'advisory (WCAG 2.2 AA, best practice)': {} };
  const byRule = new Map();
  for (const r of report) {
    const seen = new Set();
    for (const [width, list] of [['desktop', r.desktop], ['phone', r.phone]]) {
      for (const v of list) {
        const key = `${v.id}|${v.nodes.map((n) => n.target).join(',')}`;
        const rule = byRule.get(v.id) ?? { v, pages: new Set(), nodes: 0 };
        rule.pages.add(`${r.page}${width === 'phone' ? ' (phone)' : ''}`);
        byRule.set(v.id, rule);
        if (seen.has(key)) continue; // the same finding at both widths counts once
        seen.add(key);
        const counts = groups[Object.keys(groups)[v.tags.some((t) => GATED_TAGS.includes(t)) ? 0 : 1]];
        counts[v.impact] = (counts[v.impact] ?? 0) + v.nodes.length;
        rule.nodes += v.nodes.length;
      }
    }
  }
  log(`axe-core ${AXE_VERSION} on ${report.length} pages at 2 widths; elements in violation, by impact:`);
  for (const [group, counts] of Object.entries(groups)) {
    log(`  ${group}: ${['critical', 'serious', 'moderate', 'minor'].map((i) => `${i} ${counts[i] ?? 0}`).join(', ')}`);
  }
  for (const [id, e] of byRule) {
    log(`  ${e.v.impact} ${id} [${e.v.tags.join(', ')}] (${e.nodes} elements): ${e.v.help}\n#     ${e.v.helpUrl}\n#     on ${[...e.pages].join(', ')}`);
  }
  fs.writeFileSync(path.join(DIR, 'axe-report.json'), `${JSON.stringify({ axe: AXE_VERSION, options: AXE_OPTIONS, pages: report }, null, 1)}\n`);
  log(`${report.length * 2} screenshots and axe-report.json in ${DIR}`);
  log(`time over the pages: ${Object.entries(spent).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ')}`);
}
