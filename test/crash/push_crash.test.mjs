// Crash test for push with guaranteed delivery (contract sections 1, 4.1, 4.3, 4.4).
//
// A real `govesb serve` accepts a stream of signed pushes from several concurrent publisher
// loops while subscribers (node:http servers in this process) acknowledge slowly. The bus is
// killed with SIGKILL at random points, several times, and restarted on the same data
// directory and port. At the end every push the bus acknowledged with success:true must have
// reached every subscriber at least once, in acceptance order per subscription, and nothing
// may be pending or dead.
//
// Only Node built-ins are used. The binary comes from GOVESB_BIN (ctest sets it).
// Knobs (environment): CRASH_SEED (seeds the random choices; timing still varies),
// CRASH_KILLS (kills during traffic, default 4), GOVESB_CRASH_KEEP=1 (keep the temporary
// directory: data dir and one log per bus run).

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';

const KILLS = Number(process.env.CRASH_KILLS ?? 4);
const SEED = Number(process.env.CRASH_SEED ?? crypto.randomInt(1, 2 ** 31));
const KEEP = process.env.GOVESB_CRASH_KEEP === '1';

const PUBLISHER_SYSTEMS = 2;   // each owns one topic
const LOOPS_PER_PUBLISHER = 2; // concurrent loops per publisher system: they share its lanes
const SUBSCRIBERS = 3;         // each subscribes to every topic
const ACK_DELAY_MS = [5, 30];  // subscribers acknowledge slowly
const PUSH_GAP_MS = [0, 30];   // pause between two pushes of one loop
const TRAFFIC_MS = [300, 1500];// traffic between two kills
const DOWN_MS = [0, 200];      // time the bus stays dead
// A few deliveries are answered with something other than an acknowledgement; the bus must
// retry them without letting later deliveries of the lane overtake them.
const NOT_ACK_RATE = { refused: 0.02, garbage: 0.01, wrongKey: 0.01 };
const DRAIN_TIMEOUT_MS = 90_000;
const RETRY_ARGS = ['--retry-base-ms', '50', '--retry-max-ms', '500'];

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const HEX32 = /^[0-9a-f]{32}$/;

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
const between = ([lo, hi]) => lo + Math.floor(random() * (hi - lo + 1));

function govesbBin() {
  const bin = process.env.GOVESB_BIN;
  if (!bin) throw new Error('GOVESB_BIN is not set: point it at the built govesb binary');
  if (!fs.existsSync(bin)) throw new Error(`GOVESB_BIN=${bin} does not exist`);
  return bin;
}

// Runs `govesb admin --data-dir DIR --json ARGS...` and parses the JSON it prints.
function admin(dataDir, ...args) {
  return cli(['admin', '--data-dir', dataDir, '--json', ...args]);
}

// Runs `govesb ARGS...` (which print JSON) and parses what it prints.
function cli(full) {
  return new Promise((resolve, reject) => {
    execFile(govesbBin(), full, { timeout: 20_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`govesb ${full.join(' ')} failed (${err.code ?? err.signal}): ` +
            `${stderr.trim()} ${stdout.trim()}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout));
        } catch (parseErr) {
          reject(new Error(`govesb ${full.join(' ')}: not JSON (${parseErr.message}): ${stdout}`));
        }
      });
  });
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// One POST over node:http. Resolves { status, body } once the whole answer arrived; rejects on
// any transport failure (refused, reset, timeout, answer cut short).
function post(url, body, { headers = {}, agent, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent,
      headers: { 'Content-Length': Buffer.byteLength(body), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode,
        body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(Object.assign(new Error('answer cut short'), { code: 'ECUT' }));
      });
    });
    req.setTimeout(timeoutMs, () =>
      req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`),
        { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

function get(url, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// Envelopes (contract 4, 5)
// ---------------------------------------------------------------------------------------------

function seal(dataText, privateKey) {
  const signature = crypto.sign('sha256', Buffer.from(dataText, 'utf8'), privateKey)
    .toString('base64');
  return `{"data":${dataText},"signature":"${signature}"}`;
}

// Cuts the exact `data` text out of `{"data":<D>,"signature":"<b64>"}` (as the PHP helper
// does), checks the signature over those bytes and parses them.
function open(text, publicKey) {
  const prefix = '{"data":';
  const marker = ',"signature":"';
  const cut = text.lastIndexOf(marker);
  if (!text.startsWith(prefix) || !text.endsWith('"}') || cut < 0) {
    return { ok: false, why: 'not a compact {"data":…,"signature":"…"} envelope' };
  }
  const dataText = text.slice(prefix.length, cut);
  const signature = Buffer.from(text.slice(cut + marker.length, -2), 'base64');
  let data;
  try {
    data = JSON.parse(dataText);
  } catch (err) {
    return { ok: false, why: `data is not JSON: ${err.message}` };
  }
  const verified = crypto.verify('sha256', Buffer.from(dataText, 'utf8'), publicKey, signature);
  return verified ? { ok: true, data, dataText } : { ok: false, why: 'signature does not verify',
    data };
}

function newKeys() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKeyB64: publicKey.export({ type: 'spki', format: 'der' })
    .toString('base64') };
}

// ---------------------------------------------------------------------------------------------
// The bus process: same data directory and port on every start
// ---------------------------------------------------------------------------------------------

class Bus {
  constructor(dataDir, logDir, port) {
    this.dataDir = dataDir;
    this.logDir = logDir;
    this.port = port;
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.child = null;
    this.runs = 0;
    this.tailLines = [];
    this.unexpectedExits = [];
    this.resumeLines = [];
    this.killing = false;
  }

  args() {
    return ['serve', '--data-dir', this.dataDir, '--plain-http', '--listen',
      `127.0.0.1:${this.port}`, ...RETRY_ARGS];
  }

  alive() {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start() {
    const run = ++this.runs;
    const log = fs.createWriteStream(path.join(this.logDir, `bus-run-${run}.log`));
    const child = spawn(govesbBin(), this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    liveChildren.add(child);
    const onChunk = (stream) => (chunk) => {
      log.write(chunk);
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        this.tailLines.push(`[run ${run} ${stream}] ${line}`);
        if (/resuming \d+ pending|rescheduled from the store/.test(line)) {
          this.resumeLines.push(`run ${run}: ${line.trim()}`);
        }
      }
      if (this.tailLines.length > 400) this.tailLines.splice(0, this.tailLines.length - 200);
    };
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.stdout.on('data', onChunk('out'));
    child.stderr.on('data', onChunk('err'));
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      log.end();
      if (!(this.killing && child === this.child)) {
        this.unexpectedExits.push(`run ${run} exited on its own: code ${code}, signal ${signal}`);
      }
    });

    // Ready when /health answers 200 (the port may still be held briefly by the killed run).
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        await Promise.race([closed, sleep(1000)]); // let its last output arrive
        throw new Error(`bus run ${run} exited before it was ready (code ${child.exitCode}, ` +
          `signal ${child.signalCode})\n${this.tail()}`);
      }
      try {
        if ((await get(`${this.baseUrl}/health`)) === 200) break;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) {
        throw new Error(`bus run ${run} did not answer /health within 20 s\n${this.tail()}`);
      }
      await sleep(20);
    }
  }

  async kill() {
    this.killing = true;
    const child = this.child;
    if (this.alive()) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    this.killing = false;
  }

  // SIGTERM (graceful), SIGKILL after 10 s. Returns how it ended.
  async stop() {
    if (!this.alive()) return null;
    this.killing = true;
    const child = this.child;
    const exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const result = await exited;
    clearTimeout(timer);
    this.killing = false;
    return result;
  }

  tail(lines = 60) {
    return `--- bus output (last ${lines} lines over all runs) ---\n` +
      this.tailLines.slice(-lines).join('\n');
  }
}

// Every child started here, killed if the test process ends abruptly.
const liveChildren = new Set();
process.once('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch { /* gone */ }
  }
});

// ---------------------------------------------------------------------------------------------
// Subscribers: verify every delivery, record it, acknowledge slowly
// ---------------------------------------------------------------------------------------------

async function startSubscriber(name, busKey) {
  const keys = newKeys();
  const strangerKey = newKeys().privateKey; // not registered: its signatures must not count
  const sub = {
    name,
    keys,
    arrivals: 0,        // every POST
    receipts: [],       // acknowledged deliveries, in the order they were acknowledged
    notAcked: { refused: 0, garbage: 0, wrongKey: 0 },
    errors: [],         // deliveries that break the contract (fail the test)
    server: null,
    url: null,
  };
  sub.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      sub.arrivals++;
      const raw = Buffer.concat(chunks).toString('utf8');
      const opened = open(raw, busKey);
      const data = opened.data;
      const problem = !opened.ok ? `bus signature: ${opened.why}`
        : (typeof data !== 'object' || data === null) ? 'data is not an object'
          : !HEX32.test(data.requestId ?? '') ? 'requestId is not 32 lowercase hex'
            : typeof data.pushCode !== 'string' ? 'pushCode missing'
              : typeof data.esbBody?.publisher !== 'string' || !Number.isInteger(data.esbBody?.seq)
                ? 'esbBody is not what a publisher sent' : null;
      if (problem) {
        sub.errors.push(`${name}: ${problem}: ${raw.slice(0, 300)}`);
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(seal(JSON.stringify({ success: false, message: problem, esbBody: {} }),
          keys.privateKey));
        return;
      }
      await sleep(between(ACK_DELAY_MS));
      const r = random();
      let kind = 'ack';
      if (r < NOT_ACK_RATE.refused) kind = 'refused';
      else if (r < NOT_ACK_RATE.refused + NOT_ACK_RATE.garbage) kind = 'garbage';
      else if (r < NOT_ACK_RATE.refused + NOT_ACK_RATE.garbage + NOT_ACK_RATE.wrongKey) {
        kind = 'wrongKey';
      }
      if (kind === 'ack') {
        // Recorded before the answer leaves: the bus cannot count it delivered before we do.
        sub.receipts.push({ publisher: data.esbBody.publisher, seq: data.esbBody.seq,
          requestId: data.requestId, pushCode: data.pushCode, body: data.esbBody });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(seal(JSON.stringify({ success: true, esbBody: {} }), keys.privateKey));
        return;
      }
      sub.notAcked[kind]++;
      if (kind === 'refused') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(seal(JSON.stringify({ success: false, message: 'busy, try again', esbBody: {} }),
          keys.privateKey));
      } else if (kind === 'garbage') {
        res.writeHead(503, { 'Content-Type': 'text/plain' });
        res.end('service unavailable');
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(seal(JSON.stringify({ success: true, esbBody: {} }), strangerKey));
      }
    });
  });
  await new Promise((resolve, reject) => {
    sub.server.once('error', reject);
    sub.server.listen(0, '127.0.0.1', resolve);
  });
  sub.url = `http://127.0.0.1:${sub.server.address().port}/govesb/push`;
  return sub;
}

function closeServer(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------------
// Publishers: each loop sends its own numbered sequence, one push at a time
// ---------------------------------------------------------------------------------------------

class PublisherSystem {
  constructor(name, topic) {
    this.name = name;
    this.topic = topic;
    this.keys = newKeys();
    this.clientId = null;
    this.clientSecret = null;
    this.token = null;
    this.tokenRefusals = 0;
  }

  async getToken(bus) {
    if (this.token) return this.token;
    const form = new URLSearchParams({ client_id: this.clientId,
      client_secret: this.clientSecret, grant_type: 'client_credentials' }).toString();
    const res = await post(`${bus.baseUrl}/gw/govesb-uaa/oauth/token`, form, {
      agent: false, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    if (res.status !== 200) {
      throw Object.assign(new Error(`token endpoint: HTTP ${res.status} ${res.body}`),
        { code: 'ETOKEN' });
    }
    this.token = JSON.parse(res.body).access_token;
    return this.token;
  }
}

async function publisherLoop({ loopName, system, bus, busKey, state, failures }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const pushes = state.pushes.get(loopName);
  let seq = 0;
  try {
    while (!state.stop) {
      seq++;
      const body = { publisher: loopName, seq, note: `push ${seq} of ${loopName}` };
      const record = { loop: loopName, topic: system.topic, seq, sentAt: 0, answeredAt: null,
        requestId: null, outcome: null };
      pushes.push(record);
      try {
        const token = await system.getToken(bus);
        const dataText = JSON.stringify({ pushCode: system.topic, esbBody: body });
        const envelope = seal(dataText, system.keys.privateKey);
        record.sentAt = performance.now();
        const res = await post(`${bus.baseUrl}/engine/esb/push-request`, envelope, {
          agent, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        });
        record.answeredAt = performance.now();
        if (res.status === 401) {
          record.outcome = 'token refused';
          system.token = null;
          system.tokenRefusals++;
          continue;
        }
        const opened = open(res.body, busKey);
        if (!opened.ok) {
          failures.push(`${loopName} seq ${seq}: the bus's answer (HTTP ${res.status}) does not ` +
            `verify: ${opened.why}: ${res.body.slice(0, 300)}`);
          record.outcome = 'bad answer';
          continue;
        }
        const d = opened.data;
        if (d.success === true) {
          const keys = Object.keys(d).join(',');
          if (keys !== 'success,requestId,message,esbBody' || !HEX32.test(d.requestId) ||
              d.message !== 'Success') {
            failures.push(`${loopName} seq ${seq}: unexpected success answer ${opened.dataText}`);
          }
          record.requestId = d.requestId;
          record.outcome = 'accepted';
          state.accepted++;
        } else {
          record.outcome = `refused: ${d.message}`;
        }
      } catch (err) {
        // The bus was killed (or is down): this push is not acknowledged. It may or may not be
        // delivered later.
        record.answeredAt = null;
        record.outcome = `transport: ${err.code ?? err.message}`;
        await sleep(20);
      }
      await sleep(between(PUSH_GAP_MS));
    }
  } finally {
    agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Checking the outcome
// ---------------------------------------------------------------------------------------------

// Returns a list of violations for one subscriber (empty when all is well) and its numbers.
function checkSubscriber(sub, state) {
  const problems = [];
  const byKey = new Map();       // "loop#seq" -> push record (what was sent)
  for (const list of state.pushes.values()) {
    for (const p of list) byKey.set(`${p.loop}#${p.seq}`, p);
  }

  const first = new Map();       // "loop#seq" -> position of its first receipt
  const requestIdOf = new Map(); // "loop#seq" -> requestId seen
  const keyOfRequestId = new Map();
  const firstReceipts = [];      // in arrival order
  let duplicates = 0;
  for (const r of sub.receipts) {
    const key = `${r.publisher}#${r.seq}`;
    const sent = byKey.get(key);
    if (!sent) {
      problems.push(`received a push that was never sent: ${key} (requestId ${r.requestId})`);
      continue;
    }
    if (r.body.note !== `push ${sent.seq} of ${sent.loop}` || Object.keys(r.body).length !== 3) {
      problems.push(`${key} arrived with a different esbBody: ${JSON.stringify(r.body)}`);
    }
    if (r.pushCode !== sent.topic) {
      problems.push(`${key} arrived with pushCode ${r.pushCode}, sent to ${sent.topic}`);
    }
    if (requestIdOf.has(key) && requestIdOf.get(key) !== r.requestId) {
      problems.push(`${key} arrived under two requestIds: ${requestIdOf.get(key)}, ${r.requestId}`);
    }
    if (keyOfRequestId.has(r.requestId) && keyOfRequestId.get(r.requestId) !== key) {
      problems.push(`requestId ${r.requestId} carried two pushes: ` +
        `${keyOfRequestId.get(r.requestId)} and ${key}`);
    }
    requestIdOf.set(key, r.requestId);
    keyOfRequestId.set(r.requestId, key);
    if (sent.requestId && sent.requestId !== r.requestId) {
      problems.push(`${key}: the publisher was told requestId ${sent.requestId}, the delivery ` +
        `carried ${r.requestId}`);
    }
    if (sent.outcome?.startsWith('refused')) {
      problems.push(`${key} was refused by the bus ("${sent.outcome}") but delivered anyway`);
    }
    if (first.has(key)) {
      duplicates++;
      continue;
    }
    first.set(key, firstReceipts.length);
    firstReceipts.push({ ...sent, requestId: r.requestId });
  }

  // 1. Nothing acknowledged is lost.
  const lost = [];
  let acknowledged = 0;
  for (const p of byKey.values()) {
    if (p.outcome !== 'accepted') continue;
    acknowledged++;
    if (!first.has(`${p.loop}#${p.seq}`)) lost.push(p);
  }
  if (lost.length > 0) {
    problems.push(`${lost.length} acknowledged push(es) never reached ${sub.name}: ` +
      lost.slice(0, 20).map((p) => `${p.loop}#${p.seq} (requestId ${p.requestId})`).join(', '));
  }

  // 2. Per publisher loop, first receipts in sending order.
  const lastSeq = new Map();
  for (const p of firstReceipts) {
    const prev = lastSeq.get(p.loop) ?? 0;
    if (p.seq <= prev) {
      problems.push(`${sub.name}: ${p.loop}#${p.seq} (requestId ${p.requestId}) first ` +
        `arrived after ${p.loop}#${prev} (out of order)`);
    }
    lastSeq.set(p.loop, Math.max(prev, p.seq));
  }

  // 3. Per subscription (topic), acceptance order across the loops that share it: when push X
  // was acknowledged before push Y was sent, X was stored first, so it must arrive first.
  const byTopic = new Map();
  for (const p of firstReceipts) {
    if (!byTopic.has(p.topic)) byTopic.set(p.topic, []);
    byTopic.get(p.topic).push(p);
  }
  for (const [topic, list] of byTopic) {
    let laterMin = Infinity; // earliest answer time among acknowledged pushes arriving later
    let laterWho = null;
    for (let i = list.length - 1; i >= 0; i--) {
      const y = list[i];
      if (laterMin < y.sentAt) {
        problems.push(`${sub.name} ${topic}: ${y.loop}#${y.seq} arrived before ${laterWho}, ` +
          `which had been accepted before ${y.loop}#${y.seq} was even sent`);
        break;
      }
      if (y.outcome === 'accepted' && y.answeredAt < laterMin) {
        laterMin = y.answeredAt;
        laterWho = `${y.loop}#${y.seq}`;
      }
    }
  }

  return { problems, acknowledged, lost: lost.length, firstReceipts: firstReceipts.length,
    duplicates };
}

// ---------------------------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------------------------

test('push survives SIGKILL of the bus: every acknowledged push delivered, in order',
  { timeout: 240_000 }, async (t) => {
    const started = performance.now();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'govesb-crash-'));
    const dataDir = path.join(tmp, 'data');
    let bus = null;
    const subscribers = [];
    const state = { stop: false, pushes: new Map(), accepted: 0 };
    const failures = [];
    let loops = [];
    let passed = false;
    t.diagnostic(`seed ${SEED} (set CRASH_SEED=${SEED} to reuse it), ${KILLS} kills, ` +
      `temp dir ${tmp}`);

    try {
      // Registry, set up before the first start (init creates the data dir and bus key).
      await cli(['init', '--data-dir', dataDir, '--json']);
      await admin(dataDir, 'institution', 'add', '--code', 'CRASH', '--name', 'Crash test');
      const busKeyB64 = (await admin(dataDir, 'esb-key')).public_key;
      const busKey = crypto.createPublicKey({ key: Buffer.from(busKeyB64, 'base64'),
        format: 'der', type: 'spki' });

      const publishers = [];
      for (let i = 0; i < PUBLISHER_SYSTEMS; i++) {
        const p = new PublisherSystem(`pub${i}`, `CRASH${String.fromCharCode(65 + i)}`);
        const added = await admin(dataDir, 'system', 'add', '--institution', 'CRASH',
          '--name', `Publisher ${i}`, '--public-key', p.keys.publicKeyB64,
          '--endpoint', 'http://127.0.0.1:9/unused');
        p.clientId = added.client_id;
        p.clientSecret = added.client_secret;
        await admin(dataDir, 'topic', 'add', '--publisher', p.clientId, '--code', p.topic);
        publishers.push(p);
      }
      for (let i = 0; i < SUBSCRIBERS; i++) {
        const sub = await startSubscriber(`sub${i}`, busKey);
        subscribers.push(sub);
        const added = await admin(dataDir, 'system', 'add', '--institution', 'CRASH',
          '--name', `Subscriber ${i}`, '--public-key', sub.keys.publicKeyB64,
          '--endpoint', sub.url);
        for (const p of publishers) {
          await admin(dataDir, 'subscription', 'add', '--subscriber', added.client_id,
            '--topic', p.topic);
        }
      }

      bus = new Bus(dataDir, tmp, await freePort());
      await bus.start();

      for (const p of publishers) await p.getToken(bus); // tokens outlive restarts

      // Traffic. Each round lasts a random time, and at least until the current run has
      // accepted a push (a slow start must not turn the test into kills of an idle bus).
      const untilAccepting = async (before) => {
        const deadline = performance.now() + 30_000;
        while (state.accepted === before) {
          assert.deepEqual(bus.unexpectedExits, [], `the bus died on its own\n${bus.tail()}`);
          if (performance.now() > deadline) {
            assert.fail(`the bus accepted no push for 30 s after run ${bus.runs} started\n` +
              bus.tail());
          }
          await sleep(10);
        }
      };
      for (const p of publishers) {
        for (let j = 0; j < LOOPS_PER_PUBLISHER; j++) {
          const loopName = `${p.name}.${j}`;
          state.pushes.set(loopName, []);
          loops.push(publisherLoop({ loopName, system: p, bus, busKey, state, failures }));
        }
      }
      const killLog = [];
      for (let k = 1; k <= KILLS; k++) {
        const before = state.accepted;
        await sleep(between(TRAFFIC_MS));
        await untilAccepting(before);
        assert.deepEqual(bus.unexpectedExits, [], `the bus died on its own\n${bus.tail()}`);
        await bus.kill();
        const down = between(DOWN_MS);
        killLog.push(`kill ${k} at ${Math.round(performance.now() - started)} ms, ` +
          `${state.accepted - before} pushes accepted by run ${bus.runs}, down ${down} ms`);
        await sleep(down);
        await bus.start();
      }
      const before = state.accepted;
      await sleep(between(TRAFFIC_MS));
      await untilAccepting(before);
      state.stop = true;
      await Promise.all(loops);
      loops = [];

      // One more kill while the backlog drains, if there is one.
      const backlog = await admin(dataDir, 'deliveries', '--state', 'pending', '--limit', '100000');
      if (backlog.length > 0) {
        await sleep(between([50, 400]));
        await bus.kill();
        killLog.push(`kill ${KILLS + 1} while draining (${backlog.length} pending when ` +
          'publishing stopped)');
        await bus.start();
      }

      // Drain.
      const drainStart = performance.now();
      let pending = null;
      for (;;) {
        assert.deepEqual(bus.unexpectedExits, [], `the bus died on its own\n${bus.tail()}`);
        pending = await admin(dataDir, 'deliveries', '--state', 'pending', '--limit', '100000');
        if (pending.length === 0) break;
        if (performance.now() - drainStart > DRAIN_TIMEOUT_MS) {
          assert.fail(`${pending.length} deliveries still pending after ` +
            `${DRAIN_TIMEOUT_MS / 1000} s of draining, e.g. ` +
            `${JSON.stringify(pending.slice(0, 3))}\n${bus.tail()}`);
        }
        await sleep(200);
      }
      const drainMs = Math.round(performance.now() - drainStart);
      const dead = await admin(dataDir, 'deliveries', '--state', 'dead', '--limit', '100000');
      const stopped = await bus.stop();
      assert.deepEqual(bus.unexpectedExits, [], `the bus died on its own\n${bus.tail()}`);

      // Verdict.
      const problems = [...failures];
      for (const sub of subscribers) problems.push(...sub.errors);
      if (dead.length > 0) {
        problems.push(`${dead.length} dead letter(s), e.g. ${JSON.stringify(dead.slice(0, 3))}`);
      }
      const perSub = subscribers.map((sub) => ({ sub, ...checkSubscriber(sub, state) }));
      for (const s of perSub) problems.push(...s.problems);

      const all = [...state.pushes.values()].flat();
      const count = (pred) => all.filter(pred).length;
      const accepted = count((p) => p.outcome === 'accepted');
      const transport = count((p) => p.outcome?.startsWith('transport'));
      const unanswered = all.filter((p) => p.outcome?.startsWith('transport'));
      const receivedKeys = new Set(subscribers.flatMap((sub) =>
        sub.receipts.map((r) => `${r.publisher}#${r.seq}`)));
      const deliveredUnanswered = unanswered.filter((p) =>
        receivedKeys.has(`${p.loop}#${p.seq}`)).length;
      const outcomes = {};
      for (const p of all) {
        const k = p.outcome;
        outcomes[k] = (outcomes[k] ?? 0) + 1;
      }
      const summary = [
        `pushes sent ${all.length}: ${JSON.stringify(outcomes)}`,
        `pushes acknowledged as accepted: ${accepted}; transport errors: ${transport} ` +
          `(${deliveredUnanswered} of those were delivered anyway)`,
        ...perSub.map((s) => `${s.sub.name}: ${s.sub.arrivals} delivery attempts, ` +
          `${s.sub.receipts.length} acknowledged, ${s.firstReceipts} distinct pushes, ` +
          `${s.duplicates} duplicates, not acknowledged on purpose ` +
          `${JSON.stringify(s.sub.notAcked)}, lost ${s.lost}`),
        ...killLog,
        ...bus.resumeLines,
        `token refusals: ${publishers.map((p) => p.tokenRefusals).join(', ')}`,
        `bus runs ${bus.runs}, drained in ${drainMs} ms, final stop ${JSON.stringify(stopped)}, ` +
          `total ${Math.round((performance.now() - started) / 1000)} s`,
      ];
      for (const line of summary) t.diagnostic(line);

      if (problems.length > 0) {
        // Where the lost ones stand in the bus's store, for the bug report.
        const everything = await admin(dataDir, 'deliveries', '--limit', '1000000')
          .catch((err) => [{ error: String(err) }]);
        const lostIds = new Set(perSub.flatMap((s) => s.problems)
          .flatMap((line) => [...line.matchAll(/requestId ([0-9a-f]{32})/g)].map((m) => m[1])));
        const stateOfLost = everything.filter((d) => lostIds.has(d.request_id)).slice(0, 20);
        assert.fail(`${problems.length} problem(s):\n  ${problems.slice(0, 40).join('\n  ')}\n` +
          `store state of the requestIds named above: ${JSON.stringify(stateOfLost, null, 1)}\n` +
          `${summary.join('\n')}\n${bus.tail(80)}`);
      }
      assert.ok(accepted > 0, 'no push was accepted at all');
      for (const s of perSub) assert.ok(s.firstReceipts >= accepted);
      assert.ok(stopped && stopped.code === 0,
        `the bus did not stop cleanly on SIGTERM: ${JSON.stringify(stopped)}\n${bus.tail()}`);
      passed = true;
    } finally {
      state.stop = true;
      await Promise.allSettled(loops);
      if (bus) await bus.kill().catch(() => {});
      await Promise.all(subscribers.map((sub) => closeServer(sub.server)));
      if (KEEP) {
        t.diagnostic(`kept ${tmp} (data dir and bus-run-N.log)`);
      } else {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
      if (!passed && !KEEP) t.diagnostic('set GOVESB_CRASH_KEEP=1 to keep the data dir and logs');
    }
  });
