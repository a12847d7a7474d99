// Renders the panels of govesb.json (the Grafana dashboard) from a Prometheus server's HTTP API
// into one PNG, drawn as SVG in HTML by Debian's Chromium through playwright-core (installed by
// scripts/setup for the portal's browser test): the same queries, another renderer, for a
// machine without Grafana.
//
//   node docs/grafana/render.mjs --prometheus http://127.0.0.1:9090 --out govesb.png
//        [--dashboard docs/grafana/govesb.json] [--range-s 300] [--step-s 2] [--rate 15s]
//
// Template variables ($api, $consumer, $instance) match everything; $__rate_interval is --rate.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const HERE = import.meta.dirname ?? decodeURIComponent(new URL('.', import.meta.url).pathname);
const require = createRequire(path.join(HERE, '../../test/browser/package.json'));
const { chromium } = require('playwright-core');

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => {
  if (a.startsWith('--')) pairs.push([a.slice(2), all[i + 1]]);
  return pairs;
}, []));
const prometheus = args.prometheus ?? 'http://127.0.0.1:9090';
const dashboardFile = args.dashboard ?? path.join(HERE, 'govesb.json');
const out = args.out ?? path.join(HERE, 'govesb.png');
const rangeS = Number(args['range-s'] ?? 300);
const stepS = Number(args['step-s'] ?? 2);
const rate = args.rate ?? '15s';
const CHROMIUM = process.env.GOVESB_CHROMIUM || '/usr/bin/chromium';

const dashboard = JSON.parse(fs.readFileSync(dashboardFile, 'utf8'));
const end = Math.floor(Date.now() / 1000);
const start = end - rangeS;

function expand(expr) {
  return expr.replaceAll('$__rate_interval', rate).replaceAll(/\$(api|consumer|instance)\b/g, '.*');
}

async function query(expr, instant) {
  const params = new URLSearchParams({ query: expand(expr) });
  if (instant) {
    params.set('time', String(end));
  } else {
    params.set('start', String(start));
    params.set('end', String(end));
    params.set('step', String(stepS));
  }
  const url = `${prometheus}/api/v1/${instant ? 'query' : 'query_range'}?${params}`;
  const answer = await fetch(url);
  const body = await answer.json();
  if (body.status !== 'success') throw new Error(`${expr}: ${JSON.stringify(body)}`);
  return body.data.result;
}

function legend(format, metric) {
  const text = (format || '{{__name__}}').replaceAll(/\{\{\s*(\w+)\s*\}\}/g, (_, k) => metric[k] ?? '');
  return text.trim() === '' ? '""' : text;  // an empty label: a code the registry does not know
}

function formatValue(v, unit) {
  if (!Number.isFinite(v)) return '-';
  const si = (x, suffix, base = 1000) => {
    const units = ['', 'k', 'M', 'G', 'T'];
    let i = 0;
    while (Math.abs(x) >= base && i < units.length - 1) { x /= base; i++; }
    return `${Number(x.toPrecision(3))} ${units[i]}${suffix}`.trim();
  };
  switch (unit) {
    case 's':
      if (v === 0) return '0 s';
      if (v < 1e-3) return `${Number((v * 1e6).toPrecision(3))} µs`;
      if (v < 1) return `${Number((v * 1e3).toPrecision(3))} ms`;
      return `${Number(v.toPrecision(3))} s`;
    case 'reqps': return si(v, 'req/s');
    case 'bytes': return si(v, 'B', 1024);
    case 'Bps': return si(v, 'B/s', 1024);
    case 'percentunit': return `${Number((v * 100).toPrecision(3))}%`;
    default: return si(v, '');
  }
}

const COLORS = ['#7eb26d', '#eab839', '#6ed0e0', '#ef843c', '#e24d42', '#1f78c1', '#ba43a9',
  '#705da0', '#508642', '#cca300'];
const esc = (s) => String(s).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

function chart(series, unit, width, height) {
  const left = 64, right = 8, top = 8, bottom = 22;
  const w = width - left - right, h = height - top - bottom;
  let max = 0;
  for (const s of series) for (const [, v] of s.points) if (Number.isFinite(v)) max = Math.max(max, v);
  if (max === 0) max = 1;
  const x = (t) => left + ((t - start) / (end - start)) * w;
  const y = (v) => top + h - (v / max) * h;
  let svg = `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">`;
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    svg += `<line x1="${left}" x2="${left + w}" y1="${y(v)}" y2="${y(v)}" stroke="#2c3235"/>`;
    svg += `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(formatValue(v, unit))}</text>`;
  }
  for (let i = 0; i <= 4; i++) {
    const t = start + ((end - start) * i) / 4;
    const label = new Date(t * 1000).toISOString().slice(11, 19);
    svg += `<text x="${x(t)}" y="${height - 6}" text-anchor="middle">${label}</text>`;
  }
  series.forEach((s, i) => {
    const d = s.points.filter(([, v]) => Number.isFinite(v))
      .map(([t, v], j) => `${j ? 'L' : 'M'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join('');
    if (d) svg += `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5"/>`;
  });
  return svg + '</svg>';
}

const ROW_PX = 34;
const COL_PX = 1600 / 24;
let html = `<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; background: #111217; color: #ccccdc; font: 12px sans-serif; width: 1600px; }
.panel { position: absolute; background: #181b1f; border: 1px solid #2c3235; border-radius: 2px;
  box-sizing: border-box; padding: 6px 8px; overflow: hidden; }
.panel h3 { margin: 0 0 4px; font-size: 13px; font-weight: 500; }
.row { position: absolute; font-size: 15px; font-weight: 500; padding: 6px 8px; }
svg text { fill: #8e8e8e; font-size: 10px; }
.legend span { margin-right: 12px; white-space: nowrap; }
.legend i { display: inline-block; width: 10px; height: 3px; margin-right: 4px; vertical-align: middle; }
.stat { display: inline-block; margin: 4px 8px 0 0; padding: 8px 14px; border-radius: 3px;
  color: #fff; font-size: 15px; }
</style></head><body><div style="position:relative">
<div class="row" style="top:0;left:0;font-size:18px">${esc(dashboard.title)}
<span style="font-size:12px;color:#8e8e8e"> · the last ${rangeS} s · drawn from Prometheus by docs/grafana/render.mjs</span></div>`;
const OFFSET = 36;
let bottomPx = 0;
for (const panel of dashboard.panels) {
  const g = panel.gridPos;
  const top = OFFSET + g.y * ROW_PX, left = g.x * COL_PX;
  const width = g.w * COL_PX - 6, height = g.h * ROW_PX - 6;
  bottomPx = Math.max(bottomPx, top + height);
  if (panel.type === 'row') {
    html += `<div class="row" style="top:${top}px;left:${left}px">${esc(panel.title)}</div>`;
    continue;
  }
  let inner = '';
  const unit = panel.fieldConfig?.defaults?.unit ?? 'none';
  if (panel.type === 'stat') {
    for (const t of panel.targets) {
      for (const r of await query(t.expr, true)) {
        const v = Number(r.value[1]);
        inner += `<span class="stat" style="background:${v >= 1 ? '#37872d' : '#c4162a'}">` +
          `${esc(legend(t.legendFormat, r.metric))}: ${v >= 1 ? 'ok' : 'failing'}</span>`;
      }
    }
  } else {
    const series = [];
    for (const t of panel.targets) {
      for (const r of await query(t.expr, false)) {
        series.push({ name: legend(t.legendFormat, r.metric), points: r.values.map(([ts, v]) => [ts, Number(v)]) });
      }
    }
    const legendRows = Math.min(2, Math.ceil(series.length / 4));
    inner = chart(series, unit, width - 16, height - 34 - legendRows * 16);
    inner += '<div class="legend">' + series.slice(0, 8).map((s, i) =>
      `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(s.name)} ` +
      `${esc(formatValue(s.points.at(-1)?.[1], unit))}</span>`).join('') +
      (series.length === 0 ? '<span>no data</span>' : '') + '</div>';
  }
  html += `<div class="panel" style="top:${top}px;left:${left}px;width:${width}px;height:${height}px">` +
    `<h3>${esc(panel.title)}</h3>${inner}</div>`;
}
html += `</div><div style="height:${bottomPx + 10}px"></div></body></html>`;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  await page.setContent(html);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`render: ${out}`);
} finally {
  await browser.close();
}
