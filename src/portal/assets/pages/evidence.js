// Evidence: search the log (time range, institution, system, code, outcome, requestId,
// userId), page by next_cursor, download the offline proof of one exchange as a .json file;
// the whole log's verification and a person's access report (signed by the bus, saved as the
// file the API answers) for the operator and the auditor.
import * as api from '../api.js';
import {button, form, h, saveFile, say, sayError, section, table, when} from '../dom.js';
import {formatNumber, t} from '../i18n.js';
import {yesNo} from '../labels.js';

// A datetime-local value (the browser's local time) as milliseconds since 1970, or ''.
function millis(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.getTime();
}

async function downloadProof(requestId) {
  const proof = await api.get(`/evidence/${api.seg(requestId)}/proof`);
  saveFile(`proof-${requestId.replace(/[^\w.-]/g, '_')}.json`,
           JSON.stringify(proof, null, 2) + '\n', 'application/json');
  say(t('evidence.proof_saved', {id: requestId}));
}

export async function render(root, ctx) {
  let filter = {};
  let rows = [];
  const results = h('div', {testid: 'evidence-results'});
  const more = button('evidence-more', 'evidence.more', () => load(true), {kind: 'secondary'});
  more.hidden = true;
  let cursor = null;

  const load = async (next) => {
    let page;
    try {
      page = await api.get('/evidence' + api.query({...filter, cursor: next ? cursor : '',
                                                     limit: 100}));
    } catch (e) {
      sayError(e);
      return;
    }
    rows = next ? rows.concat(page.records || []) : (page.records || []);
    // One proof covers every record of an exchange: its button on the first row shown.
    const proofRow = new Map();
    for (const r of rows) {
      if (r.request_id && r.kind !== 'admin' && !proofRow.has(r.request_id)) {
        proofRow.set(r.request_id, r);
      }
    }
    cursor = page.next_cursor || null;
    more.hidden = !cursor;
    results.replaceChildren(h('p', {testid: 'evidence-count'},
                              t('evidence.count', {count: formatNumber(rows.length)})),
                            table('evidence', [
      {key: 'field.at', value: (r) => when(r.at || r.at_ms)},
      {key: 'field.request_id', value: (r) => h('code', null, r.request_id || '')},
      {key: 'field.kind', value: (r) => r.kind},
      {key: 'field.from', value: (r) => r.from || ''},
      {key: 'field.to', value: (r) => r.to || ''},
      {key: 'field.code', value: (r) => r.code || ''},
      {key: 'field.user_id', value: (r) => r.user_id || ''},
      {key: 'field.outcome', value: (r) => r.outcome || ''},
      {key: 'field.latency_ms', value: (r) => formatNumber((r.latency_us || 0) / 1000)},
    ], rows, {
      key: (r) => `${r.request_id || ''}/${r.seq}`,
      actions: (r) => (proofRow.get(r.request_id) === r
          ? [button('evidence-proof', 'evidence.proof', () => downloadProof(r.request_id)
                .catch(sayError))]
          : []),
    }));
  };

  root.append(section('evidence.search', 'evidence-search', form('evidence', [
    {name: 'from', label: 'field.from_time', type: 'datetime-local'},
    {name: 'to', label: 'field.to_time', type: 'datetime-local'},
    {name: 'institution', label: 'field.institution'},
    {name: 'system', label: 'field.system_client_id'},
    {name: 'code', label: 'field.code'},
    {name: 'outcome', label: 'field.outcome', hint: 'hint.outcome'},
    {name: 'request_id', label: 'field.request_id'},
    {name: 'user_id', label: 'field.user_id'},
  ], 'evidence.search_submit', async (v) => {
    filter = {from: millis(v.from), to: millis(v.to), institution: v.institution.trim(),
              system: v.system.trim(), code: v.code.trim(), outcome: v.outcome.trim(),
              request_id: v.request_id.trim(), user_id: v.user_id.trim()};
    await load(false);
  })));
  root.append(section('evidence.results', 'evidence', results, more));

  if (ctx.can.operator || ctx.can.auditor) {
    root.append(section('evidence.subject', 'evidence-subject',
                        h('p', null, t('evidence.subject_intro')), form('subject', [
      {name: 'user_id', label: 'field.user_id', required: true, maxlength: 128},
      {name: 'from', label: 'field.from_time', type: 'datetime-local'},
      {name: 'to', label: 'field.to_time', type: 'datetime-local'},
      {name: 'format', label: 'field.report_format', type: 'select', value: 'html',
       options: [['html', 'evidence.subject_html'], ['json', 'evidence.subject_json']]},
    ], 'evidence.subject_submit', async (v) => {
      const body = {user_id: v.user_id.trim(), format: v.format};
      if (millis(v.from) !== '') body.from = millis(v.from);
      if (millis(v.to) !== '') body.to = millis(v.to);
      const r = await api.post('/subject-reports', body);
      // The file as the bus wrote it: its bytes are what is signed.
      saveFile(r.file_name, r.content, r.content_type);
      say(t('evidence.subject_saved', {count: formatNumber(r.exchanges)}));
    })));
  }
  if (ctx.can.operator || ctx.can.auditor) {
    const report = h('div', {testid: 'verify-report', 'aria-live': 'polite'});
    root.append(section('evidence.verify', 'evidence-verify', h('p', null, t('evidence.verify_intro')),
                        button('evidence-verify-run', 'evidence.verify_run', async (ev) => {
                          ev.target.disabled = true;
                          report.textContent = t('evidence.verifying');
                          try {
                            const r = await api.get('/evidence/verify');
                            report.replaceChildren(h('dl', null,
                              h('dt', null, t('evidence.intact')),
                              h('dd', {testid: 'verify-intact', dataset: {intact: String(!!r.intact)}},
                                yesNo(r.intact)),
                              h('dt', null, t('evidence.records')), h('dd', null, formatNumber(r.records)),
                              h('dt', null, t('evidence.checkpoints')),
                              h('dd', null, formatNumber(r.checkpoints)),
                              h('dt', null, t('evidence.unsealed')), h('dd', null, formatNumber(r.unsealed)),
                              r.problem ? [h('dt', null, t('evidence.problem')),
                                           h('dd', null, r.problem)] : null));
                          } catch (e) {
                            report.textContent = '';
                            sayError(e);
                          } finally {
                            ev.target.disabled = false;
                          }
                        }), report));
  }
  await load(false);
}
