// Accounts of the portal and the API: operators create them (a one-time password shown once),
// change their role, institution and name, reset passwords, disable and enable.
import * as api from '../api.js';
import {ask, badge, button, form, h, sayError, secretBox, section, table} from '../dom.js';
import {t} from '../i18n.js';
import {ROLE_OPTIONS, roleLabel, yesNo} from '../labels.js';

export async function render(root, ctx) {
  const [users, institutions] = await Promise.all([api.get('/users'), api.get('/institutions')]);
  const shown = h('div', {testid: 'users-shown'});
  if (ctx.can.operator) {
    root.append(section('users.create', 'user-create', form('user', [
      {name: 'email', label: 'field.email', type: 'email', required: true},
      {name: 'display_name', label: 'field.display_name'},
      {name: 'role', label: 'field.role', type: 'select', options: ROLE_OPTIONS,
       value: 'institution-admin'},
      {name: 'institution', label: 'field.institution', type: 'select',
       options: [['', 'common.none']].concat(institutions.map((i) => [i.code,
                                                                      `${i.code} — ${i.name}`,
                                                                      true])),
       hint: 'hint.user_institution'},
    ], 'users.create_submit', async (v) => {
      const body = {email: v.email.trim(), role: v.role};
      if (v.display_name.trim()) body.display_name = v.display_name.trim();
      if (v.institution) body.institution = v.institution;
      const made = await api.post('/users', body);
      await ctx.refresh();
      showOnce(made);
    })));
  }
  root.append(shown);
  const editing = h('div', {testid: 'user-edit-area'});
  root.append(section('users.list', 'users', editing, table('user', [
    {key: 'field.email', value: (r) => r.email},
    {key: 'field.display_name', value: (r) => r.name || ''},
    {key: 'field.role', value: (r) => roleLabel(r.role)},
    {key: 'field.institution', value: (r) => r.institution || '–'},
    {key: 'field.state', value: (r) => badge(r.enabled ? 'enabled' : 'disabled')},
    {key: 'field.must_change', value: (r) => yesNo(r.must_change_password)},
  ], users, {
    key: (r) => r.email,
    actions: ctx.can.operator ? (r) => [
      button('user-edit', 'users.edit', () => edit(editing, r, institutions, ctx)),
      button('user-reset', 'users.reset', () => ask('users.reset_title', 'users.reset_text',
                                                    {email: r.email}, {
        action: async () => {
          const made = await api.post(`/users/${api.seg(r.email)}/reset-password`);
          await ctx.refresh();
          showOnce(made);
        },
      })),
      r.enabled
          ? button('user-disable', 'action.disable', () => ask('users.disable_title', null,
                {email: r.email}, {action: () => api.post(`/users/${api.seg(r.email)}/disable`)})
                .then((ok) => ok !== null && ctx.refresh()), {kind: 'danger'})
          : button('user-enable', 'action.enable', () => api.post(
                `/users/${api.seg(r.email)}/enable`).then(ctx.refresh, sayError)),
    ] : null,
  })));
}

// The change form of one user: only what differs is sent. A new role or institution ends the
// user's sessions (the operator's own too: the app then asks to sign in again).
function edit(editing, r, institutions, ctx) {
  editing.replaceChildren(h('h3', null, t('users.edit_title', {email: r.email})),
                          h('p', {class: 'hint'}, t('users.edit_text')),
                          form('user-edit', [
    {name: 'role', label: 'field.role', type: 'select', options: ROLE_OPTIONS, value: r.role},
    {name: 'institution', label: 'field.institution', type: 'select',
     options: [['', 'common.none']].concat(institutions.map((i) => [i.code,
                                                                    `${i.code} — ${i.name}`,
                                                                    true])),
     value: r.institution || '', hint: 'hint.user_institution'},
    {name: 'display_name', label: 'field.display_name', value: r.name || '', maxlength: 100},
  ], 'action.save', async (v) => {
    const change = {};
    if (v.role !== r.role) change.role = v.role;
    if (v.role === 'institution-admin' && v.institution &&
        v.institution !== (r.institution || '')) {
      change.institution = v.institution;
    }
    if (v.display_name.trim() !== (r.name || '')) change.display_name = v.display_name.trim();
    if (Object.keys(change).length === 0) {
      editing.replaceChildren();
      return;
    }
    await api.patch(`/users/${api.seg(r.email)}`, change);
    await ctx.refresh();
  }, {secondary: button('user-edit-cancel', 'action.cancel', () => editing.replaceChildren(),
                        {kind: 'secondary'})}));
  editing.querySelector('select').focus();
}

function showOnce(made) {
  document.querySelector('[data-testid="users-shown"]')?.append(
      secretBox('users.one_time_title', [['field.email', made.email, 'one-time-email'],
                                         ['field.one_time_password', made.one_time_password,
                                          'one-time-password']]));
}
