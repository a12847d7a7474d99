// The consumer side of the interoperability tests, run as a child process by lib.mjs so that
// it can be started with NODE_EXTRA_CA_CERTS=<the bus's CA> (read by Node at start only).
// It uses govesb-connector-js unchanged with Node's global fetch.
//
// Protocol: one JSON object per line on stdin, {id, op, ...args}; one answer per line on
// stdout, {id, ok:true, value} or {id, ok:false, error}.
//
// Ops:
//   hello                                   -> {node, extraCa}
//   request {config, kind, apiCode, body, replay}
//                                           -> {result} : GovEsbHelper.requestData / requestNida
//                                              / pushData (kind 'data' | 'nida' | 'push'; for
//                                              push, apiCode is the pushCode); result is what
//                                              the library returned (JSON text of data, or
//                                              null). When null, `diagnostic` holds a raw replay
//                                              (not with replay:false, where a replay would send
//                                              the push or call a second time).
//   asyncAnswer {config, requestId, body, build, success, message, path}
//                                           -> a provider's asynchronous answer POSTed to
//                                              <esbEngineUrl><path> with the library's token,
//                                              {sent, status, text, json, verified}
//   token {config}                          -> GovEsbHelper.getAccessToken() result
//   fetch {url, method, headers, basic, urlencoded, multipart, body}
//                                           -> {status, contentType, headers, text, json}
//   engine {config, token, path, data, authorization}
//                                           -> raw signed envelope to <esbEngineUrl><path>,
//                                              {status, text, json, verified}

import govesb from 'govesb-connector-js';

const { GovEsbHelper } = govesb;

function describeError(err) {
  if (!err) return String(err);
  let text = err.stack ?? String(err);
  let cause = err.cause;
  while (cause) {
    text += `\ncaused by: ${cause.code ? `[${cause.code}] ` : ''}${cause.message ?? cause}`;
    cause = cause.cause;
  }
  return text;
}

async function readResponse(res) {
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    headers: Object.fromEntries(res.headers.entries()),
    text,
    json,
  };
}

// Signs `data` the way the library does and posts the envelope with a given token.
async function rawEngine({ config, token, path = '/request', data, authorization }) {
  const helper = new GovEsbHelper(config);
  const payload = JSON.stringify(data);
  const signature = helper.signPayload(payload);
  const headers = { 'Content-Type': 'application/json; charset=utf-8' };
  if (authorization !== undefined) {
    if (authorization !== null) headers.Authorization = authorization;
  } else if (token != null) {
    headers.Authorization = `Bearer ${token}`;
  }
  const res = await fetch(`${config.esbEngineUrl}${path}`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ data, signature }),
  });
  const out = await readResponse(res);
  let verified = null;
  if (out.json && out.json.data !== undefined) {
    try {
      verified = helper.verifyThenReturnData(out.text, 'json');
    } catch { /* leave null */ }
  }
  return { ...out, verified };
}

const ops = {
  async hello() {
    return { node: process.version, extraCa: process.env.NODE_EXTRA_CA_CERTS ?? null };
  },

  async request({ config, kind, apiCode, body, replay = true }) {
    const helper = new GovEsbHelper(config);
    const result = kind === 'nida' ? await helper.requestNida(apiCode, body, 'json')
      : kind === 'push' ? await helper.pushData(apiCode, body, 'json')
        : await helper.requestData(apiCode, body, 'json');
    const out = { result, accessToken: helper.accessToken };
    if (result == null && replay) {
      // The library says the bus's signature did not verify (or the answer was no envelope).
      // Replay the same request by hand to show what the bus actually answered.
      try {
        const data = kind === 'nida'
          ? { apiCode, userId: config.nidaUserId, esbBody: { Payload: JSON.parse(body) } }
          : kind === 'push' ? { pushCode: apiCode, esbBody: JSON.parse(body) }
            : { apiCode, esbBody: JSON.parse(body) };
        const replay = await rawEngine({
          config,
          token: helper.accessToken,
          path: { nida: '/nida-request', push: '/push-request' }[kind] ?? '/request',
          data,
        });
        out.diagnostic = { status: replay.status, text: replay.text.slice(0, 4000) };
      } catch (err) {
        out.diagnostic = { error: describeError(err) };
      }
    }
    return out;
  },

  // govesb-connector-js 0.1.1 can BUILD an asynchronous answer (asyncSuccessResponse /
  // asyncFailureResponse) but has no function that POSTs one to the bus, so the envelope is
  // posted here by hand with the token the library obtained (getAccessToken), the way the
  // library posts its own requests (Bearer token, application/json; charset=utf-8).
  //   build 'connector': the envelope is the library's asyncSuccessResponse(body) /
  //     asyncFailureResponse(body, message), byte for byte. The library fills `requestId` of a
  //     success from its `apiCode` field (it has no requestId parameter), so that field is set
  //     to the requestId being answered; its failure variant carries no requestId at all.
  //   build 'raw': data = {requestId, success, esbBody[, message]} signed with the library's
  //     signPayload, i.e. with the same private key.
  async asyncAnswer({ config, requestId, body, build = 'connector', success = true, message = null,
    path = '/async' }) {
    const helper = new GovEsbHelper(config);
    await helper.getAccessToken();
    let sent;
    if (build === 'connector') {
      helper.apiCode = requestId;
      sent = success
        ? await helper.asyncSuccessResponse(body, 'json')
        : await helper.asyncFailureResponse(body, message, 'json');
    } else {
      const data = { requestId, success, esbBody: body == null ? {} : JSON.parse(body) };
      if (message != null) data.message = message;
      sent = JSON.stringify({ data, signature: helper.signPayload(JSON.stringify(data)) });
    }
    const res = await fetch(`${config.esbEngineUrl}${path}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${helper.accessToken}`,
        'Content-Type': 'application/json; charset=utf-8',
      },
      body: sent,
    });
    const out = await readResponse(res);
    let verified = null;
    if (out.json && out.json.data !== undefined) {
      try {
        verified = helper.verifyThenReturnData(out.text, 'json');
      } catch { /* leave null */ }
    }
    return { sent, ...out, verified };
  },

  async token({ config }) {
    const helper = new GovEsbHelper(config);
    return helper.getAccessToken();
  },

  async fetch({ url, method = 'POST', headers = {}, basic, urlencoded, multipart, body }) {
    const h = { ...headers };
    if (basic) h.Authorization = `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString('base64')}`;
    let payload = body;
    if (urlencoded) {
      payload = new URLSearchParams(urlencoded).toString();
      h['Content-Type'] = 'application/x-www-form-urlencoded';
    } else if (multipart) {
      payload = new FormData();
      for (const [k, v] of Object.entries(multipart)) payload.append(k, v);
      // fetch sets multipart/form-data; boundary=...
    }
    const res = await fetch(url, { method, headers: h, body: payload });
    return readResponse(res);
  },

  engine: rawEngine,
};

if (process.argv.includes('--worker')) {
  const inflight = new Set();
  const handle = (line) => {
    if (!line.trim()) return;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      process.stderr.write(`client worker: bad input line: ${line}\n`);
      return;
    }
    const { id, op, ...args } = message;
    const run = (async () => {
      try {
        if (!ops[op]) throw new Error(`unknown op ${op}`);
        const value = await ops[op](args);
        process.stdout.write(`${JSON.stringify({ id, ok: true, value })}\n`);
      } catch (err) {
        process.stdout.write(`${JSON.stringify({ id, ok: false, error: describeError(err) })}\n`);
      }
    })();
    inflight.add(run);
    run.finally(() => inflight.delete(run));
  };
  let buffered = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      handle(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
  });
  process.stdin.on('end', async () => {
    handle(buffered);
    await Promise.allSettled([...inflight]);
    process.exit(0);
  });
}
