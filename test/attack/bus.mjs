// The real bus and its parties for the attack suite: start `govesb serve` (plain or TLS) on a
// temporary data directory, register an institution, systems, APIs, a topic and grants with
// `govesb admin`, run a provider (node:http) that answers deliveries with signed envelopes,
// get tokens, sign envelopes (ECDSA-SHA256, DER, base64 over the exact data text) and talk to
// the bus over node:http(s), or byte by byte over node:net / node:tls.
//
// Node built-ins only. Every wait here is bounded.

import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The legitimate client connects from this second loopback address (Linux loopback answers the
// whole of 127/8), so that limits per client address can tell it apart from the attackers.
export const LEGIT_ADDRESS = '127.0.0.2';
export const ATTACK_ADDRESS = '127.0.0.1';

export function govesbBin() {
  const bin = process.env.GOVESB_BIN;
  if (!bin) throw new Error('GOVESB_BIN is not set: point it at the built govesb binary');
  if (!fs.existsSync(bin)) throw new Error(`GOVESB_BIN=${bin} does not exist`);
  return bin;
}

// Runs `govesb ARGS...`; resolves { code, stdout, stderr } whatever the exit status.
export function run(args, { timeoutMs = 20_000 } = {}) {
  return new Promise((resolve) => {
    execFile(govesbBin(), args, { timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? err.signal) : 0, stdout, stderr }));
  });
}

// `govesb admin --data-dir DIR --json ARGS...`, parsed; throws on failure.
export async function admin(dataDir, ...args) {
  const full = ['admin', '--data-dir', dataDir, '--json', ...args];
  const r = await run(full);
  if (r.code !== 0) {
    throw new Error(`govesb ${full.join(' ')} failed (${r.code}): ${r.stderr.trim()} ${r.stdout.trim()}`);
  }
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    throw new Error(`govesb ${full.join(' ')}: not JSON (${err.message}): ${r.stdout}`);
  }
}

// Which features the binary advertises: features.json maps a name to a list of conditions
// ("all"), each a command whose help output must match a pattern. A feature is on when every
// pattern matches.
export async function detectFeatures(spec) {
  const helps = new Map();
  const help = async (command) => {
    const key = command.join(' ');
    if (!helps.has(key)) {
      const r = await run(command, { timeoutMs: 10_000 });
      helps.set(key, `${r.stdout}\n${r.stderr}`);
    }
    return helps.get(key);
  };
  const out = {};
  for (const [name, { all }] of Object.entries(spec)) {
    out[name] = true;
    for (const { command, matches } of all) {
      if (!new RegExp(matches, 'm').test(await help(command))) out[name] = false;
    }
  }
  return out;
}

// ---- envelopes ----------------------------------------------------------------------------------

export function newKeys() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  return { privateKey, publicKeyB64: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}

export function sign(dataText, privateKey) {
  return crypto.sign('sha256', Buffer.from(dataText, 'utf8'), privateKey).toString('base64');
}

export function seal(dataText, privateKey) {
  return `{"data":${dataText},"signature":"${sign(dataText, privateKey)}"}`;
}

// Cuts the exact data text out of a compact envelope (as the PHP helper does) and verifies it.
// { signed, data, dataText, why }.
export function openEnvelope(text, publicKey) {
  const prefix = '{"data":';
  const marker = ',"signature":"';
  const cut = text.lastIndexOf(marker);
  if (!text.startsWith(prefix) || !text.endsWith('"}') || cut < 0) {
    return { signed: false, data: null, why: `not a compact envelope: ${text.slice(0, 200)}` };
  }
  const dataText = text.slice(prefix.length, cut);
  let data = null;
  try {
    data = JSON.parse(dataText);
  } catch (err) {
    return { signed: false, data: null, why: `data is not JSON: ${err.message}` };
  }
  const signature = Buffer.from(text.slice(cut + marker.length, -2), 'base64');
  const signed = crypto.verify('sha256', Buffer.from(dataText, 'utf8'), publicKey, signature);
  return { signed, data, dataText, why: signed ? null : 'the bus signature does not verify' };
}

// ---- HTTP ---------------------------------------------------------------------------------------

// One request over node:http(s). Resolves { status, headers, text, ms }; rejects on transport
// failure or when no complete answer came within timeoutMs.
export function httpRequest(bus, { method = 'POST', path: urlPath, headers = {}, body = null,
  agent = undefined, localAddress = undefined, timeoutMs = 10_000 }) {
  const started = performance.now();
  const payload = body == null ? null : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const mod = bus.tls ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request({
      host: bus.host, port: bus.port, method, path: urlPath, agent, localAddress,
      ca: bus.tls ? bus.caPem : undefined,
      headers: payload ? { 'Content-Length': payload.length, ...headers } : headers,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}

export function agentFor(bus, { localAddress = undefined, maxSockets = 4 } = {}) {
  const options = { keepAlive: true, maxSockets, localAddress };
  return bus.tls ? new https.Agent({ ...options, ca: bus.caPem }) : new http.Agent(options);
}

// Opens a TCP (or TLS) connection and returns it once connected (TLS: after the handshake
// unless handshake is false, in which case it is a plain socket to the TLS port).
export function connect(bus, { localAddress = ATTACK_ADDRESS, handshake = true, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect: no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve(socket);
    };
    const socket = bus.tls && handshake
      ? tls.connect({ host: bus.host, port: bus.port, localAddress, ca: bus.caPem }, done)
      : net.connect({ host: bus.host, port: bus.port, localAddress }, done);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

// Collects what a socket receives until it closes or waitMs passes. Resolves { data, closed,
// closedAfterMs, error } (closedAfterMs from the call).
export function collect(socket, { waitMs }) {
  const started = performance.now();
  const chunks = [];
  return new Promise((resolve) => {
    let error = null;
    const finish = (closed) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), closed,
        closedAfterMs: closed ? Math.round(performance.now() - started) : null, error });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) => {
      error = err.code ?? err.message;
    });
    socket.once('close', () => finish(true));
  });
}

// The HTTP responses in a byte stream: [{ status, headers, body }] (Content-Length bodies only;
// enough for the bus's own error answers).
export function parseResponses(buffer) {
  const out = [];
  let rest = buffer.toString('latin1');
  for (let guard = 0; guard < 16 && rest.length > 0; guard++) {
    const m = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(rest);
    if (!m) break;
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) {
      out.push({ status: Number(m[1]), headers: {}, body: '', incomplete: true });
      break;
    }
    const headers = {};
    for (const line of rest.slice(m[0].length, end).split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = Buffer.from(rest.slice(end + 4, end + 4 + length), 'latin1').toString('utf8');
    out.push({ status: Number(m[1]), headers, body });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

// ---- the bus process ----------------------------------------------------------------------------

const liveChildren = new Set();
process.once('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch { /* gone */ }
  }
});

// Starts `govesb serve --listen 127.0.0.1:0` on a fresh data directory and waits for its
// "listening on" line (and the CA line with TLS). Everything it writes is kept in `log`.
export async function startBus({ tls: useTls, extraArgs = [], timeoutMs = 20_000 }) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'govesb-attack-'));
  const args = ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', ...extraArgs];
  if (!useTls) args.push('--plain-http');
  const child = spawn(govesbBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  const bus = {
    tls: useTls, dataDir, args, child, host: '127.0.0.1', port: 0, caPem: null, baseUrl: null,
    logChunks: [],
    log() {
      return Buffer.concat(this.logChunks);
    },
    tail(lines = 40) {
      return `govesb ${args.join(' ')} (${child.exitCode ?? child.signalCode ?? 'running'})\n` +
        this.log().toString('utf8').split('\n').slice(-lines).join('\n');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const exited = await Promise.race([new Promise((r) => child.once('exit', () => r(true))),
          sleep(8000).then(() => false)]);
        if (!exited) child.kill('SIGKILL');
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  child.stdout.on('data', (c) => bus.logChunks.push(c));
  child.stderr.on('data', (c) => bus.logChunks.push(c));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = bus.log().toString('utf8');
    const listening = /^govesb: listening on (\S+)/m.exec(text);
    const ca = /^govesb: clients trust the CA in (.+)$/m.exec(text);
    if (listening && (!useTls || ca)) {
      bus.baseUrl = listening[1].replace(/\/+$/, '');
      bus.port = Number(new URL(bus.baseUrl).port);
      if (useTls) bus.caPem = fs.readFileSync(ca[1].trim());
      break;
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      const why = child.exitCode !== null ? 'exited' : 'was not ready in time';
      await bus.stop();
      throw new Error(`the bus ${why}\n${bus.tail()}`);
    }
    await sleep(25);
  }
  bus.esbKey = crypto.createPublicKey({
    key: Buffer.from((await admin(dataDir, 'esb-key')).public_key, 'base64'), format: 'der', type: 'spki',
  });
  return bus;
}

// ---- provider -----------------------------------------------------------------------------------

// A provider, push subscriber and callback receiver in one node:http server. Every delivery is
// recorded with its raw text and verified with the bus key; pulls are answered with a signed
// echo of esbBody, everything else with a signed acknowledgement.
export async function startProvider(bus) {
  const keys = newKeys();
  const deliveries = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= 1 << 20) chunks.push(c);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const opened = openEnvelope(raw, bus.esbKey);
      deliveries.push({ path: req.url, raw, ...opened });
      const esbBody = req.url.startsWith('/deliver') && opened.data ? { echo: opened.data.esbBody } : {};
      const answer = seal(JSON.stringify({ success: true, esbBody }), keys.privateKey);
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(answer);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    keys, deliveries, base,
    close: () => {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

// ---- parties and their calls --------------------------------------------------------------------

// A registered system: credentials, key, and the calls it makes.
export class Party {
  constructor(bus, name, created, keys, localAddress) {
    this.bus = bus;
    this.name = name;
    this.clientId = created.client_id;
    this.clientSecret = created.client_secret;
    this.keys = keys;
    this.localAddress = localAddress;
    this.agent = agentFor(bus, { localAddress });
    this.token = null;
  }

  static async register(bus, institution, name, { endpoint = 'http://127.0.0.1:9/unused',
    keys = newKeys(), localAddress = ATTACK_ADDRESS } = {}) {
    const created = await admin(bus.dataDir, 'system', 'add', '--institution', institution,
      '--name', name, '--public-key', keys.publicKeyB64, '--endpoint', endpoint);
    return new Party(bus, name, created, keys, localAddress);
  }

  // POST /gw/govesb-uaa/oauth/token with client_credentials. { status, json, ms, headers }.
  async tokenResponse(secret = this.clientSecret, { agent = this.agent, timeoutMs = 10_000 } = {}) {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.clientId,
      client_secret: secret }).toString();
    const r = await httpRequest(this.bus, { path: '/gw/govesb-uaa/oauth/token', body, agent,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, timeoutMs });
    let json = null;
    try {
      json = JSON.parse(r.text);
    } catch { /* not JSON */ }
    return { ...r, json };
  }

  async fetchToken() {
    const r = await this.tokenResponse();
    if (r.status !== 200 || !r.json?.access_token) {
      throw new Error(`${this.name}: no token (HTTP ${r.status}): ${r.text}`);
    }
    this.token = r.json.access_token;
    return r;
  }

  // The signed envelope of `data` (an object or its exact text).
  envelope(data) {
    return seal(typeof data === 'string' ? data : JSON.stringify(data), this.keys.privateKey);
  }

  // POSTs an envelope text to /engine/esb<route>. { status, headers, text, ms, opened }.
  async engine(route, envelopeText, { token = this.token, headers = {}, timeoutMs = 10_000 } = {}) {
    const h = { 'Content-Type': 'application/json; charset=utf-8', ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    const r = await httpRequest(this.bus, { path: `/engine/esb${route}`, body: envelopeText,
      headers: h, agent: this.agent, timeoutMs });
    return { ...r, opened: openEnvelope(r.text, this.bus.esbKey) };
  }

  close() {
    this.agent.destroy();
  }
}

// A bus with everything the cases need: an institution; a provider server; the API ECHO1 (pull)
// and ASYN1 (asynchronous, answers to the provider server's /callback); the topic PUSH1 with the
// provider server subscribed; the systems legit (from 127.0.0.2), attacker, stranger (not
// granted), flooder (for rate limits), target (whose client id is brute-forced), latecomer (from
// 127.0.0.2, no token yet) and provider. Tokens fetched for legit, attacker, flooder, provider.
export async function setUpBus({ tls: useTls, extraArgs = [] }) {
  const bus = await startBus({ tls: useTls, extraArgs });
  const world = { bus, parties: {}, provider: null };
  try {
    const d = bus.dataDir;
    await admin(d, 'institution', 'add', '--code', 'ATTACK', '--name', 'Attack suite');
    const provider = await startProvider(bus);
    world.provider = provider;
    const p = await Party.register(bus, 'ATTACK', 'provider', { endpoint: `${provider.base}/deliver`,
      keys: provider.keys });
    const legit = await Party.register(bus, 'ATTACK', 'legit', { localAddress: LEGIT_ADDRESS });
    const attacker = await Party.register(bus, 'ATTACK', 'attacker');
    const stranger = await Party.register(bus, 'ATTACK', 'stranger');
    const flooder = await Party.register(bus, 'ATTACK', 'flooder');
    const target = await Party.register(bus, 'ATTACK', 'target');
    const latecomer = await Party.register(bus, 'ATTACK', 'latecomer', { localAddress: LEGIT_ADDRESS });
    world.parties = { provider: p, legit, attacker, stranger, flooder, target, latecomer };
    await admin(d, 'api', 'add', '--provider', p.clientId, '--code', 'ECHO1');
    await admin(d, 'api', 'add', '--provider', p.clientId, '--code', 'ASYN1', '--async',
      '--callback', `${provider.base}/callback`);
    for (const consumer of [legit, attacker, flooder]) {
      await admin(d, 'grant', 'add', '--consumer', consumer.clientId, '--api', 'ECHO1');
      await admin(d, 'grant', 'add', '--consumer', consumer.clientId, '--api', 'ASYN1');
    }
    await admin(d, 'topic', 'add', '--publisher', attacker.clientId, '--code', 'PUSH1');
    await admin(d, 'subscription', 'add', '--subscriber', p.clientId, '--topic', 'PUSH1',
      '--endpoint', `${provider.base}/push`);
    // Registry changes reach the running bus within a second: wait until a pull gets through.
    for (const party of [legit, attacker, flooder, p]) await party.fetchToken();
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await attacker.engine('/request', attacker.envelope({ apiCode: 'ECHO1', esbBody: { ready: 1 } }));
      if (r.opened.data?.success === true) break;
      if (Date.now() > deadline) throw new Error(`the bus never served ECHO1: ${r.status} ${r.text}`);
      await sleep(100);
    }
    return world;
  } catch (err) {
    await tearDown(world);
    throw err;
  }
}

export async function tearDown(world) {
  for (const party of Object.values(world.parties)) party.close();
  if (world.provider) await world.provider.close();
  await world.bus.stop();
}

// Forges a bearer token with the bus's own token secret (read from the data directory), so
// that expiry and credential-version checks can be reached past the MAC check.
export function forgeToken(bus, { clientId, credentialVersion, issuedAt, expiresAt }) {
  const secret = Buffer.from(fs.readFileSync(path.join(bus.dataDir, 'keys', 'token-secret'), 'utf8').trim(), 'base64');
  const payload = Buffer.from(`v1|${clientId}|${credentialVersion}|${issuedAt}|${expiresAt}|` +
    crypto.randomBytes(8).toString('hex')).toString('base64url');
  const mac = crypto.createHmac('sha256', secret).update(payload).digest('base64url');
  return `${payload}.${mac}`;
}

// The claims of a token the bus issued: { clientId, credentialVersion, issuedAt, expiresAt }.
export function tokenClaims(token) {
  const [v, clientId, version, issuedAt, expiresAt] =
    Buffer.from(token.split('.')[0], 'base64url').toString('utf8').split('|');
  if (v !== 'v1') throw new Error(`unexpected token version in ${token}`);
  return { clientId, credentialVersion: Number(version), issuedAt: Number(issuedAt),
    expiresAt: Number(expiresAt) };
}
