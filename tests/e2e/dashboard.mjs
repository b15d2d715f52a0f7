// End-to-end: the dashboard in headless Chromium (Debian's) driven by
// playwright-core.
//
// 1. The pointer flow: logs in, lists clusters, optimizes one, checks the
//    analysis card and chart, approves, drops the WebSocket mid-run, and
//    checks that the progress reaches Done with every step and the report
//    shown; reload; runs and audit views.
// 2. A keyboard-only pass (page.keyboard, no clicks) in a fresh browser
//    context: log in, open a cluster's analysis, Cancel it (Space), send a
//    chat message, Proceed (Enter), switch tabs, open the run. Every Tab stop
//    must show the accent focus ring, unobscured.
// 3. Accessibility checks on every view: every interactive node of Chrome's
//    accessibility tree has a name; landmarks; heading order; the live
//    regions; WCAG contrast of every visible text (4.5:1, 3:1 for large).
// 4. A phone viewport (390x844): nothing overflows horizontally.
// Screenshots of each stage go to $SHOTS.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const BASE = process.env.FRUGAL_E2E_URL;
const TOKEN = process.env.FRUGAL_E2E_TOKEN;
const TARGET = process.env.FRUGAL_E2E_CLUSTER;
// a second proposable cluster for the keyboard pass's own run ('' = none)
const TARGET2 = process.env.FRUGAL_E2E_CLUSTER2 || '';
const SHOTS = process.env.FRUGAL_E2E_SHOTS || 'screenshots';
const TIMEOUT = Number(process.env.FRUGAL_E2E_TIMEOUT_MS || 240000);
const ACCENT = 'rgb(0, 80, 216)';
fs.mkdirSync(SHOTS, { recursive: true });

let step = 0;
const shot = async (page, name, { viewport = false } = {}) => {
  step += 1;
  const file = path.join(SHOTS, `${String(step).padStart(2, '0')}-${name}.png`);
  if (viewport) {
    // what the user sees: the window scrolled to the end, the message box
    // sticky at its bottom
    await page.evaluate(() => window.scrollTo(0, document.scrollingElement.scrollHeight));
    await page.screenshot({ path: file });
  } else {
    // the whole page; the sticky message box is laid out where it ends, as
    // a full-page capture would otherwise paint it over the content
    // (through the CSSOM: the page's CSP refuses style elements)
    const sticky = (on) => { for (const c of document.querySelectorAll('.composer')) c.style.position = on ? '' : 'static'; };
    await page.evaluate(sticky, false);
    await page.screenshot({ path: file, fullPage: true });
    await page.evaluate(sticky, true);
  }
  console.log('screenshot', file);
};
const fail = (msg) => { console.error('FAIL:', msg); process.exitCode = 1; throw new Error(msg); };

// what the checks measured, printed at the end
const summary = { views: [], min_contrast: null, tab_stops: 0, named_controls: 0, phone: [] };

// ---------------------------------------------------------------------------
// In-page measurements (serialised into the page by page.evaluate).

// WCAG 2 contrast of every visible text against its resolved background.
function measureContrast() {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const over = (fg, bg) => ({
    r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a), a: 1,
  });
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  // visually hidden (the sr-only pattern) or not rendered
  const hiddenText = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const cs = getComputedStyle(e);
      if (cs.clip && cs.clip !== 'auto' && cs.position === 'absolute') return true;
      const r = e.getBoundingClientRect();
      if (cs.overflow === 'hidden' && (r.width <= 1 || r.height <= 1)) return true;
    }
    return !el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
  };
  // the background behind el: its own and its ancestors' colours composited
  // over the white canvas; null when an image is involved (not measurable)
  const background = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.push(e);
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const e of chain.reverse()) {
      const cs = getComputedStyle(e);
      if (cs.backgroundImage && cs.backgroundImage !== 'none') return null;
      const c = parse(cs.backgroundColor);
      if (c && c.a > 0) bg = over(c, bg);
    }
    return bg;
  };
  const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity); return o; };
  const results = [];
  const consider = (el, fgCss, text, kind, style) => {
    const cs = style || getComputedStyle(el);
    const bg = background(el);
    const fg0 = parse(fgCss);
    if (!bg || !fg0) return;
    const fg = over(Object.assign({}, fg0, { a: fg0.a * opacity(el) }), bg);
    const size = parseFloat(cs.fontSize), weight = parseInt(cs.fontWeight, 10) || 400;
    const large = size >= 24 || (size >= 18.66 && weight >= 700);
    const need = large ? 3 : 4.5;
    const id = el.id ? '#' + el.id : '';
    const cls = typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '';
    results.push({ ratio: Math.round(ratio(fg, bg) * 100) / 100, need, large, kind,
      where: el.tagName.toLowerCase() + id + cls, text: text.slice(0, 40), size, weight });
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'CANVAS', 'svg'].includes(el.tagName)) continue;
    // inactive controls are exempt (WCAG 1.4.3)
    if (el.closest('button:disabled, input:disabled, [aria-disabled="true"]')) continue;
    const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
    if ((el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') && !hiddenText(el)) {
      if (el.value) consider(el, getComputedStyle(el).color, el.value, 'value');
      else if (el.placeholder) consider(el, getComputedStyle(el, '::placeholder').color, el.placeholder, 'placeholder');
      continue;
    }
    if (!own || hiddenText(el)) continue;
    consider(el, getComputedStyle(el).color, own, 'text');
  }
  // text drawn by ::before (the progress lines' ">", the column names of
  // stacked tables on a phone)
  for (const el of document.body.querySelectorAll('*')) {
    const b = getComputedStyle(el, '::before');
    let text = b.content || '';
    if (text === 'none' || text === 'normal' || b.display === 'none') continue;
    const attr = /^attr\(([\w-]+)\)$/.exec(text);
    text = attr ? (el.getAttribute(attr[1]) || '') : text.replace(/^"|"$/g, '');
    if (!text.trim() || hiddenText(el)) continue;
    consider(el, b.color, text, 'before', b);
  }
  results.sort((a, b) => a.ratio - b.ratio);
  return { count: results.length, lowest: results.slice(0, 5), failures: results.filter(r => r.ratio < r.need) };
}

// landmarks, headings in order, the live regions, the connection status
function measureStructure() {
  const visible = (el) => el.getClientRects().length > 0 || (el.closest('.sr-only') && !el.closest('[hidden]'));
  const heads = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].filter(e => !e.closest('[hidden]') && visible(e));
  const levels = heads.map(e => Number(e.tagName[1]));
  const problems = [];
  if (levels[0] !== 1) problems.push('the first heading is h' + levels[0]);
  if (levels.filter(l => l === 1).length !== 1) problems.push(levels.filter(l => l === 1).length + ' h1 headings');
  for (let i = 1; i < levels.length; i++) {
    if (levels[i] > levels[i - 1] + 1) problems.push(`h${levels[i - 1]} "${heads[i - 1].textContent.trim().slice(0, 30)}" is followed by h${levels[i]} "${heads[i].textContent.trim().slice(0, 30)}"`);
  }
  const empty = heads.filter(e => !e.textContent.trim()).length;
  if (empty) problems.push(empty + ' empty headings');
  const conn = document.getElementById('conn');
  const progress = [...document.querySelectorAll('.progress-panel .progress')].filter(e => !e.closest('[hidden]'));
  return {
    headings: levels.join(''),
    heading_problems: problems,
    banner: !!document.querySelector('body > header'),
    nav: !!document.querySelector('nav[aria-label]:not([hidden])'),
    main: !!document.querySelector('main'),
    lang: document.documentElement.lang,
    conn_role: conn && conn.getAttribute('role'),
    conn_text: conn && conn.textContent.trim(),
    chat_live: (() => { const c = document.getElementById('chat'); return c ? c.getAttribute('aria-live') : null; })(),
    progress_live: progress.map(e => e.getAttribute('aria-live')),
  };
}

function measureOverflow() {
  const se = document.scrollingElement;
  const out = [];
  if (se.scrollWidth > window.innerWidth) {
    for (const el of document.body.querySelectorAll('*')) {
      if (el.closest('.scroll-x') && !el.classList.contains('scroll-x')) continue;
      const r = el.getBoundingClientRect();
      if (r.right > window.innerWidth + 1 && r.width > 0) out.push(el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') + ' right=' + Math.round(r.right));
    }
  }
  return { scrollWidth: se.scrollWidth, innerWidth: window.innerWidth, culprits: out.slice(0, 8) };
}

// the focused element: what it is, and whether its focus ring shows
function focusState(sel) {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return { none: true };
  const cs = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const cx = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
  const cy = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
  const hit = document.elementFromPoint(cx, cy);
  const label = (el.getAttribute('aria-label') || el.textContent || el.id || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return {
    match: sel ? el.matches(sel) : false,
    desc: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' + label + '"',
    outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth), color: cs.outlineColor,
    focusVisible: el.matches(':focus-visible'),
    inView: r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth && r.width > 0 && r.height > 0,
    covered: !(hit && (hit === el || el.contains(hit) || hit.contains(el))),
    coveredBy: hit ? hit.tagName.toLowerCase() + (hit.className && typeof hit.className === 'string' ? '.' + hit.className : '') : null,
    interactive: el.tabIndex >= 0,
  };
}

// ---------------------------------------------------------------------------
// Checks run from node.

const INTERACTIVE = new Set(['button', 'link', 'textbox', 'searchbox', 'checkbox', 'radio', 'combobox', 'listbox',
  'menuitem', 'tab', 'switch', 'slider', 'spinbutton', 'option', 'region']);

// Chrome's own accessibility tree: every interactive node needs a name
async function checkNames(page, where) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const live = nodes.filter(n => !n.ignored);
    const roles = new Set(live.map(n => n.role && n.role.value));
    const controls = live.filter(n => {
      const role = n.role && n.role.value;
      const focusable = (n.properties || []).some(p => p.name === 'focusable' && p.value.value);
      return INTERACTIVE.has(role) || (focusable && !['RootWebArea', 'main', 'heading', 'status', 'paragraph'].includes(role));
    });
    const unnamed = controls.filter(n => !(n.name && String(n.name.value || '').trim()));
    if (unnamed.length) {
      fail(`${where}: ${unnamed.length} interactive element(s) without an accessible name: ` +
        unnamed.map(n => `${n.role && n.role.value} (node ${n.backendDOMNodeId})`).join(', '));
    }
    summary.named_controls += controls.length;
    return { controls: controls.length, roles };
  } finally {
    await cdp.detach();
  }
}

async function checkA11y(page, where, opts = {}) {
  const names = await checkNames(page, where);
  for (const r of ['banner', 'main']) if (!names.roles.has(r)) fail(`${where}: no ${r} landmark`);
  if (opts.loggedIn !== false && !names.roles.has('navigation')) fail(`${where}: no navigation landmark`);
  const s = await page.evaluate(measureStructure);
  if (s.heading_problems.length) fail(`${where}: headings out of order (${s.headings}): ${s.heading_problems.join('; ')}`);
  if (!s.lang) fail(`${where}: <html> has no lang`);
  if (s.conn_role !== 'status' || !/^connection:/i.test(s.conn_text)) fail(`${where}: the connection indicator has no text alternative: ${s.conn_role} "${s.conn_text}"`);
  if (opts.loggedIn !== false && s.chat_live !== 'polite') fail(`${where}: the chat is not a polite live region`);
  if (opts.progress) {
    if (!s.progress_live.length) fail(`${where}: no progress panel`);
    if (s.progress_live.some(v => v !== 'polite')) fail(`${where}: a progress feed is not aria-live=polite: ${s.progress_live}`);
  }
  const c = await page.evaluate(measureContrast);
  if (!c.count) fail(`${where}: no text measured`);
  if (c.failures.length) {
    fail(`${where}: ${c.failures.length} text(s) below WCAG contrast: ` +
      c.failures.slice(0, 6).map(f => `${f.where} "${f.text}" ${f.ratio}:1 < ${f.need}:1`).join('; '));
  }
  const low = c.lowest[0];
  if (low && (summary.min_contrast === null || low.ratio < summary.min_contrast.ratio)) summary.min_contrast = Object.assign({ view: where }, low);
  summary.views.push({ view: where, controls: names.controls, texts: c.count, headings: s.headings, lowest_contrast: low && low.ratio });
}

// Tab (or Shift+Tab) until the focused element matches sel; every stop on
// the way must show the accent focus ring, in view and not covered.
async function tabTo(page, sel, { back = false, max = 80 } = {}) {
  for (let i = 0; i <= max; i++) {
    const st = await page.evaluate(focusState, sel);
    if (!st.none && st.interactive) {
      summary.tab_stops += 1;
      if (st.outline === 'none' || st.width < 2) fail(`focus ring missing on ${st.desc}: outline ${st.outline} ${st.width}px`);
      if (st.color !== ACCENT) fail(`focus ring on ${st.desc} is ${st.color}, not the accent ${ACCENT}`);
      if (!st.focusVisible) fail(`${st.desc} is focused but not :focus-visible`);
      if (!st.inView) fail(`focused ${st.desc} is out of view`);
      if (st.covered) fail(`focused ${st.desc} is covered by ${st.coveredBy}`);
    }
    if (st.match) return st;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  return fail(`${sel} not reached with ${max} presses of ${back ? 'Shift+Tab' : 'Tab'}`);
}

const activeIs = (page, sel) => page.evaluate((s) => !!document.activeElement && document.activeElement.matches(s), sel);
async function expectFocus(page, sel, what) {
  await page.waitForFunction((s) => document.activeElement && document.activeElement.matches(s), sel, { timeout: 10000 })
    .catch(async () => fail(`${what}: focus is on ${(await page.evaluate(focusState, null)).desc}, not ${sel}`));
}

async function checkPhone(page, where) {
  const o = await page.evaluate(measureOverflow);
  summary.phone.push({ view: where, scrollWidth: o.scrollWidth, innerWidth: o.innerWidth });
  if (o.scrollWidth > o.innerWidth) fail(`${where}: page is ${o.scrollWidth}px wide in a ${o.innerWidth}px window: ${o.culprits.join(', ')}`);
}

// ---------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
const watch = (page) => {
  page.on('pageerror', (e) => errors.push(String(e)));
  // 401 is expected: the session probe before login and the wrong token
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400 && r.status() !== 401) errors.push(`${r.status()} ${r.url()}`); });
};

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  watch(page);

  // 1. login
  await page.goto(BASE + '/');
  await page.waitForSelector('#view-login:not([hidden])', { timeout: 15000 });
  await checkA11y(page, 'login', { loggedIn: false });
  await shot(page, 'login');
  await page.fill('#token', 'wrong-token-0123456789');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error:text("not valid")', { timeout: 10000 });
  await checkA11y(page, 'login error', { loggedIn: false });
  await page.fill('#token', TOKEN);
  await page.click('#login-form button[type=submit]');

  // 2. the cluster list
  await page.waitForSelector('#view-agent:not([hidden]) table.clusters', { timeout: 30000 });
  await page.waitForSelector('#conn.live', { timeout: 15000 });
  const btn = page.locator(`button[data-optimize="${TARGET}"]`).first();
  if (await btn.count() === 0) fail(`no Optimize button for ${TARGET}`);
  await checkA11y(page, 'clusters');
  await shot(page, 'clusters');

  // 3. optimize: the analysis card and its charts
  await btn.click();
  await page.waitForSelector('.card.analysis .node[data-node="CORE"]', { timeout: 60000 });
  await page.waitForSelector('.card.analysis canvas', { timeout: 15000 });
  const status = await page.locator('.node[data-node="CORE"] .st').first().textContent();
  if (!status || !/OVERSIZED|RIGHT|UNDERSIZED/i.test(status)) fail('no sizing status on the card: ' + status);
  const proceed = page.locator('button[data-action="approve"]').last();
  if (await proceed.isDisabled()) fail('Proceed is disabled');
  await checkA11y(page, 'analysis');
  await shot(page, 'analysis');

  // 4. approve, then break the WebSocket mid-run
  await proceed.click();
  const panel = page.locator('.progress-panel').last();
  await panel.waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll('.progress-panel .progress .line').length >= 2, null, { timeout: 60000 });
  await checkA11y(page, 'progress', { progress: true });
  await shot(page, 'progress');
  await page.evaluate(() => window.frugalFeed.drop());
  await page.waitForSelector('#conn:not(.live)', { timeout: 10000 }).catch(() => {});
  await page.waitForSelector('#conn.live', { timeout: 30000 });

  // 5. Done, the report, and no lost step
  await page.waitForSelector('.progress-panel[data-state="DONE"]', { timeout: TIMEOUT });
  await page.waitForSelector('.progress-panel .report h4', { timeout: 30000 });
  await page.waitForSelector('.progress-panel .report table.report-steps', { timeout: 30000 });
  await checkA11y(page, 'report', { progress: true });
  await shot(page, 'report');
  const runId = await panel.getAttribute('data-run');
  const run = await page.evaluate(async (id) => (await fetch('/api/runs/' + encodeURIComponent(id))).json(), runId);
  const shown = await page.locator('.progress-panel[data-run="' + runId + '"] .progress .line').count();
  if (shown < (run.log || []).length) fail(`progress shows ${shown} lines, the run logged ${(run.log || []).length}`);
  if (run.state !== 'DONE') fail('run state ' + run.state);

  // 6. a reload shows the same state
  await page.reload();
  await page.waitForSelector(`.progress-panel[data-run="${runId}"][data-state="DONE"]`, { timeout: 30000 });
  const afterReload = await page.locator(`.progress-panel[data-run="${runId}"] .progress .line`).count();
  if (afterReload !== shown) fail(`after reload ${afterReload} lines, before ${shown}`);

  // 7. runs and audit views
  await page.click('a[data-nav="runs"]');
  await page.waitForSelector('#view-runs:not([hidden]) table.runs', { timeout: 15000 });
  await checkA11y(page, 'runs');
  await shot(page, 'runs');
  await page.click(`a[href="#/runs/${runId}"]`);
  await page.waitForSelector('#view-run:not([hidden]) table.audit', { timeout: 15000 });
  const auditRows = await page.locator('#view-run table.audit tbody tr').count();
  if (auditRows < 4) fail('audit trail too short: ' + auditRows);
  await checkA11y(page, 'run', { progress: true });
  await shot(page, 'run-audit');
  await page.click('a[data-nav="audit"]');
  await page.waitForSelector('#view-audit:not([hidden]) table.audit tbody tr', { timeout: 15000 });
  await checkA11y(page, 'audit');
  await shot(page, 'audit');
  await context.close();

  // 8. the keyboard-only pass, in a fresh browser (no session, no chat)
  const kctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const kp = await kctx.newPage();
  watch(kp);
  const key = (k) => kp.keyboard.press(k);
  await kp.goto(BASE + '/');
  await kp.waitForSelector('#view-login:not([hidden])', { timeout: 15000 });
  await expectFocus(kp, '#token', 'login page');
  // the skip link comes first and shows itself when focused
  await tabTo(kp, 'a.skip', { back: true, max: 3 });
  const skip = await kp.evaluate(() => { const r = document.querySelector('a.skip').getBoundingClientRect(); return r.left >= 0 && r.top >= 0 && r.width > 20; });
  if (!skip) fail('the focused skip link is not visible');
  await tabTo(kp, '#token', { max: 3 });
  await kp.keyboard.type(TOKEN);
  await key('Enter');
  await kp.waitForSelector('#view-agent:not([hidden]) table.clusters', { timeout: 30000 });
  await kp.waitForSelector('#conn.live', { timeout: 15000 });
  await expectFocus(kp, '#chat-input', 'after sign-in');
  console.log('keyboard: signed in with Enter, focus in the message box');

  // open a cluster's analysis: Shift+Tab back into the cluster list
  const kTarget = TARGET2 || TARGET;
  await tabTo(kp, `button[data-optimize="${kTarget}"]`, { back: true });
  await key('Enter');
  await kp.waitForSelector(`.card.analysis[data-cluster="${kTarget}"]`, { timeout: 60000 });
  await kp.waitForSelector('.actions[data-run] button[data-action="cancel"]:not([disabled])', { timeout: 15000 });
  const firstRun = await kp.locator('.actions[data-run]').last().getAttribute('data-run');
  console.log(`keyboard: Enter on Optimize ${kTarget} opened the analysis (proposal ${firstRun})`);

  // Cancel it with Space
  await tabTo(kp, `.actions[data-run="${firstRun}"] button[data-action="cancel"]`);
  await key('Space');
  await kp.waitForSelector(`.actions[data-run="${firstRun}"] + .done-note`, { timeout: 15000 });
  await expectFocus(kp, '.done-note', 'after Cancel');
  const cancelled = await kp.evaluate(async (id) => (await (await fetch('/api/runs/' + id)).json()).state, firstRun);
  if (cancelled !== 'CANCELLED') fail(`Space on Cancel left the run ${cancelled}`);
  console.log('keyboard: Space on Cancel cancelled', firstRun);

  // send a chat message: Tab to the message box, type, Enter
  await tabTo(kp, '#chat-input');
  const before = await kp.locator('.actions[data-run]').count();
  await kp.keyboard.type(`optimize ${kTarget}`);
  await key('Enter');
  await kp.waitForFunction((t) => [...document.querySelectorAll('.msg.user .text')].some(e => e.textContent === t), `optimize ${kTarget}`, { timeout: 15000 });
  await kp.waitForFunction((n) => document.querySelectorAll('.actions[data-run]').length > n, before, { timeout: 60000 });
  const kRun = await kp.locator('.actions[data-run]').last().getAttribute('data-run');
  console.log('keyboard: sent a message, got proposal', kRun);
  await checkA11y(kp, 'keyboard: proposal');

  // Proceed with Enter (when a second cluster was given: one run per
  // parameter, and the pointer flow's cluster may no longer be oversized)
  if (TARGET2) {
    await tabTo(kp, `.actions[data-run="${kRun}"] button[data-action="approve"]`, { back: true });
    await key('Enter');
    await kp.waitForSelector(`.progress-panel[data-run="${kRun}"]`, { timeout: 30000 });
    await expectFocus(kp, `.progress-panel[data-run="${kRun}"] .panel-title`, 'after Proceed');
    console.log('keyboard: Enter on Proceed started', kRun);
    await shot(kp, 'keyboard-approved');
  } else {
    await tabTo(kp, `.actions[data-run="${kRun}"] button[data-action="cancel"]`, { back: true });
    await key('Enter');
    await kp.waitForSelector(`.actions[data-run="${kRun}"] + .done-note`, { timeout: 15000 });
    console.log('keyboard: no second cluster, so Enter on Cancel instead of Proceed');
  }

  // switch tabs: Runs, the run, Audit, back to Agent
  await tabTo(kp, 'a[data-nav="runs"]', { back: true, max: 150 });
  await key('Enter');
  await kp.waitForSelector('#view-runs:not([hidden]) table.runs', { timeout: 15000 });
  await expectFocus(kp, '#runs-title', 'Runs tab');
  // the skip link jumps to the content and leaves the view alone
  await tabTo(kp, 'a.skip', { back: true, max: 10 });
  await key('Enter');
  await expectFocus(kp, 'main', 'skip link');
  if (!await kp.locator('#view-runs:not([hidden]) table.runs').count()) fail('the skip link left the Runs view');
  await tabTo(kp, `a[href="#/runs/${kRun}"]`);
  await key('Enter');
  await kp.waitForSelector('#view-run:not([hidden]) table.steps', { timeout: 15000 });
  await expectFocus(kp, '#run-title', 'run page');
  if (await kp.locator('#view-run .state').first().textContent() === '') fail('run page has no state');
  await tabTo(kp, 'a[data-nav="audit"]', { back: true, max: 150 });
  await key('Enter');
  await kp.waitForSelector('#view-audit:not([hidden]) table.audit', { timeout: 15000 });
  await expectFocus(kp, '#audit-title', 'Audit tab');
  await tabTo(kp, 'a[data-nav="agent"]', { back: true, max: 150 });
  await key('Enter');
  await kp.waitForSelector('#view-agent:not([hidden])', { timeout: 15000 });
  await expectFocus(kp, '#chat-input', 'Agent tab');
  console.log(`keyboard: switched Runs, run ${kRun}, Audit, Agent; ${summary.tab_stops} focus stops checked`);
  if (TARGET2) {
    await kp.waitForSelector(`.progress-panel[data-run="${kRun}"][data-state="DONE"]`, { timeout: TIMEOUT });
    await kp.waitForSelector(`.progress-panel[data-run="${kRun}"] .report table.report-steps`, { timeout: 30000 });
    await checkA11y(kp, 'keyboard: run done', { progress: true });
  }

  // 9. a phone: nothing wider than the window
  await kp.setViewportSize({ width: 390, height: 844 });
  await kp.reload();
  await kp.waitForSelector('#view-agent:not([hidden]) table.clusters', { timeout: 30000 });
  await kp.waitForSelector('.card.analysis canvas', { timeout: 15000 });
  await checkPhone(kp, 'phone agent');
  await checkA11y(kp, 'phone agent', { progress: !!TARGET2 });
  await shot(kp, 'phone-agent');
  await shot(kp, 'phone-agent-window', { viewport: true });
  await kp.evaluate((id) => { location.hash = '#/runs/' + id; }, kRun);
  await kp.waitForSelector('#view-run:not([hidden]) table.audit', { timeout: 15000 });
  await checkPhone(kp, 'phone run');
  await checkA11y(kp, 'phone run', { progress: true });
  await shot(kp, 'phone-run');
  await kp.evaluate(() => { location.hash = '#/runs'; });
  await kp.waitForSelector('#view-runs:not([hidden]) table.runs', { timeout: 15000 });
  await checkPhone(kp, 'phone runs');
  await shot(kp, 'phone-runs');
  await kp.evaluate(() => { location.hash = '#/audit'; });
  await kp.waitForSelector('#view-audit:not([hidden]) table.audit', { timeout: 15000 });
  await checkPhone(kp, 'phone audit');
  // a table wider than the phone scrolls in its own box, reachable by Tab
  const boxes = await kp.evaluate(() => [...document.querySelectorAll('#view-audit .scroll-x')].map(b => ({ scrolls: b.scrollWidth > b.clientWidth, tab: b.tabIndex, label: b.getAttribute('aria-label') })));
  for (const b of boxes) if (b.scrolls && (b.tab !== 0 || !b.label)) fail('a scrolling table box is not focusable and named: ' + JSON.stringify(b));
  await checkA11y(kp, 'phone audit');
  await shot(kp, 'phone-audit');
  await tabTo(kp, '#logout', { back: true, max: 10 });
  await key('Enter');
  await kp.waitForSelector('#view-login:not([hidden])', { timeout: 15000 });
  await checkPhone(kp, 'phone login');
  await shot(kp, 'phone-login');
  await kctx.close();

  if (errors.length) fail('page errors: ' + errors.join(' | '));
  console.log('a11y', JSON.stringify(summary));
  console.log(JSON.stringify({ ok: true, run_id: runId, keyboard_run: kRun, lines: shown, audit_rows: auditRows,
    min_contrast: summary.min_contrast && summary.min_contrast.ratio, tab_stops: summary.tab_stops }));
} finally {
  await browser.close();
}
