// The agent chat: transcript, cluster list, analysis cards, the one
// approval, live progress and the report.
import { api } from './api.js';
import { h, clear, duration, scrollBox } from './dom.js';
import { analysisCard, approvalButtons, ProgressPanel } from './cards.js';

const CONV_KEY = 'frugal.conversation';

export class Chat {
  constructor(root, form, input) {
    this.root = root;
    this.form = form;
    this.input = input;
    this.conversation = localStorage.getItem(CONV_KEY);
    this.panels = new Map();   // run id -> ProgressPanel
    this.pending = null;       // the agent message being streamed
    this.loaded = false;
    form.addEventListener('submit', (e) => { e.preventDefault(); this.send(input.value); });
  }

  async load() {
    if (this.loaded) return;
    this.loaded = true;
    clear(this.root);
    if (this.conversation) {
      // a restored transcript is not news: keep the live region quiet
      this.root.setAttribute('aria-busy', 'true');
      try {
        const c = await api('GET', '/api/agent/conversations/' + encodeURIComponent(this.conversation));
        for (const e of c.transcript || []) await this.renderEntry(e);
        if ((c.transcript || []).length) return;
      } catch (e) {
        if (e.status !== 404) throw e;
        this.conversation = null;
        localStorage.removeItem(CONV_KEY);
      } finally {
        this.root.removeAttribute('aria-busy');
      }
    }
    await this.send('list', { quiet: true });
  }

  reset() {
    this.conversation = null;
    localStorage.removeItem(CONV_KEY);
    this.panels.clear();
    this.loaded = false;
    return this.load();
  }

  message(role, content) {
    const m = h('article', { class: 'msg ' + role }, h('h2', { class: 'who', text: role === 'user' ? 'You' : 'Agent' }));
    if (content !== undefined) m.append(h('div', { class: 'text', text: content }));
    this.root.append(m);
    m.scrollIntoView({ block: 'end' });
    return m;
  }

  async send(text, opts = {}) {
    text = (text || '').trim();
    if (!text) return;
    this.input.value = '';
    if (!opts.quiet) this.message('user', text);
    const m = this.message('agent');
    const t = h('div', { class: 'text thinking', text: '...' });
    m.append(t);
    this.pending = { el: t, text: '', conversation: this.conversation };
    try {
      const body = { message: text };
      if (this.conversation) body.conversation_id = this.conversation;
      const r = await api('POST', '/api/agent/chat', body);
      this.setConversation(r.conversation_id);
      m.remove();
      await this.renderEntry(Object.assign({ role: 'agent', text: r.reply }, r));
    } catch (e) {
      t.classList.remove('thinking');
      t.textContent = 'Error: ' + e.message;
      if (e.status === 401) location.hash = '#/login';
    } finally {
      this.pending = null;
    }
  }

  setConversation(id) {
    if (id && id !== this.conversation) {
      this.conversation = id;
      localStorage.setItem(CONV_KEY, id);
    }
  }

  async renderEntry(e) {
    if (e.role === 'user') { this.message('user', e.text); return; }
    const m = this.message('agent', e.text);
    if (e.kind === 'clusters' && Array.isArray(e.clusters)) m.append(this.clusterTable(e.clusters));
    if (e.analysis && (e.kind === 'analysis' || e.kind === 'proposal')) m.append(analysisCard(e.analysis));
    if (e.run_id && (e.kind === 'proposal' || e.kind === 'status')) {
      let run = e.run;
      try { run = await api('GET', '/api/runs/' + encodeURIComponent(e.run_id)); } catch (err) { /* keep the snapshot */ }
      if (run) {
        if (e.kind === 'proposal') m.append(approvalButtons(run, (id, box) => this.approve(id, box, m), (id, box) => this.cancel(id, box)));
        if (e.kind === 'proposal' && run.state === 'CANCELLED') m.append(h('p', { class: 'done-note', text: 'Cancelled.' }));
        if (run.state !== 'AWAIT_APPROVAL' && run.state !== 'CANCELLED') this.attachPanel(m, run);
      }
    }
  }

  clusterTable(clusters) {
    const rows = clusters.map(c => h('tr', { class: c.failed ? 'failed' : '' },
      h('td', { class: 'name', text: c.name }),
      h('td', { text: duration(c.runtime_s) }),
      h('td', { text: (c.state || '').toLowerCase().replace(/_/g, ' ') + (c.failed ? ' (failed)' : '') }),
      h('td', { class: 'act' }, c.analyzable === false ? h('span', { class: 'muted', text: 'still running' }) :
        h('button', { class: 'link', type: 'button', 'data-optimize': c.name, onclick: () => this.send('optimize ' + c.name) },
          'Optimize', h('span', { class: 'opt-name', text: ' ' + c.name })))));
    return scrollBox('Clusters', h('table', { class: 'list clusters' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Cluster' }), h('th', { text: 'Runtime' }), h('th', { text: 'State' }), h('th', {}, h('span', { class: 'sr-only', text: 'Action' })))),
      h('tbody', {}, rows)));
  }

  attachPanel(msgEl, run) {
    let p = this.panels.get(run.id);
    if (!p) {
      p = new ProgressPanel(run.id);
      this.panels.set(run.id, p);
      msgEl.append(p.el);
    }
    p.update(run);
    p.el.scrollIntoView({ block: 'end' });
    return p;
  }

  async approve(runId, box, msgEl) {
    try {
      const r = await api('POST', '/api/agent/approve', { run_id: runId });
      const p = this.attachPanel(msgEl, r.run || { id: runId, state: 'BACKUP', log: [] });
      p.focus();
    } catch (e) {
      box.append(h('div', { class: 'error', role: 'alert', text: 'Approval failed: ' + e.message }));
    }
  }

  async cancel(runId, box) {
    try {
      await api('POST', '/api/agent/cancel', { run_id: runId });
      const note = h('p', { class: 'done-note', role: 'status', tabindex: '-1', text: 'Cancelled. Nothing was changed.' });
      box.after(note);
      note.focus();
    } catch (e) {
      box.append(h('div', { class: 'error', role: 'alert', text: 'Cancel failed: ' + e.message }));
    }
  }

  async refreshPanels() {
    for (const [id, p] of this.panels) {
      try { p.update(await api('GET', '/api/runs/' + encodeURIComponent(id))); } catch (e) { /* next event will retry */ }
    }
  }

  onEvent(ev) {
    const d = ev.data || {};
    if (ev.type === 'chat.delta' && this.pending && (!this.pending.conversation || d.conversation_id === this.pending.conversation || !this.conversation)) {
      this.pending.text += d.text;
      this.pending.el.classList.remove('thinking');
      this.pending.el.textContent = this.pending.text;
      return;
    }
    if (ev.type === 'chat.reset' && this.pending) {
      this.pending.text = '';
      this.pending.el.textContent = '...';
      return;
    }
    const p = d.run_id && this.panels.get(d.run_id);
    if (!p) return;
    if ((ev.type === 'run.step' || ev.type === 'run.progress') && d.message) p.addLine(d);
    if (ev.type === 'run.state') p.setState(d.to);
    if (ev.type === 'run.done') {
      p.setState(d.state);
      api('GET', '/api/runs/' + encodeURIComponent(d.run_id)).then(r => p.update(r)).catch(() => {});
    }
  }
}
