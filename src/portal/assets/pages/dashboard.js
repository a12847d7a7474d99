// The dashboard: traffic over the last hour or day from the per-minute counters (requests per
// minute, error rate, p50/p99 latency) as charts, the busiest APIs and systems, and the
// delivery queue (pending, dead). An institution admin sees its own systems' figures only.
import * as api from '../api.js';
import {lineChart} from '../chart.js';
import {button, h, sayError, section, table} from '../dom.js';
import {formatDate, formatNumber, formatPercent, formatTime, t} from '../i18n.js';

const RANGES = {
  hour: {ms: 3600 * 1000, step: 1},
  day: {ms: 24 * 3600 * 1000, step: 15},
};

const ms = (v) => formatNumber(v, {maximumFractionDigits: 1});

function totalsTable(kind, rows) {
  return table(kind, [
    {key: kind === 'totals-code' ? 'field.api_code' : 'field.system_client_id',
     value: (r) => h('code', null, r.key)},
    {key: 'field.requests', value: (r) => formatNumber(r.requests)},
    {key: 'field.errors', value: (r) => formatNumber(r.errors)},
    {key: 'field.error_rate', value: (r) => formatPercent(r.requests ? r.errors / r.requests : 0)},
    {key: 'field.p50_ms', value: (r) => ms(r.p50_ms)},
    {key: 'field.p99_ms', value: (r) => ms(r.p99_ms)},
  ], rows, {key: (r) => r.key});
}

export async function render(root) {
  const charts = h('div', {class: 'charts', testid: 'traffic-charts'});
  const totals = h('div', {testid: 'traffic-totals'});
  const queue = h('div', {class: 'tiles', testid: 'queue'});
  const buttons = {};
  let range = 'hour';

  const load = async () => {
    for (const [k, b] of Object.entries(buttons)) b.setAttribute('aria-pressed', String(k === range));
    const to = Date.now();
    const from = to - RANGES[range].ms;
    const step = RANGES[range].step;
    let points;
    let byCode;
    let bySystem;
    try {
      [points, byCode, bySystem] = await Promise.all([
        api.get('/traffic' + api.query({from, to, step})),
        api.get('/traffic/totals' + api.query({from, to, by: 'code', limit: 10})),
        api.get('/traffic/totals' + api.query({from, to, by: 'system', limit: 10})),
      ]);
    } catch (e) {
      sayError(e);
      return;
    }
    const at = (p) => p.start_ms ?? Date.parse(p.start);
    charts.replaceChildren(
        lineChart({title: t('dashboard.requests_per_minute'), testid: 'chart-requests',
                   series: [{name: t('field.requests'),
                             points: points.map((p) => [at(p), p.requests / step])}],
                   formatX: formatTime, formatY: (v) => formatNumber(v, {maximumFractionDigits: 1})}),
        lineChart({title: t('dashboard.error_rate'), testid: 'chart-errors',
                   series: [{name: t('field.error_rate'), cls: 'bad',
                             points: points.map((p) => [at(p),
                                                         p.requests ? p.errors / p.requests : 0])}],
                   formatX: formatTime, formatY: formatPercent}),
        lineChart({title: t('dashboard.latency'), testid: 'chart-latency',
                   series: [{name: t('field.p50_ms'), points: points.map((p) => [at(p), p.p50_ms])},
                            {name: t('field.p99_ms'), points: points.map((p) => [at(p), p.p99_ms])}],
                   formatX: formatTime, formatY: ms}));
    const sum = points.reduce((a, p) => ({requests: a.requests + p.requests,
                                          errors: a.errors + p.errors}), {requests: 0, errors: 0});
    totals.replaceChildren(
        h('p', {testid: 'traffic-sum'}, t('dashboard.sum', {requests: formatNumber(sum.requests),
                                                            errors: formatNumber(sum.errors)})),
        h('h3', null, t('dashboard.busiest_apis')), totalsTable('totals-code', byCode),
        h('h3', null, t('dashboard.busiest_systems')), totalsTable('totals-system', bySystem));
  };

  const loadQueue = async () => {
    try {
      const counts = await api.get('/deliveries/counts');
      queue.replaceChildren(
          h('div', {class: 'tile', testid: 'queue-pending'},
            h('span', {class: 'n'}, formatNumber(counts.pending)),
            h('span', null, t('dashboard.pending')),
            counts.oldest_pending_at
                ? h('small', {class: 'hint'}, t('dashboard.oldest_pending',
                                                 {when: formatDate(counts.oldest_pending_at)}))
                : null),
          h('div', {class: 'tile', testid: 'queue-dead'},
            h('span', {class: 'n'}, formatNumber(counts.dead)), h('span', null, t('dashboard.dead'))),
          h('a', {href: '#/deliveries', testid: 'queue-link'}, t('dashboard.to_deliveries')));
    } catch (e) {
      sayError(e);
    }
  };

  const switcher = h('div', {class: 'buttons', role: 'group',
                             'aria-label': t('dashboard.range')});
  for (const k of Object.keys(RANGES)) {
    buttons[k] = button('range-' + k, k === 'hour' ? 'dashboard.last_hour' : 'dashboard.last_day',
                        () => {
                          range = k;
                          load();
                        }, {kind: 'secondary'});
    switcher.append(buttons[k]);
  }
  switcher.append(button('dashboard-refresh', 'action.refresh', () => {
    load();
    loadQueue();
  }, {kind: 'secondary'}));
  root.append(section('dashboard.traffic', 'traffic', switcher, charts, totals));
  root.append(section('dashboard.queue', 'queue-section', queue));
  await Promise.all([load(), loadQueue()]);
}
