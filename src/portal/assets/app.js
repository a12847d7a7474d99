// The portal: a single-page application over the admin REST API (/api/v1). Hash routes
// (#/systems, ...), one module per page under pages/, the texts from i18n/. The session is the
// HttpOnly cookie the browser keeps; the CSRF token lives in memory (api.js) and comes back
// from GET /api/v1/me after a reload.
import * as api from './api.js';
import {clear, clearMessages, errorText, h, say, section} from './dom.js';
import {roleLabel} from './labels.js';
import {initLanguage, language, onLanguageChange, setLanguage, t, translateStatic} from './i18n.js';
import * as access from './pages/access.js';
import * as account from './pages/account.js';
import * as actions from './pages/actions.js';
import * as bus from './pages/bus.js';
import * as catalogue from './pages/catalogue.js';
import * as compliance from './pages/compliance.js';
import * as dashboard from './pages/dashboard.js';
import * as deliveries from './pages/deliveries.js';
import * as evidence from './pages/evidence.js';
import * as institutions from './pages/institutions.js';
import * as signin from './pages/signin.js';
import * as systems from './pages/systems.js';
import * as users from './pages/users.js';

const ALL = ['operator', 'institution-admin', 'auditor'];
const PAGES = [
  {id: 'dashboard', key: 'nav.dashboard', roles: ALL, page: dashboard},
  {id: 'institutions', key: 'nav.institutions', roles: ALL, page: institutions},
  {id: 'systems', key: 'nav.systems', roles: ALL, page: systems},
  {id: 'catalogue', key: 'nav.catalogue', roles: ALL, page: catalogue},
  {id: 'access', key: 'nav.access', roles: ALL, page: access},
  {id: 'deliveries', key: 'nav.deliveries', roles: ALL, page: deliveries},
  {id: 'evidence', key: 'nav.evidence', roles: ALL, page: evidence},
  {id: 'actions', key: 'nav.actions', roles: ALL, page: actions},
  {id: 'compliance', key: 'nav.compliance', roles: ALL, page: compliance},
  {id: 'users', key: 'nav.users', roles: ALL, page: users},
  {id: 'bus', key: 'nav.bus', roles: ALL, page: bus},
  {id: 'account', key: 'nav.account', roles: ALL, page: account},
];

// The signed-in account (GET /api/v1/me), or null.
let me = null;
const main = () => document.getElementById('main');

// What a role may do, for showing buttons (the API decides; this only hides what it refuses).
function abilities(who) {
  const op = who.role === 'operator';
  const admin = who.role === 'institution-admin';
  return {
    operator: op,
    auditor: who.role === 'auditor',
    manage: op || admin,  // register systems, publish, request access
    owns: (institution) => op || (admin && institution === who.institution),
    institution: who.institution || '',
  };
}

function renderNav() {
  const nav = document.getElementById('nav');
  clear(nav);
  nav.hidden = !me || me.must_change_password;
  document.getElementById('signout').hidden = !me;
  document.getElementById('whoami').textContent =
      me ? t('app.whoami', {account: me.account, role: roleLabel(me.role)}) : '';
  if (!me || me.must_change_password) return;
  const current = routeId();
  const list = h('ul', null);
  for (const p of PAGES.filter((x) => x.roles.includes(me.role))) {
    list.append(h('li', null, h('a', {href: '#/' + p.id, testid: 'nav-' + p.id,
                                      'aria-current': p.id === current ? 'page' : null},
                                t(p.key))));
  }
  nav.append(list);
}

function routeId() {
  const id = (location.hash || '').replace(/^#\/?/, '').split('?')[0];
  return PAGES.some((p) => p.id === id) ? id : 'dashboard';
}

async function render() {
  renderNav();
  const root = clear(main());
  if (!me) {
    signin.render(root, {onSignedIn: afterSignIn});
    return;
  }
  if (me.must_change_password) {
    root.append(passwordChange());
    return;
  }
  const page = PAGES.find((p) => p.id === routeId());
  const heading = h('h1', {tabindex: '-1', testid: 'page-title'}, t(page.key));
  root.append(heading);
  try {
    await page.page.render(root, {me, can: abilities(me), refresh: render});
  } catch (e) {
    if (!(e instanceof api.ApiError && e.status === 401)) {
      root.append(h('p', {class: 'error', role: 'alert', testid: 'page-error'},
                    errorText(e)));
    }
  }
}

// A one-time password allows only this: the API refuses everything else until it is changed.
function passwordChange() {
  return section('password.title', 'password-change',
                 h('p', null, t('password.must_change')),
                 account.passwordForm(async () => {
                   me = null;
                   api.setCsrfToken('');
                   await render();
                   say(t('password.changed_sign_in'));
                 }));
}

async function afterSignIn(session) {
  api.setCsrfToken(session.csrf_token);
  me = await api.get('/me');
  if (me.csrf_token) api.setCsrfToken(me.csrf_token);
  if (!location.hash || location.hash === '#/') location.hash = '#/dashboard';
  await render();
  document.querySelector('#main h1, #main h2')?.focus();
}

async function signOut() {
  try {
    await api.del('/session');
  } catch {
    // gone already: signed out either way
  }
  me = null;
  api.setCsrfToken('');
  clearMessages();
  await render();
  say(t('signin.signed_out'));
}

// The values typed into the page's fields (not passwords, not files) and which folded sections
// were open, by element id.
function keepTyped() {
  const values = new Map();
  for (const el of main().querySelectorAll('input, select, textarea')) {
    if (!el.id || el.type === 'password' || el.type === 'file') continue;
    values.set(el.id, el.type === 'checkbox' ? el.checked : el.value);
  }
  const open = [...main().querySelectorAll('button[aria-expanded="true"]')]
      .map((b) => b.dataset.testid).filter(Boolean);
  return {values, open};
}

function restoreTyped({values, open}) {
  for (const testid of open) {
    main().querySelector(`button[data-testid="${CSS.escape(testid)}"][aria-expanded="false"]`)
        ?.click();
  }
  for (const [id, value] of values) {
    const el = document.getElementById(id);
    if (!el || !main().contains(el)) continue;
    if (el.type === 'checkbox') el.checked = value;
    else el.value = value;
  }
}

async function start() {
  initLanguage();
  translateStatic();
  const select = document.getElementById('lang');
  select.value = language();
  select.addEventListener('change', () => setLanguage(select.value));
  onLanguageChange(async () => {
    // The page is drawn again in the other language; what was typed in its forms stays.
    const typed = keepTyped();
    translateStatic();
    await render();
    restoreTyped(typed);
  });
  document.getElementById('signout').addEventListener('click', signOut);
  api.onSessionExpired(() => {
    if (!me) return;
    me = null;
    api.setCsrfToken('');
    render().then(() => say(t('error.expired'), 'error'));
  });
  window.addEventListener('hashchange', () => {
    clearMessages();
    render().then(() => document.querySelector('#main h1')?.focus());
  });
  try {
    me = await api.call('GET', '/me', undefined, {anonymous: true});
    api.setCsrfToken(me.csrf_token);
  } catch {
    me = null;
  }
  await render();
}
start();
