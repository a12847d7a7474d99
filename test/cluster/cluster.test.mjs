// A GovESB cluster on loopback: a private PostgreSQL, a private 3-server NATS JetStream cluster
// and three `govesb serve --cluster` nodes, driven by the unchanged npm package
// govesb-connector-js (consumer, provider, publisher, subscribers, asynchronous answers) that
// talks to the nodes in turn. The registry is managed with `govesb admin --postgres`.
//
//   1. synchronous calls on every node; a token from node 1 works on node 3;
//   2. pushes to three subscribers and asynchronous answers;
//   3. a registry change (a grant added, then revoked) reaches all three nodes within a second;
//   4. faults under a steady stream of pushes, calls and asynchronous answers: SIGKILL of a bus
//      node several times (restarted after), a node killed and left down until the others have
//      taken its lanes over, SIGKILL of one NATS server (started again after), a PostgreSQL
//      restart. Then: every push answered "accepted" reached every subscriber, in order per
//      publisher; every accepted asynchronous answer reached the consumer; no call was answered
//      success:true without reaching the provider and without evidence (`govesb audit verify
//      --postgres` intact, the requestId found by `govesb audit query --postgres`); every call
//      that did not succeed failed visibly (an error or success:false), none hung.
//
// Run (cwd = test/cluster; test/interop/node_modules must hold govesb-connector-js):
//   GOVESB_BIN=build/apps/govesb/govesb \
//   GOVESB_TEST_POSTGRES_BIN=build/src/postgres/govesb_test_postgres node --test cluster.test.mjs
// Knobs: CLUSTER_SEED (the random choices), CLUSTER_KILLS (bus node kills with restart,
// default 3), CLUSTER_NODE_ARGS (more `serve` options, e.g. "--lease-ms 60000" to see the
// takeover check fail), GOVESB_CLUSTER_KEEP=1 (keep the temporary directory: every process's
// logs).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import test from 'node:test';

import { HEX32, Harness, cli, echoAnswer, echoResponder, eventually, govesbBin, sleep,
  startClientWorker } from '../interop/lib.mjs';
import { BusNode, NatsCluster, Postgres, clusterInit, clusterStatus, waitFor } from './engines.mjs';

const KILLS = Number(process.env.CLUSTER_KILLS ?? 3);
const SEED = Number(process.env.CLUSTER_SEED ?? crypto.randomInt(1, 2 ** 31));
const KEEP = process.env.GOVESB_CLUSTER_KEEP === '1';
const NODES = 3;
// Fast retries, so that a delivery refused during a fault is tried again soon; a signed
// checkpoint every 2 s, so that the chains are sealed across the faults.
const NODE_ARGS = ['--work-replicas', '3', '--retry-base-ms', '50', '--retry-max-ms', '500',
  '--checkpoint-interval', '2',
  ...(process.env.CLUSTER_NODE_ARGS ?? '').split(' ').filter(Boolean)];
const REGISTRY_BUDGET_MS = 1500; // "within a second", with slack for a loaded 2-core machine
const OP_TIMEOUT_MS = 30_000;    // an exchange that takes longer has hung: not a visible failure
const DRAIN_TIMEOUT_MS = 90_000;
const PROGRESS_TIMEOUT_MS = 30_000;

// mulberry32: a seeded generator, so that a failing run's choices can be replayed.
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seededRandom(SEED);
const between = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));

// ---------------------------------------------------------------------------------------------
// The cluster harness: the interop Harness (systems, providers, the client worker running the
// library) on a cluster, each exchange sent to the next node.
// ---------------------------------------------------------------------------------------------

class ClusterHarness extends Harness {
  constructor() {
    super();
    this.tmp = null;
    this.pg = null;
    this.nats = null;
    this.kekFile = null;
    this.nodes = [];
    this.turn = 0;
    this.events = []; // what the test did to the cluster, with times (for failure messages)
    this.t0 = performance.now();
  }

  log(text) {
    this.events.push(`${Math.round(performance.now() - this.t0)} ms: ${text}`);
  }

  async start() {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'govesb-cluster-'));
    fs.chmodSync(this.tmp, 0o755); // the PostgreSQL server runs as `postgres` when we are root
    this.pg = new Postgres(path.join(this.tmp, 'postgres'));
    this.nats = new NatsCluster(path.join(this.tmp, 'nats'), 3);
    await Promise.all([this.pg.start(), this.nats.start()]);
    this.log(`PostgreSQL on port ${this.pg.port}; NATS ${this.nats.urls.join(',')}`);
    this.kekFile = path.join(this.tmp, 'cluster.kek');
    const init = await clusterInit(this.pg.conninfo, this.kekFile);
    assert.equal(init.created, true, `cluster init: ${JSON.stringify(init)}`);
    this.esbKey = { public_key: init.bus_public_key };
    for (let i = 0; i < NODES; i++) {
      this.nodes.push(new BusNode({ id: `node${i + 1}`, conninfo: this.pg.conninfo,
        natsUrls: this.nats.urls, kekFile: this.kekFile, logDir: this.tmp,
        extraArgs: NODE_ARGS }));
    }
    await Promise.all(this.nodes.map((n) => n.start()));
    this.log(`nodes at ${this.nodes.map((n) => n.baseUrl).join(' ')}`);
    this.client = await startClientWorker();
    this.institution = 'CLUSTER';
    await this.admin('institution', 'add', '--code', this.institution, '--name',
      'Cluster test institution – Dodoma');
  }

  admin(...args) {
    return cli(['admin', '--postgres', this.pg.conninfo, '--kek-file', this.kekFile, '--json',
      ...args]);
  }

  audit(...args) {
    return cli(['audit', '--postgres', this.pg.conninfo, '--kek-file', this.kekFile, ...args],
      { timeoutMs: 60_000 });
  }

  // The library's options for one exchange: the token from node k, the call to node k+1, so
  // that every exchange also shows that a token of one node is accepted by another.
  nodeConfig(system, k, extra = {}) {
    const tokenNode = this.nodes[k % NODES];
    const engineNode = this.nodes[(k + 1) % NODES];
    return {
      config: {
        clientId: system.clientId,
        clientSecret: system.clientSecret,
        clientPrivateKey: system.privateKey,
        esbPublicKey: this.esbKey.public_key,
        esbTokenUrl: `${tokenNode.baseUrl}/gw/govesb-uaa/oauth/token`,
        esbEngineUrl: `${engineNode.baseUrl}/engine/esb`,
        ...extra,
      },
      via: `${tokenNode.id}->${engineNode.id}`,
      engineNode,
    };
  }

  helperConfig(system, extra = {}) {
    return this.nodeConfig(system, this.turn++, extra).config;
  }

  // One library call (op 'request' or 'asyncAnswer' of the client worker) through the next
  // nodes, never throwing: { ok, value | error, via, engineNode, ms }. `timedOut` when it
  // did not end within OP_TIMEOUT_MS.
  async exchange(system, op, args) {
    const { config, via, engineNode } = this.nodeConfig(system, this.turn++);
    const started = performance.now();
    let timer;
    const timeout = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, timedOut: true,
        error: `no answer within ${OP_TIMEOUT_MS} ms` }), OP_TIMEOUT_MS);
    });
    const message = await Promise.race([this.client.callRaw(op, { config, ...args }), timeout]);
    clearTimeout(timer);
    return { ...message, via, engineNode, startedAt: started, endedAt: performance.now() };
  }

  context() {
    const parts = [`seed ${SEED} (CLUSTER_SEED=${SEED}); temporary directory ${this.tmp}`,
      '--- what the test did ---', ...this.events.slice(-40)];
    for (const n of this.nodes) parts.push(n.tail());
    if (this.nats) parts.push(...this.nats.nodes.map((_, i) => this.nats.logTail(i, 10)));
    if (this.pg) parts.push(this.pg.logTail(15));
    this.providers.forEach((p, i) => parts.push(
      `--- receiver ${i}${p.system ? ` (${p.system.name})` : ''} (last 5) ---\n${p.summary()}`));
    if (this.client) parts.push(`--- client worker stderr ---\n${this.client.tail()}`);
    return parts.join('\n');
  }

  async close({ keep = false } = {}) {
    await Promise.allSettled(this.providers.map((p) => p.close()));
    if (this.client) await this.client.stop().catch(() => {});
    await Promise.allSettled(this.nodes.map((n) => n.stop()));
    if (this.nats) await this.nats.stop().catch(() => {});
    if (this.pg && !keep) await this.pg.destroy();
    else if (this.pg) await this.pg.stop().catch(() => {});
    if (this.tmp && !keep) fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// What the receivers answer
// ---------------------------------------------------------------------------------------------

// A subscriber (or the consumer's callback) acknowledges after a short pause.
async function slowAck({ helper }) {
  await sleep(between(1, 15));
  return { status: 200, body: await helper.successResponse(null, 'json') };
}

// The provider of an asynchronous API acknowledges at once and answers later.
async function asyncProviderAck({ data, helper }) {
  return { status: 200, body: await helper.successResponse(
    JSON.stringify({ status: 'queued', ticket: data.requestId }), 'json') };
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

// The library's verified answer: { success, requestId, message, esbBody }.
function libraryData(r, what) {
  assert.ok(r.ok, `${what}: the library threw: ${r.error}`);
  const { result } = r.value;
  assert.notEqual(result, null, `${what}: the library returned null (the bus's signature did ` +
    `not verify). Raw replay: ${JSON.stringify(r.value.diagnostic)}`);
  const data = JSON.parse(result);
  assert.deepEqual(Object.keys(data), ['success', 'requestId', 'message', 'esbBody'],
    `${what}: members of ${result}`);
  assert.match(data.requestId, HEX32, `${what}: requestId of ${result}`);
  return data;
}

function assertEchoed(provider, r, body, what) {
  const data = libraryData(r, what);
  assert.equal(data.success, true, `${what} via ${r.via}: expected success, got ` +
    `${r.value.result}`);
  const delivery = provider.find(data.requestId);
  assert.ok(delivery, `${what} via ${r.via}: the provider never got ${data.requestId}`);
  assert.deepEqual(delivery.data.esbBody, body, `${what}: esbBody the provider got`);
  assert.deepEqual(data.esbBody, echoAnswer(delivery.data), `${what}: the provider's answer`);
  return data;
}

// The (publisher, seq) of each verified push a subscriber got, in arrival order.
function pushReceipts(sub) {
  return sub.deliveries.filter((d) => d.data && d.data.pushCode && d.status === 200)
    .map((d) => ({ loop: d.data.esbBody.loop, seq: d.data.esbBody.seq,
      requestId: d.data.requestId, pushCode: d.data.pushCode }));
}

// ---------------------------------------------------------------------------------------------
// The tests share one cluster
// ---------------------------------------------------------------------------------------------

const h = new ClusterHarness();
let failed = false;
const results = {}; // measurements printed at the end

async function withContext(t, body) {
  try {
    await body();
  } catch (err) {
    failed = true;
    const extra = `\n======== context ========\n${h.context()}`;
    try {
      err.message += extra;
    } catch { /* frozen */ }
    throw err;
  }
}

test.before(async () => {
  govesbBin();
  try {
    await h.start();
  } catch (err) {
    failed = true;
    err.message += `\n======== context ========\n${h.context()}`;
    throw err;
  }
});

test.after(async () => {
  if (failed && KEEP) console.error(`kept: ${h.tmp}`);
  await h.close({ keep: KEEP });
});

// Registered in section 1 and used by the later ones.
let provider;
let consumer;
const SYNC_API = 'CLSYNC';

test('synchronous calls on each node in turn; a token of node 1 is accepted by node 3',
  { timeout: 120_000 }, (t) => withContext(t, async () => {
    provider = await h.addProvider({ name: 'Provider (NIDA)', respond: echoResponder });
    consumer = await h.addSystem({ name: 'Consumer (RITA)' });
    await h.admin('api', 'add', '--provider', provider.system.clientId, '--code', SYNC_API,
      '--timeout-ms', '5000');
    await h.admin('grant', 'add', '--consumer', consumer.clientId, '--api', SYNC_API);

    // The registry reaches every node (each is the engine node of one in three exchanges).
    for (let k = 0; k < NODES; k++) {
      await eventually(async () => {
        const body = { first: k, place: 'Dodoma' };
        const r = await h.exchange(consumer, 'request',
          { kind: 'data', apiCode: SYNC_API, body: JSON.stringify(body) });
        h.turn--; // the same pair of nodes until it works
        assertEchoed(provider, r, body, `first call via node ${k}`);
      }, { timeoutMs: 5000, intervalMs: 50 });
      h.turn++;
    }
    const ids = new Set();
    for (let i = 0; i < 2 * NODES; i++) {
      const body = { i, name: 'Fatuma Mwajuma Ñandú', tags: ['✓', '🇹🇿'] };
      const r = await h.exchange(consumer, 'request',
        { kind: 'data', apiCode: SYNC_API, body: JSON.stringify(body) });
      ids.add(assertEchoed(provider, r, body, `call ${i}`).requestId);
    }
    assert.equal(ids.size, 2 * NODES, 'every call has its own requestId');

    // A token from node 1, used (raw, signed by the library's key) on node 3.
    const { config } = h.nodeConfig(consumer, 0);
    const token = await h.client.call('token', { config });
    assert.equal(typeof token.access_token, 'string', `token of node 1: ${JSON.stringify(token)}`);
    const node3 = { ...config, esbEngineUrl: `${h.nodes[2].baseUrl}/engine/esb` };
    const body = { tokenFrom: 'node1', callTo: 'node3' };
    const raw = await h.client.call('engine', { config: node3, token: token.access_token,
      path: '/request', data: { apiCode: SYNC_API, esbBody: body } });
    assert.equal(raw.status, 200, `node 3 with node 1's token: ${raw.text}`);
    assert.ok(raw.verified, `node 3's answer verifies with the cluster's bus key: ${raw.text}`);
    const data = JSON.parse(raw.verified);
    assert.equal(data.success, true, `node 3 with node 1's token: ${raw.text}`);
    assert.ok(provider.find(data.requestId), 'the provider got the call made on node 3');
    // And the check can fail: the same token, changed, is refused by node 3.
    const forged = `${token.access_token.slice(0, -4)}${token.access_token.endsWith('AAAA') ?
      'BBBB' : 'AAAA'}`;
    const refused = await h.client.call('engine', { config: node3, token: forged,
      path: '/request', data: { apiCode: SYNC_API, esbBody: body } });
    assert.equal(refused.status, 401, `a changed token on node 3: ${refused.text}`);
  }));

// Section 2 registers these; the faults reuse them.
const TOPICS = ['CLPUSHA', 'CLPUSHB'];
const ASYNC_API = 'CLASYNC';
let publishers = [];
let subscribers = [];
let asyncProvider;
let asyncConsumer; // a receiver (its callback) whose system is the consumer

test('pushes to three subscribers and asynchronous answers, through the nodes in turn',
  { timeout: 120_000 }, (t) => withContext(t, async () => {
    for (const [i, topic] of TOPICS.entries()) {
      const publisher = await h.addSystem({ name: `Publisher ${i} (TRA)` });
      await h.admin('topic', 'add', '--publisher', publisher.clientId, '--code', topic);
      publishers.push({ system: publisher, topic });
    }
    for (let i = 0; i < 3; i++) {
      const sub = await h.addProvider({ name: `Subscriber ${i}`, respond: slowAck });
      for (const { topic } of publishers) {
        await h.admin('subscription', 'add', '--subscriber', sub.system.clientId, '--topic', topic);
      }
      subscribers.push(sub);
    }
    asyncProvider = await h.addProvider({ name: 'Async provider (Land Registry)',
      respond: asyncProviderAck });
    asyncConsumer = await h.addProvider({ name: 'Async consumer callback', respond: slowAck });
    await h.admin('api', 'add', '--provider', asyncProvider.system.clientId, '--code', ASYNC_API,
      '--async', '--timeout-ms', '5000');
    // Registered last: once a node accepts a call to it, that node knows everything above.
    await h.admin('grant', 'add', '--consumer', asyncConsumer.system.clientId, '--api', ASYNC_API);
    for (let k = 0; k < NODES; k++) {
      await eventually(async () => {
        const r = await h.exchange(asyncConsumer.system, 'request',
          { kind: 'data', apiCode: ASYNC_API, body: JSON.stringify({ ready: k }) });
        h.turn--;
        assert.equal(libraryData(r, 'async request').success, true, r.value?.result);
      }, { timeoutMs: 5000, intervalMs: 50 });
      h.turn++;
    }

    // Pushes: three per publisher, each through the next nodes.
    const accepted = [];
    for (let seq = 1; seq <= 3; seq++) {
      for (const [i, p] of publishers.entries()) {
        const body = { loop: `pub${i}`, seq, note: 'kodi imelipwa ✓' };
        const r = await h.exchange(p.system, 'request',
          { kind: 'push', apiCode: p.topic, body: JSON.stringify(body), replay: false });
        const data = libraryData(r, `push ${seq} of pub${i} via ${r.via}`);
        assert.equal(data.success, true, `push via ${r.via}: ${r.value.result}`);
        assert.equal(data.message, 'Success');
        accepted.push({ loop: `pub${i}`, seq, requestId: data.requestId, pushCode: p.topic });
      }
    }
    await eventually(() => {
      for (const sub of subscribers) {
        const got = pushReceipts(sub);
        for (const loop of ['pub0', 'pub1']) {
          assert.deepEqual(got.filter((g) => g.loop === loop).map((g) => [g.seq, g.requestId]),
            accepted.filter((a) => a.loop === loop).map((a) => [a.seq, a.requestId]),
            `${sub.system.name}: the pushes of ${loop}, each once, in order`);
        }
      }
    }, { timeoutMs: 20_000, intervalMs: 50 });

    // Asynchronous answers: the request through one pair of nodes, the answer through the next.
    const answers = [];
    for (let i = 0; i < NODES; i++) {
      const r = await h.exchange(asyncConsumer.system, 'request',
        { kind: 'data', apiCode: ASYNC_API, body: JSON.stringify({ deed: `T-${i}` }) });
      const ack = libraryData(r, `async request ${i}`);
      assert.equal(ack.success, true, `async request via ${r.via}: ${r.value.result}`);
      assert.ok(asyncProvider.find(ack.requestId), 'the async provider got the request');
      const answer = { titleNo: `DSM-${i}`, owner: 'Fatuma Mwajuma Ñandú' };
      const a = await h.exchange(asyncProvider.system, 'asyncAnswer',
        { requestId: ack.requestId, body: JSON.stringify(answer), build: 'connector' });
      assert.ok(a.ok, `async answer via ${a.via}: ${a.error}`);
      assert.ok(a.value.verified, `async answer via ${a.via}: ${a.value.text}`);
      assert.equal(JSON.parse(a.value.verified).success, true, `async answer: ${a.value.text}`);
      answers.push({ requestId: ack.requestId, answer });
    }
    await eventually(() => {
      for (const { requestId, answer } of answers) {
        const d = asyncConsumer.find(requestId);
        assert.ok(d, `the consumer's callback got the answer to ${requestId}`);
        assert.equal(d.data.success, true);
        assert.deepEqual(d.data.esbBody, answer);
      }
    }, { timeoutMs: 20_000, intervalMs: 50 });
  }));

test('a registry change made with `govesb admin --postgres` reaches all three nodes within a ' +
  'second', { timeout: 120_000 }, (t) => withContext(t, async () => {
  const late = await h.addSystem({ name: 'Late consumer (BRELA)' });
  // Its token on each node (tokens do not depend on grants).
  const configs = h.nodes.map((n, i) => h.nodeConfig(late, (i + NODES - 1) % NODES).config);
  // (The new system reaches each node within a second too: tokens are retried until then.)
  const tokens = [];
  for (const config of configs) {
    tokens.push(await eventually(async () => (await h.client.call('token', { config }))
      .access_token, { timeoutMs: 3000, intervalMs: 20 }));
  }
  const callOn = async (i) => {
    const raw = await h.client.call('engine', { config: configs[i], token: tokens[i],
      path: '/request', data: { apiCode: SYNC_API, esbBody: { on: i } } });
    return raw.verified ? JSON.parse(raw.verified).success === true : null;
  };
  for (let i = 0; i < NODES; i++) {
    assert.equal(await callOn(i), false, `node ${i + 1} refuses a call before the grant`);
  }
  // Each node polled until its answer flips; the time from the CLI's return to the flip.
  const measure = async (what, expected, change) => {
    await change();
    const changedAt = performance.now();
    const times = await Promise.all(h.nodes.map(async (n, i) => {
      for (;;) {
        if ((await callOn(i)) === expected) return Math.round(performance.now() - changedAt);
        if (performance.now() - changedAt > 5000) return Infinity;
        await sleep(10);
      }
    }));
    results[what] = times;
    h.log(`${what}: seen by the nodes after ${times.join(', ')} ms`);
    for (const [i, ms] of times.entries()) {
      assert.ok(ms <= REGISTRY_BUDGET_MS, `${what}: node ${i + 1} took ${ms} ms ` +
        `(budget ${REGISTRY_BUDGET_MS} ms); all: ${times.join(', ')} ms`);
    }
  };
  await measure('grant add', true, () => h.admin('grant', 'add', '--consumer', late.clientId,
    '--api', SYNC_API));
  await measure('grant revoke', false, () => h.admin('grant', 'revoke', '--consumer',
    late.clientId, '--api', SYNC_API));
  t.diagnostic(`registry change seen after (ms per node): grant add ${results['grant add']}, ` +
    `revoke ${results['grant revoke']}`);
}));

// ---------------------------------------------------------------------------------------------
// Faults under steady traffic
// ---------------------------------------------------------------------------------------------

test('faults under steady traffic: bus nodes killed, a NATS server killed, PostgreSQL ' +
  'restarted; nothing accepted is lost, nothing answered without evidence',
{ timeout: 400_000 }, (t) => withContext(t, async () => {
  assert.ok(provider && publishers.length === 2 && asyncConsumer,
    'the earlier tests registered the systems');
  t.diagnostic(`seed ${SEED} (CLUSTER_SEED=${SEED}), ${KILLS} kills with restart`);
  const state = { stop: false, pushes: new Map(), calls: [], asyncs: [], acceptedPushes: 0,
    okCalls: 0, problems: [] };

  const publisherLoop = async (i) => {
    const { system, topic } = publishers[i];
    const loop = `fault${i}`;
    const list = [];
    state.pushes.set(loop, list);
    for (let seq = 1; !state.stop; seq++) {
      const body = { loop, seq, note: `push ${seq} of ${loop}` };
      const r = await h.exchange(system, 'request',
        { kind: 'push', apiCode: topic, body: JSON.stringify(body), replay: false });
      const rec = { loop, seq, topic, via: r.via, requestId: null, outcome: null };
      list.push(rec);
      if (r.timedOut) {
        rec.outcome = 'hung';
        state.problems.push(`push ${loop}#${seq} via ${r.via}: no answer within ` +
          `${OP_TIMEOUT_MS} ms`);
      } else if (!r.ok) {
        rec.outcome = `error: ${r.error.split('\n')[0]}`;
      } else if (r.value.result == null) {
        rec.outcome = 'unverified answer';
      } else {
        const d = JSON.parse(r.value.result);
        rec.requestId = d.requestId;
        rec.outcome = d.success === true ? 'accepted' : `refused: ${d.message}`;
        if (d.success === true) state.acceptedPushes++;
      }
      await sleep(r.ok ? between(0, 20) : 20);
    }
  };

  const callLoop = async () => {
    for (let seq = 1; !state.stop; seq++) {
      const body = { call: seq, place: 'Zanzibar' };
      const r = await h.exchange(consumer, 'request',
        { kind: 'data', apiCode: SYNC_API, body: JSON.stringify(body), replay: false });
      const rec = { seq, via: r.via, node: r.engineNode.id, startedAt: r.startedAt,
        endedAt: r.endedAt, requestId: null, outcome: null, body };
      state.calls.push(rec);
      if (r.timedOut) {
        rec.outcome = 'hung';
      } else if (!r.ok) {
        rec.outcome = `error: ${r.error.split('\n')[0]}`;
      } else if (r.value.result == null) {
        rec.outcome = 'unverified answer';
      } else {
        const d = JSON.parse(r.value.result);
        rec.requestId = d.requestId;
        rec.outcome = d.success === true ? 'success' : `success:false: ${d.message}`;
        rec.answer = d.esbBody;
        if (d.success === true) state.okCalls++;
      }
      await sleep(r.ok ? between(0, 20) : 20);
    }
  };

  const asyncLoop = async () => {
    for (let seq = 1; !state.stop; seq++) {
      const r = await h.exchange(asyncConsumer.system, 'request',
        { kind: 'data', apiCode: ASYNC_API, body: JSON.stringify({ deed: `F-${seq}` }),
          replay: false });
      if (!r.ok || r.value.result == null || JSON.parse(r.value.result).success !== true) {
        await sleep(20);
        continue;
      }
      const requestId = JSON.parse(r.value.result).requestId;
      const answer = { titleNo: `F-${seq}` };
      const rec = { requestId, answer, outcome: null };
      state.asyncs.push(rec);
      // The provider answers; through a node that is down it tries again (a few times).
      for (let attempt = 0; attempt < 5 && !rec.outcome?.startsWith('accepted'); attempt++) {
        const a = await h.exchange(asyncProvider.system, 'asyncAnswer',
          { requestId, body: JSON.stringify(answer), build: 'connector' });
        if (a.timedOut) {
          rec.outcome = 'hung';
          state.problems.push(`async answer to ${requestId}: no answer within ${OP_TIMEOUT_MS} ms`);
          break;
        }
        const data = a.ok && a.value.verified ? JSON.parse(a.value.verified) : null;
        rec.outcome = data?.success === true ? `accepted via ${a.via}`
          : data ? `refused: ${data.message}` : `error: ${(a.error ?? a.value?.text ?? '')
            .split('\n')[0]}`;
        // An earlier attempt was stored, but its answer was lost (its node was killed).
        if (data && data.success !== true && /already been answered/i.test(data.message)) {
          rec.outcome = `accepted earlier (${data.message})`;
        }
        if (!rec.outcome.startsWith('accepted')) await sleep(50);
      }
      await sleep(between(0, 30));
    }
  };

  const loops = [publisherLoop(0), publisherLoop(1), callLoop(), asyncLoop()];
  const running = () => {
    const exits = h.nodes.flatMap((n) => n.unexpectedExits);
    assert.deepEqual(exits, [], 'a bus node died on its own');
  };
  // Lets traffic run for `ms`, and at least until `pushes` more pushes and `calls` more calls
  // succeeded (the cluster must make progress between faults).
  const traffic = async (ms, what, { pushes = 3, calls = 1 } = {}) => {
    const p0 = state.acceptedPushes;
    const c0 = state.okCalls;
    const started = performance.now();
    await sleep(ms);
    await waitFor(() => {
      running();
      return state.acceptedPushes - p0 >= pushes && state.okCalls - c0 >= calls;
    }, { timeoutMs: PROGRESS_TIMEOUT_MS, intervalMs: 20,
      what: `progress ${what} (${state.acceptedPushes - p0} pushes accepted, ` +
        `${state.okCalls - c0} calls succeeded)` });
    const took = Math.round(performance.now() - started);
    h.log(`traffic ${what}: ${took} ms, +${state.acceptedPushes - p0} pushes, ` +
      `+${state.okCalls - c0} calls`);
    return took;
  };

  try {
    await traffic(between(500, 1500), 'before the faults');

    // 1. Bus nodes killed at random moments, restarted after a random pause.
    for (let k = 1; k <= KILLS; k++) {
      const victim = h.nodes[between(0, NODES - 1)];
      await victim.kill();
      const down = between(0, 1000);
      h.log(`SIGKILL ${victim.id} (kill ${k}); down ${down} ms`);
      await traffic(down, `while ${victim.id} is down`, { pushes: 0, calls: 0 });
      await victim.start();
      h.log(`${victim.id} restarted at ${victim.baseUrl}`);
      await traffic(between(300, 2000), `after restarting ${victim.id}`);
    }

    // 2. A node killed and left down: the others take its lanes over. The node holding the
    // most lanes is chosen; pushes accepted after the kill must reach every subscriber while
    // it is still down.
    const status = await clusterStatus(h.pg.conninfo);
    const busiest = [...status.nodes].sort((a, b) => b.lanes_held - a.lanes_held)[0];
    const victim = h.nodes.find((n) => n.id === busiest.node_id) ?? h.nodes[0];
    h.log(`cluster status before the takeover kill: ${JSON.stringify(status.nodes.map((n) =>
      [n.node_id, n.live, n.lanes_held, n.deliveries_pending]))}`);
    const killedAt = performance.now();
    await victim.kill();
    const mark = new Map([...state.pushes].map(([loop, list]) => [loop, list.length]));
    h.log(`SIGKILL ${victim.id} (held ${busiest.lanes_held} lanes), left down`);
    await traffic(500, `with ${victim.id} down`);
    await waitFor(() => {
      running();
      const after = [...state.pushes].flatMap(([loop, list]) =>
        list.slice(mark.get(loop)).filter((p) => p.outcome === 'accepted'));
      if (after.length === 0) return false;
      return subscribers.every((sub) => {
        const got = new Set(pushReceipts(sub).map((g) => `${g.loop}#${g.seq}`));
        return after.every((p) => got.has(`${p.loop}#${p.seq}`));
      });
    }, { timeoutMs: 30_000, intervalMs: 50,
      what: `pushes accepted after ${victim.id} was killed delivered by the other nodes`,
      describe: async () => JSON.stringify(await clusterStatus(h.pg.conninfo).catch((e) =>
        e.message)) });
    results.takeoverMs = Math.round(performance.now() - killedAt);
    h.log(`the other nodes delivered what was accepted after the kill within ` +
      `${results.takeoverMs} ms of it`);
    await victim.start();
    h.log(`${victim.id} restarted at ${victim.baseUrl}`);
    await traffic(between(300, 1000), `after restarting ${victim.id}`);

    // 3. One NATS server killed, started again after traffic flowed without it.
    const natsVictim = between(0, 2);
    await h.nats.kill(natsVictim);
    h.log(`SIGKILL nats-server n${natsVictim}`);
    await traffic(between(1000, 2500), `with nats-server n${natsVictim} down`);
    await h.nats.startAgain(natsVictim);
    h.log(`nats-server n${natsVictim} ready again`);
    await traffic(between(500, 1500), 'after NATS came back');

    // 4. PostgreSQL restarted (fast shutdown: every connection of every node is cut).
    const pgDown = between(0, 1000);
    const pgStarted = performance.now();
    await h.pg.restart({ downMs: pgDown });
    h.log(`PostgreSQL restarted (down ${pgDown} ms, restart took ` +
      `${Math.round(performance.now() - pgStarted)} ms)`);
    results.afterPgRestartMs = await traffic(0, 'after the PostgreSQL restart',
      { pushes: 3, calls: 3 });
    await traffic(between(500, 1500), 'to finish');
  } finally {
    state.stop = true;
    await Promise.all(loops);
  }
  running();

  // Drain: every accepted push at every subscriber, every accepted answer at the consumer.
  const acceptedPushes = [...state.pushes.values()].flat().filter((p) => p.outcome === 'accepted');
  const acceptedAnswers = state.asyncs.filter((a) => a.outcome?.startsWith('accepted'));
  const missing = () => {
    const out = [];
    for (const sub of subscribers) {
      const got = new Set(pushReceipts(sub).map((g) => `${g.loop}#${g.seq}`));
      const lost = acceptedPushes.filter((p) => !got.has(`${p.loop}#${p.seq}`));
      if (lost.length) {
        out.push(`${sub.system.name} lacks ${lost.length}: ${lost.slice(0, 10).map((p) =>
          `${p.loop}#${p.seq} (${p.requestId} via ${p.via})`).join(', ')}`);
      }
    }
    const lostAnswers = acceptedAnswers.filter((a) => !asyncConsumer.find(a.requestId));
    if (lostAnswers.length) {
      out.push(`the consumer lacks ${lostAnswers.length} accepted answers: ${lostAnswers
        .slice(0, 10).map((a) => `${a.requestId} (${a.outcome})`).join(', ')}`);
    }
    return out;
  };
  const drainStarted = performance.now();
  await waitFor(() => missing().length === 0, { timeoutMs: DRAIN_TIMEOUT_MS, intervalMs: 100,
    what: 'every accepted push and answer delivered',
    describe: async () => `${missing().join('\n')}\ncluster status: ${JSON.stringify(
      await clusterStatus(h.pg.conninfo).catch((e) => e.message))}\npending: ${JSON.stringify(
      await h.admin('deliveries', '--state', 'pending').catch((e) => e.message)).slice(0, 2000)}` });
  results.drainMs = Math.round(performance.now() - drainStarted);

  const problems = [...state.problems];
  // Order per subscriber: the first arrival of each push of one publisher loop in sending order
  // (each loop sends one push at a time, so sending order is acceptance order).
  for (const sub of subscribers) {
    const seen = new Set();
    const last = new Map();
    for (const g of pushReceipts(sub)) {
      if (!g.loop?.startsWith('fault')) continue;
      const key = `${g.loop}#${g.seq}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const prev = last.get(g.loop) ?? 0;
      if (g.seq <= prev) {
        problems.push(`${sub.system.name}: ${key} (requestId ${g.requestId}) first arrived ` +
          `after ${g.loop}#${prev}: out of order`);
      }
      last.set(g.loop, Math.max(prev, g.seq));
    }
    for (const d of sub.deliveries) {
      if (!d.data) problems.push(`${sub.system.name}: a delivery that does not verify: ${d.raw}`);
    }
  }
  const dead = await h.admin('deliveries', '--state', 'dead');
  if (dead.length > 0) problems.push(`dead letters: ${JSON.stringify(dead.slice(0, 3))}`);

  // Calls: success only with the provider reached and the answer relayed; the rest visible.
  const successes = state.calls.filter((c) => c.outcome === 'success');
  for (const c of successes) {
    const delivery = provider.find(c.requestId);
    if (!delivery) {
      problems.push(`call ${c.seq} via ${c.via}: success:true (${c.requestId}) but the ` +
        'provider never got it');
    } else if (JSON.stringify(c.answer) !== JSON.stringify(echoAnswer(delivery.data))) {
      problems.push(`call ${c.seq} via ${c.via}: success:true with another answer than the ` +
        `provider's: ${JSON.stringify(c.answer).slice(0, 200)}`);
    }
  }
  for (const c of state.calls.filter((x) => x.outcome === 'hung')) {
    problems.push(`call ${c.seq} via ${c.via}: no answer within ${OP_TIMEOUT_MS} ms`);
  }

  // Evidence: the chains intact, and every successful call and accepted push in them.
  const verify = await h.audit('--json', 'verify').catch((err) => ({ error: err.message }));
  if (verify.intact !== true) problems.push(`audit verify: ${JSON.stringify(verify)}`);
  for (const chain of verify.nodes ?? []) {
    if (!(chain.checkpoints > 0)) {
      problems.push(`audit verify: ${chain.node}'s chain has no signed checkpoint after the ` +
        `faults (--checkpoint-interval 2): ${JSON.stringify(chain)}`);
    }
  }
  let evidenced = null;
  try {
    const text = await new Promise((resolve, reject) => {
      import('node:child_process').then(({ execFile }) => execFile(govesbBin(),
        ['audit', '--postgres', h.pg.conninfo, '--kek-file', h.kekFile, 'query', '--format',
          'jsonl', '--limit', '10000000'], { maxBuffer: 512 << 20, timeout: 120_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`))
          : resolve(stdout))));
    });
    evidenced = new Map();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const record = JSON.parse(line);
      if (!evidenced.has(record.requestId)) evidenced.set(record.requestId, []);
      evidenced.get(record.requestId).push(`${record.kind}:${record.outcome}`);
    }
  } catch (err) {
    problems.push(`audit query --postgres: ${err.message.slice(0, 500)}`);
  }
  if (evidenced) {
    for (const c of successes) {
      if (!evidenced.has(c.requestId)) {
        problems.push(`call ${c.seq} via ${c.via}: success:true but ${c.requestId} has no ` +
          'evidence');
      }
    }
    for (const p of acceptedPushes) {
      if (!evidenced.has(p.requestId)) {
        problems.push(`push ${p.loop}#${p.seq} via ${p.via}: accepted but ${p.requestId} has ` +
          'no evidence');
      }
    }
  }

  // Numbers for the report.
  const outcomes = (list) => {
    const counts = {};
    for (const x of list) {
      const key = (x.outcome ?? 'none').replace(/[0-9a-f]{32}/g, 'ID').slice(0, 90);
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  };
  const allPushes = [...state.pushes.values()].flat();
  const duplicates = subscribers.map((sub) => {
    const r = pushReceipts(sub).filter((g) => g.loop?.startsWith('fault'));
    return r.length - new Set(r.map((g) => `${g.loop}#${g.seq}`)).size;
  });
  const summary = {
    seed: SEED,
    pushes: outcomes(allPushes),
    calls: outcomes(state.calls),
    asyncAnswers: outcomes(state.asyncs),
    duplicateDeliveriesPerSubscriber: duplicates,
    takeoverMs: results.takeoverMs,
    firstProgressAfterPgRestartMs: results.afterPgRestartMs,
    drainMs: results.drainMs,
    registryChangeMs: { add: results['grant add'], revoke: results['grant revoke'] },
    audit: verify,
  };
  t.diagnostic(JSON.stringify(summary));
  for (const e of h.events) t.diagnostic(e);
  assert.deepEqual(problems, [], `${problems.length} problem(s):\n${problems.slice(0, 40)
    .join('\n')}\nsummary: ${JSON.stringify(summary)}`);
  assert.ok(acceptedPushes.length > 0 && successes.length > 0 && acceptedAnswers.length > 0,
    `traffic happened: ${JSON.stringify(summary)}`);
}));
