// The scripted behaviours a case can name in "send": {"script": NAME, ...params}. Each takes
// (ctx, send, expect) where ctx = { world, bus, parties, provider, transport } and throws (an
// assertion) when the bus does not behave as the case expects. Every loop is bounded in count
// and in time.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import {
  LEGIT_ADDRESS, admin, agentFor, collect, connect, httpRequest, openEnvelope, parseResponses, sleep,
} from './bus.mjs';

export const expandText = (text, ctx) => text
  .replace(/\{\{repeat:(.):(\d+)\}\}/g, (_, c, n) => c.repeat(Math.min(Number(n), 1 << 22)))
  .replace(/\{\{token\}\}/g, () => ctx.parties.attacker.token)
  .replace(/\{\{(\w+)\}\}/g, (m, name) => ctx.parties[name]?.clientId ?? m);

// The answer checks shared by all kinds: { status, headers, text } against expect.
export function checkAnswer(answer, expect, bus, what) {
  const shown = `${what}: HTTP ${answer.status} ${JSON.stringify(answer.headers)} ${answer.text.slice(0, 400)}`;
  if (expect.status !== undefined) {
    const allowed = [expect.status].flat();
    assert.ok(allowed.includes(answer.status), `expected HTTP ${allowed.join(' or ')}; ${shown}`);
  }
  if (expect.retryAfter) {
    const value = answer.headers['retry-after'];
    assert.match(String(value ?? ''), /^\d+$/, `expected a Retry-After header (seconds); ${shown}`);
  }
  if (expect.jsonMember) {
    let json = null;
    try {
      json = JSON.parse(answer.text);
    } catch { /* checked below */ }
    assert.ok(json && json[expect.jsonMember] !== undefined,
      `expected a JSON body with member "${expect.jsonMember}"; ${shown}`);
  }
  if (expect.envelope) {
    const opened = openEnvelope(answer.text, bus.esbKey);
    if (expect.envelope.signed) assert.ok(opened.signed, `expected an envelope signed by the bus (${opened.why}); ${shown}`);
    if (expect.envelope.success !== undefined) {
      assert.equal(opened.data?.success, expect.envelope.success, `success; ${shown}`);
    }
    if (expect.envelope.messageMatches) {
      assert.match(String(opened.data?.message ?? ''), new RegExp(expect.envelope.messageMatches, 'i'),
        `message; ${shown}`);
    }
    return opened;
  }
  return null;
}

// ---- slow and silent connections ----------------------------------------------------------------

// Sends `text` one byte per intervalMs until the bus closes the connection.
async function slowloris(ctx, send, expect) {
  const socket = await connect(ctx.bus);
  const bytes = Buffer.from(expandText(send.text, ctx), 'latin1');
  const limitMs = expect.closedWithinMs + 3000;
  const collected = collect(socket, { waitMs: limitMs });
  let sent = 0;
  let closed = false;
  collected.then(() => {
    closed = true;
  });
  for (; sent < bytes.length && !closed; sent++) {
    socket.write(bytes.subarray(sent, sent + 1));
    await Promise.race([sleep(send.intervalMs), collected]);
  }
  const r = await collected;
  assert.ok(sent < bytes.length, `the whole request (${bytes.length} bytes) was dribbled before any close`);
  assert.ok(r.closed, `the connection was still open after ${limitMs} ms (${sent} bytes dribbled)`);
  assert.ok(r.closedAfterMs <= expect.closedWithinMs,
    `closed after ${r.closedAfterMs} ms, expected within ${expect.closedWithinMs} ms`);
  const answers = parseResponses(r.data);
  assert.ok(answers.every((a) => a.status === 408 || a.status === 400),
    `only a 408/400 may precede the close, got ${answers.map((a) => a.status)}`);
}

// Connects (TLS: TCP only, no ClientHello) and sends nothing.
async function silent(ctx, send, expect) {
  const socket = await connect(ctx.bus, { handshake: false });
  const r = await collect(socket, { waitMs: expect.closedWithinMs + 3000 });
  assert.ok(r.closed, `a silent connection was still open after ${expect.closedWithinMs + 3000} ms`);
  assert.ok(r.closedAfterMs <= expect.closedWithinMs,
    `closed after ${r.closedAfterMs} ms, expected within ${expect.closedWithinMs} ms`);
}

// ---- tokens and rates ---------------------------------------------------------------------------

// `connections` attackers, each on its own connection, post wrong secrets for target's client id
// while latecomer (another address, never had a token) asks for its first token.
const BRUTE_FORCE_ADDRESS = '127.0.0.3';

async function tokenBruteforce(ctx, send, expect) {
  const { target, latecomer } = ctx.parties;
  const deadline = Date.now() + send.maxMs;
  const answers = [];
  const attackers = Array.from({ length: send.connections }, async (_, i) => {
    // From an address of their own: the lock-out they earn must not touch other cases.
    const agent = agentFor(ctx.bus, { maxSockets: 1, localAddress: BRUTE_FORCE_ADDRESS });
    try {
      for (let k = 0; k < send.attemptsPerConnection && Date.now() < deadline; k++) {
        try {
          answers.push(await target.tokenResponse(`wrong${i}x${k}${'0'.repeat(24)}`,
            { agent, timeoutMs: Math.max(1000, deadline - Date.now()) }));
        } catch (err) {
          answers.push({ status: 0, headers: {}, text: String(err.message) });
        }
      }
    } finally {
      agent.destroy();
    }
  });
  await sleep(300); // the attack is under way
  const first = await latecomer.tokenResponse(undefined, { timeoutMs: 20_000 });
  await Promise.all(attackers);
  const limited = answers.filter((a) => a.status === 429);
  const statuses = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  assert.ok(limited.length > 0, `no attempt was answered 429; statuses ${JSON.stringify(statuses)}`);
  for (const a of limited.slice(0, 5)) checkAnswer({ ...a, text: a.text }, expect, ctx.bus, 'limited attempt');
  assert.equal(first.status, 200, `latecomer's first token: HTTP ${first.status} ${first.text}`);
  assert.ok(first.ms <= expect.legitTokenMs,
    `latecomer's first token took ${Math.round(first.ms)} ms (bound ${expect.legitTokenMs} ms)`);
}

// Sets flooder's rate with `govesb admin`, then sends rounds of requestsPerRound pulls over
// `connections` connections until one is answered 429 (the registry change reaches the bus
// within a second).
async function flood(ctx, send, expect) {
  const { flooder } = ctx.parties;
  await admin(ctx.bus.dataDir, ...send.setup.map((a) => expandText(a, ctx)));
  const agent = agentFor(ctx.bus, { maxSockets: send.connections });
  const deadline = Date.now() + send.maxMs;
  try {
    for (let round = 0; Date.now() < deadline && round < 20; round++) {
      const answers = await Promise.all(Array.from({ length: send.requestsPerRound }, (_, i) =>
        httpRequest(ctx.bus, { path: '/engine/esb/request', agent,
          body: flooder.envelope({ apiCode: 'ECHO1', esbBody: { flood: round, i } }),
          headers: { Authorization: `Bearer ${flooder.token}`, 'Content-Type': 'application/json' } })));
      const limited = answers.filter((a) => a.status === 429);
      if (limited.length > 0) {
        for (const a of limited) checkAnswer(a, expect, ctx.bus, `round ${round}`);
        for (const a of answers.filter((x) => x.status !== 429)) {
          checkAnswer(a, { status: 200, envelope: { signed: true, success: true } }, ctx.bus, 'within the rate');
        }
        return;
      }
      await sleep(200);
    }
    assert.fail(`no request was answered 429 within ${send.maxMs} ms`);
  } finally {
    agent.destroy();
  }
}

// ---- replays ------------------------------------------------------------------------------------

async function freshToken(party) {
  const r = await party.tokenResponse();
  assert.equal(r.status, 200, `${party.name}: fresh token: ${r.text}`);
  assert.notEqual(r.json.access_token, party.token, 'the fresh token is a new token');
  return r.json.access_token;
}

function assertReplayRefused(second, firstIds, expect, bus) {
  const opened = checkAnswer(second, expect, bus, 'replay');
  assert.ok(firstIds.some((id) => opened.data.message.includes(id)),
    `the refusal names none of ${firstIds.join(', ')}: ${opened.data.message}`);
}

async function replayPush(ctx, send, expect) {
  const { attacker } = ctx.parties;
  const mark = crypto.randomBytes(8).toString('hex');
  const envelope = attacker.envelope({ pushCode: 'PUSH1', esbBody: { mark } });
  const first = await attacker.engine('/push-request', envelope);
  checkAnswer(first, { status: 200, envelope: { signed: true, success: true } }, ctx.bus, 'first push');
  const second = await attacker.engine('/push-request', envelope, { token: await freshToken(attacker) });
  assertReplayRefused(second, [first.opened.data.requestId], expect, ctx.bus);
}

async function replayAsync(ctx, send, expect) {
  const { attacker, provider: p } = ctx.parties;
  const mark = crypto.randomBytes(8).toString('hex');
  const request = await attacker.engine('/request', attacker.envelope({ apiCode: 'ASYN1', esbBody: { mark } }));
  checkAnswer(request, { status: 200, envelope: { signed: true, success: true } }, ctx.bus, 'async request');
  const requestId = request.opened.data.requestId;
  const answer = p.envelope({ requestId, success: true, esbBody: { answer: mark } });
  const first = await p.engine('/async', answer);
  checkAnswer(first, { status: 200, envelope: { signed: true, success: true } }, ctx.bus, 'first answer');
  const second = await p.engine('/async', answer, { token: await freshToken(p) });
  assertReplayRefused(second, [first.opened.data.requestId, requestId], expect, ctx.bus);
}

async function replayPull(ctx, send, expect) {
  const { attacker } = ctx.parties;
  const mark = crypto.randomBytes(8).toString('hex');
  const envelope = attacker.envelope({ apiCode: 'ECHO1', esbBody: { mark } });
  const first = await attacker.engine('/request', envelope);
  checkAnswer(first, expect, ctx.bus, 'first pull');
  const second = await attacker.engine('/request', envelope, { token: await freshToken(attacker) });
  checkAnswer(second, expect, ctx.bus, 'repeated pull');
  assert.notEqual(second.opened.data.requestId, first.opened.data.requestId, 'a new requestId');
  const delivered = ctx.provider.deliveries.filter((d) => d.data?.esbBody?.mark === mark);
  assert.equal(delivered.length, 2, 'the provider got both pulls');
}

// ---- what the bus writes and forwards -----------------------------------------------------------

async function logInjection(ctx, send, expect) {
  const { attacker } = ctx.parties;
  const marker = `FORGED${crypto.randomBytes(6).toString('hex')}`;
  const apiCode = `NOPE1\n${marker} 2099-01-01T00:00:00.000Z error the evidence log is damaged\x1b[31mRED`;
  const r = await attacker.engine('/request', attacker.envelope({ apiCode, esbBody: {} }));
  assert.ok(r.status >= 200 && r.status < 500, `an answer to the request: HTTP ${r.status} ${r.text}`);
  const deadline = Date.now() + expect.logWithin;
  let log = '';
  while (!(log = ctx.bus.log().toString('latin1')).includes(marker) && Date.now() < deadline) {
    await sleep(50);
  }
  const at = log.indexOf(marker);
  assert.ok(at >= 0, `the refusal of apiCode ${JSON.stringify(apiCode)} did not reach the log within ` +
    `${expect.logWithin} ms`);
  const lineStart = log.lastIndexOf('\n', at) + 1;
  const lineEnd = log.indexOf('\n', at);
  const line = log.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  assert.ok(!line.startsWith(marker), `the request forged a log line: ${JSON.stringify(line)}`);
  assert.ok(!log.includes('\x1b'), `the log holds a raw ESC byte: ${JSON.stringify(line)}`);
}

async function latin1Confusion(ctx) {
  const { attacker } = ctx.parties;
  const mark = crypto.randomBytes(8).toString('hex');
  const signedText = `{"apiCode":"ECHO1","esbBody":{"name":"Ã©","mark":"${mark}"}}`;
  const sentText = signedText.replace('Ã©', 'é');
  const signature = attacker.envelope(signedText).match(/"signature":"([^"]+)"/)[1];
  const r = await attacker.engine('/request', `{"data":${sentText},"signature":"${signature}"}`);
  const accepted = r.status === 200 && r.opened.data?.success === true;
  if (!accepted) return; // refused: fine
  const delivered = ctx.provider.deliveries.find((d) => d.data?.esbBody?.mark === mark);
  assert.ok(delivered, 'accepted, but the provider got no delivery');
  assert.equal(delivered.data.esbBody.name, 'Ã©',
    'accepted a signature over "Ã©" and forwarded other text: ' + delivered.raw.slice(0, 300));
}

// ---- admission control --------------------------------------------------------------------------

// Holds `connections` connections from 127.0.0.1, each asking GET /health; some must be refused
// (plain: 429/503 + Retry-After; TLS: closed), and 127.0.0.2 must still be served meanwhile.
async function connectionCap(ctx, send, expect) {
  const opened = await Promise.all(Array.from({ length: send.connections }, async () => {
    try {
      const socket = await connect(ctx.bus);
      const done = collect(socket, { waitMs: send.holdMs });
      socket.write('GET /health HTTP/1.1\r\nHost: bus\r\n\r\n');
      return done;
    } catch (err) {
      return Promise.resolve({ data: Buffer.alloc(0), closed: true, error: err.code ?? err.message });
    }
  }));
  const legit = await httpRequest(ctx.bus, { method: 'GET', path: '/health', localAddress: LEGIT_ADDRESS });
  const l = ctx.parties.legit;
  const exchange = await l.engine('/request', l.envelope({ apiCode: 'ECHO1', esbBody: { capped: true } }));
  const results = await Promise.all(opened);
  const answers = results.map((r) => parseResponses(r.data)[0] ?? null);
  const served = answers.filter((a) => a?.status === 200).length;
  const refused = answers.filter((a) => a && a.status !== 200);
  const closedSilently = results.filter((r, i) => !answers[i] && r.closed).length;
  assert.equal(legit.status, 200, `another address was not served: HTTP ${legit.status}`);
  checkAnswer(exchange, { status: 200, envelope: { signed: true, success: true } }, ctx.bus,
    'exchange from another address');
  assert.ok(served > 0, 'no connection from the capped address was served at all');
  if (ctx.bus.tls) {
    assert.ok(refused.length + closedSilently > 0, `all ${send.connections} connections were served`);
  } else {
    assert.ok(refused.length > 0, `no connection was refused (${served} served, ${closedSilently} closed)`);
  }
  for (const a of refused) checkAnswer({ status: a.status, headers: a.headers, text: a.body }, expect, ctx.bus, 'refusal');
}

export const SCRIPTS = {
  slowloris,
  silent,
  'token-bruteforce': tokenBruteforce,
  flood,
  'replay-push': replayPush,
  'replay-async': replayAsync,
  'replay-pull': replayPull,
  'log-injection': logInjection,
  'latin1-confusion': latin1Confusion,
  'connection-cap': connectionCap,
};
