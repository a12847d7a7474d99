// Helpers for the interoperability tests: run the `govesb` binary (CLI with --json, `serve`),
// make keys, run a provider built on the unchanged npm package govesb-connector-js, run the
// consumer side in a child Node process that trusts the bus's CA, and clean everything up.
//
// Only Node built-ins and govesb-connector-js are used.

import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

// The package under test, installed by `npm ci` in this folder (package-lock.json pins 0.1.1).
export const { GovEsbHelper } = await import('govesb-connector-js').then((m) => m.default ?? m,
  (err) => {
    throw new Error('govesb-connector-js is not installed: run `npm ci` in test/interop ' +
      `(${err.message})`);
  });

const HERE = import.meta.dirname ?? decodeURIComponent(new URL('.', import.meta.url).pathname);
const REPO_ROOT = path.resolve(HERE, '..', '..');

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export const HEX32 = /^[0-9a-f]{32}$/;

// Calls `fn` until it does not throw (assertions included) or `timeoutMs` passes; then rethrows
// the last error, saying how many attempts were made. Used where a registry change made with
// the CLI has to reach the running bus (documented to take effect within a second).
export async function eventually(fn, { timeoutMs = 3000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return await fn();
    } catch (err) {
      if (Date.now() >= deadline) {
        const note = `\n(still failing after ${attempts} attempt(s) over ${timeoutMs} ms)`;
        try {
          err.message += note;
        } catch { /* frozen error: keep it as is */ }
        throw err;
      }
    }
    await sleep(intervalMs);
  }
}

// Keeps the last `max` lines written to a stream.
export class LineTail {
  constructor(max = 80) {
    this.max = max;
    this.lines = [];
    this.partial = '';
    this.listeners = new Set();
  }
  push(chunk) {
    const text = this.partial + chunk.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop();
    for (const line of parts) {
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.shift();
      for (const listener of this.listeners) listener(line);
    }
  }
  text() {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.join('\n');
  }
}

// Every child process started here, so that a crashing test run leaves nothing behind.
const liveChildren = new Set();
export function track(child) {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}
process.once('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch { /* already gone */ }
  }
});

export function waitForExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function stopChild(child, { signal = 'SIGTERM', graceMs = 5000 } = {}) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill(signal);
  } catch { /* already gone */ }
  if (!(await waitForExit(child, graceMs))) {
    try {
      child.kill('SIGKILL');
    } catch { /* already gone */ }
    await waitForExit(child, 2000);
  }
}

// ---------------------------------------------------------------------------------------------
// The govesb binary
// ---------------------------------------------------------------------------------------------

// GOVESB_BIN, or (for runs by hand) a binary in one of the usual build directories.
export function govesbBin() {
  if (process.env.GOVESB_BIN) return process.env.GOVESB_BIN;
  const candidates = ['build-interop', 'build', 'build-debug', 'build-release'].map((dir) =>
    path.join(REPO_ROOT, dir, 'apps', 'govesb', 'govesb'));
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) {
    throw new Error('GOVESB_BIN is not set and no govesb binary was found in ' +
      candidates.join(', ') + '; build it (cmake --build <dir> --target govesb) and set GOVESB_BIN');
  }
  return found;
}

// Runs `govesb ARGS...` and parses the single JSON value it prints on stdout.
export function cli(args, { timeoutMs = 15000 } = {}) {
  const bin = govesbBin();
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const shown = `govesb ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`;
      if (err) {
        reject(new Error(`${shown} failed (exit ${err.code ?? err.signal}):\n` +
          `stderr: ${stderr.trim()}\nstdout: ${stdout.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(stdout));
      } catch (parseErr) {
        reject(new Error(`${shown}: stdout is not JSON (${parseErr.message}):\n${stdout}\n` +
          `stderr: ${stderr}`));
      }
    });
  });
}

export function admin(dataDir, ...args) {
  return cli(['admin', '--data-dir', dataDir, '--json', ...args]);
}

// A fresh key pair: { private_key, public_key } as single-line base64 DER.
export function keygen(curve = 'secp256k1') {
  return cli(['keygen', '--curve', curve, '--json']);
}

// Starts `govesb serve` on 127.0.0.1:0 and waits for its "listening on" line (and, with TLS,
// the "clients trust the CA in" line). Returns { baseUrl, caFile, tail(), stop() }.
// `storeArgs` replaces `--data-dir DIR` (e.g. the --cluster options of a cluster node).
export async function startBus({ dataDir, storeArgs = null, plainHttp = false, keyCurve = null,
  extraArgs = [], timeoutMs = 15000, listen = '127.0.0.1:0' } = {}) {
  const args = ['serve', ...(storeArgs ?? ['--data-dir', dataDir]), '--listen', listen];
  if (plainHttp) args.push('--plain-http');
  if (keyCurve) args.push('--key-curve', keyCurve);
  args.push(...extraArgs);

  const stdout = new LineTail(120);
  const stderr = new LineTail(60);
  const child = track(spawn(govesbBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout.on('data', (chunk) => stdout.push(chunk));
  child.stderr.on('data', (chunk) => stderr.push(chunk));

  const bus = {
    child,
    args,
    baseUrl: null,
    caFile: null,
    stdout,  // LineTail of what the bus printed
    tail() {
      const state = child.exitCode !== null || child.signalCode !== null
        ? `exited (${child.exitCode ?? child.signalCode})` : `running (pid ${child.pid})`;
      return `govesb ${args.join(' ')}: ${state}\n` +
        `--- bus stdout (tail) ---\n${stdout.text()}\n--- bus stderr (tail) ---\n${stderr.text()}`;
    },
    stop: () => stopChild(child),
  };

  await new Promise((resolve, reject) => {
    const check = () => {
      for (const line of stdout.lines) {
        const listening = /^govesb: listening on (\S+)/.exec(line);
        if (listening) bus.baseUrl = listening[1].replace(/\/+$/, '');
        const ca = /^govesb: clients trust the CA in (.+)$/.exec(line);
        if (ca) bus.caFile = ca[1].trim();
      }
      if (bus.baseUrl && (plainHttp || bus.caFile)) {
        finish(null);
      }
    };
    const onExit = () => finish(new Error(`the bus exited before it was ready\n${bus.tail()}`));
    const timer = setTimeout(
      () => finish(new Error(`the bus was not ready within ${timeoutMs} ms\n${bus.tail()}`)),
      timeoutMs);
    const finish = (err) => {
      clearTimeout(timer);
      stdout.listeners.delete(check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    };
    stdout.listeners.add(check);
    child.once('exit', onExit);
    child.once('error', (err) => finish(err));
  }).catch(async (err) => {
    await stopChild(child, { signal: 'SIGKILL' });
    throw err;
  });

  if (plainHttp && !bus.baseUrl.startsWith('http://')) {
    await bus.stop();
    throw new Error(`--plain-http but the bus listens on ${bus.baseUrl}`);
  }
  if (!plainHttp && !bus.baseUrl.startsWith('https://')) {
    await bus.stop();
    throw new Error(`TLS expected but the bus listens on ${bus.baseUrl}`);
  }
  return bus;
}

// ---------------------------------------------------------------------------------------------
// Provider: a node:http server built on GovEsbHelper
// ---------------------------------------------------------------------------------------------

// Starts a provider on 127.0.0.1:0. For every delivery it checks the bus's signature with the
// library's verifyThenReturnData (esbPublicKey = the bus key), records what it got and answers
// with what `respond({ data, helper })` returns: { status = 200, body } where body is the text
// produced by helper.successResponse / failureResponse. A delivery whose signature does not
// verify is answered 401 with a signed failure.
export async function startProvider({ privateKey, esbPublicKey, respond }) {
  const helper = new GovEsbHelper({ clientPrivateKey: privateKey, esbPublicKey });
  const deliveries = [];

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const record = {
        method: req.method,
        url: req.url,
        contentType: req.headers['content-type'] ?? null,
        raw,
        verified: null,
        data: null,
        answer: null,
        status: null,
      };
      deliveries.push(record);
      try {
        let verified = null;
        try {
          verified = helper.verifyThenReturnData(raw, 'json');
        } catch (err) {
          record.verifyError = String(err);
        }
        record.verified = verified;
        let status;
        let body;
        if (verified == null) {
          status = 401;
          body = await helper.failureResponse(null, 'provider: the bus signature did not verify', 'json');
        } else {
          record.data = JSON.parse(verified);
          ({ status = 200, body } = await respond({ data: record.data, helper, record }));
        }
        record.status = status;
        record.answer = body;
        res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
        res.end(body);
      } catch (err) {
        record.status = 500;
        record.error = String(err?.stack ?? err);
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`provider error: ${err}`);
      }
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/esb/deliver`,
    deliveries,
    helper,
    // The delivery that carried `requestId`.
    find(requestId) {
      return deliveries.find((d) => d.data && d.data.requestId === requestId) ?? null;
    },
    summary() {
      return deliveries.slice(-5).map((d) =>
        `${d.method} ${d.url} -> ${d.status}\n  in:  ${d.raw.slice(0, 600)}\n  out: ` +
        `${String(d.answer ?? d.error ?? '').slice(0, 600)}`).join('\n') || '(no deliveries)';
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// A loopback port that nothing listens on (bound, then released).
export async function closedPort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Consumer side: a child Node process (client_worker.mjs) started with NODE_EXTRA_CA_CERTS
// ---------------------------------------------------------------------------------------------

// The child reads JSON lines {id, op, ...} on stdin and answers {id, ok, value | error}.
export async function startClientWorker({ caFile = null } = {}) {
  const env = { ...process.env };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  delete env.NODE_OPTIONS;
  if (caFile) env.NODE_EXTRA_CA_CERTS = caFile;
  else delete env.NODE_EXTRA_CA_CERTS;

  const child = track(spawn(process.execPath, [path.join(HERE, 'client_worker.mjs'), '--worker'], {
    cwd: HERE,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  }));
  const stderr = new LineTail(40);
  child.stderr.on('data', (chunk) => stderr.push(chunk));
  const pending = new Map();
  let nextId = 1;
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk.toString('utf8');
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (!line.trim()) continue;
      let message;
      try {
        message = JSON.parse(line);
      } catch {
        stderr.push(`(worker stdout) ${line}\n`);
        continue;
      }
      const waiter = pending.get(message.id);
      if (!waiter) continue;
      pending.delete(message.id);
      waiter(message);
    }
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) {
      waiter({ ok: false, error: `client worker exited (${code ?? signal})\n${stderr.text()}` });
    }
    pending.clear();
  });

  const worker = {
    // Resolves with the op's value; rejects with the op's error.
    async call(op, args = {}) {
      const message = await worker.callRaw(op, args);
      if (!message.ok) throw new Error(`client worker ${op}: ${message.error}`);
      return message.value;
    },
    // Resolves with {ok, value} or {ok:false, error} (for expected failures).
    callRaw(op, args = {}) {
      if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.resolve({ ok: false, error: `client worker is not running\n${stderr.text()}` });
      }
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
      });
    },
    tail: () => stderr.text(),
    async stop() {
      try {
        child.stdin.end();
      } catch { /* closed */ }
      if (!(await waitForExit(child, 2000))) await stopChild(child, { graceMs: 2000 });
    },
  };
  const hello = await worker.callRaw('hello');
  if (!hello.ok) throw new Error(`client worker did not start: ${hello.error}`);
  return worker;
}

// ---------------------------------------------------------------------------------------------
// Per-test harness: temp data dir + bus + client worker + providers, torn down at the end
// ---------------------------------------------------------------------------------------------

let counter = 0;

export class Harness {
  constructor() {
    this.dataDir = null;
    this.bus = null;
    this.client = null;
    this.providers = [];
    this.esbKey = null;
    this.institution = null;
  }

  get tokenUrl() {
    return `${this.bus.baseUrl}/gw/govesb-uaa/oauth/token`;
  }

  get engineUrl() {
    return `${this.bus.baseUrl}/engine/esb`;
  }

  // `extraArgs` go to `govesb serve` (e.g. the delivery settings of the push/async tests).
  async start({ plainHttp = false, keyCurve = null, extraArgs = [] } = {}) {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'govesb-interop-'));
    // The bus goes first: it creates the data dir (bus key on --key-curve, TLS CA) on first start.
    this.bus = await startBus({ dataDir: this.dataDir, plainHttp, keyCurve, extraArgs });
    this.esbKey = await this.admin('esb-key');
    this.client = await startClientWorker({ caFile: plainHttp ? null : this.bus.caFile });
    this.institution = `INST${++counter}`;
    await this.admin('institution', 'add', '--code', this.institution, '--name',
      'Interop Test Institution – Dodoma');
  }

  admin(...args) {
    return admin(this.dataDir, ...args);
  }

  // Registers a system with a fresh key pair on `curve`. `registeredPublicKey` overrides the
  // key given to the bus (to make a system whose signatures cannot verify).
  async addSystem({ name, curve = 'secp256k1', endpoint = 'http://127.0.0.1:9/unused',
    registeredPublicKey = null } = {}) {
    const keys = await keygen(curve);
    const created = await this.admin('system', 'add', '--institution', this.institution,
      '--name', name, '--public-key', registeredPublicKey ?? keys.public_key, '--endpoint', endpoint);
    if (!created.client_id || !created.client_secret) {
      throw new Error(`system add printed no client_id/client_secret: ${JSON.stringify(created)}`);
    }
    return {
      name,
      curve,
      clientId: created.client_id,
      clientSecret: created.client_secret,
      privateKey: keys.private_key,
      publicKey: keys.public_key,
      registered: created,
    };
  }

  // A provider system served by a GovEsbHelper-based node:http server. The same server makes
  // a push subscriber or an asynchronous-answer callback receiver: it verifies every delivery
  // with the library's verifyThenReturnData and answers what `respond` returns. The system is
  // registered with the server's URL as its endpoint unless `registeredEndpoint` is given
  // (for deliveries routed by an explicit endpoint instead).
  async addProvider({ name = 'Provider', curve = 'secp256k1', respond = echoResponder,
    registeredEndpoint = null } = {}) {
    const keys = await keygen(curve);
    const provider = await startProvider({
      privateKey: keys.private_key,
      esbPublicKey: this.esbKey.public_key,
      respond,
    });
    this.providers.push(provider);
    const created = await this.admin('system', 'add', '--institution', this.institution,
      '--name', name, '--public-key', keys.public_key, '--endpoint',
      registeredEndpoint ?? provider.url);
    provider.system = {
      name,
      curve,
      clientId: created.client_id,
      clientSecret: created.client_secret,
      privateKey: keys.private_key,
      publicKey: keys.public_key,
    };
    return provider;
  }

  // The GovEsbHelper options a consumer system runs with.
  helperConfig(system, extra = {}) {
    return {
      clientId: system.clientId,
      clientSecret: system.clientSecret,
      clientPrivateKey: system.privateKey,
      esbPublicKey: this.esbKey.public_key,
      esbTokenUrl: this.tokenUrl,
      esbEngineUrl: this.engineUrl,
      ...extra,
    };
  }

  // requestData / requestNida through the library in the client worker. Returns
  // { result, data } where result is what the library returned (string or null) and data its
  // parse. Throws if the library threw.
  async request(system, apiCode, body, { nida = false, nidaUserId = '19900101-11111-00001-23' } = {}) {
    const config = this.helperConfig(system, nida ? { nidaUserId } : {});
    const value = await this.client.call('request', {
      config,
      kind: nida ? 'nida' : 'data',
      apiCode,
      body: JSON.stringify(body),
    });
    return { ...value, data: value.result == null ? null : JSON.parse(value.result) };
  }

  // pushData through the library in the client worker. Returns { result, data } as request().
  async push(system, pushCode, body) {
    const value = await this.client.call('request', {
      config: this.helperConfig(system),
      kind: 'push',
      apiCode: pushCode,
      body: JSON.stringify(body),
    });
    return { ...value, data: value.result == null ? null : JSON.parse(value.result) };
  }

  // An asynchronous answer posted by `system` (a provider) from the client worker, which
  // trusts the bus CA; see the `asyncAnswer` op in client_worker.mjs. Returns
  // { sent, status, text, json, verified, data } where data is the parse of `verified` (the
  // bus's answer after the library checked its signature), or null.
  async asyncAnswer(system, { requestId, body, build = 'connector', success = true,
    message = null, path = '/async' }) {
    const value = await this.client.call('asyncAnswer', {
      config: this.helperConfig(system),
      requestId,
      body: body === undefined ? null : JSON.stringify(body),
      build,
      success,
      message,
      path,
    });
    return { ...value, data: value.verified == null ? null : JSON.parse(value.verified) };
  }

  // `govesb admin deliveries --json [--state S]`.
  deliveries(state = null) {
    return state ? this.admin('deliveries', '--state', state) : this.admin('deliveries');
  }

  // Everything useful when a test fails.
  context() {
    const parts = [];
    if (this.bus) parts.push(this.bus.tail());
    if (this.dataDir) parts.push(`data dir: ${this.dataDir}`);
    this.providers.forEach((p, i) => parts.push(
      `--- provider ${i}${p.system ? ` (${p.system.name})` : ''} deliveries (last 5) ---\n${p.summary()}`));
    if (this.client) parts.push(`--- client worker stderr ---\n${this.client.tail()}`);
    return parts.join('\n');
  }

  async close({ keepDataDir = false } = {}) {
    await Promise.allSettled(this.providers.map((p) => p.close()));
    if (this.client) await this.client.stop().catch(() => {});
    if (this.bus) await this.bus.stop().catch(() => {});
    if (this.dataDir && !keepDataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// Runs `body(h)` with a fresh harness; on failure appends the bus output, provider deliveries
// and client worker stderr to the error; always stops everything.
export async function withBus(options, body) {
  const h = new Harness();
  let failed = false;
  try {
    await h.start(options);
    await body(h);
  } catch (err) {
    failed = true;
    const extra = `\n======== context ========\n${h.context()}`;
    if (err && typeof err === 'object') {
      try {
        err.message += extra;
        if (typeof err.stack === 'string') err.stack += extra;
      } catch { /* frozen */ }
    }
    throw err;
  } finally {
    await h.close({ keepDataDir: failed && process.env.GOVESB_INTEROP_KEEP === '1' });
  }
}

// ---------------------------------------------------------------------------------------------
// Provider behaviour used by the tests
// ---------------------------------------------------------------------------------------------

export const PLACE = 'Dar es Salaam – Tanzania ✓';

// The answer a provider gives to a delivery (depends only on the delivery, so tests can
// recompute it).
export function echoAnswer(data) {
  return {
    place: PLACE,
    greeting: 'Habari za asubuhi 🇹🇿 «ÉÀÜ» 日本',
    apiCode: data.apiCode ?? null,
    requestId: data.requestId,
    received: data.esbBody,
    numbers: [0, 1, -7, 42, 2.5, -0.75, 3.14159, 1234567890123],
    flags: { yes: true, no: false, none: null },
    nested: { level1: { level2: [{ k: 'v' }, [1, [2, [3]]], 'text "quoted" \\ back/slash\n\ttab'] } },
    empty: { object: {}, array: [], string: '' },
  };
}

// Echoes, unless the consumer's body says {"action":"fail"}: then a signed failureResponse
// with message "record not found" (HTTP status from body.failStatus, default 200).
export async function echoResponder({ data, helper }) {
  const body = data.esbBody;
  const inner = body && typeof body === 'object' && body.Payload ? body.Payload : body;
  if (inner && inner.action === 'fail') {
    const text = await helper.failureResponse(
      JSON.stringify({ searched: inner.id ?? null, place: PLACE }), 'record not found', 'json');
    return { status: inner.failStatus ?? 200, body: text };
  }
  return { status: 200, body: await helper.successResponse(JSON.stringify(echoAnswer(data)), 'json') };
}
