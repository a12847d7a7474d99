// Accounts of the portal and the API: operators create them (a one-time password shown once),
// reset passwords, disable and enable.
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
  root.append(section('users.list', 'users', table('user', [
    {key: 'field.email', value: (r) => r.email},
    {key: 'field.display_name', value: (r) => r.display_name || ''},
    {key: 'field.role', value: (r) => roleLabel(r.role)},
    {key: 'field.institution', value: (r) => r.institution || '–'},
    {key: 'field.state', value: (r) => badge(r.enabled ? 'enabled' : 'disabled')},
    {key: 'field.must_change', value: (r) => yesNo(r.must_change_password)},
  ], users, {
    key: (r) => r.email,
    actions: ctx.can.operator ? (r) => [
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

function showOnce(made) {
  document.querySelector('[data-testid="users-shown"]')?.append(
      secretBox('users.one_time_title', [['field.email', made.email, 'one-time-email'],
                                         ['field.one_time_password', made.one_time_password,
                                          'one-time-password']]));
}
