// The analysis card (per node type), the approval buttons, the live
// progress panel and the Phase 2 report.
import { h, duration, money, pct, when, scrollBox, stackTable } from './dom.js';
import { usageChart } from './charts.js';

function meter(label, u) {
  if (!u) return h('div', { class: 'meter' }, h('span', { text: label }), h('span', { class: 'muted', text: 'no data' }), h('span'));
  const bar = h('div', { class: 'bar', role: 'img', 'aria-label': `${label} ${pct(u.avg)} average, ${pct(u.p95)} peak` },
    h('div', { class: 'avg' }), h('div', { class: 'p95' }));
  bar.querySelector('.avg').style.width = Math.min(100, Math.max(0, u.avg)) + '%';
  bar.querySelector('.p95').style.left = 'calc(' + Math.min(100, Math.max(0, u.p95)) + '% - 1px)';
  return h('div', { class: 'meter' }, h('span', { text: label }), bar,
    h('span', { class: 'nums', text: `${pct(u.avg)} avg | ${pct(u.p95)} peak` }));
}

function statusText(s) {
  return (s || '').replace(/_/g, ' ');
}
export { statusText };

export function analysisCard(an, opts = {}) {
  const card = h('div', { class: 'card analysis', 'data-cluster': an.cluster && an.cluster.name });
  for (const type of ['CORE', 'TASK']) {
    const nt = an.node_types && an.node_types[type];
    if (!nt) continue;
    const rec = nt.recommendation || {};
    const node = h('div', { class: 'node', 'data-node': type },
      h('h3', {}, `${type} NODES (${nt.instances}x `, h('span', { class: 'type', text: nt.instance_type }), ')'),
      meter('CPU', nt.cpu),
      nt.cpu_only ? h('div', { class: 'meter' }, h('span', { text: 'Memory' }), h('span', { class: 'muted', text: 'no CWAgent data: CPU-only analysis' }), h('span')) : meter('Memory', nt.memory),
      h('div', { class: 'status-line' },
        'Status: ', h('span', { class: 'st', text: (nt.status_label || statusText(nt.status)).toUpperCase() }),
        nt.profile ? h('span', { class: 'badge', text: statusText(nt.profile) }) : null),
      h('div', { class: 'status-line' }, 'Recommendation: ',
        h('span', { class: 'rec', text: nt.changed ? nt.recommended_type : 'no change' }),
        nt.changed && rec.kind ? h('span', { class: 'badge', text: statusText(rec.kind) }) : null,
        nt.arch_change ? h('span', { class: 'badge', text: 'architecture change' }) : null));
    const alts = (nt.alternatives || []).filter(a => a && a.found && a.type);
    if (alts.length) {
      node.append(h('div', { class: 'alts' }, 'Alternatives: ' + alts.map(a => `${a.type} (${statusText(a.kind)}, ${money(a.hourly)}/h)`).join(', ')));
    }
    if (nt.reason) node.append(h('div', { class: 'alts', text: nt.reason }));
    if (opts.charts !== false && nt.series) node.append(usageChart(nt.series, an.thresholds, `${type}: CPU and memory`));
    card.append(node);
  }
  const c = an.cost || {};
  const monthly = c.monthly || {}, test = c.test || {};
  card.append(h('div', { class: 'totals' },
    h('div', {}, h('div', { class: 'big savings', text: money(monthly.savings) + '/month' }), h('div', { class: 'label', text: 'Estimated savings' })),
    h('div', {}, h('div', { class: 'big', text: '~' + money(test.cost) }), h('div', { class: 'label', text: `Test cluster cost (${test.instances || 0} instances)` }))));
  for (const w of an.warnings || []) card.append(h('div', { class: 'warning', role: 'note', text: w }));
  if (an.proposable === false && an.refusal) card.append(h('div', { class: 'warning', role: 'note', text: 'Not proposed: ' + an.refusal }));
  return card;
}

export function approvalButtons(run, onApprove, onCancel) {
  const proceed = h('button', { class: 'primary', type: 'button', 'data-action': 'approve' }, 'Proceed with Optimization');
  const cancel = h('button', { class: 'secondary', type: 'button', 'data-action': 'cancel' }, 'Cancel');
  const box = h('div', { class: 'actions', 'data-run': run.id }, proceed, cancel);
  const disable = () => { proceed.disabled = true; cancel.disabled = true; };
  proceed.addEventListener('click', async () => { disable(); await onApprove(run.id, box); });
  cancel.addEventListener('click', async () => { disable(); await onCancel(run.id, box); });
  if (run.state !== 'AWAIT_APPROVAL') disable();
  return box;
}

const TERMINAL = new Set(['DONE', 'FAILED', 'CANCELLED', 'CONFLICT']);

// A live progress panel for one run, rebuilt from the run record and fed by
// run.* events; lines are keyed by their index so replays never duplicate.
export class ProgressPanel {
  constructor(runId) {
    this.runId = runId;
    this.lines = new Map();
    const title = 'progress-title-' + runId;
    this.el = h('section', { class: 'progress-panel', 'data-run': runId, 'aria-labelledby': title },
      h('h3', { class: 'panel-title', id: title, tabindex: '-1', text: 'Optimization in progress...' }),
      h('div', { class: 'progress', role: 'log', 'aria-live': 'polite', 'aria-label': 'Progress of run ' + runId }),
      h('div', { class: 'report' }));
    this.list = this.el.querySelector('.progress');
    this.reportBox = this.el.querySelector('.report');
  }

  // the keyboard focus goes to the panel when the user starts the run
  focus() { this.el.querySelector('.panel-title').focus(); }

  addLine(l) {
    const key = l.n !== undefined ? 'n' + l.n : 'm' + l.message;
    let row = this.lines.get(key);
    const el = l.elapsed_s >= 1 ? ` (${duration(l.elapsed_s)})` : '';
    if (!row) {
      row = h('div', { class: 'line' + (l.level === 'error' ? ' fail' : '') + (l.final ? ' final' : ''), 'data-n': l.n },
        h('span', { class: 'msg' }), h('span', { class: 'el' }));
      // keep index order even when lines arrive out of order
      let before = null;
      for (const other of this.list.children) {
        if (l.n !== undefined && Number(other.dataset.n) > l.n) { before = other; break; }
      }
      this.list.insertBefore(row, before);
      this.lines.set(key, row);
    }
    row.querySelector('.msg').textContent = l.message;
    row.querySelector('.el').textContent = el;
  }

  update(run) {
    for (const l of run.log || []) this.addLine(l);
    this.setState(run.state);
    if (run.report) this.showReport(run.report, run);
  }

  setState(state) {
    this.el.dataset.state = state;
    const head = this.el.querySelector('.panel-title');
    if (TERMINAL.has(state)) head.textContent = state === 'DONE' ? 'Optimization complete' : `Optimization ${state.toLowerCase()}`;
  }

  showReport(rep, run) {
    const box = this.reportBox;
    while (box.firstChild) box.removeChild(box.firstChild);
    box.append(h('h4', { class: 'section', text: 'Phase 2 report' }));
    if (rep.narrative) box.append(h('p', { class: 'narrative', text: rep.narrative }));
    const t = rep.totals || {};
    box.append(h('div', { class: 'totals' },
      h('div', {}, h('div', { class: 'big', text: `${duration(t.old_runtime_s)} -> ${duration(t.new_runtime_s)}` }), h('div', { class: 'label', text: 'Runtime old -> new' })),
      h('div', {}, h('div', { class: 'big', text: `${money(t.old_cost)} -> ${money(t.new_cost)}` }), h('div', { class: 'label', text: 'Cost per run old -> new' })),
      h('div', {}, h('div', { class: 'big', text: money(t.savings_per_month) + '/month' }), h('div', { class: 'label', text: 'Projected savings' }))));
    const rows = (rep.steps || []).map(s => h('tr', {},
      h('td', { text: s.name }), h('td', { class: 'num', text: duration(s.old_runtime_s) }), h('td', { class: 'num', text: duration(s.new_runtime_s) }),
      h('td', { class: 'num', text: s.change_pct !== undefined && s.change_pct !== null ? (s.change_pct > 0 ? '+' : '') + s.change_pct.toFixed(1) + '%' : '' }),
      h('td', { text: s.new_state || '' })));
    if (rows.length) {
      box.append(scrollBox('Report steps', stackTable(h('table', { class: 'list report-steps' },
        h('thead', {}, h('tr', {}, h('th', { text: 'Step' }), h('th', { class: 'num', text: 'Old' }), h('th', { class: 'num', text: 'New' }), h('th', { class: 'num', text: 'Change' }), h('th', { text: 'State' }))),
        h('tbody', {}, rows)))));
    }
    if (run && run.conflict) {
      box.append(h('div', { class: 'warning', text: `CONFLICT: ${run.conflict.param_path} was changed by someone else (version ${run.conflict.found_version}, ours ${run.conflict.our_version}). It was not overwritten; restore the original value from the run record if needed.` }));
    }
  }
}

export function runSummaryRow(r) {
  return h('tr', {},
    h('td', {}, h('a', { href: '#/runs/' + encodeURIComponent(r.id), text: r.id })),
    h('td', { class: 'name', text: r.cluster_name || '' }),
    h('td', { class: 'state ' + (r.state || ''), text: r.state || '' }),
    h('td', { class: 'time', text: when(r.created) }),
    h('td', { class: 'num', text: r.estimate && typeof r.estimate.savings_per_month === 'number' ? money(r.estimate.savings_per_month) + '/mo' : '' }));
}
