// Runs history, one run with its steps, report and audit trail, and the
// global audit view.
import { api } from './api.js';
import { h, clear, duration, when, scrollBox, stackTable } from './dom.js';
import { runSummaryRow, ProgressPanel } from './cards.js';

export async function renderRuns(root) {
  clear(root);
  const r = await api('GET', '/api/runs?limit=100');
  if (!r.runs.length) { root.append(h('p', { class: 'muted', text: 'No runs yet. Start one from the Agent page.' })); return; }
  root.append(scrollBox('Runs', stackTable(h('table', { class: 'list runs' },
    h('thead', {}, h('tr', {}, ['Run', 'Cluster', 'State', 'Created'].map(x => h('th', { text: x })), h('th', { class: 'num', text: 'Savings' }))),
    h('tbody', {}, r.runs.map(runSummaryRow))))));
}

// an audit record's details as "key value" pairs (values that are not
// strings as compact JSON), easier to scan than one JSON blob
function details(rest) {
  return h('div', { class: 'kvs' }, Object.entries(rest).map(([k, v]) =>
    h('span', { class: 'kv' }, h('span', { class: 'k', text: k }), '\u00a0',
      h('span', { class: 'v', text: typeof v === 'string' ? (v === '' ? '""' : v) : JSON.stringify(v) }))));
}

function auditTable(records, opts = {}) {
  const withRun = opts.run !== false;
  return scrollBox('Audit trail', stackTable(h('table', { class: 'list audit' },
    h('thead', {}, h('tr', {}, ['Time', 'Event'].concat(withRun ? ['Run'] : [], ['Details']).map(x => h('th', { text: x })))),
    h('tbody', {}, records.map(a => {
      const rest = Object.assign({}, a);
      delete rest.ts; delete rest.event; delete rest.correlation_id;
      return h('tr', {}, h('td', { class: 'time', text: when(a.ts) }), h('td', { class: 'name', text: a.event }),
        withRun ? h('td', { class: 'run-id', text: a.correlation_id || '' }) : null, h('td', { class: 'details' }, details(rest)));
    })))));
}

export async function renderRun(root, id, live) {
  clear(root);
  const run = await api('GET', '/api/runs/' + encodeURIComponent(id));
  root.append(h('p', { class: 'run-head' }, h('span', { class: 'name', text: run.cluster_name }), ' ',
    h('span', { class: 'state ' + run.state, text: run.state })));
  const facts = [['Run', run.id]];
  if (run.approved_by) facts.push(['Approved', `by ${run.approved_by} at ${when(run.approved_at)}`]);
  if (run.test_cluster_id) facts.push(['Test cluster', run.test_cluster_id]);
  const rec = run.recommendation || {};
  for (const t of ['CORE', 'TASK']) {
    if (rec[t]) facts.push([t, rec[t].from === rec[t].to ? `${rec[t].from} (no change)` : `${rec[t].from} -> ${rec[t].to}`]);
  }
  if (facts.length) root.append(h('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])));
  root.append(h('h2', { text: 'Steps' }));
  root.append(scrollBox('Steps', stackTable(h('table', { class: 'list steps' },
    h('thead', {}, h('tr', {}, ['Step', 'State', 'Started'].map(x => h('th', { text: x })), h('th', { class: 'num', text: 'Took' }), h('th', { text: 'Detail' }))),
    h('tbody', {}, (run.steps || []).map(s => h('tr', {},
      h('td', { text: s.name }), h('td', { text: s.state }), h('td', { class: 'time', text: when(s.started) }),
      h('td', { class: 'num', text: s.started && s.ended ? duration((new Date(s.ended) - new Date(s.started)) / 1000) : '' }),
      h('td', { text: s.detail || '' }))))))));
  const panel = new ProgressPanel(run.id);
  panel.update(run);
  root.append(h('h2', { text: 'Progress' }), panel.el);
  if (run.error) root.append(h('div', { class: 'warning', text: run.error }));
  const a = await api('GET', '/api/audit?run=' + encodeURIComponent(run.id));
  root.append(h('h2', { text: 'Audit trail' }), auditTable(a.audit || [], { run: false }));
  if (live) live.panel = panel;
}

export async function renderAudit(root) {
  clear(root);
  const a = await api('GET', '/api/audit?limit=200');
  root.append(auditTable(a.audit || []));
}
