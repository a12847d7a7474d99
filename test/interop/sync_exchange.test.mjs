// Interoperability: the unchanged npm package govesb-connector-js@0.1.1 as consumer and as
// provider against the real `govesb` bus (synchronous exchanges, NIDA-style requests, errors,
// token endpoint). See README.md in this folder.
//
// Run: GOVESB_BIN=/path/to/govesb node --test sync_exchange.test.mjs   (cwd = test/interop)

import assert from 'node:assert/strict';
import test from 'node:test';

import { HEX32, PLACE, closedPort, echoAnswer, eventually, govesbBin, withBus } from './lib.mjs';

const TEST_TIMEOUT_MS = 45000;

// What consumers send: non-ASCII text, nested objects and arrays, numbers.
const BODY = {
  nin: '19900101-11111-00001-23',
  city: PLACE,
  name: 'Fatuma Mwajuma Ñandú',
  query: { fields: ['fullName', 'dateOfBirth'], limit: 10, ratio: 0.5, deep: [[1, 2], { x: -3 }] },
  tags: ['a', 'ü', '✓', '🇹🇿'],
  amount: 1500.25,
  active: true,
  note: null,
};

// ---- assertions on what the library returned -------------------------------------------------

function parsedData(r, what) {
  assert.notEqual(r.result, null,
    `${what}: the library returned null, i.e. it did not verify the bus's signature over data ` +
    `(or the answer was no envelope). Raw replay of the same request: ${JSON.stringify(r.diagnostic)}`);
  assert.deepEqual(Object.keys(r.data), ['success', 'requestId', 'message', 'esbBody'],
    `${what}: data members (and their order) of ${r.result}`);
  assert.match(r.data.requestId, HEX32, `${what}: requestId of ${r.result}`);
  return r.data;
}

// A successful exchange: what the consumer got, and what the provider received.
function assertExchanged(provider, r, { apiCode, body, nida = false, what = 'requestData' }) {
  const data = parsedData(r, what);
  assert.equal(data.success, true, `${what}: expected success, got ${r.result}`);
  assert.equal(data.message, 'Success', `${what}: message of ${r.result}`);
  const delivery = provider.find(data.requestId);
  assert.ok(delivery, `${what}: the provider received no verified delivery with requestId ` +
    `${data.requestId}; deliveries: ${provider.summary()}`);
  for (const member of ['esbBody', 'requestId', 'apiCode']) {
    assert.ok(member in delivery.data, `${what}: delivery data lacks ${member}: ${delivery.verified}`);
  }
  assert.equal(delivery.data.apiCode, apiCode, `${what}: apiCode delivered`);
  assert.deepEqual(delivery.data.esbBody, nida ? { Payload: body } : body,
    `${what}: esbBody delivered to the provider`);
  assert.deepEqual(data.esbBody, echoAnswer(delivery.data),
    `${what}: esbBody returned to the consumer must be the provider's answer`);
  return data;
}

function assertRefused(r, what, { messageIncludes = null } = {}) {
  const data = parsedData(r, what);
  assert.equal(data.success, false, `${what}: expected success:false, got ${r.result}`);
  assert.equal(typeof data.message, 'string', `${what}: message of ${r.result}`);
  assert.ok(data.message.length > 0, `${what}: empty message in ${r.result}`);
  assert.notEqual(data.message, 'Success', `${what}: message of ${r.result}`);
  if (messageIncludes) {
    assert.ok(data.message.includes(messageIncludes),
      `${what}: message should mention ${messageIncludes}: ${r.result}`);
  }
  return data;
}

function assertTokenShape(res, what) {
  assert.equal(res.status, 200, `${what}: HTTP status, body ${res.text}`);
  assert.match(res.contentType ?? '', /application\/json/i, `${what}: content type`);
  assert.ok(res.json && typeof res.json === 'object', `${what}: body is not a JSON object: ${res.text}`);
  assert.deepEqual(Object.keys(res.json).sort(), ['access_token', 'expires_in', 'scope', 'token_type'],
    `${what}: token response members: ${res.text}`);
  assert.equal(typeof res.json.access_token, 'string', `${what}: access_token: ${res.text}`);
  assert.ok(res.json.access_token.length > 0, `${what}: empty access_token`);
  assert.equal(res.json.token_type, 'bearer', `${what}: token_type: ${res.text}`);
  assert.equal(typeof res.json.expires_in, 'number', `${what}: expires_in must be a JSON number: ${res.text}`);
  assert.ok(res.json.expires_in > 60, `${what}: expires_in: ${res.text}`);
  assert.equal(typeof res.json.scope, 'string', `${what}: scope must be a string: ${res.text}`);
  return res.json.access_token;
}

function assertOAuthError(res, status, error, what) {
  assert.equal(res.status, status, `${what}: HTTP status, body ${res.text}`);
  assert.ok(res.json && typeof res.json === 'object', `${what}: body is not JSON: ${res.text}`);
  assert.equal(res.json.error, error, `${what}: error member: ${res.text}`);
  assert.equal(typeof res.json.error_description, 'string', `${what}: error_description: ${res.text}`);
}

// ---- setup --------------------------------------------------------------------------------------

// A provider (GovEsbHelper on node:http), a consumer, an API of the provider and a grant.
async function setUpExchange(h, { providerCurve = 'secp256k1', consumerCurve = 'secp256k1', apiCode }) {
  const provider = await h.addProvider({ name: `Provider ${providerCurve}`, curve: providerCurve });
  const consumer = await h.addSystem({ name: `Consumer ${consumerCurve}`, curve: consumerCurve });
  await h.admin('api', 'add', '--provider', provider.system.clientId, '--code', apiCode,
    '--timeout-ms', '5000');
  await h.admin('grant', 'add', '--consumer', consumer.clientId, '--api', apiCode);
  return { provider, consumer };
}

// The first exchange after registering: retried briefly while the registry change reaches the bus.
function firstExchange(h, provider, consumer, apiCode, body = BODY) {
  return eventually(async () => {
    const r = await h.request(consumer, apiCode, body);
    assertExchanged(provider, r, { apiCode, body, what: 'first requestData' });
    return r;
  });
}

test.before(() => {
  govesbBin(); // fails early with a clear message when no binary is available
});

// ---- 1. curves, TLS -------------------------------------------------------------------------------

test('TLS, secp256k1 bus key, secp256k1 systems: requestData, requestNida, failureResponse',
  { timeout: TEST_TIMEOUT_MS }, () => withBus({}, async (h) => {
    assert.equal(h.esbKey.curve, 'secp256k1', 'default bus key curve');
    const apiCode = 'ECHOK1';
    const { provider, consumer } = await setUpExchange(h, { apiCode });

    await firstExchange(h, provider, consumer, apiCode);

    // Another body, to be sure nothing is cached between exchanges.
    const other = { id: 7, text: 'Zanzibar – Unguja ✓', list: [{ a: [] }, {}, 'x'] };
    const r2 = await h.request(consumer, apiCode, other);
    const d2 = assertExchanged(provider, r2, { apiCode, body: other, what: 'second requestData' });

    // 2. NIDA-style: the provider receives {"Payload": body}.
    const rn = await h.request(consumer, apiCode, BODY, { nida: true });
    const dn = assertExchanged(provider, rn, { apiCode, body: BODY, nida: true, what: 'requestNida' });
    assert.notEqual(dn.requestId, d2.requestId, 'every exchange gets its own requestId');

    // 3. The provider answers failureResponse(body, "record not found", 'json').
    const rf = await h.request(consumer, apiCode, { action: 'fail', id: 'NIN-404' });
    const df = assertRefused(rf, 'provider failureResponse');
    assert.equal(df.message, 'record not found', `message relayed from the provider: ${rf.result}`);
    assert.ok(provider.find(df.requestId), 'the failing exchange reached the provider');
  }));

test('TLS, secp256k1 bus key, prime256v1 systems: requestData and requestNida',
  { timeout: TEST_TIMEOUT_MS }, () => withBus({}, async (h) => {
    const apiCode = 'ECHOP256';
    const { provider, consumer } = await setUpExchange(h, {
      providerCurve: 'prime256v1', consumerCurve: 'prime256v1', apiCode,
    });
    await firstExchange(h, provider, consumer, apiCode);
    const rn = await h.request(consumer, apiCode, BODY, { nida: true });
    assertExchanged(provider, rn, { apiCode, body: BODY, nida: true, what: 'requestNida' });
  }));

test('TLS, prime256v1 bus key (serve --key-curve prime256v1): P-256 and secp256k1 systems',
  { timeout: TEST_TIMEOUT_MS }, () => withBus({ keyCurve: 'prime256v1' }, async (h) => {
    assert.equal(h.esbKey.curve, 'prime256v1', `esb-key: ${JSON.stringify(h.esbKey)}`);
    const apiCode = 'BUSP256';
    const { provider, consumer } = await setUpExchange(h, {
      providerCurve: 'secp256k1', consumerCurve: 'prime256v1', apiCode,
    });
    await firstExchange(h, provider, consumer, apiCode);

    // A secp256k1 consumer of a P-256 provider on the same bus.
    const provider2 = await h.addProvider({ name: 'Provider P-256', curve: 'prime256v1' });
    const consumer2 = await h.addSystem({ name: 'Consumer secp256k1', curve: 'secp256k1' });
    await h.admin('api', 'add', '--provider', provider2.system.clientId, '--code', 'BUSP256B');
    await h.admin('grant', 'add', '--consumer', consumer2.clientId, '--api', 'BUSP256B');
    await firstExchange(h, provider2, consumer2, 'BUSP256B');
    const rn = await h.request(consumer2, 'BUSP256B', BODY, { nida: true });
    assertExchanged(provider2, rn, { apiCode: 'BUSP256B', body: BODY, nida: true, what: 'requestNida' });
  }));

// Beyond the brief's two curves: the wire contract (§5) also lists secp521r1 with SHA-256.
test('TLS, secp256k1 bus key, secp521r1 systems: requestData',
  { timeout: TEST_TIMEOUT_MS }, () => withBus({}, async (h) => {
    const apiCode = 'ECHOP521';
    const { provider, consumer } = await setUpExchange(h, {
      providerCurve: 'secp521r1', consumerCurve: 'secp521r1', apiCode,
    });
    await firstExchange(h, provider, consumer, apiCode);
  }));

// ---- 4. plain HTTP ---------------------------------------------------------------------------------

test('plain HTTP (--plain-http): requestData, requestNida, failureResponse with HTTP 400',
  { timeout: TEST_TIMEOUT_MS }, () => withBus({ plainHttp: true }, async (h) => {
    assert.match(h.bus.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const apiCode = 'PLAIN01';
    const { provider, consumer } = await setUpExchange(h, { apiCode });
    await firstExchange(h, provider, consumer, apiCode);
    const rn = await h.request(consumer, apiCode, BODY, { nida: true });
    assertExchanged(provider, rn, { apiCode, body: BODY, nida: true, what: 'requestNida' });
    // Providers may answer a failure with HTTP 400; the bus reads the signed body anyway.
    const rf = await h.request(consumer, apiCode, { action: 'fail', id: 'NIN-404', failStatus: 400 });
    const df = assertRefused(rf, 'provider failureResponse with HTTP 400');
    assert.equal(df.message, 'record not found', `message relayed from the provider: ${rf.result}`);
  }));

// ---- 5. errors through the library -----------------------------------------------------------------

test('errors seen through the library: unknown apiCode, no grant, provider down, bad consumer ' +
  'signature, grant revoked, disabled consumer', { timeout: TEST_TIMEOUT_MS },
(t) => withBus({}, async (h) => {
  const apiCode = 'ERRAPI1';
  const { provider, consumer } = await setUpExchange(h, { apiCode });

  // An API whose provider endpoint is a closed port.
  const downPort = await closedPort();
  const downProvider = await h.addSystem({
    name: 'Provider down', endpoint: `http://127.0.0.1:${downPort}/esb/deliver`,
  });
  await h.admin('api', 'add', '--provider', downProvider.clientId, '--code', 'DOWNAPI',
    '--timeout-ms', '2000');
  await h.admin('grant', 'add', '--consumer', consumer.clientId, '--api', 'DOWNAPI');

  // A consumer with no grant.
  const stranger = await h.addSystem({ name: 'Consumer without grant' });

  // A consumer whose registered public key is not the one it signs with.
  const other = await h.addSystem({ name: 'Placeholder for a key' });
  const forger = await h.addSystem({ name: 'Consumer with wrong key', registeredPublicKey: other.publicKey });
  await h.admin('grant', 'add', '--consumer', forger.clientId, '--api', apiCode);

  // A consumer that will be disabled.
  const doomed = await h.addSystem({ name: 'Consumer to disable' });
  await h.admin('grant', 'add', '--consumer', doomed.clientId, '--api', apiCode);

  // Everything registered has reached the bus once these work.
  await firstExchange(h, provider, consumer, apiCode);
  await eventually(async () => {
    const r = await h.request(doomed, apiCode, BODY);
    assertExchanged(provider, r, { apiCode, body: BODY, what: 'consumer to disable, before' });
  });
  await eventually(async () => {
    const token = await h.client.call('token', { config: h.helperConfig(stranger) });
    assert.ok(token.access_token);
  });

  // Unknown apiCode.
  const delivered = () => provider.deliveries.length;
  const before = delivered();
  const ru = await h.request(consumer, 'NOSUCH1', BODY);
  t.diagnostic(`unknown apiCode: ${assertRefused(ru, 'unknown apiCode', { messageIncludes: 'NOSUCH1' }).message}`);

  // No grant.
  const rg = await h.request(stranger, apiCode, BODY);
  t.diagnostic(`no grant: ${assertRefused(rg, 'consumer without grant').message}`);

  // Provider down.
  const rd = await h.request(consumer, 'DOWNAPI', BODY);
  t.diagnostic(`provider down: ${assertRefused(rd, 'provider endpoint on a closed port').message}`);

  // Consumer signature that does not match its registered key.
  const rs = await h.request(forger, apiCode, BODY);
  t.diagnostic(`bad consumer signature: ${
    assertRefused(rs, 'consumer signing with a key other than the registered one').message}`);
  assert.equal(delivered(), before, 'refused requests must not reach the provider');

  // Grant revoked while the bus runs: refused within about a second.
  await h.request(consumer, apiCode, BODY).then((r) =>
    assertExchanged(provider, r, { apiCode, body: BODY, what: 'before revoke' }));
  await h.admin('grant', 'revoke', '--consumer', consumer.clientId, '--api', apiCode);
  const revokedAt = Date.now();
  const revoked = await eventually(async () =>
    assertRefused(await h.request(consumer, apiCode, BODY), 'after grant revoke'),
  { timeoutMs: 2000, intervalMs: 50 });
  const revokeMs = Date.now() - revokedAt;
  assert.ok(revokeMs <= 2000, `revocation took ${revokeMs} ms`);
  t.diagnostic(`grant revoked: refused after ${revokeMs} ms: ${revoked.message}`);

  // Disabled consumer: a token obtained before, then disable.
  const oldToken = (await h.client.call('token', { config: h.helperConfig(doomed) })).access_token;
  await h.admin('system', 'disable', '--client-id', doomed.clientId);
  await eventually(async () => {
    // The library's getAccessToken throws on the token endpoint's 401 ...
    const tok = await h.client.callRaw('token', { config: h.helperConfig(doomed) });
    assert.equal(tok.ok, false, `token for a disabled system: ${JSON.stringify(tok.value)}`);
    assert.match(tok.error, /Could not get access token from ESB/);
  }, { timeoutMs: 2000, intervalMs: 50 });
  // ... so requestData throws too ...
  const req = await h.client.callRaw('request', {
    config: h.helperConfig(doomed), kind: 'data', apiCode, body: JSON.stringify(BODY),
  });
  assert.equal(req.ok, false, `requestData of a disabled system: ${JSON.stringify(req.value)}`);
  assert.match(req.error, /Could not get access token from ESB/);
  // ... the token endpoint says invalid_client ...
  const raw = await h.client.call('fetch', {
    url: h.tokenUrl,
    basic: [doomed.clientId, doomed.clientSecret],
    urlencoded: { client_id: doomed.clientId, client_secret: doomed.clientSecret, grant_type: 'client_credentials' },
  });
  assertOAuthError(raw, 401, 'invalid_client', 'token endpoint, disabled system');
  // ... and the token obtained before the disable no longer opens the engine.
  const engine = await h.client.call('engine', {
    config: h.helperConfig(doomed), token: oldToken, data: { apiCode, esbBody: BODY },
  });
  assertOAuthError(engine, 401, 'invalid_token', 'engine call with the token of a disabled system');
}));

// ---- 6. token endpoint -------------------------------------------------------------------------------

test('token endpoint (raw fetch): response shape, wrong secret, multipart/form-data, Basic only, ' +
  'form only; engine without/with forged/with older token', { timeout: TEST_TIMEOUT_MS },
() => withBus({}, async (h) => {
  const apiCode = 'TOKAPI1';
  const { provider, consumer } = await setUpExchange(h, { apiCode });
  const { clientId, clientSecret } = consumer;
  const fetchToken = (args) => h.client.call('fetch', { url: h.tokenUrl, ...args });
  const grant = { grant_type: 'client_credentials' };

  // What the library sends: form fields and Basic.
  const token1 = await eventually(async () => assertTokenShape(await fetchToken({
    basic: [clientId, clientSecret],
    urlencoded: { client_id: clientId, client_secret: clientSecret, ...grant },
  }), 'form + Basic'));

  // The library's own getAccessToken returns the same shape.
  const viaLibrary = await h.client.call('token', { config: h.helperConfig(consumer) });
  assert.deepEqual(Object.keys(viaLibrary).sort(), ['access_token', 'expires_in', 'scope', 'token_type']);

  // Wrong secret (form + Basic, Basic only), unknown client.
  const wrong = `${clientSecret.slice(0, -1)}${clientSecret.endsWith('x') ? 'y' : 'x'}`;
  assertOAuthError(await fetchToken({
    basic: [clientId, wrong], urlencoded: { client_id: clientId, client_secret: wrong, ...grant },
  }), 401, 'invalid_client', 'wrong secret (form + Basic)');
  assertOAuthError(await fetchToken({ basic: [clientId, wrong], urlencoded: grant }), 401,
    'invalid_client', 'wrong secret (Basic only)');
  assertOAuthError(await fetchToken({
    urlencoded: { client_id: '00000000-0000-4000-8000-000000000000', client_secret: clientSecret, ...grant },
  }), 401, 'invalid_client', 'unknown client_id');
  const libraryWrong = await h.client.callRaw('token', {
    config: h.helperConfig({ ...consumer, clientSecret: wrong }),
  });
  assert.equal(libraryWrong.ok, false, 'the library must throw on a wrong secret');

  // multipart/form-data (FormData), no Basic: what the PHP helper sends.
  const token2 = assertTokenShape(await fetchToken({
    multipart: { client_id: clientId, client_secret: clientSecret, ...grant },
  }), 'multipart/form-data');

  // Basic only (grant_type in the body), and form fields only.
  const token3 = assertTokenShape(await fetchToken({ basic: [clientId, clientSecret], urlencoded: grant }),
    'Basic only');
  assertTokenShape(await fetchToken({ urlencoded: { client_id: clientId, client_secret: clientSecret, ...grant } }),
    'form fields only');

  // Tokens open the engine; an older token stays valid after newer ones were issued.
  const data = { apiCode, esbBody: BODY };
  for (const [name, token] of [['token from multipart', token2], ['token from Basic only', token3],
    ['first (older) token', token1]]) {
    const res = await eventually(async () => {
      const out = await h.client.call('engine', { config: h.helperConfig(consumer), token, data });
      assert.equal(out.status, 200, `${name}: engine status, body ${out.text}`);
      return out;
    });
    assert.match(res.text, /^\{"data":\{.*\},"signature":"[A-Za-z0-9+/]+={0,2}"\}$/s,
      `${name}: the envelope must be exactly {"data":<D>,"signature":"<b64>"}, compact`);
    assert.ok(res.verified, `${name}: bus signature must verify with the library: ${res.text}`);
    const parsed = JSON.parse(res.verified);
    assert.equal(parsed.success, true, `${name}: ${res.text}`);
    assert.ok(provider.find(parsed.requestId), `${name}: delivered to the provider`);
  }

  // Engine without a token, with a forged one, with a token of the wrong shape in Basic.
  const engine = (args) => h.client.call('engine', { config: h.helperConfig(consumer), data, ...args });
  assertOAuthError(await engine({ authorization: null }), 401, 'invalid_token', 'engine without a token');
  assertOAuthError(await engine({ token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.Zm9yZ2Vk' }), 401,
    'invalid_token', 'engine with a forged token');
  const tampered = `${token1.slice(0, -2)}${token1.endsWith('AA') ? 'BB' : 'AA'}`;
  assertOAuthError(await engine({ token: tampered }), 401, 'invalid_token', 'engine with a tampered token');
}));
