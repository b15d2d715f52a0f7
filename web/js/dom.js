// Tiny DOM builder. Text is always set with textContent: cluster names,
// tags and messages come from AWS and are never parsed as HTML.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function duration(secs) {
  if (secs === undefined || secs === null || isNaN(secs)) return '';
  const t = Math.round(secs);
  if (t >= 3600) return (secs / 3600).toFixed(1) + ' hours';
  if (t >= 60) return Math.floor(t / 60) + 'm ' + String(t % 60).padStart(2, '0') + 's';
  return t + 's';
}

export function money(v) {
  if (v === undefined || v === null || isNaN(v)) return '-';
  if (Math.abs(v) < 100) return '$' + v.toFixed(2);
  return '$' + Math.round(v).toLocaleString('en-US');
}

export function pct(v) {
  return (v === undefined || v === null || isNaN(v)) ? '-' : v.toFixed(1) + '%';
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// A wide table inside a horizontally scrolling box, so a narrow screen
// scrolls the table instead of the page. While it actually scrolls, the box
// is a named, focusable region, so keyboard users can scroll it too.
const scrollWatch = typeof ResizeObserver === 'function' ? new ResizeObserver((entries) => {
  for (const e of entries) markScrollable(e.target);
}) : null;

function markScrollable(box) {
  const scrolls = box.scrollWidth > box.clientWidth + 1;
  if (scrolls) {
    box.setAttribute('tabindex', '0');
    box.setAttribute('role', 'region');
    box.setAttribute('aria-label', box.dataset.label + ' (scrolls sideways)');
  } else {
    box.removeAttribute('tabindex');
    box.removeAttribute('role');
    box.removeAttribute('aria-label');
  }
}

export function scrollBox(label, child) {
  const box = h('div', { class: 'scroll-x', dataset: { label } }, child);
  if (scrollWatch) scrollWatch.observe(box);
  return box;
}

// On a phone, a table.stack shows each row as a block, every cell led by
// its column name (from the header, copied into data-label).
export function stackTable(table) {
  const names = [...table.querySelectorAll('thead th')].map(th => th.textContent.trim());
  for (const tr of table.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((td, i) => { if (names[i]) td.dataset.label = names[i]; });
  }
  table.classList.add('stack');
  return table;
}
