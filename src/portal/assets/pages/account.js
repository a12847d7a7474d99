// The signed-in account: password change, and its own API tokens (shown once, revocable).
import * as api from '../api.js';
import {ask, badge, button, form, h, say, secretBox, section, table, when} from '../dom.js';
import {t} from '../i18n.js';
import {ROLE_OPTIONS, roleLabel} from '../labels.js';

// Changing the password ends every session of the account: `done` is called afterwards.
export function passwordForm(done) {
  return form('password', [
    {name: 'old_password', label: 'field.old_password', type: 'password', required: true,
     autocomplete: 'current-password'},
    {name: 'new_password', label: 'field.new_password', type: 'password', required: true,
     autocomplete: 'new-password', hint: 'hint.new_password'},
    {name: 'repeat', label: 'field.repeat_password', type: 'password', required: true,
     autocomplete: 'new-password'},
  ], 'password.submit', async (v, f) => {
    if (v.new_password !== v.repeat) {
      f.querySelector('[data-testid="password-error"]').textContent = t('password.mismatch');
      return;
    }
    await api.post('/me/password', {old_password: v.old_password, new_password: v.new_password},
                   {anonymous: true});
    await done();
  }, {words: (e) => (e instanceof api.ApiError && e.status === 401 ? t('password.wrong_old')
                                                                      : null)});
}

export async function render(root, ctx) {
  root.append(section('account.title', 'account',
                      h('p', {testid: 'account-who'},
                        t('app.whoami', {account: ctx.me.account, role: roleLabel(ctx.me.role)})),
                      ctx.me.institution ? h('p', null, t('account.institution',
                                                          {institution: ctx.me.institution}))
                                         : null));
  root.append(section('password.title', 'password-section', passwordForm(async () => {
    say(t('password.changed_sign_in'));
    await ctx.refresh();
  })));

  const shown = h('div');
  const tokens = await api.get('/tokens');
  const roleOptions = ROLE_OPTIONS.filter(([r]) => r === ctx.me.role ||
                                                   (ctx.can.operator && r !== 'operator'));
  root.append(section('tokens.title', 'tokens',
                      h('p', null, t('tokens.intro')),
                      shown,
                      form('token', [
                        {name: 'name', label: 'field.token_name', required: true, maxlength: 100},
                        {name: 'role', label: 'field.role', type: 'select',
                         options: roleOptions, value: ctx.me.role},
                        {name: 'expires_in_days', label: 'field.expires_in_days', type: 'number',
                         min: 1, max: 365, step: 1, hint: 'hint.expires_in_days'},
                      ], 'tokens.create', async (v) => {
                        const body = {name: v.name.trim(), role: v.role};
                        if (v.expires_in_days.trim()) {
                          body.expires_in_days = Number(v.expires_in_days);
                        }
                        const made = await api.post('/tokens', body);
                        await ctx.refresh();
                        document.querySelector('[data-testid="tokens"] h2')
                            ?.after(secretBox('tokens.created', [['field.token', made.token,
                                                                  'token-value']]));
                      }),
                      table('token', [
                        {key: 'field.token_name', value: (r) => r.name},
                        {key: 'field.prefix', value: (r) => h('code', null, r.prefix)},
                        {key: 'field.role', value: (r) => roleLabel(r.role)},
                        {key: 'field.expires_at', value: (r) => (r.expires_at ? when(r.expires_at)
                                                                 : t('tokens.never'))},
                        {key: 'field.state', value: (r) => badge(r.state)},
                      ], tokens, {
                        key: (r) => r.name,
                        actions: (r) => (r.state === 'revoked' ? [] : [button('token-revoke', 'action.revoke',
                            () => ask('tokens.revoke_title', 'tokens.revoke_text', {name: r.name},
                                      {action: () => api.post(`/tokens/${api.seg(r.id)}/revoke`)})
                                .then((ok) => ok !== null && ctx.refresh()))]),
                      })));
}
