// CPU and memory over a cluster's lifetime for one node type: the average
// across nodes, the spread (min..max) as a band, and the sizing thresholds.
import { h } from './dom.js';

const INK = '#0b0b0b', ACCENT = '#0050d8', GRAY = '#8a8a8a';

// series: {start_ms, period_ms, cpu: {avg, min, max}, memory: {avg, min, max}}
// (null where no node had data), as the analysis returns it.
export function usageChart(series, thresholds, title) {
  const box = h('figure', { class: 'chart', 'aria-label': title });
  const cpu = series && series.cpu, mem = series && series.memory;
  const n = cpu && cpu.avg ? cpu.avg.length : 0;
  if (n < 2 || typeof window.uPlot !== 'function') {
    box.append(h('figcaption', { class: 'legend-note', text: 'No time series to chart.' }));
    return box;
  }
  const t = Array.from({ length: n }, (_, i) => (series.start_ms + i * series.period_ms) / 1000);
  const cols = [t];
  const defs = [{}];
  const add = (arr, def) => { if (arr && arr.length === t.length) { cols.push(arr); defs.push(def); return cols.length - 1; } return -1; };
  const cmax = add(cpu.max, { label: 'CPU max', stroke: 'rgba(11,11,11,0.25)', width: 1 });
  const cmin = add(cpu.min, { label: 'CPU min', stroke: 'rgba(11,11,11,0.25)', width: 1 });
  add(cpu.avg, { label: 'CPU avg', stroke: INK, width: 2 });
  const mmax = mem ? add(mem.max, { label: 'Mem max', stroke: 'rgba(0,80,216,0.25)', width: 1 }) : -1;
  const mmin = mem ? add(mem.min, { label: 'Mem min', stroke: 'rgba(0,80,216,0.25)', width: 1 }) : -1;
  if (mem) add(mem.avg, { label: 'Mem avg', stroke: ACCENT, width: 2 });
  const lines = [];
  if (thresholds) {
    for (const [label, v] of [['heavy', thresholds.heavy_avg], ['moderate', thresholds.moderate_avg], ['right-sized', thresholds.right_avg]]) {
      if (typeof v === 'number') lines.push([label, v]);
    }
  }
  for (const [label, v] of lines) add(t.map(() => v), { label: label + ' ' + v + '%', stroke: GRAY, width: 1, dash: [4, 4], points: { show: false } });
  const bands = [];
  if (cmax > 0 && cmin > 0) bands.push({ series: [cmax, cmin], fill: 'rgba(11,11,11,0.07)' });
  if (mmax > 0 && mmin > 0) bands.push({ series: [mmax, mmin], fill: 'rgba(0,80,216,0.08)' });
  const width = Math.max(280, Math.min(900, (document.querySelector('main') || document.body).clientWidth - 60));
  const opts = {
    title, width, height: 190, series: defs, bands,
    scales: { y: { range: [0, 100] } },
    axes: [{ stroke: GRAY }, { stroke: GRAY, values: (u, vals) => vals.map(v => v + '%') }],
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
  };
  // eslint-disable-next-line no-new
  new window.uPlot(opts, cols, box);
  box.append(h('figcaption', { class: 'legend-note' },
    h('span', { class: 'key cpu', text: 'CPU' }), ' average across nodes, ',
    mem ? h('span', { class: 'key mem', text: 'memory' }) : null, mem ? ' average, ' : '',
    'shaded: min-max across nodes; dashed: sizing thresholds ' + lines.map(([, v]) => v + '%').join(' / ') + ' (average).'));
  return box;
}
