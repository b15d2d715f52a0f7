// Runs history, one run with its steps, report and audit trail, and the
// global audit view.
import { api } from './api.js';
import { h, clear, duration, when } from './dom.js';
import { runSummaryRow, ProgressPanel } from './cards.js';

export async function renderRuns(root) {
  clear(root);
  const r = await api('GET', '/api/runs?limit=100');
  if (!r.runs.length) { root.append(h('p', { class: 'muted', text: 'No runs yet. Start one from the Agent page.' })); return; }
  root.append(h('table', { class: 'list runs' },
    h('thead', {}, h('tr', {}, ['Run', 'Cluster', 'State', 'Created', 'Savings'].map(x => h('th', { text: x })))),
    h('tbody', {}, r.runs.map(runSummaryRow))));
}

function auditTable(records) {
  return h('table', { class: 'list audit' },
    h('thead', {}, h('tr', {}, ['Time', 'Event', 'Run', 'Details'].map(x => h('th', { text: x })))),
    h('tbody', {}, records.map(a => {
      const rest = Object.assign({}, a);
      delete rest.ts; delete rest.event; delete rest.correlation_id;
      return h('tr', {}, h('td', { text: when(a.ts) }), h('td', { class: 'name', text: a.event }),
        h('td', { text: a.correlation_id || '' }), h('td', {}, h('code', { text: JSON.stringify(rest) })));
    })));
}

export async function renderRun(root, id, live) {
  clear(root);
  const run = await api('GET', '/api/runs/' + encodeURIComponent(id));
  root.append(h('p', {}, h('span', { class: 'name', text: run.cluster_name }), '  ',
    h('span', { class: 'state ' + run.state, text: run.state }),
    run.approved_by ? h('span', { class: 'muted', text: `  approved by ${run.approved_by} at ${when(run.approved_at)}` }) : null));
  if (run.test_cluster_id) root.append(h('p', { class: 'muted', text: 'Test cluster: ' + run.test_cluster_id }));
  if (run.recommendation) {
    const rec = run.recommendation;
    const lines = ['CORE', 'TASK'].filter(t => rec[t]).map(t => `${t}: ${rec[t].from} -> ${rec[t].to}`);
    if (lines.length) root.append(h('p', { text: lines.join('   ') }));
  }
  root.append(h('h2', { text: 'Steps' }));
  root.append(h('table', { class: 'list steps' },
    h('thead', {}, h('tr', {}, ['Step', 'State', 'Started', 'Took', 'Detail'].map(x => h('th', { text: x })))),
    h('tbody', {}, (run.steps || []).map(s => h('tr', {},
      h('td', { text: s.name }), h('td', { text: s.state }), h('td', { text: when(s.started) }),
      h('td', { text: s.started && s.ended ? duration((new Date(s.ended) - new Date(s.started)) / 1000) : '' }),
      h('td', { text: s.detail || '' }))))));
  const panel = new ProgressPanel(run.id);
  panel.update(run);
  root.append(h('h2', { text: 'Progress' }), panel.el);
  if (run.error) root.append(h('div', { class: 'warning', text: run.error }));
  const a = await api('GET', '/api/audit?run=' + encodeURIComponent(run.id));
  root.append(h('h2', { text: 'Audit trail' }), auditTable(a.audit || []));
  if (live) live.panel = panel;
}

export async function renderAudit(root) {
  clear(root);
  const a = await api('GET', '/api/audit?limit=200');
  root.append(auditTable(a.audit || []));
}
