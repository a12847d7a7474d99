// The catalogue: every API of every institution with its description and provider. Publish an
// API (then its description), describe, disable and enable one's own; see any API's contract
// (the JSON Schemas its bodies are checked against) and publish one's own; request access to any
// for one of one's systems, stating the purpose. Push topics below, with their state: disable
// and enable one's own.
import * as api from '../api.js';
import {ask, badge, button, foldedSection, form, h, say, sayError, section, table} from '../dom.js';
import {formatNumber, t} from '../i18n.js';

function systemOptions(systems) {
  return systems.map((s) => [s.client_id, `${s.name} (${s.client_id})`, true]);
}

function describeFields(a = {}) {
  return [
    {name: 'title', label: 'field.title', value: a.title || '', maxlength: 200},
    {name: 'description', label: 'field.description', type: 'textarea',
     value: a.description || ''},
    {name: 'request_example', label: 'field.request_example', type: 'textarea',
     value: a.request_example || '', hint: 'hint.json'},
    {name: 'response_example', label: 'field.response_example', type: 'textarea',
     value: a.response_example || '', hint: 'hint.json'},
    {name: 'openapi', label: 'field.openapi', type: 'file', accept: '.json',
     hint: 'hint.openapi'},
  ];
}

function description(v) {
  const d = {title: v.title.trim(), description: v.description.trim(),
             request_example: v.request_example.trim(),
             response_example: v.response_example.trim()};
  if (v.openapi) d.openapi = v.openapi;
  return d;
}

export async function render(root, ctx) {
  const [apis, systems, topics] = await Promise.all([api.get('/apis'), api.get('/systems'),
                                                     api.get('/topics')]);
  // The systems this account may act for (an institution admin sees only its own).
  const mine = ctx.can.manage ? systems.filter((s) => ctx.can.owns(s.institution)) : [];
  const owns = (a) => ctx.can.operator || mine.some((s) => s.client_id === a.provider);
  const editing = h('div', {testid: 'api-edit-area'});

  if (ctx.can.manage && mine.length) {
    root.append(foldedSection('catalogue.publish', 'api-publish', 'action.show_form', form('api', [
      {name: 'provider', label: 'field.provider_system', type: 'select', required: true,
       options: systemOptions(mine)},
      {name: 'code', label: 'field.api_code', required: true, maxlength: 8,
       hint: 'hint.api_code'},
      {name: 'mode', label: 'field.mode', type: 'select', options: [['sync', 'mode.sync'],
                                                                    ['async', 'mode.async']]},
      {name: 'timeout_ms', label: 'field.timeout_ms', type: 'number', value: 30000, min: 1},
    ].concat(describeFields()), 'catalogue.publish_submit', async (v) => {
      const code = v.code.trim();
      await api.post('/apis', {provider: v.provider, code, mode: v.mode,
                               timeout_ms: Number(v.timeout_ms) || 30000});
      const d = description(v);
      if (d.title || d.description || d.request_example || d.response_example || d.openapi) {
        try {
          await api.put(`/apis/${api.seg(code)}/description`, d);
        } catch (e) {
          await ctx.refresh();
          throw e;
        }
      }
      await ctx.refresh();
      say(t('catalogue.published', {code}));
    })));
  }

  root.append(section('catalogue.list', 'catalogue', editing, table('api', [
    {key: 'field.api_code', value: (r) => h('code', null, r.code)},
    {key: 'field.title', value: (r) => r.title || ''},
    {key: 'field.description', value: (r) => r.description || ''},
    {key: 'field.provider', value: (r) => `${r.provider_institution_name ||
                                              r.provider_institution || ''} — ${
                                              r.provider_name || r.provider}`},
    {key: 'field.mode', value: (r) => (r.mode === 'async' ? t('mode.async') : t('mode.sync'))},
    {key: 'field.timeout_ms', value: (r) => formatNumber(r.timeout_ms)},
    {key: 'field.state', value: (r) => badge(r.enabled === false ? 'disabled' : 'enabled')},
  ], apis, {
    key: (r) => r.code,
    actions: (r) => [
      mine.length ? button('api-request', 'catalogue.request', () => {
        editing.replaceChildren(h('h3', null, t('catalogue.request_title', {code: r.code})),
                                form('request', [
          {name: 'consumer', label: 'field.consumer_system', type: 'select', required: true,
           options: systemOptions(mine.filter((s) => s.client_id !== r.provider))},
          {name: 'purpose', label: 'field.purpose', type: 'textarea', required: true,
           hint: 'hint.purpose', maxlength: 2000},
        ], 'catalogue.request_submit', async (v) => {
          await api.post('/access-requests', {consumer: v.consumer, api: r.code,
                                              purpose: v.purpose.trim()});
          editing.replaceChildren();
          say(t('catalogue.requested', {code: r.code}));
        }, {secondary: button('request-cancel', 'action.cancel', () => editing.replaceChildren(),
                              {kind: 'secondary'})}));
        editing.querySelector('select').focus();
      }) : null,
      owns(r) ? button('api-describe', 'catalogue.describe', () => {
        editing.replaceChildren(h('h3', null, t('catalogue.describe_title', {code: r.code})),
                                form('describe', describeFields(r), 'action.save', async (v) => {
          await api.put(`/apis/${api.seg(r.code)}/description`, description(v));
          await ctx.refresh();
        }, {secondary: button('describe-cancel', 'action.cancel', () => editing.replaceChildren(),
                              {kind: 'secondary'})}));
        editing.querySelector('input').focus();
      }) : null,
      button('api-contract', 'catalogue.contract', async () => {
        const c = await api.get(`/apis/${api.seg(r.code)}/contract`).catch(sayError);
        if (!c) return;
        const title = h('h3', null, t('catalogue.contract_title', {code: r.code}));
        if (!owns(r)) {
          const shown = (key, text) => [h('h4', null, t(key)),
                                        text ? h('pre', null, text) : h('p', null,
                                                                        t('catalogue.no_contract'))];
          editing.replaceChildren(title, ...shown('field.request_schema', c.request_schema),
                                  ...shown('field.response_schema', c.response_schema));
          return;
        }
        // An empty field removes that schema.
        editing.replaceChildren(title, form('contract', [
          {name: 'request_schema', label: 'field.request_schema', type: 'textarea',
           value: c.request_schema || '', hint: 'hint.schema'},
          {name: 'response_schema', label: 'field.response_schema', type: 'textarea',
           value: c.response_schema || '', hint: 'hint.schema'},
        ], 'action.save', async (v) => {
          await api.put(`/apis/${api.seg(r.code)}/contract`, {
            request_schema: v.request_schema.trim() || null,
            response_schema: v.response_schema.trim() || null,
          });
          editing.replaceChildren();
          say(t('catalogue.contract_saved', {code: r.code}));
        }, {secondary: button('contract-cancel', 'action.cancel', () => editing.replaceChildren(),
                              {kind: 'secondary'})}));
        editing.querySelector('textarea').focus();
      }, {kind: 'secondary'}),
      owns(r) ? (r.enabled === false
          ? button('api-enable', 'action.enable', () => api.post(`/apis/${api.seg(r.code)}/enable`)
                .then(ctx.refresh, sayError))
          : button('api-disable', 'action.disable', () => ask('catalogue.disable_title',
                'catalogue.disable_text', {code: r.code},
                {action: () => api.post(`/apis/${api.seg(r.code)}/disable`)})
                .then((ok) => ok !== null && ctx.refresh()), {kind: 'danger'})) : null,
    ],
  })));

  if (ctx.can.manage && mine.length) {
    root.append(foldedSection('topics.add', 'topic-add', 'action.show_form', form('topic', [
      {name: 'publisher', label: 'field.publisher_system', type: 'select', required: true,
       options: systemOptions(mine)},
      {name: 'code', label: 'field.topic_code', required: true, maxlength: 8,
       hint: 'hint.api_code'},
    ], 'topics.add_submit', async (v) => {
      await api.post('/topics', {publisher: v.publisher, code: v.code.trim()});
      await ctx.refresh();
    })));
  }
  // A topic's publisher's institution (or the operator) may disable and enable it.
  const publishes = (r) => ctx.can.operator || mine.some((s) => s.client_id === r.publisher);
  root.append(section('topics.list', 'topics', table('topic', [
    {key: 'field.topic_code', value: (r) => h('code', null, r.code)},
    {key: 'field.title', value: (r) => r.title || ''},
    {key: 'field.description', value: (r) => r.description || ''},
    {key: 'field.publisher_system', value: (r) => r.publisher},
    {key: 'field.state', value: (r) => badge(r.enabled === false ? 'disabled' : 'enabled')},
  ], topics, {
    key: (r) => r.code,
    actions: (r) => [
      publishes(r) ? (r.enabled === false
          ? button('topic-enable', 'action.enable',
                   () => api.post(`/topics/${api.seg(r.code)}/enable`).then(ctx.refresh, sayError))
          : button('topic-disable', 'action.disable', () => ask('topics.disable_title',
                'topics.disable_text', {code: r.code},
                {action: () => api.post(`/topics/${api.seg(r.code)}/disable`)})
                .then((ok) => ok !== null && ctx.refresh()), {kind: 'danger'})) : null,
    ],
  })));
}
