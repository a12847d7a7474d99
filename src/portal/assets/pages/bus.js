// The bus: what an institution's systems need to connect (the token and engine URLs, the bus's
// public key, and during a key rotation the next or previous one, the CA certificate to trust), the TLS certificate the bus serves and until when,
// and, for the operator and the auditor, where its files are on the bus's machine.
import * as api from '../api.js';
import {badge, button, copyable, h, saveFile, section, table, when} from '../dom.js';
import {formatNumber, t} from '../i18n.js';
import {yesNo} from '../labels.js';

const TLS_MODES = {
  'self-signed': 'bus.tls_self_signed',
  'provided': 'bus.tls_provided',
  'off': 'bus.tls_off',
};

// The statuses of the bus's published keys (docs/key-rotation.md).
const KEY_STATUSES = {
  'current': 'bus.key_current',
  'staged': 'bus.key_staged',
  'overlap': 'bus.key_overlap',
};

function keyStatus(status) {
  const label = KEY_STATUSES[status];
  return label ? t(label) : status;
}

// A certificate is worth a warning a month before it expires.
function validity(daysLeft) {
  if (daysLeft < 0) return 'expired';
  return daysLeft < 30 ? 'expiring' : 'valid';
}

// [label key, value] pairs as a definition list; pairs without a value are left out.
function facts(testid, pairs) {
  return h('dl', {testid}, pairs.filter(([, v]) => v !== null && v !== undefined && v !== '')
      .map(([key, v]) => [h('dt', null, t(key)), h('dd', null, v)]));
}

export async function render(root) {
  const bus = await api.get('/bus');
  const tls = bus.tls || {};
  root.append(section('bus.connect', 'bus-connect', h('p', null, t('bus.connect_intro')),
                      facts('bus-connect-facts', [
    ['bus.token_url', bus.token_url ? copyable('bus-token-url', bus.token_url) : null],
    ['bus.engine_url', bus.engine_url ? copyable('bus-engine-url', bus.engine_url) : null],
    ['bus.public_key', bus.public_key ? copyable('bus-public-key', bus.public_key) : null],
    ['bus.curve', bus.curve],
  ]), (bus.keys || []).length > 1 ? [h('p', null, t('bus.keys_intro')), table('bus-key', [
    {key: 'bus.key_status', value: (k) => keyStatus(k.status)},
    {key: 'bus.curve', value: (k) => k.curve},
    {key: 'bus.key_id', value: (k) => h('code', null, k.key_id.slice(0, 16))},
    {key: 'bus.valid_from', value: (k) => (k.valid_from ? when(k.valid_from) : null)},
    {key: 'bus.not_after', value: (k) => (k.not_after ? when(k.not_after) : null)},
    {key: 'bus.public_key', value: (k) => copyable(`bus-key-${k.key_id.slice(0, 16)}`, k.public_key)},
  ], bus.keys, {key: (k) => k.key_id})] : null,
  tls.ca_pem ? [h('p', null, t('bus.ca_intro')),
                    button('bus-ca-download', 'bus.ca_download',
                           () => saveFile('govesb-ca.pem', tls.ca_pem, 'application/x-pem-file'))]
                 : null));

  const certificates = tls.certificates || [];
  root.append(section('bus.tls', 'bus-tls', facts('bus-tls-facts', [
    ['bus.tls_mode', TLS_MODES[tls.mode] ? t(TLS_MODES[tls.mode]) : tls.mode],
    ['bus.certificate_file', tls.certificate_file ? h('code', null, tls.certificate_file) : null],
    ['bus.ca_file', tls.ca_file ? h('code', null, tls.ca_file) : null],
  ]), tls.problem ? h('p', {class: 'error', role: 'alert', testid: 'bus-tls-problem'}, tls.problem)
                 : null,
  certificates.length ? table('certificate', [
    {key: 'bus.subject', value: (c) => c.subject},
    {key: 'bus.names', value: (c) => c.names.join(', ')},
    {key: 'bus.valid_until', value: (c) => when(c.not_after)},
    {key: 'bus.days_left', value: (c) => [badge(validity(c.days_left)), ' ',
                                           formatNumber(c.days_left)]},
    {key: 'bus.issuer', value: (c) => c.issuer},
    {key: 'bus.key', value: (c) => c.key},
    {key: 'bus.is_ca', value: (c) => yesNo(c.is_ca)},
    {key: 'bus.fingerprint', value: (c) => h('code', null, c.sha256_fingerprint)},
  ], certificates, {key: (c) => c.sha256_fingerprint}) : null));

  root.append(section('bus.running', 'bus-running', facts('bus-running-facts', [
    ['bus.version', bus.version],
    ['bus.started_at', bus.started_at ? when(bus.started_at) : null],
    ['bus.admin_url', bus.admin_url ? h('code', null, bus.admin_url) : null],
    ['bus.data_dir', bus.data_dir ? h('code', null, bus.data_dir) : null],
  ])));
}
