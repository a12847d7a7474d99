// Systems: institution admins (and the operator) register them with a name, an endpoint and a
// public key (pasted, or read from a PEM / base64 file in the page); the client_id and secret
// are shown once. Rotate the secret, replace the key or endpoint, disable and enable.
import * as api from '../api.js';
import {ask, badge, button, form, h, sayError, secretBox, section, table, when} from '../dom.js';
import {t} from '../i18n.js';

// A time the registry gives as ISO 8601, shown in the reader's language and kept machine-readable.
function changedAt(testid, iso) {
  return h('time', {testid, datetime: iso || null}, when(iso));
}

export function institutionOptions(ctx, institutions) {
  if (!ctx.can.operator) return [[ctx.can.institution, ctx.can.institution, true]];
  return institutions.map((i) => [i.code, `${i.code} — ${i.name}`, true]);
}

function showSecret(system) {
  document.querySelector('[data-testid="systems-shown"]')?.append(
      secretBox('systems.secret_title', [['field.client_id', system.client_id, 'client-id'],
                                         ['field.client_secret', system.client_secret,
                                          'client-secret']]));
}

// A file chosen fills the key's text area (the user sees what will be sent).
function keyFileField(formName) {
  return {name: 'key_file', label: 'field.public_key_file', type: 'file',
          accept: '.pem,.pub,.b64,.txt,.key', hint: 'hint.public_key_file',
          onload: (text) => {
            const area = document.getElementById(`f-${formName}-public_key`);
            if (area) area.value = text.trim();
          }};
}

export async function render(root, ctx) {
  const [systems, institutions] = await Promise.all([api.get('/systems'),
                                                     api.get('/institutions')]);
  root.append(h('div', {testid: 'systems-shown'}));
  if (ctx.can.manage) {
    root.append(section('systems.register', 'system-register', form('system', [
      {name: 'institution', label: 'field.institution', type: 'select', required: true,
       options: institutionOptions(ctx, institutions), value: ctx.can.institution},
      {name: 'name', label: 'field.system_name', required: true, maxlength: 200},
      {name: 'endpoint', label: 'field.endpoint', type: 'url', required: true,
       hint: 'hint.endpoint'},
      {name: 'public_key', label: 'field.public_key', type: 'textarea', required: true,
       hint: 'hint.public_key', rows: 6},
      keyFileField('system'),
    ], 'systems.register_submit', async (v) => {
      const made = await api.post('/systems', {institution: v.institution, name: v.name.trim(),
                                               endpoint: v.endpoint.trim(),
                                               public_key: v.public_key.trim()});
      await ctx.refresh();
      showSecret(made);
    })));
  }
  const editing = h('div', {testid: 'system-edit-area'});
  root.append(section('systems.list', 'systems', editing, table('system', [
    {key: 'field.client_id', value: (r) => h('code', null, r.client_id)},
    {key: 'field.system_name', value: (r) => r.name},
    {key: 'field.institution', value: (r) => r.institution},
    {key: 'field.endpoint', value: (r) => r.endpoint},
    {key: 'field.curve', value: (r) => r.curve},
    {key: 'field.credential_version', value: (r) => String(r.credential_version ?? '')},
    // When the key and the secret last changed (the compliance rules count their ages).
    {key: 'field.key_changed_at', value: (r) => changedAt('key-changed', r.key_changed_at)},
    {key: 'field.secret_changed_at',
     value: (r) => changedAt('secret-changed', r.secret_changed_at)},
    {key: 'field.state', value: (r) => badge(r.institution_suspended ? 'suspended' :
                                             r.enabled ? 'enabled' : 'disabled')},
  ], systems, {
    key: (r) => r.client_id,
    actions: (r) => (!ctx.can.owns(r.institution) ? [] : [
      button('system-rotate', 'systems.rotate', () => ask('systems.rotate_title',
          'systems.rotate_text', {name: r.name}, {action: async () => {
            const made = await api.post(`/systems/${api.seg(r.client_id)}/rotate-secret`);
            await ctx.refresh();
            showSecret({...made, client_id: made.client_id || r.client_id});
          }})),
      button('system-edit', 'systems.edit', () => {
        editing.replaceChildren(h('h3', null, t('systems.edit_title', {name: r.name})),
                                form('system-edit', [
          {name: 'name', label: 'field.system_name', value: r.name},
          {name: 'endpoint', label: 'field.endpoint', type: 'url', value: r.endpoint},
          {name: 'public_key', label: 'field.public_key_new', type: 'textarea',
           hint: 'hint.public_key_keep', rows: 6},
          keyFileField('system-edit'),
        ], 'action.save', async (v) => {
          const change = {};
          if (v.name.trim() && v.name.trim() !== r.name) change.name = v.name.trim();
          if (v.endpoint.trim() && v.endpoint.trim() !== r.endpoint) {
            change.endpoint = v.endpoint.trim();
          }
          if (v.public_key.trim()) change.public_key = v.public_key.trim();
          if (Object.keys(change).length === 0) {
            editing.replaceChildren();
            return;
          }
          await api.patch(`/systems/${api.seg(r.client_id)}`, change);
          await ctx.refresh();
        }, {secondary: button('system-edit-cancel', 'action.cancel',
                              () => editing.replaceChildren(), {kind: 'secondary'})}));
        editing.querySelector('input').focus();
      }),
      r.enabled
          ? button('system-disable', 'action.disable', () => ask('systems.disable_title',
                'systems.disable_text', {name: r.name},
                {action: () => api.post(`/systems/${api.seg(r.client_id)}/disable`)})
                .then((ok) => ok !== null && ctx.refresh()), {kind: 'danger'})
          : button('system-enable', 'action.enable',
                   () => api.post(`/systems/${api.seg(r.client_id)}/enable`)
                       .then(ctx.refresh, sayError)),
    ]),
  })));
}
