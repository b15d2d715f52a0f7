// End-to-end: the dashboard in headless Chromium (Debian's) driven by
// playwright-core. Logs in, lists clusters, optimizes one, checks the
// analysis card and chart, approves, drops the WebSocket mid-run, and checks
// that the progress reaches Done with every step and the report shown.
// Screenshots of each stage go to $SHOTS.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const BASE = process.env.FRUGAL_E2E_URL;
const TOKEN = process.env.FRUGAL_E2E_TOKEN;
const TARGET = process.env.FRUGAL_E2E_CLUSTER;
const SHOTS = process.env.FRUGAL_E2E_SHOTS || 'screenshots';
const TIMEOUT = Number(process.env.FRUGAL_E2E_TIMEOUT_MS || 240000);
fs.mkdirSync(SHOTS, { recursive: true });

let step = 0;
const shot = async (page, name) => {
  step += 1;
  const file = path.join(SHOTS, `${String(step).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log('screenshot', file);
};
const fail = (msg) => { console.error('FAIL:', msg); process.exitCode = 1; throw new Error(msg); };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const errors = [];
page.on('pageerror', (e) => errors.push(String(e)));
// 401 is expected twice: the session probe before login and the wrong token
page.on('console', (m) => { if (m.type() === 'error' && !/status of 401/.test(m.text())) errors.push(m.text()); });
page.on('response', (r) => { if (r.status() >= 400 && r.status() !== 401) errors.push(`${r.status()} ${r.url()}`); });

try {
  // 1. login
  await page.goto(BASE + '/');
  await page.waitForSelector('#view-login:not([hidden])', { timeout: 15000 });
  await shot(page, 'login');
  await page.fill('#token', 'wrong-token-0123456789');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-error:text("not valid")', { timeout: 10000 });
  await page.fill('#token', TOKEN);
  await page.click('#login-form button[type=submit]');

  // 2. the cluster list
  await page.waitForSelector('#view-agent:not([hidden]) table.clusters', { timeout: 30000 });
  await page.waitForSelector('#conn.live', { timeout: 15000 });
  const btn = page.locator(`button[data-optimize="${TARGET}"]`).first();
  if (await btn.count() === 0) fail(`no Optimize button for ${TARGET}`);
  await shot(page, 'clusters');

  // 3. optimize: the analysis card and its charts
  await btn.click();
  await page.waitForSelector('.card.analysis .node[data-node="CORE"]', { timeout: 60000 });
  await page.waitForSelector('.card.analysis canvas', { timeout: 15000 });
  const status = await page.locator('.node[data-node="CORE"] .st').first().textContent();
  if (!status || !/OVERSIZED|RIGHT|UNDERSIZED/i.test(status)) fail('no sizing status on the card: ' + status);
  const proceed = page.locator('button[data-action="approve"]').last();
  if (await proceed.isDisabled()) fail('Proceed is disabled');
  await shot(page, 'analysis');

  // 4. approve, then break the WebSocket mid-run
  await proceed.click();
  const panel = page.locator('.progress-panel').last();
  await panel.waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll('.progress-panel .progress .line').length >= 2, null, { timeout: 60000 });
  await shot(page, 'progress');
  await page.evaluate(() => window.frugalFeed.drop());
  await page.waitForSelector('#conn:not(.live)', { timeout: 10000 }).catch(() => {});
  await page.waitForSelector('#conn.live', { timeout: 30000 });

  // 5. Done, the report, and no lost step
  await page.waitForSelector('.progress-panel[data-state="DONE"]', { timeout: TIMEOUT });
  await page.waitForSelector('.progress-panel .report h2', { timeout: 30000 });
  await page.waitForSelector('.progress-panel .report table.report-steps', { timeout: 30000 });
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
  await page.click(`a[href="#/runs/${runId}"]`);
  await page.waitForSelector('#view-run:not([hidden]) table.audit', { timeout: 15000 });
  const auditRows = await page.locator('#view-run table.audit tbody tr').count();
  if (auditRows < 4) fail('audit trail too short: ' + auditRows);
  await shot(page, 'run-audit');

  // keyboard: the composer is reachable and labelled
  await page.click('a[data-nav="agent"]');
  await page.waitForSelector('#chat-input');
  const label = await page.locator('label[for="chat-input"]').count();
  if (!label) fail('chat input has no label');

  if (errors.length) fail('page errors: ' + errors.join(' | '));
  console.log(JSON.stringify({ ok: true, run_id: runId, lines: shown, audit_rows: auditRows }));
} finally {
  await browser.close();
}
