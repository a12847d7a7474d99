// Small DOM helpers shared by the pages: elements, forms with labels, tables with row
// actions, the message region, the confirm/reason dialog, secrets shown once.
// Every text passed in here is already translated (t()) or is data from the API.
import {ApiError, isMissingRoute} from './api.js';
import {formatDate, t} from './i18n.js';
import {stateLabel} from './labels.js';

// h('button', {type: 'button', testid: 'x', onclick: f}, 'text', child, ...)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'testid') {
      el.dataset.testid = v;
    } else if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) {
      append(el, c);
    } else {
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// ---- messages (the aria-live region under the header) ----

const messages = () => document.getElementById('messages');

export function say(text, kind = 'ok') {
  const box = messages();
  clear(box);
  box.append(
      h('p', {class: 'message ' + kind, testid: 'message-' + kind,
              role: kind === 'error' ? 'alert' : null},
        text,
        h('button', {type: 'button', class: 'link', testid: 'message-close',
                     'aria-label': t('action.close'), onclick: () => clear(box)}, '×')));
}

export function clearMessages() {
  clear(messages());
}

// The words for a failed call, in the page's language (the API's own message, in English, is
// appended as the detail).
export function errorText(e) {
  if (!(e instanceof ApiError)) return t('error.unexpected');
  const detail = e.detail;
  switch (e.status) {
    case 0: return t('error.network');
    case 400: return t('error.invalid', {detail});
    case 401: return t('error.expired');
    case 403: return t('error.forbidden', {detail});
    case 404: return isMissingRoute(e) ? t('error.not_available') : t('error.not_found', {detail});
    case 409: return t('error.conflict', {detail});
    case 429: return t('error.throttled', {seconds: e.retryAfter || 1});
    default: return t('error.internal');
  }
}

export function sayError(e) {
  if (e instanceof ApiError && e.status === 401) return;  // the app shows the sign-in page
  say(errorText(e), 'error');
}

// ---- forms ----

// fields: [{name, label (key), type ('text', 'email', 'password', 'textarea', 'select',
// 'number', 'datetime-local', 'file', 'checkbox'), required, options: [[value, labelKey or
// text, raw]], value, hint (key), maxlength, autocomplete}]
// onSubmit(values, form) may throw: an ApiError is shown next to the form (and in the message
// region for anything but bad input); the form is kept as it was so it can be corrected.
// words(e): this form's own text for an error (or null for the usual one).
export function form(name, fields, submitKey, onSubmit, {secondary, words} = {}) {
  const error = h('p', {class: 'error', role: 'alert', testid: name + '-error',
                        id: `f-${name}-error`});
  const f = h('form', {class: 'form', testid: name + '-form', novalidate: true,
                       'aria-describedby': `f-${name}-error`});
  for (const field of fields) f.append(fieldRow(name, field));
  const submit = h('button', {type: 'submit', testid: name + '-submit'}, t(submitKey));
  f.append(h('div', {class: 'buttons'}, submit, secondary || null), error);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const missing = fields.find((x) => x.required && !String(valueOf(f, name, x)).trim());
    if (missing) {
      error.textContent = t('error.required', {field: t(missing.label)});
      f.elements[`f-${name}-${missing.name}`].focus();
      return;
    }
    const values = {};
    for (const x of fields) values[x.name] = valueOf(f, name, x);
    submit.disabled = true;
    try {
      await onSubmit(values, f);
    } catch (e) {
      const own = words ? words(e) : null;
      if (own) {
        error.textContent = own;
        return;
      }
      if (e instanceof ApiError && e.status === 401) return;
      error.textContent = errorText(e);
      if (!(e instanceof ApiError) || e.status !== 400) sayError(e);
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

function valueOf(f, formName, x) {
  const el = f.elements[`f-${formName}-${x.name}`];
  if (x.type === 'checkbox') return el.checked;
  if (x.type === 'file') return el.dataset.content || '';
  return el.value;
}

function fieldRow(formName, x) {
  const id = `f-${formName}-${x.name}`;
  const common = {id, name: id, testid: `${formName}-${x.name}`, required: !!x.required,
                  maxlength: x.maxlength || (x.type === 'textarea' ? 100000 : 1000),
                  autocomplete: x.autocomplete || 'off'};
  let input;
  if (x.type === 'textarea') {
    input = h('textarea', {...common, rows: x.rows || 4, spellcheck: 'false'}, x.value || '');
  } else if (x.type === 'select') {
    delete common.maxlength;
    input = h('select', common,
              (x.options || []).map(([v, label, raw]) =>
                  h('option', {value: v, selected: v === x.value}, raw ? label : t(label))));
  } else if (x.type === 'file') {
    // A file read here, in the page: its text goes into the request, nothing is uploaded.
    delete common.maxlength;
    input = h('input', {...common, type: 'file', accept: x.accept || null});
    input.addEventListener('change', async () => {
      const file = input.files[0];
      input.dataset.content = file && file.size <= 1024 * 1024 ? await file.text() : '';
      if (x.onload) x.onload(input.dataset.content);
    });
  } else if (x.type === 'checkbox') {
    delete common.maxlength;
    input = h('input', {...common, type: 'checkbox', checked: !!x.value});
  } else {
    input = h('input', {...common, type: x.type || 'text', value: x.value ?? null,
                        min: x.min ?? null, max: x.max ?? null, step: x.step ?? null});
  }
  const hintId = x.hint ? id + '-hint' : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const label = h('label', {for: id}, t(x.label), x.required ? h('span', {class: 'req',
      'aria-hidden': 'true'}, ' *') : null);
  return h('div', {class: 'field' + (x.type === 'checkbox' ? ' check' : '')}, label, input,
           hintId ? h('small', {id: hintId, class: 'hint'}, t(x.hint)) : null);
}

// ---- tables ----

// columns: [{key (label key), value: (row) => text or Node}]; actions: (row) => [buttons].
// Each row has data-testid `${kind}-row` and data-key = key(row), so a test finds the row by
// its key and the button in it by `${kind}-${action}`.
export function table(kind, columns, rows, {key, actions, caption} = {}) {
  if (!rows || rows.length === 0) return h('p', {class: 'empty', testid: kind + '-empty'},
                                           t('table.empty'));
  const head = h('tr', null, columns.map((c) => h('th', {scope: 'col'}, t(c.key))),
                 actions ? h('th', {scope: 'col'}, t('table.actions')) : null);
  const body = rows.map((r) => {
    const cells = columns.map((c, i) => {
      const v = c.value(r);
      return i === 0 ? h('th', {scope: 'row', 'data-label': t(c.key)}, v)
                     : h('td', {'data-label': t(c.key)}, v);
    });
    const tr = h('tr', {testid: kind + '-row', dataset: {key: key ? key(r) : ''}}, cells);
    if (actions) {
      tr.append(h('td', {'data-label': t('table.actions')},
                  h('div', {class: 'actions'}, actions(r))));
    }
    return tr;
  });
  return h('div', {class: 'table-wrap'},
           h('table', {testid: kind + '-table'}, caption ? h('caption', null, caption) : null,
             h('thead', null, head), h('tbody', null, body)));
}

export function button(testid, labelKey, onclick, {kind = '', label} = {}) {
  return h('button', {type: 'button', class: kind, testid,
                      'aria-label': label || null, onclick}, t(labelKey));
}

export const when = (v) => formatDate(v);

export function badge(state) {
  return h('span', {class: 'badge ' + state, testid: 'state', dataset: {state}},
           stateLabel(state));
}

// ---- the dialog: confirm, or confirm with a reason ----

// Resolves to the reason ('' without one) or null when cancelled. `action` receives the
// reason and may throw: its error is shown in the dialog, which stays open.
export function ask(titleKey, textKey, params, {reason = false, action} = {}) {
  const dialog = document.getElementById('dialog');
  const area = document.getElementById('dialog-reason');
  const error = document.getElementById('dialog-error');
  document.getElementById('dialog-title').textContent = t(titleKey, params);
  document.getElementById('dialog-text').textContent = textKey ? t(textKey, params) : '';
  document.getElementById('dialog-reason-row').hidden = !reason;
  area.value = '';
  area.required = reason;
  error.textContent = '';
  return new Promise((resolve) => {
    const form = document.getElementById('dialog-form');
    const cancel = document.getElementById('dialog-cancel');
    const done = (v) => {
      form.removeEventListener('submit', submit);
      cancel.removeEventListener('click', onCancel);
      dialog.removeEventListener('cancel', onCancel);
      dialog.close();
      resolve(v);
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      done(null);
    };
    const submit = async (ev) => {
      ev.preventDefault();
      const value = area.value.trim();
      if (reason && !value) {
        error.textContent = t('error.required', {field: t('field.reason')});
        area.focus();
        return;
      }
      if (action) {
        try {
          await action(value);
        } catch (e) {
          error.textContent = errorText(e);
          if (e instanceof ApiError && e.status === 401) done(null);
          return;
        }
      }
      done(value);
    };
    form.addEventListener('submit', submit);
    cancel.addEventListener('click', onCancel);
    dialog.addEventListener('cancel', onCancel);
    dialog.showModal();
    (reason ? area : document.getElementById('dialog-ok')).focus();
  });
}

// ---- values to copy and files to save ----

// A value in <code> (testid) and a button (testid-copy) that copies it, or selects it where
// the page may not use the clipboard.
export function copyable(testid, value) {
  const code = h('code', {testid}, value);
  const copy = button(testid + '-copy', 'action.copy', async () => {
    try {
      await navigator.clipboard.writeText(value);
      copy.textContent = t('secret.copied');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
  });
  return [code, copy];
}

// Saves `text` as a file named `name` (made in the page: nothing is fetched again).
export function saveFile(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], {type}));
  const a = h('a', {href: url, download: name, hidden: true});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- a secret shown once (client secret, one-time password, API token) ----

export function secretBox(titleKey, pairs) {
  const box = h('section', {class: 'secret', testid: 'secret', role: 'region',
                            'aria-label': t(titleKey)},
                h('h3', null, t(titleKey)),
                h('p', {class: 'warning'}, t('secret.warning')));
  for (const [labelKey, value, testid] of pairs) {
    box.append(h('div', {class: 'secret-row'}, h('span', null, t(labelKey)),
                 copyable(testid || 'secret-value', value)));
  }
  box.append(button('secret-dismiss', 'secret.dismiss', () => box.remove(),
                    {kind: 'secondary'}));
  return box;
}

// A section whose content (a form) stays folded until its button opens it, so that the list
// the page is about comes first. The button's testid is `${testid}-open`.
export function foldedSection(titleKey, testid, openKey, ...children) {
  const area = h('div', {id: testid + '-area', hidden: true}, children);
  const open = button(testid + '-open', openKey, () => {
    area.hidden = !area.hidden;
    open.setAttribute('aria-expanded', String(!area.hidden));
    if (!area.hidden) area.querySelector('input, select, textarea')?.focus();
  }, {kind: 'secondary'});
  open.setAttribute('aria-expanded', 'false');
  open.setAttribute('aria-controls', area.id);
  return section(titleKey, testid, open, area);
}

// A page section with a heading.
export function section(titleKey, testid, ...children) {
  const id = 'h-' + testid;
  return h('section', {class: 'card', testid, 'aria-labelledby': id},
           h('h2', {id}, t(titleKey)), children);
}
