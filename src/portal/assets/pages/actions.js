// The record of admin actions (who, what, which object, from where), newest first.
import * as api from '../api.js';
import {button, form, h, sayError, section, table, when} from '../dom.js';
import {roleLabel} from '../labels.js';

export async function render(root) {
  let filter = {};
  let rows = [];
  const results = h('div', {testid: 'actions-results'});
  const more = button('actions-more', 'evidence.more', () => load(true), {kind: 'secondary'});
  more.hidden = true;
  const load = async (next) => {
    const before = next && rows.length ? rows[rows.length - 1].id : '';
    let page;
    try {
      page = await api.get('/actions' + api.query({...filter, before_id: before, limit: 100}));
    } catch (e) {
      sayError(e);
      return;
    }
    rows = next ? rows.concat(page) : page;
    more.hidden = page.length < 100;
    results.replaceChildren(table('action', [
      {key: 'field.at', value: (r) => when(r.at)},
      {key: 'field.account', value: (r) => r.account},
      {key: 'field.role', value: (r) => roleLabel(r.role)},
      {key: 'field.action', value: (r) => h('code', null, r.action)},
      {key: 'field.object', value: (r) => r.object},
      {key: 'field.address', value: (r) => r.address || ''},
      {key: 'field.via', value: (r) => r.via || ''},
    ], rows, {key: (r) => String(r.id)}));
  };
  root.append(section('actions.filter', 'actions-filter', form('actions', [
    {name: 'account', label: 'field.account'},
    {name: 'object', label: 'field.object', hint: 'hint.object'},
    {name: 'action', label: 'field.action', hint: 'hint.action'},
  ], 'action.show', async (v) => {
    filter = {account: v.account.trim(), object: v.object.trim(), action: v.action.trim()};
    await load(false);
  })));
  root.append(section('actions.list', 'actions', results, more));
  await load(false);
}
