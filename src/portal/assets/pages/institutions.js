// Institutions (the operator adds, renames, suspends and resumes them) and membership
// applications (the operator accepts or refuses them; accepting creates the institution, and
// the portal then creates its first admin account for the contact, shown once).
import * as api from '../api.js';
import {ask, badge, button, form, h, sayError, secretBox, section, table, when} from '../dom.js';
import {t} from '../i18n.js';

export async function render(root, ctx) {
  const institutions = await api.get('/institutions');
  const shown = h('div', {testid: 'institutions-shown'});
  root.append(shown);
  if (ctx.can.operator) {
    root.append(section('institutions.add', 'institution-add', form('institution', [
      {name: 'code', label: 'field.institution_code', required: true, maxlength: 32,
       hint: 'hint.institution_code'},
      {name: 'name', label: 'field.institution_name', required: true},
    ], 'institutions.add_submit', async (v) => {
      await api.post('/institutions', {code: v.code.trim(), name: v.name.trim()});
      await ctx.refresh();
    })));
  }
  const editing = h('div', {testid: 'institution-edit-area'});
  root.append(section('institutions.list', 'institutions', editing, table('institution', [
    {key: 'field.institution_code', value: (r) => r.code},
    {key: 'field.institution_name', value: (r) => r.name},
    {key: 'field.state', value: (r) => badge(r.suspended ? 'suspended' : 'active')},
    {key: 'field.created_at', value: (r) => when(r.created_at)},
  ], institutions, {
    key: (r) => r.code,
    actions: ctx.can.operator ? (r) => [
      button('institution-rename', 'action.rename', () => {
        editing.replaceChildren(form('rename', [
          {name: 'name', label: 'field.institution_name', required: true, value: r.name},
        ], 'action.save', async (v) => {
          await api.patch(`/institutions/${api.seg(r.code)}`, {name: v.name.trim()});
          await ctx.refresh();
        }, {secondary: button('rename-cancel', 'action.cancel', () => editing.replaceChildren(),
                              {kind: 'secondary'})}));
        editing.querySelector('input').focus();
      }),
      r.suspended
          ? button('institution-resume', 'action.resume',
                   () => api.post(`/institutions/${api.seg(r.code)}/resume`)
                       .then(ctx.refresh, sayError))
          : button('institution-suspend', 'action.suspend',
                   () => ask('institutions.suspend_title', 'institutions.suspend_text',
                             {code: r.code},
                             {action: () => api.post(`/institutions/${api.seg(r.code)}/suspend`)})
                       .then((ok) => ok !== null && ctx.refresh()),
                   {kind: 'danger'}),
    ] : null,
  })));

  if (ctx.can.operator || ctx.can.auditor) {
    let applications = [];
    try {
      applications = await api.get('/applications');
    } catch (e) {
      sayError(e);
    }
    root.append(section('applications.title', 'applications', table('application', [
      {key: 'field.id', value: (r) => String(r.id)},
      {key: 'field.institution_code', value: (r) => r.institution_code},
      {key: 'field.institution_name', value: (r) => r.institution_name},
      {key: 'field.details', value: (r) => r.details},
      {key: 'field.contact', value: (r) => `${r.contact_name} <${r.contact_email}>` +
                                           (r.contact_phone ? ` ${r.contact_phone}` : '')},
      {key: 'field.planned_systems',
       value: (r) => (r.planned_systems || []).map((p) => p.name).join(', ')},
      {key: 'field.state', value: (r) => badge(r.state)},
      {key: 'field.submitted_at', value: (r) => when(r.submitted_at)},
      {key: 'field.reason', value: (r) => r.reason || ''},
    ], applications, {
      key: (r) => String(r.id),
      actions: ctx.can.operator ? (r) => (r.state !== 'pending' ? [] : [
        button('application-accept', 'action.accept',
               () => ask('applications.accept_title', 'applications.accept_text',
                         {code: r.institution_code, email: r.contact_email},
                         {action: async () => {
                           // The bus creates the institution and its first admin account in
                           // one transaction, and answers the account with its one-time
                           // password (admin_account), shown once.
                           const accepted = await api.post(`/applications/${api.seg(r.id)}/accept`);
                           const admin = (accepted && accepted.admin_account) || {};
                           await ctx.refresh();
                           document.querySelector('[data-testid="institutions-shown"]')?.append(
                               secretBox('users.one_time_title',
                                         [['field.email', admin.email || r.contact_email,
                                           'one-time-email'],
                                          ['field.one_time_password', admin.one_time_password,
                                           'one-time-password']]));
                         }})),
        button('application-refuse', 'action.refuse',
               () => ask('applications.refuse_title', null, {code: r.institution_code}, {
                 reason: true,
                 action: (reason) => api.post(`/applications/${api.seg(r.id)}/refuse`, {reason}),
               }).then((ok) => ok !== null && ctx.refresh()), {kind: 'danger'}),
      ]) : null,
    })));
  }
}
