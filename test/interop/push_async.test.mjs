// Interoperability: push with guaranteed delivery and asynchronous answers, with the unchanged
// npm package govesb-connector-js@0.1.1 on every end, against the real `govesb` bus:
//   - a publisher calling pushData; subscribers built on GovEsbHelper that verify the bus's
//     signature with verifyThenReturnData and acknowledge with successResponse;
//   - a consumer calling requestData on an asynchronous API; a provider acknowledging at once
//     with successResponse and answering later; the consumer's callback receiving the answer.
// The library has no function that posts an asynchronous answer: the provider's answer is
// built with the library (asyncSuccessResponse) or signed with the library's signPayload, and
// posted by hand (the `asyncAnswer` op in client_worker.mjs). See README.md in this folder.
//
// Run: GOVESB_BIN=/path/to/govesb node --test push_async.test.mjs   (cwd = test/interop)

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';

import { GovEsbHelper, HEX32, PLACE, eventually, govesbBin, keygen, startProvider, withBus }
  from './lib.mjs';

const TEST_TIMEOUT_MS = 45000;

// Fast retries, so that a dead letter takes about a second (5 attempts, 50 ms doubling to 500 ms).
const MAX_ATTEMPTS = 5;
const BUS = {
  extraArgs: ['--retry-base-ms', '50', '--retry-max-ms', '500', '--max-attempts', String(MAX_ATTEMPTS)],
};
// How long a test waits for something the bus does in the background (deliveries, retries).
const DELIVERY_WAIT = { timeoutMs: 10000, intervalMs: 50 };

// What publishers push: non-ASCII text, nested objects and arrays, numbers.
const BODY = {
  tin: '123-456-789',
  taxpayer: 'Fatuma Mwajuma Ñandú',
  city: PLACE,
  paid: { amount: 1500.25, currency: 'TZS', receipts: ['R-1', 'R-2'], deep: [[1, 2], { x: -3 }] },
  tags: ['a', 'ü', '✓', '🇹🇿'],
  settled: true,
  note: null,
};

// ---- subscriber / callback behaviour (what the GovEsbHelper-based servers answer) ---------------

// The plain acknowledgement: successResponse(null) gives {"data":{"success":true},...}.
async function ackEmpty({ helper }) {
  return { status: 200, body: await helper.successResponse(null, 'json') };
}

// An acknowledgement that carries a body.
async function ackWithBody({ data, helper }) {
  return {
    status: 200,
    body: await helper.successResponse(JSON.stringify({ received: data.requestId, note: 'asante ✓' }),
      'json'),
  };
}

// ---- assertions ---------------------------------------------------------------------------------

// The 4.2 answer of the bus, as the library returned it (non-null: the library verified it).
function parsedData(r, what) {
  assert.notEqual(r.result, null,
    `${what}: the library returned null, i.e. it did not verify the bus's signature over data ` +
    `(or the answer was no envelope). Raw replay of the same request: ${JSON.stringify(r.diagnostic)}`);
  assert.deepEqual(Object.keys(r.data), ['success', 'requestId', 'message', 'esbBody'],
    `${what}: data members (and their order) of ${r.result}`);
  assert.match(r.data.requestId, HEX32, `${what}: requestId of ${r.result}`);
  return r.data;
}

function assertAccepted(r, what) {
  const data = parsedData(r, what);
  assert.equal(data.success, true, `${what}: expected success:true, got ${r.result}`);
  assert.equal(data.message, 'Success', `${what}: message of ${r.result}`);
  return data;
}

function assertRefused(r, what, { messageMatches = null } = {}) {
  const data = parsedData(r, what);
  assert.equal(data.success, false, `${what}: expected success:false, got ${r.result}`);
  assert.equal(typeof data.message, 'string', `${what}: message of ${r.result}`);
  assert.notEqual(data.message, 'Success', `${what}: message of ${r.result}`);
  if (messageMatches) {
    assert.match(data.message, messageMatches, `${what}: message of ${r.result}`);
  }
  return data;
}

// The bus's answer to an asynchronous answer posted by a provider (verified by the library).
function assertAnswerReply(a, { success, messageMatches = null, what }) {
  assert.notEqual(a.verified, null, `${what}: the bus's answer did not verify with the library ` +
    `(HTTP ${a.status}): ${a.text}\nsent: ${a.sent}`);
  assert.deepEqual(Object.keys(a.data), ['success', 'requestId', 'message', 'esbBody'],
    `${what}: data members of ${a.verified}`);
  assert.equal(a.data.success, success, `${what}: success in ${a.verified}\nsent: ${a.sent}`);
  if (success) assert.equal(a.status, 200, `${what}: HTTP status`);
  if (messageMatches) assert.match(a.data.message, messageMatches, `${what}: message of ${a.verified}`);
  return a.data;
}

// A push delivery as a subscriber's GovEsbHelper saw it (contract 4.3 with pushCode).
function assertPushDelivery(delivery, { requestId, pushCode, body, what }) {
  assert.ok(delivery.verified, `${what}: the delivery did not verify with verifyThenReturnData`);
  assert.deepEqual(Object.keys(delivery.data), ['esbBody', 'requestId', 'pushCode'],
    `${what}: delivery data members (and their order): ${delivery.verified}`);
  assert.equal(delivery.data.requestId, requestId, `${what}: requestId delivered`);
  assert.equal(delivery.data.pushCode, pushCode, `${what}: pushCode delivered`);
  assert.deepEqual(delivery.data.esbBody, body, `${what}: esbBody delivered`);
  assert.equal(delivery.method, 'POST', `${what}: method`);
  assert.match(delivery.contentType ?? '', /application\/json/i, `${what}: content type`);
}

// Every verified delivery a GovEsbHelper-based server got for `requestId`.
function deliveriesOf(server, requestId) {
  return server.deliveries.filter((d) => d.data && d.data.requestId === requestId);
}

// Waits until `server` got a verified delivery for `requestId` and returns the first one.
function delivered(server, requestId, what) {
  return eventually(() => {
    const found = server.find(requestId);
    assert.ok(found, `${what}: no verified delivery of requestId ${requestId} yet; ` +
      `deliveries: ${server.summary()}`);
    return found;
  }, DELIVERY_WAIT);
}

// ---- setup --------------------------------------------------------------------------------------

// Subscribes a GovEsbHelper-based server's system to a topic (with --endpoint when given).
function subscribe(h, server, topic, { endpoint = null } = {}) {
  const args = ['subscription', 'add', '--subscriber', server.system.clientId, '--topic', topic];
  if (endpoint) args.push('--endpoint', endpoint);
  return h.admin(...args);
}

// Registry changes reach the running bus within a second, as one consistent snapshot. A push
// that arrives before the subscriptions would be accepted for fewer subscribers, so instead of
// retrying real pushes the test registers one more topic last and pushes to it (no
// subscribers: nothing is delivered) until the bus knows it: then it knows everything before.
let readyCount = 0;
async function registryReached(h, publisher) {
  const code = `READY${++readyCount}`;
  await h.admin('topic', 'add', '--publisher', publisher.clientId, '--code', code);
  await eventually(async () => {
    assertAccepted(await h.push(publisher, code, { probe: true }), `probe push to ${code}`);
  }, { timeoutMs: 5000 });
}

test.before(() => {
  govesbBin(); // fails early with a clear message when no binary is available
});

// ---- push ---------------------------------------------------------------------------------------

test('TLS push: pushData by a connector publisher reaches two connector subscribers, ' +
  'who verify it and acknowledge with successResponse',
{ timeout: TEST_TIMEOUT_MS }, () => withBus(BUS, async (h) => {
  assert.match(h.bus.baseUrl, /^https:\/\//, 'the bus serves TLS');
  const publisher = await h.addSystem({ name: 'Publisher (Revenue Authority)' });
  const topic = 'TAXPAID';
  await h.admin('topic', 'add', '--publisher', publisher.clientId, '--code', topic);
  // A: delivered to its system's registered endpoint; acknowledges with successResponse(null).
  const subA = await h.addProvider({ name: 'Subscriber A secp256k1', respond: ackEmpty });
  await subscribe(h, subA, topic);
  // B: a P-256 system registered with an endpoint nothing listens on; its subscription names
  // the server (subscription add --endpoint); acknowledges with successResponse(body).
  const subB = await h.addProvider({
    name: 'Subscriber B prime256v1', curve: 'prime256v1', respond: ackWithBody,
    registeredEndpoint: 'http://127.0.0.1:9/unused',
  });
  await subscribe(h, subB, topic, { endpoint: subB.url });
  await registryReached(h, publisher);

  const r1 = await h.push(publisher, topic, BODY);
  const d1 = assertAccepted(r1, 'pushData');
  assert.deepEqual(d1.esbBody, {}, `pushData answer carries an empty esbBody: ${r1.result}`);
  for (const [name, sub] of [['A', subA], ['B', subB]]) {
    const got = await delivered(sub, d1.requestId, `subscriber ${name}`);
    assertPushDelivery(got, { requestId: d1.requestId, pushCode: topic, body: BODY,
      what: `subscriber ${name}` });
  }

  // A second push: its own requestId; each subscriber gets each push once, in order.
  const other = { id: 2, text: 'Zanzibar – Unguja ✓', list: [{ a: [] }, {}, 'x'] };
  const d2 = assertAccepted(await h.push(publisher, topic, other), 'second pushData');
  assert.notEqual(d2.requestId, d1.requestId, 'every push gets its own requestId');
  for (const [name, sub] of [['A', subA], ['B', subB]]) {
    const got = await delivered(sub, d2.requestId, `subscriber ${name}, second push`);
    assertPushDelivery(got, { requestId: d2.requestId, pushCode: topic, body: other,
      what: `subscriber ${name}, second push` });
  }

  // The bus recorded both acknowledgements: 4 deliveries, each delivered at the first attempt.
  const expected = [d1, d2].flatMap((d) => [subA, subB].map((s) =>
    `${d.requestId} ${s.system.clientId}`)).sort();
  await eventually(async () => {
    const rows = (await h.deliveries()).filter((x) => x.code === topic);
    assert.deepEqual(rows.map((x) => `${x.request_id} ${x.recipient}`).sort(), expected,
      `deliveries of ${topic}: ${JSON.stringify(rows)}`);
    for (const row of rows) {
      assert.equal(row.state, 'delivered', `delivery state: ${JSON.stringify(row)}`);
      assert.equal(row.attempts, 1, `attempts: ${JSON.stringify(row)}`);
      assert.equal(row.kind, 'push', `kind: ${JSON.stringify(row)}`);
    }
  }, DELIVERY_WAIT);
  for (const [name, sub] of [['A', subA], ['B', subB]]) {
    assert.deepEqual(sub.deliveries.map((d) => d.data?.requestId), [d1.requestId, d2.requestId],
      `subscriber ${name} got each push exactly once, in order: ${sub.summary()}`);
  }
}));

test('push: a subscriber acknowledging with a signature of the wrong key is dead-lettered ' +
  'while the good one got the push; admin redeliver after the fix',
{ timeout: TEST_TIMEOUT_MS }, () => withBus(BUS, async (h) => {
  const publisher = await h.addSystem({ name: 'Publisher (Land Registry)' });
  const topic = 'LANDREG';
  await h.admin('topic', 'add', '--publisher', publisher.clientId, '--code', topic);
  const good = await h.addProvider({ name: 'Good subscriber', respond: ackEmpty });
  await subscribe(h, good, topic);
  // The bad subscriber verifies the delivery like the good one, then acknowledges with the
  // library's successResponse made by a helper holding another private key than the one its
  // system registered, until `fixed` is set.
  const strayKey = await keygen('secp256k1');
  const strayHelper = new GovEsbHelper({ clientPrivateKey: strayKey.private_key,
    esbPublicKey: h.esbKey.public_key });
  let fixed = false;
  const bad = await h.addProvider({
    name: 'Bad subscriber',
    respond: async ({ helper }) => ({
      status: 200, body: await (fixed ? helper : strayHelper).successResponse(null, 'json'),
    }),
  });
  await subscribe(h, bad, topic);
  await registryReached(h, publisher);

  const d = assertAccepted(await h.push(publisher, topic, BODY), 'pushData');
  assertPushDelivery(await delivered(good, d.requestId, 'good subscriber'),
    { requestId: d.requestId, pushCode: topic, body: BODY, what: 'good subscriber' });

  const dead = await eventually(async () => {
    const rows = (await h.deliveries('dead')).filter((x) => x.request_id === d.requestId);
    assert.equal(rows.length, 1, `dead deliveries of ${d.requestId}: ${JSON.stringify(rows)}`);
    return rows[0];
  }, DELIVERY_WAIT);
  assert.equal(dead.recipient, bad.system.clientId,
    `the dead delivery is the bad subscriber's: ${JSON.stringify(dead)}`);
  assert.equal(dead.code, topic, `code: ${JSON.stringify(dead)}`);
  assert.equal(dead.attempts, MAX_ATTEMPTS, `attempts: ${JSON.stringify(dead)}`);
  assert.match(dead.last_error ?? '', /signature/i, `last_error: ${JSON.stringify(dead)}`);

  // The bad subscriber saw (and verified) the same delivery once per attempt.
  const tries = deliveriesOf(bad, d.requestId);
  assert.equal(tries.length, MAX_ATTEMPTS, `deliveries to the bad subscriber: ${bad.summary()}`);
  for (const t of tries) {
    assertPushDelivery(t,
      { requestId: d.requestId, pushCode: topic, body: BODY, what: 'bad subscriber' });
  }
  // The good subscriber's delivery is acknowledged, once; nothing is left pending.
  await eventually(async () => {
    const rows = (await h.deliveries()).filter((x) => x.request_id === d.requestId);
    const mine = rows.filter((x) => x.recipient === good.system.clientId);
    assert.equal(mine.length, 1, `good subscriber's deliveries: ${JSON.stringify(rows)}`);
    assert.equal(mine[0].state, 'delivered', `good subscriber's delivery: ${JSON.stringify(mine[0])}`);
    assert.equal(mine[0].attempts, 1, `good subscriber's delivery: ${JSON.stringify(mine[0])}`);
    assert.deepEqual(await h.deliveries('pending'), [], 'no delivery left pending');
  }, DELIVERY_WAIT);
  assert.equal(deliveriesOf(good, d.requestId).length, 1, `good subscriber: ${good.summary()}`);

  // The subscriber is fixed; the operator re-queues the dead delivery; it is acknowledged.
  fixed = true;
  const redelivered = await h.admin('redeliver', String(dead.id));
  assert.equal(redelivered.redelivered, 1, `redeliver: ${JSON.stringify(redelivered)}`);
  await eventually(async () => {
    const rows = (await h.deliveries()).filter((x) => x.id === dead.id);
    assert.equal(rows[0]?.state, 'delivered', `after redeliver: ${JSON.stringify(rows)}`);
  }, DELIVERY_WAIT);
  assert.equal(deliveriesOf(bad, d.requestId).length, MAX_ATTEMPTS + 1,
    `one more delivery after redeliver: ${bad.summary()}`);
  assert.deepEqual(await h.deliveries('dead'), [], 'no dead delivery left');
}));

test('push refused through the connector: unknown pushCode, wrong case, non-publisher',
  { timeout: TEST_TIMEOUT_MS }, () => withBus(BUS, async (h) => {
    const publisher = await h.addSystem({ name: 'Publisher (Civil Registry)' });
    const topic = 'BIRTHS';
    await h.admin('topic', 'add', '--publisher', publisher.clientId, '--code', topic);
    const sub = await h.addProvider({ name: 'Subscriber', respond: ackEmpty });
    await subscribe(h, sub, topic);
    const stranger = await h.addSystem({ name: 'Not the publisher' });
    await registryReached(h, publisher);

    assertRefused(await h.push(publisher, 'NOSUCH1', BODY), 'pushData to an unknown pushCode',
      { messageMatches: /NOSUCH1/ });
    assertRefused(await h.push(publisher, topic.toLowerCase(), BODY),
      'pushData to the pushCode in the wrong case', { messageMatches: /births/ });
    assertRefused(await h.push(stranger, topic, BODY), 'pushData by a system that is not the publisher',
      { messageMatches: /publisher/ });
    // A subscriber is not a publisher either.
    assertRefused(await h.push(sub.system, topic, BODY), 'pushData by a subscriber',
      { messageMatches: /publisher/ });

    // None of these was stored: the only delivery ever is the one of the publisher's own push.
    const d = assertAccepted(await h.push(publisher, topic, BODY), 'pushData by the publisher');
    await delivered(sub, d.requestId, 'subscriber');
    const rows = await h.deliveries();
    assert.deepEqual(rows.map((x) => x.request_id), [d.requestId],
      `deliveries: ${JSON.stringify(rows)}`);
    assert.deepEqual(sub.deliveries.map((x) => x.data?.requestId), [d.requestId],
      `the subscriber got only the accepted push: ${sub.summary()}`);
  }));

// ---- asynchronous answers -----------------------------------------------------------------------

// The provider of an asynchronous API acknowledges a delivery at once with successResponse;
// with {"action":"fail"} in the body it answers failureResponse instead.
async function asyncProviderAck({ data, helper }) {
  const body = data.esbBody;
  if (body && body.action === 'fail') {
    return {
      status: 200, body: await helper.failureResponse(null, 'cannot take this request', 'json'),
    };
  }
  return {
    status: 200,
    body: await helper.successResponse(
      JSON.stringify({ status: 'queued', ticket: data.requestId }), 'json'),
  };
}

// The answer the provider posts later.
const ANSWER = {
  titleNo: 'DSM-2024-00042',
  owner: 'Fatuma Mwajuma Ñandú',
  place: PLACE,
  parcels: [{ plot: 17, block: 'B', area: 1200.5 }, { plot: 18, block: 'B', area: 980 }],
  encumbered: false,
};

// The callback delivery as the consumer's GovEsbHelper saw it (same shape as a 4.2 response).
function assertAnswerDelivery(delivery, { requestId, success, message, body, what }) {
  assert.ok(delivery.verified, `${what}: the delivery did not verify with verifyThenReturnData`);
  assert.deepEqual(Object.keys(delivery.data), ['success', 'requestId', 'message', 'esbBody'],
    `${what}: callback data members (and their order): ${delivery.verified}`);
  assert.equal(delivery.data.success, success, `${what}: success in ${delivery.verified}`);
  assert.equal(delivery.data.requestId, requestId, `${what}: requestId in ${delivery.verified}`);
  assert.equal(delivery.data.message, message, `${what}: message in ${delivery.verified}`);
  assert.deepEqual(delivery.data.esbBody, body, `${what}: esbBody in ${delivery.verified}`);
}

// A provider with an asynchronous API, and a consumer whose registered endpoint is a
// GovEsbHelper-based callback server (signing its acknowledgements with the consumer's key).
async function setUpAsync(h, { apiCode, callbackArgs = [] }) {
  const provider = await h.addProvider({
    name: 'Async provider (Land Registry)', respond: asyncProviderAck,
  });
  const consumerServer = await h.addProvider({ name: 'Consumer with callback', respond: ackWithBody });
  const consumer = consumerServer.system;
  await h.admin('api', 'add', '--provider', provider.system.clientId, '--code', apiCode, '--async',
    '--timeout-ms', '5000', ...callbackArgs);
  return { provider, consumerServer, consumer };
}

// The first request after registering: retried while the grant reaches the bus (refused
// requests never reach the provider, so no answer is awaited for them).
function firstRequest(h, consumer, apiCode, body) {
  return eventually(async () => {
    const r = await h.request(consumer, apiCode, body);
    assertAccepted(r, 'first requestData');
    return r;
  }, { timeoutMs: 5000 });
}

test('TLS async: requestData gets the provider\'s immediate acknowledgement, the answer ' +
  'built with asyncSuccessResponse reaches the consumer\'s callback; second and foreign ' +
  'answers refused',
{ timeout: TEST_TIMEOUT_MS }, () => withBus(BUS, async (h) => {
  const apiCode = 'LANDTTL';
  const { provider, consumerServer, consumer } = await setUpAsync(h, { apiCode });
  const otherProvider = await h.addSystem({ name: 'Another provider' });
  await h.admin('grant', 'add', '--consumer', consumer.clientId, '--api', apiCode);

  const query = { titleNo: 'DSM-2024-00042', requester: 'Wizara ya Ardhi ✓' };
  const r = await firstRequest(h, consumer, apiCode, query);
  const ack = parsedData(r, 'requestData');
  const requestId = ack.requestId;
  const delivery = provider.find(requestId);
  assert.ok(delivery, `the provider got no verified delivery of ${requestId}: ${provider.summary()}`);
  assert.deepEqual(Object.keys(delivery.data), ['esbBody', 'requestId', 'apiCode'],
    `delivery data members: ${delivery.verified}`);
  assert.equal(delivery.data.apiCode, apiCode, 'apiCode delivered');
  assert.deepEqual(delivery.data.esbBody, query, 'esbBody delivered');
  // The provider's immediate reply is the consumer's acknowledgement.
  assert.deepEqual(ack.esbBody, { status: 'queued', ticket: requestId },
    `the consumer gets the provider's immediate reply: ${r.result}`);

  // Later, the provider answers with the envelope the library builds (asyncSuccessResponse),
  // posted by hand: the library has no function that posts it.
  const a1 = await h.asyncAnswer(provider.system, { requestId, body: ANSWER, build: 'connector' });
  const sent = JSON.parse(a1.sent);
  assert.deepEqual(Object.keys(sent.data), ['success', 'esbBody', 'requestId'],
    `the library's asyncSuccessResponse data: ${a1.sent}`);
  assert.equal(sent.data.requestId, requestId, 'asyncSuccessResponse carries the requestId');
  assertAnswerReply(a1, { success: true, what: 'asynchronous answer' });

  // The consumer's callback (its registered endpoint) gets it, verifies it and acknowledges.
  assertAnswerDelivery(await delivered(consumerServer, requestId, 'consumer callback'),
    { requestId, success: true, message: 'Success', body: ANSWER, what: 'consumer callback' });
  await eventually(async () => {
    const rows = (await h.deliveries()).filter((x) => x.request_id === requestId);
    assert.equal(rows.length, 1, `deliveries of ${requestId}: ${JSON.stringify(rows)}`);
    assert.equal(rows[0].state, 'delivered', `delivery: ${JSON.stringify(rows[0])}`);
    assert.equal(rows[0].kind, 'async', `kind: ${JSON.stringify(rows[0])}`);
    assert.equal(rows[0].code, apiCode, `code: ${JSON.stringify(rows[0])}`);
    assert.equal(rows[0].recipient, consumer.clientId, `recipient: ${JSON.stringify(rows[0])}`);
    assert.equal(rows[0].attempts, 1, `attempts: ${JSON.stringify(rows[0])}`);
  }, DELIVERY_WAIT);

  // A second answer to the same request is refused, clearly, and not delivered.
  const a2 = await h.asyncAnswer(provider.system, {
    requestId, body: { changed: true }, build: 'raw', message: 'corrected',
  });
  assertAnswerReply(a2,
    { success: false, messageMatches: /already been answered/, what: 'second answer' });

  // An answer for a requestId this provider never received.
  const unknownId = randomBytes(16).toString('hex');
  const a3 = await h.asyncAnswer(provider.system,
    { requestId: unknownId, body: ANSWER, build: 'connector' });
  const refusedUnknown = assertAnswerReply(a3, { success: false, messageMatches: /no request/,
    what: 'answer to an unknown requestId' });
  assert.ok(refusedUnknown.message.includes(unknownId),
    `the message names the requestId: ${a3.verified}`);

  // An answer by a system that did not receive the request (the request is still open).
  const r2 = await h.request(consumer, apiCode, { titleNo: 'ARU-2023-00007' });
  const open = assertAccepted(r2, 'second requestData');
  const a4 = await h.asyncAnswer(otherProvider,
    { requestId: open.requestId, body: ANSWER, build: 'connector' });
  assertAnswerReply(a4, { success: false, messageMatches: /no request .* was delivered to this system/,
    what: 'answer by a system that did not receive the request' });
  // ... which leaves it open for the real provider.
  const a5 = await h.asyncAnswer(provider.system,
    { requestId: open.requestId, body: ANSWER, build: 'connector' });
  assertAnswerReply(a5, { success: true, what: 'answer by the provider after a foreign one' });
  await delivered(consumerServer, open.requestId, 'consumer callback, second request');

  assert.equal(deliveriesOf(consumerServer, requestId).length, 1,
    `the refused answers were not delivered: ${consumerServer.summary()}`);
  assert.deepEqual(await h.deliveries('dead'), [], 'no dead delivery');
}));

test('async: failure answer (signed with the provider key, posted to /engine/esb/async-response) ' +
  'to the --callback URL; asyncFailureResponse lacks requestId; a failed delivery awaits no answer',
{ timeout: TEST_TIMEOUT_MS }, () => withBus(BUS, async (h) => {
  const apiCode = 'DEEDCHK';
  const { provider, consumerServer, consumer } = await setUpAsync(h, { apiCode });
  // A second asynchronous API whose answers go to a callback URL (api add --callback): another
  // GovEsbHelper-based server that holds the consumer's private key.
  const callback = await startProvider({ privateKey: consumer.privateKey,
    esbPublicKey: h.esbKey.public_key, respond: ackEmpty });
  h.providers.push(callback);
  const cbApi = 'DEEDCB';
  await h.admin('api', 'add', '--provider', provider.system.clientId, '--code', cbApi, '--async',
    '--timeout-ms', '5000', '--callback', callback.url);
  await h.admin('grant', 'add', '--consumer', consumer.clientId, '--api', apiCode);
  await h.admin('grant', 'add', '--consumer', consumer.clientId, '--api', cbApi);

  // (The grant added last: once it works, the bus knows everything registered before.)
  const d = parsedData(await firstRequest(h, consumer, cbApi, { deed: 'T-99' }),
    'requestData (callback API)');
  assert.ok(provider.find(d.requestId), `the provider got the request: ${provider.summary()}`);

  // The library's asyncFailureResponse has no requestId (it only sets one on success), so the
  // bus cannot tell which request it answers and refuses it with a clear message.
  const noId = await h.asyncAnswer(provider.system, {
    requestId: d.requestId, body: { deed: 'T-99' }, build: 'connector', success: false,
    message: 'title deed not found',
  });
  assert.equal('requestId' in JSON.parse(noId.sent).data, false,
    `asyncFailureResponse of govesb-connector-js 0.1.1 carries no requestId: ${noId.sent}`);
  assertAnswerReply(noId, { success: false, messageMatches: /requestId/,
    what: 'asyncFailureResponse without requestId' });

  // The same failure, signed with the same key via signPayload, with the requestId.
  const failure = await h.asyncAnswer(provider.system, {
    requestId: d.requestId, body: { deed: 'T-99', searched: ['DSM', 'ARU'] }, build: 'raw',
    success: false, message: 'title deed not found', path: '/async-response',
  });
  assertAnswerReply(failure, { success: true, what: 'failure answer via /async-response' });
  assertAnswerDelivery(await delivered(callback, d.requestId, '--callback URL'), {
    requestId: d.requestId, success: false, message: 'title deed not found',
    body: { deed: 'T-99', searched: ['DSM', 'ARU'] }, what: '--callback URL',
  });
  assert.equal(consumerServer.find(d.requestId), null,
    'with --callback the answer does not go to the consumer system\'s registered endpoint');

  // A success answer with a message, posted by hand: the message reaches the consumer.
  const d2 = assertAccepted(await h.request(consumer, apiCode, { deed: 'T-100' }), 'requestData');
  const ok = await h.asyncAnswer(provider.system, {
    requestId: d2.requestId, body: ANSWER, build: 'raw', message: 'found after a manual search',
  });
  assertAnswerReply(ok, { success: true, what: 'success answer with a message' });
  assertAnswerDelivery(await delivered(consumerServer, d2.requestId, 'registered endpoint'), {
    requestId: d2.requestId, success: true, message: 'found after a manual search', body: ANSWER,
    what: 'registered endpoint',
  });

  // The provider refused the request at once (failureResponse): the consumer hears it, and no
  // later answer is accepted for it.
  const rf = await h.request(consumer, apiCode, { action: 'fail' });
  const df = assertRefused(rf, 'requestData refused by the provider',
    { messageMatches: /cannot take this request/ });
  const late = await h.asyncAnswer(provider.system,
    { requestId: df.requestId, body: ANSWER, build: 'connector' });
  assertAnswerReply(late, { success: false, messageMatches: /no answer is expected/,
    what: 'answer to a request the provider refused' });

  await eventually(async () => {
    const rows = await h.deliveries();
    assert.deepEqual(rows.map((x) => [x.request_id, x.state, x.recipient]).sort(),
      [d, d2].map((x) => [x.requestId, 'delivered', consumer.clientId]).sort(),
      `deliveries: ${JSON.stringify(rows)}`);
  }, DELIVERY_WAIT);
}));
