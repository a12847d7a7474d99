// Serialisation that every client can verify: Node clients check the bus's signature over
// JSON.stringify(JSON.parse(body).data), Java clients over Jackson's re-serialisation of data.
// The two differ on doubles with a zero fraction (1 vs 1.0), on small doubles (0.0001 vs 1.0E-4)
// and on control characters (\u001f vs \u001F). A provider answers with all three, as a Java
// provider would; the unchanged govesb-connector-js verifies the answer once the consumer's
// system is set to (or learned as) "node", and Jackson verifies it for a "jackson" system.
// See docs/serialisation.md.
//
// Run: GOVESB_BIN=/path/to/govesb node --test serialisation.test.mjs   (cwd = test/interop)

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { eventually, govesbBin, withBus } from './lib.mjs';

const TEST_TIMEOUT_MS = 90000;

// What a Java provider answers: Jackson's doubles and escapes.
const JAVA_DATA =
  '{"success":true,"esbBody":{"weightKg":1.0,"ratio":1.0E-4,"note":"line\\u0001end\\u001F","count":3}}';
// The same read by JavaScript.
const AS_JS = { weightKg: 1, ratio: 0.0001, note: 'line\u0001end\u001f', count: 3 };

function signB64(privateKeyB64, text) {
  const key = crypto.createPrivateKey({
    key: Buffer.from(privateKeyB64, 'base64'), format: 'der', type: 'pkcs8',
  });
  return crypto.sign('sha256', Buffer.from(text, 'utf8'), key).toString('base64');
}

// A provider whose answers are JAVA_DATA, signed with its own key.
async function javaStyleProvider(h, apiCode) {
  let provider = null;
  provider = await h.addProvider({
    name: 'Java-style provider',
    curve: 'prime256v1',
    respond: async () => ({
      status: 200,
      body: `{"data":${JAVA_DATA},"signature":"${signB64(provider.system.privateKey, JAVA_DATA)}"}`,
    }),
  });
  await h.admin('api', 'add', '--provider', provider.system.clientId, '--code', apiCode,
    '--timeout-ms', '5000');
  return provider;
}

async function consumerOf(h, apiCode, name) {
  const consumer = await h.addSystem({ name, curve: 'prime256v1' });
  await h.admin('grant', 'add', '--consumer', consumer.clientId, '--api', apiCode);
  return consumer;
}

function serialisation(h, system) {
  return h.admin('system', 'show', '--client-id', system.clientId);
}

test.before(() => {
  govesbBin();
});

test('the Node client verifies an answer holding 1.0, 1.0E-4 and a control character once its ' +
  'system is set to node', { timeout: TEST_TIMEOUT_MS }, () => withBus({}, async (h) => {
  const apiCode = 'JAVA01';
  const provider = await javaStyleProvider(h, apiCode);
  const consumer = await consumerOf(h, apiCode, 'Node consumer');

  // In the Jackson form (the default), the Node client cannot verify such an answer: it
  // returns null. (This is what the setting is for; were it not so, this test would prove
  // nothing.)
  const before = await eventually(async () => {
    const r = await h.request(consumer, apiCode, { q: 1 });
    assert.ok(provider.deliveries.length > 0, 'the provider was not called yet');
    return r;
  }, { timeoutMs: 10000 });
  assert.equal(before.result, null, `verified in the Jackson form: ${before.result}`);
  assert.equal((await serialisation(h, consumer)).serialisation_effective, 'jackson');

  await h.admin('system', 'serialisation', '--client-id', consumer.clientId, 'node');
  const after = await eventually(async () => {
    const r = await h.request(consumer, apiCode, { q: 2 });
    assert.notEqual(r.result, null, 'the Node client still cannot verify the answer');
    return r;
  }, { timeoutMs: 10000 });
  assert.equal(after.data.success, true);
  assert.deepEqual(after.data.esbBody, AS_JS);
  const shown = await serialisation(h, consumer);
  assert.equal(shown.serialisation, 'node');
  assert.equal(shown.serialisation_effective, 'node');
}));

function jacksonClasspath() {
  const jars = ['jackson-databind.jar', 'jackson-core.jar', 'jackson-annotations.jar']
    .map((j) => path.join('/usr/share/java', j));
  for (const jar of jars) {
    assert.ok(fs.existsSync(jar), `${jar} is missing: scripts/setup installs libjackson2-databind-java`);
  }
  return jars.join(':');
}

// Compiles JacksonVerify.java once into a scratch directory; returns the classpath to run it.
function compileJacksonVerify() {
  const classpath = jacksonClasspath();
  const out = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'govesb-jackson-'));
  execFileSync('javac', ['-cp', classpath, '-d', out, path.join('java', 'JacksonVerify.java')]);
  return { classpath: `${classpath}:${out}`, dir: out };
}

// A raw exchange (plain HTTP bus): token, signed request, the answer's bytes.
async function rawExchange(h, consumer, apiCode, body) {
  const form = new URLSearchParams({
    client_id: consumer.clientId, client_secret: consumer.clientSecret, grant_type: 'client_credentials',
  });
  const token = await (await fetch(h.tokenUrl, { method: 'POST', body: form })).json();
  const data = JSON.stringify({ apiCode, esbBody: body });
  const res = await fetch(`${h.engineUrl}/request`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token.access_token}` },
    body: `{"data":${data},"signature":"${signB64(consumer.privateKey, data)}"}`,
  });
  return res.text();
}

test('Jackson (what Java clients verify with) verifies the same answer for a jackson system, ' +
  'and not the node form', { timeout: TEST_TIMEOUT_MS },
() => withBus({ plainHttp: true, keyCurve: 'prime256v1' }, async (h) => {
  const apiCode = 'JAVA02';
  const provider = await javaStyleProvider(h, apiCode);
  const consumer = await consumerOf(h, apiCode, 'Java consumer');
  const java = compileJacksonVerify();
  try {
    const jackson = (text) => {
      try {
        return { ok: true, out: execFileSync('java', ['-cp', java.classpath, 'JacksonVerify',
          h.esbKey.public_key], { input: text }).toString() };
      } catch (err) {
        return { ok: false, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
      }
    };
    const answer = await eventually(async () => {
      const text = await rawExchange(h, consumer, apiCode, { q: 1 });
      assert.ok(provider.deliveries.length > 0, `the provider was not called yet: ${text}`);
      return text;
    }, { timeoutMs: 10000 });
    const checked = jackson(answer);
    assert.ok(checked.ok, `Jackson did not verify the bus's answer:\n${checked.out}\n${answer}`);
    assert.match(checked.out, /"weightKg":1\.0,"ratio":1\.0E-4,"note":"line\\u0001end\\u001F"/);

    // The same answer for a system set to node does not verify in Jackson: the forms differ.
    await h.admin('system', 'serialisation', '--client-id', consumer.clientId, 'node');
    const nodeAnswer = await eventually(async () => {
      const text = await rawExchange(h, consumer, apiCode, { q: 2 });
      assert.match(text, /"weightKg":1,"ratio":0\.0001/, 'not in the node form yet');
      return text;
    }, { timeoutMs: 10000 });
    assert.equal(jackson(nodeAnswer).ok, false, 'Jackson verified the node form');
  } finally {
    fs.rmSync(java.dir, { recursive: true, force: true });
  }
}));
