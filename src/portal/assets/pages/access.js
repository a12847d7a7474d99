// Access: pending access requests (the providing institution or the operator approves or
// refuses, with a reason), then every grant and subscription (revoke with a reason).
import * as api from '../api.js';
import {ask, badge, button, h, sayError, section, table, when} from '../dom.js';

export async function render(root, ctx) {
  const [grants, subscriptions, apis, topics, systems] = await Promise.all([
    api.get('/grants'), api.get('/subscriptions'), api.get('/apis'), api.get('/topics'),
    api.get('/systems')]);
  let requests = {grants: [], subscriptions: []};
  try {
    const answer = await api.get('/access-requests');
    requests = Array.isArray(answer) ? {grants: answer, subscriptions: []} : answer;
  } catch (e) {
    sayError(e);
  }
  const mine = new Set(systems.filter((s) => ctx.can.owns(s.institution)).map((s) => s.client_id));
  const providerOf = new Map(apis.map((a) => [a.code, a.provider]));
  const publisherOf = new Map(topics.map((x) => [x.code, x.publisher]));
  const decidesGrant = (g) => ctx.can.operator || mine.has(providerOf.get(g.api));
  const decidesSub = (s) => ctx.can.operator || mine.has(publisherOf.get(s.topic));
  const mayRevokeGrant = (g) => decidesGrant(g) || mine.has(g.consumer);
  const mayRevokeSub = (s) => decidesSub(s) || mine.has(s.subscriber);

  const grantPath = (g, verb) => `/grants/${api.seg(g.consumer)}/${api.seg(g.api)}/${verb}`;
  const subPath = (s, verb) => `/subscriptions/${api.seg(s.subscriber)}/${api.seg(s.topic)}/${verb}`;
  const decide = (kind, path, params) => [
    button(kind + '-approve', 'action.approve', () => ask('access.approve_title',
        'access.approve_text', params, {action: () => api.post(path('approve'))})
        .then((ok) => ok !== null && ctx.refresh())),
    button(kind + '-refuse', 'action.refuse', () => ask('access.refuse_title', null, params, {
      reason: true, action: (reason) => api.post(path('refuse'), {reason}),
    }).then((ok) => ok !== null && ctx.refresh()), {kind: 'danger'}),
  ];
  const revoke = (kind, path, params) => button(kind + '-revoke', 'action.revoke',
      () => ask('access.revoke_title', null, params, {
        reason: true, action: (reason) => api.post(path('revoke'), {reason}),
      }).then((ok) => ok !== null && ctx.refresh()), {kind: 'danger'});

  const pending = (requests.grants || []).filter((g) => g.state === 'pending');
  root.append(section('access.requests', 'access-requests', table('request', [
    {key: 'field.consumer_system', value: (r) => r.consumer},
    {key: 'field.api_code', value: (r) => h('code', null, r.api)},
    {key: 'field.purpose', value: (r) => r.purpose || ''},
    {key: 'field.requested_by', value: (r) => r.requested_by || ''},
    {key: 'field.requested_at', value: (r) => when(r.requested_at || r.created_at)},
  ], pending, {
    key: (r) => `${r.consumer}/${r.api}`,
    actions: (r) => (decidesGrant(r) ? decide('request', (v) => grantPath(r, v),
                                               {consumer: r.consumer, code: r.api}) : []),
  })));
  const pendingSubs = (requests.subscriptions || []).filter((s) => s.state === 'pending');
  if (pendingSubs.length) {
    root.append(section('access.subscription_requests', 'subscription-requests',
                        table('subscription-request', [
      {key: 'field.subscriber_system', value: (r) => r.subscriber},
      {key: 'field.topic_code', value: (r) => h('code', null, r.topic)},
      {key: 'field.purpose', value: (r) => r.purpose || ''},
      {key: 'field.requested_at', value: (r) => when(r.requested_at || r.created_at)},
    ], pendingSubs, {
      key: (r) => `${r.subscriber}/${r.topic}`,
      actions: (r) => (decidesSub(r) ? decide('subscription-request', (v) => subPath(r, v),
                                              {consumer: r.subscriber, code: r.topic}) : []),
    })));
  }

  root.append(section('access.grants', 'grants', table('grant', [
    {key: 'field.consumer_system', value: (r) => r.consumer},
    {key: 'field.api_code', value: (r) => h('code', null, r.api)},
    {key: 'field.state', value: (r) => badge(r.state)},
    {key: 'field.purpose', value: (r) => r.purpose || ''},
    {key: 'field.reason', value: (r) => r.reason || ''},
    {key: 'field.updated_at', value: (r) => when(r.updated_at)},
  ], grants, {
    key: (r) => `${r.consumer}/${r.api}`,
    actions: (r) => {
      const params = {consumer: r.consumer, code: r.api};
      if (r.state === 'pending' && decidesGrant(r)) {
        return decide('grant', (v) => grantPath(r, v), params);
      }
      if (r.state === 'approved' && mayRevokeGrant(r)) {
        return [revoke('grant', (v) => grantPath(r, v), params)];
      }
      return [];
    },
  })));

  root.append(section('access.subscriptions', 'subscriptions', table('subscription', [
    {key: 'field.subscriber_system', value: (r) => r.subscriber},
    {key: 'field.topic_code', value: (r) => h('code', null, r.topic)},
    {key: 'field.endpoint', value: (r) => r.endpoint || ''},
    {key: 'field.state', value: (r) => badge(r.state)},
    {key: 'field.updated_at', value: (r) => when(r.updated_at)},
  ], subscriptions, {
    key: (r) => `${r.subscriber}/${r.topic}`,
    actions: (r) => {
      const params = {consumer: r.subscriber, code: r.topic};
      if (r.state === 'pending' && decidesSub(r)) {
        return decide('subscription', (v) => subPath(r, v), params);
      }
      if (r.state === 'approved' && mayRevokeSub(r)) {
        return [revoke('subscription', (v) => subPath(r, v), params)];
      }
      return [];
    },
  })));
}
