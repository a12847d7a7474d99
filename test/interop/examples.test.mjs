// The Node.js examples of docs/examples/node (a provider and a push subscriber, about 30 lines
// each, on the unchanged govesb-connector-js), run as a newcomer runs them: as their own
// processes with their environment variables, against a real TLS bus; the consumer and the
// publisher are `govesb call` with --ca-file. Checks what docs/connect-your-system.md promises:
// the provider verifies and answers, bad input gets a signed failure, the subscriber receives
// every push and skips a delivery it has already processed.
//
// Run: GOVESB_BIN=/path/to/govesb node --test examples.test.mjs   (cwd = test/interop)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

import { LineTail, cli, closedPort, eventually, startBus, stopChild, track, withBus }
  from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const examples = path.resolve(here, '../../docs/examples/node');

// Starts docs/examples/node/NAME.js with the system's keys and a free port; resolves once it
// says it listens. The example requires govesb-connector-js from this folder's node_modules.
async function startExample(name, { privateKey, esbPublicKey }) {
  const port = await closedPort();
  const child = spawn(process.execPath, [path.join(examples, `${name}.js`)], {
    env: {
      ...process.env,
      NODE_PATH: path.join(here, 'node_modules'),
      GOVESB_CLIENT_PRIVATE_KEY: privateKey,
      GOVESB_ESB_PUBLIC_KEY: esbPublicKey,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const out = new LineTail();
  const err = new LineTail();
  child.stdout.on('data', (c) => out.push(c));
  child.stderr.on('data', (c) => err.push(c));
  await eventually(() => assert.ok(out.lines.some((l) => l.includes('listening')),
    `${name}.js did not start:\n${out.lines.join('\n')}\n${err.lines.join('\n')}`),
  { timeoutMs: 10000 });
  return { child, out, url: `http://127.0.0.1:${port}/`, port };
}

function post(url, text) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      });
    req.on('error', reject);
    req.end(text);
  });
}

// `govesb call` as a consumer or publisher would type it (TLS, the bus's CA with --ca-file).
function call(h, system, ...args) {
  return cli(['call', '--url', h.bus.baseUrl, '--ca-file', h.bus.caFile, '--client-id',
    system.clientId, '--secret', system.clientSecret, '--key', system.privateKey, '--esb-key',
    h.esbKey.public_key, '--json', ...args]);
}

test('the Node provider example verifies, answers and refuses bad input', { timeout: 60000 },
  async () => {
    await withBus({}, async (h) => {
      const provider = await h.addSystem({ name: 'Example provider' });
      const running = await startExample('provider', {
        privateKey: provider.privateKey, esbPublicKey: h.esbKey.public_key });
      try {
        await h.admin('system', 'update', '--client-id', provider.clientId, '--endpoint', running.url);
        await h.admin('api', 'add', '--provider', provider.clientId, '--code', 'EXBRTH');
        const consumer = await h.addSystem({ name: 'Example consumer' });
        await h.admin('grant', 'add', '--consumer', consumer.clientId, '--api', 'EXBRTH');

        const answer = await eventually(() => call(h, consumer, '--api', 'EXBRTH', '--body',
          '{"certificateNo":"B-2024-000117"}'), { timeoutMs: 5000 });
        assert.equal(answer.success, true, JSON.stringify(answer));
        assert.deepEqual(answer.esbBody, { certificateNo: 'B-2024-000117', status: 'registered' });
        assert.ok(running.out.lines.some((l) => l.includes(`request ${answer.requestId} for EXBRTH`)),
          running.out.lines.join('\n'));

        // Bad input: the provider's signed success:false reaches the consumer as a refusal.
        await assert.rejects(call(h, consumer, '--api', 'EXBRTH', '--body', '{"other":1}'),
          /certificateNo is required/);
        // Not a signed delivery at all: a signed failure, HTTP 400, and the example keeps running.
        for (const junk of ['not json', '{"data":{"esbBody":{}},"signature":"AAAA"}']) {
          const r = await post(running.url, junk);
          assert.equal(r.status, 400, r.body);
          assert.equal(JSON.parse(r.body).data.success, false, r.body);
        }
        assert.equal(running.child.exitCode, null, 'the provider example stopped on bad input');
      } finally {
        await stopChild(running.child);
      }
    });
  });

test('the Node subscriber example receives pushes and skips a repeated delivery',
  { timeout: 60000 }, async () => {
    await withBus({}, async (h) => {
      const subscriber = await h.addSystem({ name: 'Example subscriber' });
      const running = await startExample('subscriber', {
        privateKey: subscriber.privateKey, esbPublicKey: h.esbKey.public_key });
      // The bus delivers through a recorder in front of the example, which keeps the raw delivery
      // so that the test can deliver it once more, as the bus does after a lost answer.
      const delivered = [];
      const recorder = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', async () => {
          const raw = Buffer.concat(chunks).toString();
          delivered.push(raw);
          const r = await post(running.url, raw);
          res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(r.body);
        });
      });
      await new Promise((resolve) => recorder.listen(0, '127.0.0.1', resolve));
      try {
        const endpoint = `http://127.0.0.1:${recorder.address().port}/`;
        await h.admin('system', 'update', '--client-id', subscriber.clientId, '--endpoint', endpoint);
        const publisher = await h.addSystem({ name: 'Example publisher' });
        await h.admin('topic', 'add', '--publisher', publisher.clientId, '--code', 'EXBIRTHS');
        await h.admin('subscription', 'add', '--subscriber', subscriber.clientId, '--topic',
          'EXBIRTHS');

        const pushed = await eventually(() => call(h, publisher, '--push', 'EXBIRTHS', '--body',
          '{"certificateNo":"B-1","born":"2026-12-01"}'), { timeoutMs: 5000 });
        assert.equal(pushed.success, true, JSON.stringify(pushed));
        await eventually(() => assert.ok(running.out.lines.some((l) =>
          l.startsWith('push ') && l.includes(' on EXBIRTHS: {"certificateNo":"B-1"')),
        running.out.lines.join('\n')), { timeoutMs: 10000, intervalMs: 50 });
        const firstId = /^push (\S+) on/.exec(running.out.lines.find((l) => l.startsWith('push ')))[1];

        const again = await post(running.url, delivered[0]);
        assert.equal(again.status, 200, again.body);
        assert.equal(JSON.parse(again.body).data.success, true, again.body);
        assert.ok(running.out.lines.includes(`push ${firstId} again: already processed`),
          running.out.lines.join('\n'));
        assert.equal(running.out.lines.filter((l) => l.startsWith(`push ${firstId} on`)).length, 1);
      } finally {
        await new Promise((resolve) => recorder.close(resolve));
        await stopChild(running.child);
      }
    });
  });

// A TLS handshake with the bus at 127.0.0.1 as if its URL named `servername`, trusting only the
// bus's CA and checking the name as every client does. Resolves with the error code, or 'ok'.
function handshake(port, ca, servername) {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca,
      checkServerIdentity: (host, cert) => tls.checkServerIdentity(servername, cert) });
    socket.once('secureConnect', () => { socket.end(); resolve('ok'); });
    socket.once('error', (err) => resolve(err.code ?? String(err)));
  });
}

test('a bus on all interfaces names --tls-name in its certificate and prints where it is reached',
  { timeout: 60000 }, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'govesb-tlsname-'));
    let bus = await startBus({ dataDir, listen: '0.0.0.0:0' });
    try {
      const port = Number(new URL(bus.baseUrl).port);
      const ca = fs.readFileSync(bus.caFile);
      // Not named yet: a client using that name fails its host-name check, as in the field.
      assert.equal(await handshake(port, ca, 'bus.example.test'), 'ERR_TLS_CERT_ALTNAME_INVALID');
      assert.equal(await handshake(port, ca, 'localhost'), 'ok');
      const reachable = bus.stdout.lines.filter((l) => l.startsWith('govesb: reachable at https://'));
      assert.ok(reachable.length > 0, `no "reachable at" line:\n${bus.tail()}`);
      await bus.stop();

      bus = await startBus({ dataDir, listen: '0.0.0.0:0',
        extraArgs: ['--tls-name', 'bus.example.test', '--tls-name', '10.77.0.5'] });
      const port2 = Number(new URL(bus.baseUrl).port);
      assert.deepEqual(fs.readFileSync(bus.caFile), ca, 'the CA changed: clients would need a new one');
      assert.equal(await handshake(port2, ca, 'bus.example.test'), 'ok');
      assert.ok(bus.stdout.lines.includes(`govesb: reachable at https://bus.example.test:${port2}`),
        bus.tail());
      assert.ok(bus.stdout.lines.includes(`govesb: reachable at https://10.77.0.5:${port2}`),
        bus.tail());
      assert.ok(bus.stdout.lines.some((l) => l === `govesb: data directory ${dataDir} (give it to govesb admin --data-dir)`),
        bus.tail());
    } finally {
      await bus.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
