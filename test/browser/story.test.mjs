// The onboarding story of issue 14, in a real browser: Debian's Chromium driven by
// playwright-core, against a real `govesb serve` with its admin listener, and the unchanged
// npm client govesb-connector-js calling the API the story publishes.
//
//   1. The operator (made with `govesb admin user add`) signs in, adds the institution RITA and
//      its admin account (one-time password), and an auditor account.
//   2. The Ministry of Health applies to join from the sign-in page, without an account; the
//      operator accepts: the institution and its first admin account are made at once.
//   3. RITA's admin changes the one-time password, switches the portal to Kiswahili, registers
//      a provider system with a freshly generated key (pasted as base64) and publishes an API
//      with its description and examples, and a push topic, which it disables and enables.
//   4. MOH's admin registers a consumer system (its key uploaded as a PEM file), finds the API
//      in the catalogue and requests access, stating the purpose.
//   5. RITA's admin approves. govesb-connector-js, as MOH's system, calls the API through the
//      bus and gets the provider's signed answer.
//   6. The auditor finds the exchange by its requestId, downloads its proof (which
//      `govesb audit check-proof` accepts), runs the log's verification, makes the access
//      report of a person MOH's system asked about (which `govesb audit check-report` accepts),
//      and sees the call on the traffic page.
//   7. Every admin action of the story is a record of the evidence log; `audit verify` is
//      intact.
//
// A screenshot of every page visited is written to GOVESB_SCREENSHOT_DIR (ctest sets it under
// the build directory). Run by hand: GOVESB_BIN=... node --test story.test.mjs
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { chromium } from 'playwright-core';

import en from '../../src/portal/assets/i18n/en.js';
import sw from '../../src/portal/assets/i18n/sw.js';
import {
  admin, echoAnswer, echoResponder, eventually, govesbBin, keygen, startBus, startClientWorker,
  startProvider,
} from '../interop/lib.mjs';

const HERE = import.meta.dirname ?? decodeURIComponent(new URL('.', import.meta.url).pathname);
const CHROMIUM = process.env.GOVESB_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.GOVESB_SCREENSHOT_DIR ||
  path.join(HERE, '..', '..', 'build', 'screenshots', 'story');

const OPERATOR = { email: 'operator@ega.go.tz', password: 'Mwendeshaji-2026-salama' };
const RITA_ADMIN = { email: 'admin@rita.go.tz', password: 'Rita-msimamizi-2026' };
const MOH_ADMIN = { email: 'ict@moh.go.tz', password: 'Afya-msimamizi-2026' };
const AUDITOR = { email: 'auditor@nao.go.tz', password: 'Mkaguzi-wa-2026-hesabu' };
const API_CODE = 'BRTHCRT';
const TOPIC_CODE = 'KUZALIWA';
const PERSON = '19900101-12345-00001-12';  // the identifier of an identity request
const PURPOSE = 'Thibitisha cheti cha kuzaliwa cha mgonjwa anaposajiliwa hospitalini';

function run(args, { input = null, timeoutMs = 20000 } = {}) {
  return new Promise((resolve) => {
    const child = execFile(govesbBin(), args, { timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
    if (input !== null) child.stdin.end(input);
  });
}

function pem(base64Der) {
  const lines = base64Der.match(/.{1,64}/g).join('\n');
  return `-----BEGIN PUBLIC KEY-----\n${lines}\n-----END PUBLIC KEY-----\n`;
}

// ---- the portal, as a person uses it ---------------------------------------------------------

class Person {
  constructor(browser, adminUrl, who, name) {
    this.browser = browser;
    this.adminUrl = adminUrl;
    this.who = who;
    this.name = name;
    this.errors = [];
  }

  async open({ phone = false } = {}) {
    // The bus's certificate is signed by its own CA (data dir), which this browser profile does
    // not know; the HTTPS connection is still TLS, and the Secure cookie still applies.
    this.context = await this.browser.newContext({
      ignoreHTTPSErrors: true, acceptDownloads: true, locale: 'en-GB',
      viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
      isMobile: phone, hasTouch: phone,
    });
    this.page = await this.context.newPage();
    this.page.on('pageerror', (e) => this.errors.push(`${this.name}: ${e.message}`));
    await this.page.goto(`${this.adminUrl}/`);
    return this;
  }

  byId(testid) {
    return this.page.getByTestId(testid);
  }

  async shot(name) {
    fs.mkdirSync(SHOTS, { recursive: true });
    await this.page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  }

  // Fills `fields` ({field: value}) of form `name` and submits it.
  async submit(name, fields) {
    for (const [field, value] of Object.entries(fields)) {
      const input = this.byId(`${name}-form`).getByTestId(`${name}-${field}`);
      const tag = await input.evaluate((el) => el.tagName.toLowerCase());
      if (tag === 'select') await input.selectOption(value);
      else await input.fill(String(value));
    }
    await this.byId(`${name}-form`).getByTestId(`${name}-submit`).click();
  }

  // The error form `name` shows (waits for it).
  async formError(name) {
    const error = this.byId(`${name}-error`).filter({ hasText: /\S/ });
    await error.waitFor();
    return (await error.textContent()).trim();
  }

  async signIn(password = this.who.password) {
    await this.submit('signin', { email: this.who.email, password });
  }

  // Sign-in with the keyboard alone: Tab to the e-mail field, type, Tab, type, Enter.
  async signInByKeyboard(password = this.who.password) {
    for (let i = 0; i < 12; i++) {
      await this.page.keyboard.press('Tab');
      const at = await this.page.evaluate(() => document.activeElement?.dataset?.testid ?? '');
      if (at === 'signin-email') break;
    }
    assert.equal(await this.page.evaluate(() => document.activeElement?.dataset?.testid),
      'signin-email', 'Tab reaches the e-mail field');
    await this.page.keyboard.type(this.who.email);
    await this.page.keyboard.press('Tab');
    await this.page.keyboard.type(password);
    await this.page.keyboard.press('Enter');
  }

  async signedIn() {
    await this.byId('whoami').filter({ hasText: this.who.email }).waitFor();
  }

  // First sign-in with a one-time password: the portal allows only the password change.
  async firstSignIn(oneTimePassword) {
    await this.signIn(oneTimePassword);
    await this.byId('password-form').waitFor();
    await this.shot(`${this.name}-00-password-change`);
    await this.submit('password', {
      old_password: oneTimePassword, new_password: this.who.password, repeat: this.who.password,
    });
    await this.byId('signin-form').waitFor();
    await this.signIn();
    await this.signedIn();
  }

  async go(pageId) {
    await this.byId(`nav-${pageId}`).click();
    await this.page.waitForFunction((id) => location.hash === `#/${id}`, pageId);
    await this.byId('page-title').waitFor();
  }

  row(kind, key) {
    return this.page.locator(`[data-testid="${kind}-row"][data-key="${key}"]`);
  }

  // Confirms the dialog a row button opened (with a reason when asked for one).
  async confirm(reason = null) {
    const dialog = this.byId('dialog');
    await dialog.waitFor();
    if (reason !== null) await this.byId('dialog-reason').fill(reason);
    await this.byId('dialog-confirm').click();
    await dialog.waitFor({ state: 'hidden' });
  }

  async close() {
    await this.context?.close();
  }
}

// ---- the story -------------------------------------------------------------------------------

test('onboarding through the portal alone: register, publish, request, approve, call, prove',
  { timeout: 240000 }, async (t) => {
    assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: run scripts/setup`);
    fs.rmSync(SHOTS, { recursive: true, force: true });
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'govesb-browser-'));
    const cleanups = [];
    t.after(async () => {
      for (const f of cleanups.reverse()) await f().catch(() => {});
      if (process.env.GOVESB_BROWSER_KEEP !== '1') fs.rmSync(dataDir, { recursive: true, force: true });
    });

    const bus = await startBus({
      dataDir,
      extraArgs: ['--admin-listen', '127.0.0.1:0', '--checkpoint-interval', '1'],
    });
    cleanups.push(() => bus.stop());
    const adminUrl = /govesb: admin API\s+(https:\/\/\S+?)\/api\/v1\//.exec(bus.tail())?.[1];
    assert.ok(adminUrl, `the bus printed no admin API address:\n${bus.tail()}`);
    const esbKey = (await admin(dataDir, 'esb-key')).public_key;

    // The first operator, from the command line (password on stdin).
    const made = await run(['admin', '--data-dir', dataDir, '--json', 'user', 'add', '--role',
      'operator', '--email', OPERATOR.email, '--password-stdin'], { input: `${OPERATOR.password}\n` });
    assert.equal(made.code, 0, `user add: ${made.stderr}`);

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    cleanups.push(() => browser.close());
    const people = [];
    const person = async (who, name, options = {}) => {
      const p = await new Person(browser, adminUrl, who, name).open(options);
      people.push(p);
      return p;
    };
    const context = () => `${bus.tail()}\npage errors: ${people.flatMap((p) => p.errors).join('\n')}`;

    try {
      // ---- 1. the operator: RITA, its admin, an auditor ------------------------------------
      const op = await person(OPERATOR, 'operator');
      await op.shot('01-sign-in');
      // A wrong password first: a clear answer, no session.
      await op.signIn('not-the-password');
      assert.match(await op.formError('signin'), /\S/);
      await op.signIn();
      await op.signedIn();
      await op.shot('02-dashboard-operator');

      await op.go('institutions');
      await op.submit('institution', {
        code: 'RITA', name: 'Registration, Insolvency and Trusteeship Agency',
      });
      await op.row('institution', 'RITA').waitFor();
      // Bad input: a clear error next to the form, nothing changed.
      await op.submit('institution', { code: 'bad code!', name: 'Nothing' });
      assert.match(await op.formError('institution'), /\S/);
      await op.shot('03-institutions');

      await op.go('users');
      await op.submit('user', {
        email: RITA_ADMIN.email, display_name: 'RITA ICT', role: 'institution-admin',
        institution: 'RITA',
      });
      const ritaOneTime = (await op.byId('one-time-password').textContent()).trim();
      await op.submit('user', { email: AUDITOR.email, display_name: 'Auditor', role: 'auditor' });
      await op.row('user', AUDITOR.email).waitFor();
      const auditorOneTime = (await op.byId('one-time-password').last().textContent()).trim();
      assert.ok(ritaOneTime.length >= 12 && auditorOneTime.length >= 12 &&
        ritaOneTime !== auditorOneTime, 'one-time passwords shown once each');
      await op.shot('04-users');
      // Change an account: a role that needs an institution is refused in words without one;
      // a new display name is saved and shown.
      await op.row('user', AUDITOR.email).getByTestId('user-edit').click();
      await op.submit('user-edit', { role: 'institution-admin', institution: '' });
      assert.match(await op.formError('user-edit'), /institution/);
      await op.submit('user-edit', { role: 'auditor', display_name: 'National Audit Office' });
      await op.row('user', AUDITOR.email).filter({ hasText: 'National Audit Office' }).waitFor();
      // An API token that expires: its expiry is in the list.
      await op.go('account');
      await op.submit('token', { name: 'weekly report', role: 'auditor', expires_in_days: 7 });
      await op.byId('token-value').waitFor();
      const expiring = op.row('token', 'weekly report');
      await expiring.waitFor();
      assert.doesNotMatch(await expiring.textContent(), /Never/, 'the token shows its expiry');

      // ---- 2. the Ministry of Health applies to join; the operator accepts ------------------
      const applicant = await person(MOH_ADMIN, 'moh');
      await applicant.byId('apply-open').click();
      await applicant.submit('apply', {
        institution_code: 'MOH', institution_name: 'Ministry of Health',
        details: 'Wizara ya Afya, Dodoma. Hospital records system for national referral hospitals.',
        contact_name: 'Neema Mollel', contact_email: MOH_ADMIN.email,
        contact_phone: '+255 22 212 0261',
        planned_systems: 'Health records system: patient registration and referrals',
      });
      await applicant.byId('message-ok').waitFor();
      await applicant.shot('05-applied');

      await op.go('dashboard');
      await op.go('institutions');
      const application = op.page.locator('[data-testid="application-row"]', { hasText: 'MOH' });
      await application.getByTestId('application-accept').click();
      await op.confirm();
      const mohOneTime = (await op.byId('one-time-password').textContent()).trim();
      assert.ok(mohOneTime.length >= 12, 'the accepted application shows the admin password');
      await op.row('institution', 'MOH').waitFor();
      await op.shot('06-application-accepted');

      // ---- 3. RITA's admin, in Kiswahili: a provider system and its API ---------------------
      const rita = await person(RITA_ADMIN, 'rita');
      await rita.byId('lang-select').selectOption('sw');
      await rita.byId('signin-submit').filter({ hasText: sw['signin.submit'] }).waitFor();
      await rita.firstSignIn(ritaOneTime);
      await rita.go('systems');
      assert.equal((await rita.byId('page-title').textContent()).trim(), sw['nav.systems']);

      const providerKeys = await keygen('secp256k1');
      const provider = await startProvider({
        privateKey: providerKeys.private_key, esbPublicKey: esbKey, respond: echoResponder,
      });
      cleanups.push(() => provider.close());
      // A key that does not parse: the error in words, nothing registered.
      await rita.submit('system', {
        name: 'Birth and death registry', endpoint: provider.url, public_key: 'bm90IGEga2V5',
      });
      assert.match(await rita.formError('system'), /\S/);
      await rita.byId('system-empty').waitFor();
      await rita.byId('system-public_key').fill(providerKeys.public_key);
      await rita.byId('system-submit').click();
      const providerId = (await rita.byId('client-id').textContent()).trim();
      const providerSecret = (await rita.byId('client-secret').textContent()).trim();
      assert.match(providerId, /\S/);
      assert.match(providerSecret, /\S/);
      await rita.row('system', providerId).waitFor();
      // When its key and its secret last changed: both at registration, given machine-readable
      // and shown as a date.
      for (const which of ['key-changed', 'secret-changed']) {
        const cell = rita.row('system', providerId).getByTestId(which);
        const at = Date.parse(await cell.getAttribute('datetime'));
        assert.ok(Math.abs(Date.now() - at) < 10 * 60 * 1000, `${which} at ${at}`);
        assert.match((await cell.textContent()).trim(), /\d/);
      }
      await rita.shot('07-systems-sw');

      await rita.go('catalogue');
      await rita.byId('api-publish-open').click();
      // Switching the language keeps what was typed.
      await rita.byId('api-code').fill(API_CODE);
      await rita.byId('lang-select').selectOption('en');
      await rita.byId('page-title').filter({ hasText: en['nav.catalogue'] }).waitFor();
      assert.equal(await rita.byId('api-code').inputValue(), API_CODE);
      await rita.byId('lang-select').selectOption('sw');
      await rita.byId('page-title').filter({ hasText: sw['nav.catalogue'] }).waitFor();
      await rita.submit('api', {
        provider: providerId, code: API_CODE, mode: 'sync', timeout_ms: 10000,
        title: 'Uhakiki wa cheti cha kuzaliwa',
        description: 'Hurudisha taarifa za cheti cha kuzaliwa kwa namba yake.',
        request_example: '{"certificateNo":"B-2024-000117"}',
        response_example: '{"certificateNo":"B-2024-000117","name":"Amani Juma"}',
      });
      await rita.byId('message-ok').waitFor();
      await rita.row('api', API_CODE).filter({ hasText: 'Uhakiki wa cheti' }).waitFor();
      await rita.shot('08-catalogue-sw');

      // A push topic of the same system: disabled (the dialog in Kiswahili), then enabled again.
      await rita.byId('topic-add-open').click();
      await rita.submit('topic', { publisher: providerId, code: TOPIC_CODE });
      const topicState = (state) =>
        rita.row('topic', TOPIC_CODE).locator(`[data-testid="state"][data-state="${state}"]`);
      await topicState('enabled').waitFor();
      await rita.row('topic', TOPIC_CODE).getByTestId('topic-disable').click();
      await rita.byId('dialog-title')
        .filter({ hasText: sw['topics.disable_title'].replace('{code}', TOPIC_CODE) }).waitFor();
      await rita.confirm();
      await topicState('disabled').waitFor();
      await rita.row('topic', TOPIC_CODE).getByTestId('topic-enable').click();
      await topicState('enabled').waitFor();

      // ---- 4. MOH's admin: a consumer system (key uploaded as PEM) and an access request -----
      await applicant.firstSignIn(mohOneTime);
      await applicant.go('systems');
      const consumerKeys = await keygen('prime256v1');
      const pemFile = path.join(dataDir, 'moh-system.pub.pem');
      fs.writeFileSync(pemFile, pem(consumerKeys.public_key));
      await applicant.byId('system-name').fill('Health records system');
      await applicant.byId('system-endpoint').fill('https://his.moh.go.tz/esb/callback');
      await applicant.byId('system-key_file').setInputFiles(pemFile);
      await applicant.page.waitForFunction(() =>
        document.querySelector('[data-testid="system-public_key"]').value.includes('BEGIN PUBLIC KEY'));
      await applicant.byId('system-submit').click();
      const consumerId = (await applicant.byId('client-id').textContent()).trim();
      const consumerSecret = (await applicant.byId('client-secret').textContent()).trim();
      await applicant.row('system', consumerId).waitFor();
      // Never another institution's systems.
      assert.equal(await applicant.row('system', providerId).count(), 0);
      await applicant.shot('09-systems-moh');

      await applicant.go('catalogue');
      const listed = applicant.row('api', API_CODE);
      await listed.filter({ hasText: 'Registration, Insolvency' }).waitFor();
      await listed.getByTestId('api-request').click();
      await applicant.submit('request', { consumer: consumerId, purpose: PURPOSE });
      await applicant.byId('message-ok').waitFor();
      await applicant.shot('10-access-requested');

      // ---- 5. RITA approves; the unchanged client calls the API ------------------------------
      await rita.go('access');
      const request = rita.row('request', `${consumerId}/${API_CODE}`);
      await request.filter({ hasText: PURPOSE }).waitFor();
      await rita.shot('11-access-request-sw');
      await request.getByTestId('request-approve').click();
      await rita.confirm();
      await rita.row('grant', `${consumerId}/${API_CODE}`)
        .locator('[data-testid="state"][data-state="approved"]').waitFor();
      await rita.shot('12-access-approved-sw');

      // What MOH's system is configured with comes from the portal's bus page: the token and
      // engine URLs, the bus's public key and the CA certificate to trust.
      await applicant.go('bus');
      const shown = async (testid) => (await applicant.byId(testid).textContent()).trim();
      const portalKey = await shown('bus-public-key');
      assert.equal(portalKey, esbKey, 'the bus page shows the bus key');
      const caFromPortal = path.join(dataDir, 'ca-from-portal.pem');
      const [caDownload] = await Promise.all([
        applicant.page.waitForEvent('download'),
        applicant.byId('bus-ca-download').click(),
      ]);
      await caDownload.saveAs(caFromPortal);
      assert.equal(fs.readFileSync(caFromPortal, 'utf8'), fs.readFileSync(bus.caFile, 'utf8'));
      await applicant.shot('12b-bus-moh');

      const client = await startClientWorker({ caFile: caFromPortal });
      cleanups.push(() => client.stop());
      const body = { certificateNo: 'B-2024-000117' };
      const config = {
        clientId: consumerId, clientSecret: consumerSecret, clientPrivateKey: consumerKeys.private_key,
        esbPublicKey: portalKey, esbTokenUrl: await shown('bus-token-url'),
        esbEngineUrl: await shown('bus-engine-url'),
      };
      // The grant reaches the running bus within a second.
      const answer = await eventually(async () => {
        const r = await client.call('request', {
          config, kind: 'data', apiCode: API_CODE, body: JSON.stringify(body),
        });
        assert.notEqual(r.result, null, `the library did not verify the answer: ${JSON.stringify(r)}`);
        const data = JSON.parse(r.result);
        assert.equal(data.success, true, r.result);
        return data;
      }, { timeoutMs: 5000 });
      const requestId = answer.requestId;
      const delivered = provider.find(requestId);
      assert.ok(delivered, `the provider got no verified delivery ${requestId}`);
      assert.deepEqual(answer.esbBody, echoAnswer(delivered.data));

      // MOH's admin finds the exchange its system took part in.
      await applicant.go('evidence');
      await applicant.submit('evidence', { request_id: requestId });
      await applicant.page.locator('[data-testid="evidence-row"]', { hasText: requestId }).first()
        .waitFor();
      await applicant.shot('13-evidence-moh');

      // ---- 6. the auditor: the exchange, its proof, the log, the traffic ---------------------
      const auditor = await person(AUDITOR, 'auditor');
      await auditor.signInByKeyboard(auditorOneTime);
      await auditor.byId('password-form').waitFor();
      await auditor.shot('auditor-00-password-change');
      await auditor.submit('password', {
        old_password: auditorOneTime, new_password: AUDITOR.password, repeat: AUDITOR.password,
      });
      await auditor.byId('signin-form').waitFor();
      await auditor.signIn();
      await auditor.signedIn();
      await auditor.go('evidence');
      await auditor.submit('evidence', { request_id: requestId });
      const records = auditor.page.locator('[data-testid="evidence-row"]', { hasText: requestId });
      await eventually(async () => {
        await auditor.byId('evidence-submit').click();
        await records.first().waitFor({ timeout: 500 });
      }, { timeoutMs: 8000 });
      assert.ok(await records.count() >= 2, 'the request and its response are both found');
      await auditor.shot('14-evidence-search');

      // The proof needs a signed checkpoint over the exchange (every second here).
      const proofFile = path.join(dataDir, 'proof.json');
      await eventually(async () => {
        const [download] = await Promise.all([
          auditor.page.waitForEvent('download', { timeout: 1500 }),
          records.first().getByTestId('evidence-proof').click(),
        ]);
        await download.saveAs(proofFile);
      }, { timeoutMs: 10000, intervalMs: 500 });
      const checked = await run(['audit', 'check-proof', '--esb-key', esbKey, proofFile]);
      assert.equal(checked.code, 0, `check-proof refused the portal's proof:\n${checked.stdout}${checked.stderr}`);

      await auditor.byId('evidence-verify-run').click();
      await auditor.page.locator('[data-testid="verify-intact"][data-intact="true"]').waitFor();
      await auditor.shot('15-evidence-verified');


      await auditor.go('dashboard');
      // The bus flushes its per-minute counters every few seconds.
      await eventually(async () => {
        await auditor.page.getByTestId('range-hour').click();
        await auditor.byId('traffic-sum').filter({ hasText: /[1-9]/ }).waitFor({ timeout: 500 });
      }, { timeoutMs: 15000, intervalMs: 500 });
      assert.match(await auditor.byId('traffic-sum').textContent(), /\b1\b/);
      await auditor.shot('16-traffic');

      // A person's access report: MOH's system asks about a person (an identity request); the
      // auditor makes the report in the portal, and `govesb audit check-report` accepts the page
      // it saved, checked with the bus key.
      const nida = await client.call('request', {
        config: { ...config, nidaUserId: PERSON }, kind: 'nida', apiCode: API_CODE,
        body: JSON.stringify(body),
      });
      assert.notEqual(nida.result, null, `the identity request: ${JSON.stringify(nida)}`);
      const nidaId = JSON.parse(nida.result).requestId;
      await auditor.go('evidence');
      const reportFile = path.join(dataDir, 'access-report.html');
      const [reportDownload] = await Promise.all([
        auditor.page.waitForEvent('download'),
        auditor.submit('subject', { user_id: PERSON }),
      ]);
      await reportDownload.saveAs(reportFile);
      await auditor.shot('16b-access-report');
      const report = await run(['audit', 'check-report', '--esb-public-key', esbKey, reportFile]);
      assert.equal(report.code, 0, `check-report refused the portal's report:\n${report.stdout}${report.stderr}`);
      assert.match(report.stdout, /\(1 exchange\(s\), made .*an HTML page\)/);
      const page = fs.readFileSync(reportFile, 'utf8');
      assert.ok(page.includes(nidaId) && page.includes('Ministry of Health'), 'the report names the exchange and who asked');

      // The auditor's compliance page: the summary, and a rating for every system.
      await auditor.go('compliance');
      await auditor.byId('compliance-share').waitFor();
      await auditor.byId('compliance-system-row').first().waitFor();
      assert.ok(await auditor.byId('compliance-system-row').count() >= 2, 'every system is rated');
      await auditor.shot('16c-compliance');

      // RITA's admin sees the call to its API on its own dashboard, in Kiswahili.
      await rita.go('dashboard');
      await rita.byId('traffic-sum').filter({ hasText: /[1-9]/ }).waitFor();
      await rita.shot('17-traffic-sw');
      await rita.go('users');
      await rita.shot('18-users-sw');

      // On a phone, found by the labels a screen reader reads: the catalogue without sideways
      // scrolling, its table as one card per API.
      const phone = await person(MOH_ADMIN, 'phone', { phone: true });
      await phone.page.getByRole('textbox', { name: 'E-mail', exact: true }).fill(MOH_ADMIN.email);
      await phone.page.getByLabel('Password').fill(MOH_ADMIN.password);
      await phone.page.getByRole('button', { name: 'Sign in' }).click();
      await phone.signedIn();
      await phone.page.goto(`${adminUrl}/#/catalogue`);
      await phone.row('api', API_CODE).waitFor();
      const overflow = await phone.page.evaluate(() =>
        document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the phone page scrolls sideways by ${overflow} px`);
      await phone.shot('20-catalogue-phone');

      // The operator sees the certificate the bus serves and until when.
      await op.go('bus');
      await op.page.locator('[data-testid="certificate-row"] [data-testid="state"][data-state="valid"]')
        .first().waitFor();
      await op.shot('21-bus-operator');

      // The operator's record of what was done.
      await op.go('actions');
      await op.shot('19-admin-actions');

      // ---- 7. every admin action is in the evidence log; the log is intact -------------------
      const expected = [
        [OPERATOR.email, 'institution.add', 'institution:RITA'],
        [OPERATOR.email, 'user.add', `user:${RITA_ADMIN.email}`],
        [OPERATOR.email, 'user.add', `user:${AUDITOR.email}`],
        [`applicant:${MOH_ADMIN.email}`, 'application.submit', 'application:1'],
        [OPERATOR.email, 'application.accept', 'application:1'],
        [OPERATOR.email, 'user.add', `user:${MOH_ADMIN.email}`],
        [RITA_ADMIN.email, 'user.change-password', `user:${RITA_ADMIN.email}`],
        [RITA_ADMIN.email, 'system.add', `system:${providerId}`],
        [RITA_ADMIN.email, 'api.add', `api:${API_CODE}`],
        [RITA_ADMIN.email, 'api.describe', `api:${API_CODE}`],
        [MOH_ADMIN.email, 'user.change-password', `user:${MOH_ADMIN.email}`],
        [MOH_ADMIN.email, 'system.add', `system:${consumerId}`],
        [MOH_ADMIN.email, 'grant.request', `grant:${consumerId}:${API_CODE}`],
        [RITA_ADMIN.email, 'grant.approve-request', `grant:${consumerId}:${API_CODE}`],
        [AUDITOR.email, 'user.change-password', `user:${AUDITOR.email}`],
      ].map((parts) => parts.join(' '));
      await eventually(async () => {
        const q = await run(['audit', '--data-dir', dataDir, 'query', '--kind', 'admin',
          '--format', 'jsonl']);
        assert.equal(q.code, 0, q.stderr);
        const seen = q.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l))
          .map((r) => `${r.from} ${r.code} ${r.to}`);
        // Each action once, in the order it was made (the refused ones are not actions).
        const story = seen.filter((s) => expected.includes(s));
        assert.deepEqual(story, expected, `the admin records of the evidence log:\n${seen.join('\n')}`);
      }, { timeoutMs: 5000, intervalMs: 500 });
      const verified = await run(['audit', '--data-dir', dataDir, '--json', 'verify']);
      assert.equal(verified.code, 0, `audit verify: ${verified.stdout}${verified.stderr}`);
      assert.equal(JSON.parse(verified.stdout).intact, true, verified.stdout);

      assert.deepEqual(people.flatMap((p) => p.errors), [], 'no script error in any page');
    } catch (err) {
      for (const p of people) await p.shot(`failure-${p.name}`).catch(() => {});
      err.message += `\n======== context ========\n${context()}\nscreenshots: ${SHOTS}`;
      throw err;
    }
  });
