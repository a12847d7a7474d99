// Words for the API's enumerations (roles, states, modes), each key written out so the key
// test sees it. An unknown value shows as it came.
import {t} from './i18n.js';

const ROLES = {
  'operator': 'role.operator',
  'institution-admin': 'role.institution_admin',
  'auditor': 'role.auditor',
  'applicant': 'role.applicant',
};

const STATES = {
  pending: 'state.pending',
  approved: 'state.approved',
  refused: 'state.refused',
  revoked: 'state.revoked',
  delivered: 'state.delivered',
  dead: 'state.dead',
  accepted: 'state.accepted',
  enabled: 'state.enabled',
  disabled: 'state.disabled',
  suspended: 'state.suspended',
  active: 'state.active',
  valid: 'state.valid',
  expiring: 'state.expiring',
  expired: 'state.expired',
  pass: 'state.pass',
  warn: 'state.warn',
  fail: 'state.fail',
};

export const ROLE_OPTIONS = [
  ['institution-admin', 'role.institution_admin'],
  ['operator', 'role.operator'],
  ['auditor', 'role.auditor'],
];

export function roleLabel(role) {
  return ROLES[role] ? t(ROLES[role]) : String(role ?? '');
}

export function stateLabel(state) {
  return STATES[state] ? t(STATES[state]) : String(state ?? '');
}

export function yesNo(v) {
  return v ? t('common.yes') : t('common.no');
}
