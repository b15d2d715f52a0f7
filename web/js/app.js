// Bootstrap: session, hash routing, the feed.
import { api, restoreSession, login, logout } from './api.js';
import { Feed } from './feed.js';
import { Chat } from './chat.js';
import { renderRuns, renderRun, renderAudit } from './runs.js';

const $ = (id) => document.getElementById(id);
const views = ['login', 'agent', 'runs', 'run', 'audit'];
let chat = null;
let feed = null;
const runLive = { panel: null };

function show(name) {
  for (const v of views) $('view-' + v).hidden = v !== name;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === name || (name === 'run' && a.dataset.nav === 'runs')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('logout').hidden = name === 'login';
  $('nav').hidden = name === 'login';
}

// After a navigation the user asked for, focus moves to the new view's
// heading (or the message box), so keyboard and screen-reader users start
// reading there instead of at the link they left.
function focusView(name) {
  const target = name === 'agent' ? $('chat-input') : $(name + '-title');
  if (target) target.focus({ preventScroll: name !== 'agent' });
}

function setConn(state) {
  const el = $('conn');
  $('conn-text').textContent = state;
  el.classList.toggle('live', state === 'live');
  if (state === 'live' && chat) chat.refreshPanels();
}

function onEvent(ev) {
  if (chat) chat.onEvent(ev);
  if (runLive.panel && ev.data && ev.data.run_id === runLive.panel.runId) {
    if (ev.data.message) runLive.panel.addLine(ev.data);
    if (ev.type === 'run.state') runLive.panel.setState(ev.data.to);
  }
  if (ev.type === 'audit' && !$('view-audit').hidden) renderAudit($('audit-body'));
}

async function route(ev) {
  const hash = location.hash || '#/agent';
  if (!hash.startsWith('#/')) return; // an in-page anchor, not a view
  const moved = !!ev; // a hashchange: the user navigated
  runLive.panel = null;
  try {
    if (hash.startsWith('#/login')) { show('login'); $('token').focus(); return; }
    if (hash.startsWith('#/runs/')) {
      show('run');
      await renderRun($('run-body'), decodeURIComponent(hash.slice(7)), runLive);
      if (moved) focusView('run');
      return;
    }
    if (hash.startsWith('#/runs')) { show('runs'); await renderRuns($('runs-body')); if (moved) focusView('runs'); return; }
    if (hash.startsWith('#/audit')) { show('audit'); await renderAudit($('audit-body')); if (moved) focusView('audit'); return; }
    show('agent');
    await chat.load();
    focusView('agent');
  } catch (e) {
    if (e.status === 401) { location.hash = '#/login'; return; }
    console.error(e);
  }
}

async function startSession() {
  chat = new Chat($('chat'), $('chat-form'), $('chat-input'));
  let since = 0;
  try { since = (await api('GET', '/api/events?limit=1&since=18446744073709551614')).last_seq; } catch (e) { /* fresh */ }
  feed = new Feed(onEvent, setConn);
  window.frugalFeed = feed; // lets the browser tests drop the socket like a network fault
  feed.start(Number(sessionStorage.getItem('frugal.feed.seq') || since));
}

// the message box's hint, shorter where the box is narrow
function fitPlaceholder() {
  const narrow = window.matchMedia('(max-width: 560px)').matches;
  $('chat-input').placeholder = narrow ? 'Message, or help' : 'Type a message: list, analyze NAME, optimize NAME, status, help';
}

async function main() {
  fitPlaceholder();
  // the skip link moves focus to the content without touching the route
  document.querySelector('a.skip').addEventListener('click', (e) => { e.preventDefault(); $('main').focus(); });
  window.matchMedia('(max-width: 560px)').addEventListener('change', fitPlaceholder);
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    $('login-error').textContent = '';
    try {
      await login($('token').value.trim());
      $('token').value = '';
      await startSession();
      location.hash = '#/agent';
      await route();
    } catch (err) {
      $('login-error').textContent = err.status === 401 ? 'That token is not valid.' : 'Sign-in failed: ' + err.message;
    }
  });
  $('logout').addEventListener('click', async () => {
    await logout();
    if (feed) feed.stop();
    location.hash = '#/login';
    location.reload();
  });
  $('new-chat').addEventListener('click', () => chat && chat.reset());
  window.addEventListener('hashchange', route);
  if (await restoreSession()) {
    await startSession();
    if (location.hash.startsWith('#/login')) location.hash = '#/agent';
    await route();
  } else {
    location.hash = '#/login';
    show('login');
    $('token').focus();
  }
}

main();
