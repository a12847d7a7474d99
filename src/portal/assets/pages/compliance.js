// Compliance with the e-Government standards (docs/compliance.md): every system's rating and
// the rules it fails or warns on, institutions rolled up, and the summary figures. Operators and
// auditors see every institution (or one, by its code); an institution admin its own.
import * as api from '../api.js';
import {badge, button, form, h, sayError, section, table} from '../dom.js';
import {formatDate, formatNumber, formatPercent, t} from '../i18n.js';

function tile(testid, value, labelKey) {
  return h('div', {class: 'tile', testid}, h('span', {class: 'n'}, value),
           h('span', null, t(labelKey)));
}

function rulesOf(system, status) {
  return system.rules.filter((r) => r.status === status).map((r) => r.rule).join(', ');
}

// Each rule of one system: its status and what was measured.
function details(system) {
  return h('details', {testid: 'compliance-details'},
           h('summary', null, t('compliance.details')),
           h('ul', null, system.rules.map((r) =>
               h('li', {dataset: {rule: r.rule}}, badge(r.status), ' ', h('code', null, r.rule),
                 ': ', r.value))));
}

export async function render(root, ctx) {
  const summary = h('div', {class: 'tiles', testid: 'compliance-summary'});
  const windowNote = h('p', {class: 'hint', testid: 'compliance-window'});
  const systems = h('div', {testid: 'compliance-systems'});
  const institutions = h('div', {testid: 'compliance-institutions'});
  let institution = '';

  const load = async () => {
    let report;
    try {
      report = await api.get('/compliance' + api.query({institution}));
    } catch (e) {
      sayError(e);
      return;
    }
    const s = report.summary;
    summary.replaceChildren(
        tile('compliance-institutions-connected',
             t('compliance.of', {n: formatNumber(s.institutions_connected),
                                 of: formatNumber(s.institutions_registered)}),
             'compliance.institutions_connected'),
        tile('compliance-systems-registered', formatNumber(s.systems_registered),
             'compliance.systems_registered'),
        tile('compliance-apis-published', formatNumber(s.apis_published),
             'compliance.apis_published'),
        tile('compliance-exchanges', formatNumber(Math.round(s.exchanges_per_month)),
             'compliance.exchanges_per_month'),
        tile('compliance-share', s.share_fully_compliant === null ? '–'
                 : formatPercent(s.share_fully_compliant), 'compliance.share_fully_compliant'));
    const span = {from: formatDate(report.window.covered_from),
                  records: formatNumber(report.window.records_read)};
    windowNote.textContent = report.window.partial ? t('compliance.window_partial', span)
                                               : t('compliance.window', span);
    systems.replaceChildren(table('compliance-system', [
      {key: 'field.institution', value: (r) => r.institution},
      {key: 'compliance.system', value: (r) => r.name},
      {key: 'field.client_id', value: (r) => h('code', null, r.client_id)},
      {key: 'compliance.rating', value: (r) => badge(r.rating)},
      {key: 'compliance.failed', value: (r) => rulesOf(r, 'fail')},
      {key: 'compliance.warned', value: (r) => rulesOf(r, 'warn')},
      {key: 'compliance.rules', value: (r) => details(r)},
    ], report.systems, {key: (r) => r.client_id}));
    institutions.replaceChildren(table('compliance-institution', [
      {key: 'field.code', value: (r) => r.code},
      {key: 'compliance.institution_name', value: (r) => r.name},
      {key: 'compliance.rating', value: (r) => r.rating ? badge(r.rating) : '–'},
      {key: 'compliance.systems', value: (r) => t('compliance.counts', {
        systems: formatNumber(r.systems), pass: formatNumber(r.pass), warn: formatNumber(r.warn),
        fail: formatNumber(r.fail)})},
      {key: 'compliance.failed', value: (r) => r.failed_rules.join(', ')},
    ], report.institutions, {key: (r) => r.code}));
  };

  if (!ctx.can.operator && !ctx.can.auditor) {
    institution = ctx.can.institution;
  } else {
    root.append(section('compliance.filter', 'compliance-filter', form('compliance', [
      {name: 'institution', label: 'field.institution', hint: 'compliance.institution_hint'},
    ], 'action.show', async (v) => {
      institution = v.institution.trim();
      await load();
    })));
  }
  root.append(section('compliance.summary', 'compliance-summary-section', summary, windowNote,
                      button('compliance-refresh', 'action.refresh', () => load(),
                             {kind: 'secondary'})));
  root.append(section('compliance.systems_title', 'compliance-systems-section', systems));
  root.append(section('compliance.institutions_title', 'compliance-institutions-section',
                      institutions));
  await load();
}
