// The portal's texts: every visible string comes from the tables in i18n/ (same keys in each
// language), looked up with t('key', {name: value}). The choice is kept in localStorage.
// Dates and numbers are formatted with Intl for the language's locale.
import en from './i18n/en.js';
import sw from './i18n/sw.js';

const TABLES = {en, sw};
const LOCALES = {en: 'en-GB', sw: 'sw-TZ'};
const STORAGE_KEY = 'govesb-lang';
let lang = 'sw';
const listeners = [];

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function initLanguage() {
  const saved = stored();
  if (saved && TABLES[saved]) {
    lang = saved;
  } else if ((navigator.language || '').toLowerCase().startsWith('en')) {
    lang = 'en';
  }
  document.documentElement.lang = lang;
}

export function language() {
  return lang;
}

export function locale() {
  return LOCALES[lang];
}

export function setLanguage(next) {
  if (!TABLES[next] || next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // private mode: the choice lasts for this page only
  }
  document.documentElement.lang = lang;
  for (const f of listeners) f(lang);
}

export function onLanguageChange(f) {
  listeners.push(f);
}

// The text of `key` with {placeholders} filled in. A missing key shows itself (and the key
// test fails), never an empty control.
export function t(key, params) {
  let s = TABLES[lang][key];
  if (s === undefined) s = key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }
  return s;
}

// Elements carrying data-i18n (text), data-i18n-label (aria-label) or data-i18n-placeholder.
export function translateStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  }
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder));
  }
  document.title = t('app.title');
}

export function formatNumber(n, options) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '–';
  return new Intl.NumberFormat(locale(), options).format(Number(n));
}

export function formatPercent(fraction) {
  return formatNumber(fraction, {style: 'percent', maximumFractionDigits: 1});
}

// An ISO 8601 string or milliseconds since 1970.
export function formatDate(value, options = {dateStyle: 'medium', timeStyle: 'medium'}) {
  if (value === null || value === undefined || value === '') return '–';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return new Intl.DateTimeFormat(locale(), options).format(d);
}

export function formatTime(value) {
  return formatDate(value, {hour: '2-digit', minute: '2-digit'});
}
