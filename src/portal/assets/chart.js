// Line charts as inline SVG, drawn here (no library): a few series over time, axes with
// three ticks, a legend. The chart is an image with a text alternative (its title and the
// latest value of each series); the figures themselves are also in the page's tables.
const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// series: [{name, points: [[x (ms), y]], cls}]; formatX(ms), formatY(number) -> text.
export function lineChart({title, series, formatX, formatY, testid, width = 640, height = 220}) {
  const pad = {l: 56, r: 12, t: 12, b: 28};
  const w = width - pad.l - pad.r;
  const ht = height - pad.t - pad.b;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => Number.isFinite(y));
  const x0 = xs.length ? Math.min(...xs) : 0;
  const x1 = xs.length ? Math.max(...xs) : 1;
  const yMax = niceMax(ys.length ? Math.max(...ys) : 0);
  const sx = (x) => pad.l + (x1 === x0 ? w / 2 : ((x - x0) / (x1 - x0)) * w);
  const sy = (y) => pad.t + ht - (yMax === 0 ? 0 : (y / yMax) * ht);

  const latest = series.map((s) => {
    const last = s.points.length ? s.points[s.points.length - 1][1] : null;
    return `${s.name}: ${last === null ? '–' : formatY(last)}`;
  }).join('; ');
  const svg = el('svg', {viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
                         'aria-label': `${title}. ${latest}`, 'data-testid': testid,
                         preserveAspectRatio: 'xMidYMid meet'});
  svg.append(el('title', {}, title));
  for (const f of [0, 0.5, 1]) {
    const y = sy(yMax * f);
    svg.append(el('line', {x1: pad.l, x2: pad.l + w, y1: y, y2: y, class: 'grid'}));
    svg.append(el('text', {x: pad.l - 6, y: y + 4, class: 'tick', 'text-anchor': 'end'},
                  formatY(yMax * f)));
  }
  if (xs.length) {
    for (const [x, anchor] of [[x0, 'start'], [(x0 + x1) / 2, 'middle'], [x1, 'end']]) {
      svg.append(el('text', {x: sx(x), y: height - 8, class: 'tick', 'text-anchor': anchor},
                    formatX(x)));
    }
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length === 0) return;
    const d = pts.map((p, j) => `${j ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
                  .join('');
    svg.append(el('path', {d, class: `line s${i} ${s.cls || ''}`, fill: 'none'}));
    if (pts.length === 1) {
      svg.append(el('circle', {cx: sx(pts[0][0]), cy: sy(pts[0][1]), r: 3, class: `dot s${i}`}));
    }
  });
  const legend = document.createElement('ul');
  legend.className = 'legend';
  series.forEach((s, i) => {
    const li = document.createElement('li');
    const key = document.createElement('span');
    key.className = `key s${i}`;
    key.setAttribute('aria-hidden', 'true');
    li.append(key, document.createTextNode(s.name));
    legend.append(li);
  });
  const fig = document.createElement('figure');
  fig.className = 'chart-figure';
  const cap = document.createElement('figcaption');
  cap.textContent = title;
  fig.append(cap, svg, legend);
  return fig;
}

// 0, or the smallest of 1, 2, 5 × 10^k not below v.
export function niceMax(v) {
  if (!(v > 0)) return 0;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}
