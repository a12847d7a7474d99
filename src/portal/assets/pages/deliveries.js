// Deliveries of pushes and asynchronous answers: pending and dead, every attempt of one,
// redeliver one, redeliver every dead delivery of a code (the operator).
import * as api from '../api.js';
import {ask, badge, button, form, h, say, sayError, section, table, when} from '../dom.js';
import {formatNumber, t} from '../i18n.js';

export async function render(root, ctx) {
  const filter = {state: 'dead', code: ''};
  const results = h('div', {testid: 'deliveries-results'});
  const attempts = h('div', {testid: 'attempts-area'});

  const load = async () => {
    let rows;
    try {
      rows = await api.get('/deliveries' + api.query({state: filter.state, code: filter.code,
                                                       limit: 500}));
    } catch (e) {
      sayError(e);
      return;
    }
    results.replaceChildren(table('delivery', [
      {key: 'field.id', value: (r) => String(r.id)},
      {key: 'field.request_id', value: (r) => h('code', null, r.request_id)},
      {key: 'field.kind', value: (r) => r.kind},
      {key: 'field.code', value: (r) => r.code},
      {key: 'field.recipient', value: (r) => r.recipient},
      {key: 'field.state', value: (r) => badge(r.state)},
      {key: 'field.attempts', value: (r) => formatNumber(r.attempts)},
      {key: 'field.next_attempt_at', value: (r) => when(r.next_attempt_at)},
      {key: 'field.last_error', value: (r) => r.last_error || ''},
    ], rows, {
      key: (r) => String(r.id),
      actions: (r) => [
        button('delivery-attempts', 'deliveries.attempts', async () => {
          try {
            const list = await api.get(`/deliveries/${api.seg(r.id)}/attempts`);
            attempts.replaceChildren(h('h3', null, t('deliveries.attempts_title', {id: r.id})),
                                     table('attempt', [
              {key: 'field.at', value: (a) => when(a.at)},
              {key: 'field.outcome', value: (a) => a.outcome},
              {key: 'field.http_status', value: (a) => String(a.http_status ?? '')},
              {key: 'field.latency_ms', value: (a) => formatNumber((a.latency_us || 0) / 1000)},
              {key: 'field.error', value: (a) => a.error || ''},
            ], list));
            attempts.querySelector('h3').focus?.();
          } catch (e) {
            sayError(e);
          }
        }),
        ctx.can.manage && r.state !== 'pending' ? button('delivery-redeliver',
            'deliveries.redeliver', () => ask('deliveries.redeliver_title', null, {id: r.id},
                {action: () => api.post(`/deliveries/${api.seg(r.id)}/redeliver`)})
                .then((ok) => ok !== null && load())) : null,
      ],
    }));
  };

  root.append(section('deliveries.filter', 'deliveries-filter', form('deliveries', [
    {name: 'state', label: 'field.state', type: 'select', value: filter.state,
     options: [['dead', 'state.dead'], ['pending', 'state.pending'],
               ['delivered', 'state.delivered']]},
    {name: 'code', label: 'field.code'},
  ], 'action.show', async (v) => {
    filter.state = v.state;
    filter.code = v.code.trim();
    await load();
  })));
  if (ctx.can.operator) {
    root.append(section('deliveries.redeliver_all', 'redeliver-dead', form('redeliver-dead', [
      {name: 'code', label: 'field.code', hint: 'hint.redeliver_code'},
    ], 'deliveries.redeliver_all_submit', async (v) => {
      const ok = await ask('deliveries.redeliver_all_title', null, {code: v.code.trim() || '*'});
      if (ok === null) return;
      const body = v.code.trim() ? {code: v.code.trim()} : {};
      const answer = await api.post('/deliveries/redeliver-dead', body);
      say(t('deliveries.redelivered', {count: formatNumber(answer.redelivered || 0)}));
      await load();
    })));
  }
  root.append(section('deliveries.list', 'deliveries', results, attempts));
  await load();
}
