// The bus: what an institution's systems need to connect (the token and engine URLs, the bus's
// public key, the CA certificate to trust), the TLS certificate the bus serves and until when,
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
  ]), tls.ca_pem ? [h('p', null, t('bus.ca_intro')),
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
