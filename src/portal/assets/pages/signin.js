// Sign-in, and the application of an institution not yet on the bus (no account needed).
import * as api from '../api.js';
import {button, form, h, say, section} from '../dom.js';
import {t} from '../i18n.js';

export function render(root, {onSignedIn}) {
  root.append(h('h1', {tabindex: '-1', testid: 'page-title'}, t('signin.title')));
  const signin = form('signin', [
    {name: 'email', label: 'field.email', type: 'email', required: true, autocomplete: 'username'},
    {name: 'password', label: 'field.password', type: 'password', required: true,
     autocomplete: 'current-password'},
  ], 'signin.submit', async (v) => {
    const session = await api.post('/session', {email: v.email.trim(), password: v.password},
                                   {anonymous: true});
    await onSignedIn(session);
  }, {words: signInWords});
  root.append(section('signin.title', 'signin', signin));

  const apply = h('div', {id: 'apply-area', hidden: true});
  const open = button('apply-open', 'apply.open', () => {
    apply.hidden = !apply.hidden;
    open.setAttribute('aria-expanded', String(!apply.hidden));
    if (!apply.hidden) apply.querySelector('input')?.focus();
  }, {kind: 'secondary'});
  open.setAttribute('aria-expanded', 'false');
  open.setAttribute('aria-controls', 'apply-area');
  apply.append(applyForm(apply));
  root.append(section('apply.title', 'apply', h('p', null, t('apply.intro')), open, apply));
}

// A wrong password and an unknown account get the same words; a throttled sign-in the wait.
function signInWords(e) {
  if (!(e instanceof api.ApiError)) return null;
  if (e.status === 401) return t('signin.wrong');
  if (e.status === 429) return t('signin.throttled', {seconds: e.retryAfter || 1});
  return null;
}

function applyForm(area) {
  return form('apply', [
    {name: 'institution_code', label: 'field.institution_code', required: true, maxlength: 32,
     hint: 'hint.institution_code'},
    {name: 'institution_name', label: 'field.institution_name', required: true},
    {name: 'details', label: 'field.details', type: 'textarea', required: true,
     hint: 'hint.details'},
    {name: 'contact_name', label: 'field.contact_name', required: true},
    {name: 'contact_email', label: 'field.contact_email', type: 'email', required: true},
    {name: 'contact_phone', label: 'field.contact_phone', type: 'tel'},
    {name: 'planned_systems', label: 'field.planned_systems', type: 'textarea',
     hint: 'hint.planned_systems'},
  ], 'apply.submit', async (v) => {
    const planned = v.planned_systems.split('\n').map((line) => line.trim()).filter(Boolean)
        .map((line) => {
          const [name, ...rest] = line.split(':');
          return {name: name.trim(), description: rest.join(':').trim()};
        });
    const body = {
      institution_code: v.institution_code.trim(),
      institution_name: v.institution_name.trim(),
      details: v.details.trim(),
      contact_name: v.contact_name.trim(),
      contact_email: v.contact_email.trim(),
      planned_systems: planned,
    };
    if (v.contact_phone.trim()) body.contact_phone = v.contact_phone.trim();
    const made = await api.post('/applications', body, {anonymous: true});
    area.hidden = true;
    say(t('apply.sent', {id: made && made.id !== undefined ? made.id : ''}));
  });
}
