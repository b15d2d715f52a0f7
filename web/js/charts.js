// CPU and memory over a cluster's lifetime for one node type: the average
// across nodes, the spread (min..max) as a band, and the sizing thresholds.
import { h } from './dom.js';

const INK = '#0b0b0b', ACCENT = '#0050d8';
const AXIS = '#4a4a4a';            // axis labels: readable on white (8.9:1)
const GRID = '#e2e2e2', THRESH = '#767676';
const FONT = '12px "Inter", "Helvetica Neue", Helvetica, Arial, sans-serif';

// The sizing zones the dashed threshold lines divide the chart into, for a
// label axis on the right: [middle of the zone, its name].
function zones(lines) {
  if (lines.length !== 3) return [];
  const [heavy, moderate, right] = lines.map(([, v]) => v);
  if (!(heavy < moderate && moderate < right && right < 100)) return [];
  return [[heavy / 2, 'heavily over'], [(heavy + moderate) / 2, 'moderately over'],
    [(moderate + right) / 2, 'right-sized'], [(right + 100) / 2, 'undersized']];
}

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
  const noPoints = { show: false };
  const add = (arr, def) => {
    if (arr && arr.length === t.length) { cols.push(arr); defs.push(Object.assign({ points: noPoints }, def)); return cols.length - 1; }
    return -1;
  };
  const cmax = add(cpu.max, { label: 'CPU max', stroke: 'rgba(11,11,11,0.25)', width: 1 });
  const cmin = add(cpu.min, { label: 'CPU min', stroke: 'rgba(11,11,11,0.25)', width: 1 });
  add(cpu.avg, { label: 'CPU avg', stroke: INK, width: 2 });
  const mmax = mem ? add(mem.max, { label: 'Mem max', stroke: 'rgba(0,80,216,0.25)', width: 1 }) : -1;
  const mmin = mem ? add(mem.min, { label: 'Mem min', stroke: 'rgba(0,80,216,0.25)', width: 1 }) : -1;
  if (mem) add(mem.avg, { label: 'Mem avg', stroke: ACCENT, width: 2 });
  const lines = [];
  if (thresholds) {
    for (const [label, v] of [['heavily oversized', thresholds.heavy_avg], ['moderately oversized', thresholds.moderate_avg], ['right-sized', thresholds.right_avg]]) {
      if (typeof v === 'number') lines.push([label, v]);
    }
  }
  for (const [label, v] of lines) add(t.map(() => v), { label: label + ' ' + v + '%', stroke: THRESH, width: 1, dash: [4, 4] });
  const bands = [];
  if (cmax > 0 && cmin > 0) bands.push({ series: [cmax, cmin], fill: 'rgba(11,11,11,0.07)' });
  if (mmax > 0 && mmin > 0) bands.push({ series: [mmax, mmin], fill: 'rgba(0,80,216,0.08)' });
  const HEIGHT = 190;
  const fit = () => Math.max(200, Math.min(1000, box.clientWidth || 0));
  const guess = Math.max(200, Math.min(1000, (document.querySelector('main') || document.body).clientWidth - 110));
  const axis = { stroke: AXIS, font: FONT, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } };
  const axes = [Object.assign({}, axis), Object.assign({}, axis, { values: (u, vals) => vals.map(v => v + '%'), size: 44 })];
  // wide enough: name the zones between the threshold lines on the right
  const z = guess >= 560 ? zones(lines) : [];
  if (z.length) {
    axes.push({ scale: 'y', side: 1, stroke: AXIS, font: '11px "Inter", "Helvetica Neue", Helvetica, Arial, sans-serif',
      size: 104, gap: 6, grid: { show: false }, ticks: { show: false },
      splits: () => z.map(([v]) => v), values: () => z.map(([, name]) => name) });
  }
  const opts = {
    width: guess, height: HEIGHT, series: defs, bands,
    scales: { y: { range: [0, 100] } },
    axes,
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { show: false } },
  };
  box.append(h('div', { class: 'chart-title', 'aria-hidden': 'true', text: title }));
  const plot = new window.uPlot(opts, cols, box);
  // follow the box's width (first layout, window resizes, phone rotation)
  if (typeof ResizeObserver === 'function') {
    let last = 0;
    new ResizeObserver(() => {
      const w = fit();
      if (box.clientWidth && w !== last) { last = w; plot.setSize({ width: w, height: HEIGHT }); }
    }).observe(box);
  }
  box.append(h('figcaption', { class: 'legend-note' },
    h('span', { class: 'key cpu', text: 'CPU' }), ' average across nodes, ',
    mem ? h('span', { class: 'key mem', text: 'memory' }) : null, mem ? ' average, ' : '',
    'shaded: min-max across nodes; dashed: sizing thresholds on the average (' +
    lines.map(([label, v]) => label + ' below ' + v + '%').join(', ') + ').'));
  return box;
}
