// One WebSocket to /api/feed, reconnecting with backoff and resuming from
// the last sequence number it saw, so no event is lost across drops or a
// daemon restart.
const KEY = 'frugal.feed.seq';

export class Feed {
  constructor(onEvent, onState) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.seq = Number(sessionStorage.getItem(KEY) || 0);
    this.delay = 500;
    this.ws = null;
    this.stopped = false;
    this.seen = new Set();
  }

  start(fromSeq) {
    if (fromSeq !== undefined && fromSeq > this.seq) this.seq = fromSeq;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.ws) this.ws.close();
  }

  connect() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = proto + '//' + location.host + '/api/feed' + (this.seq ? '?since=' + this.seq : '');
    const ws = new WebSocket(url);
    this.ws = ws;
    this.onState('connecting');
    ws.onopen = () => { this.delay = 500; this.onState('live'); };
    ws.onmessage = (m) => {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (ev.type === 'feed.gap') { this.onEvent(ev); return; }
      if (ev.seq <= this.seq && this.seen.has(ev.seq)) return;
      if (ev.seq > this.seq) {
        this.seq = ev.seq;
        sessionStorage.setItem(KEY, String(ev.seq));
      }
      this.seen.add(ev.seq);
      if (this.seen.size > 5000) this.seen = new Set([...this.seen].slice(-1000));
      this.onEvent(ev);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.onState('reconnecting');
      if (this.stopped) return;
      const wait = this.delay + Math.random() * this.delay;
      this.delay = Math.min(this.delay * 2, 15000);
      setTimeout(() => { if (!this.stopped) this.connect(); }, wait);
    };
    ws.onerror = () => { /* onclose follows */ };
  }

  // for tests and the UI: drop the socket as a network fault would
  drop() { if (this.ws) this.ws.close(); }
}
