// The engines of a GovESB cluster, started privately for a test: a PostgreSQL server (through
// `govesb_test_postgres`, restartable), a NATS JetStream cluster of `nats-server` processes on
// loopback (any node killed and started again), and `govesb serve --cluster` nodes.
//
// Only Node built-ins and test/interop/lib.mjs are used.

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

import { LineTail, cli, sleep, startBus, stopChild, track } from '../interop/lib.mjs';

const HERE = import.meta.dirname ?? decodeURIComponent(new URL('.', import.meta.url).pathname);
const REPO_ROOT = path.resolve(HERE, '..', '..');

// A loopback port nothing listens on now (bound, then released). `taken` avoids handing out
// the same port twice before the servers bind them.
export async function freePort(taken = new Set()) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = net.createServer();
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address();
    await new Promise((resolve) => server.close(resolve));
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no distinct free loopback port');
}

function run(file, args, { timeoutMs = 90_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${file} ${args.join(' ')} failed (${err.code ?? err.signal}):\n` +
          `${stderr.trim()}\n${stdout.trim()}`));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

function httpGet(url, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode,
        text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// Polls `probe` (returns truthy when done) every `intervalMs` until `timeoutMs`; then throws
// with `describe()`.
export async function waitFor(probe, { timeoutMs, intervalMs = 50, what, describe = () => '' }) {
  const deadline = Date.now() + timeoutMs;
  let last = null;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms` +
        `${last ? ` (last error: ${last.message})` : ''}\n${await describe()}`);
    }
    await sleep(intervalMs);
  }
}

function tailOf(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${file})`;
  }
}

function buildFile(envName, ...relative) {
  if (process.env[envName]) return process.env[envName];
  for (const dir of ['build', 'build-debug', 'build-release']) {
    const file = path.join(REPO_ROOT, dir, ...relative);
    if (fs.existsSync(file)) return file;
  }
  throw new Error(`${envName} is not set and build/${relative.join('/')} does not exist: build ` +
    'it (cmake --build build --target govesb_test_postgres) or set the variable');
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

function postgresBinDir() {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) =>
    fs.existsSync(path.join(root, v, 'bin', 'pg_ctl'))) : [];
  if (versions.length === 0) {
    throw new Error('no PostgreSQL server in /usr/lib/postgresql/*/bin: install the package ' +
      'postgresql (scripts/setup does)');
  }
  versions.sort((a, b) => Number(a) - Number(b));
  return path.join(root, versions.at(-1), 'bin');
}

// A private PostgreSQL server in `dir`, started by `govesb_test_postgres start DIR` (initdb,
// a free port, fsync off). restart() stops it (pg_ctl -m fast) and starts it again on the
// same data directory and port, as src/postgres/local_server.cc does.
export class Postgres {
  constructor(dir) {
    this.dir = dir;
    this.helper = buildFile('GOVESB_TEST_POSTGRES_BIN', 'src', 'postgres', 'govesb_test_postgres');
    this.bin = postgresBinDir();
    this.asPostgres = process.getuid?.() === 0;
    this.base = null;
    this.port = null;
  }

  get conninfo() {
    return `${this.base} dbname=postgres`;
  }

  async start() {
    const { stdout } = await run(this.helper, ['start', this.dir]);
    const file = path.join(this.dir, 'conninfo');
    if (!fs.existsSync(file)) {
      throw new Error(`govesb_test_postgres could not start PostgreSQL in ${this.dir}: ` +
        `${stdout}\n${tailOf(path.join(this.dir, 'commands.log'))}`);
    }
    this.base = fs.readFileSync(file, 'utf8').trim();
    this.port = Number(/port=(\d+)/.exec(this.base)[1]);
  }

  pgCtl(args) {
    const argv = [path.join(this.bin, 'pg_ctl'), '-D', path.join(this.dir, 'data'), ...args];
    return this.asPostgres ? run('runuser', ['-u', 'postgres', '--', ...argv])
      : run(argv[0], argv.slice(1));
  }

  async stop() {
    await this.pgCtl(['-m', 'fast', '-w', '-t', '60', 'stop']);
  }

  async startAgain() {
    const settings = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 ` +
      '-c max_connections=200 -c fsync=off -c full_page_writes=off';
    await this.pgCtl(['-l', path.join(this.dir, 'server.log'), '-w', '-t', '60', '-o', settings,
      'start']);
  }

  async restart({ downMs = 0 } = {}) {
    await this.stop();
    if (downMs > 0) await sleep(downMs);
    await this.startAgain();
  }

  // Stops the server and removes its directory.
  async destroy() {
    if (this.base) await run(this.helper, ['stop', this.dir]).catch(() => {});
  }

  logTail(lines = 30) {
    return `--- PostgreSQL server.log (tail) ---\n${tailOf(path.join(this.dir, 'server.log'), lines)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// NATS JetStream cluster (the configuration of src/nats/local_cluster.cc, plus a monitoring
// port per server to see when JetStream is ready)
// ---------------------------------------------------------------------------------------------

export class NatsCluster {
  constructor(dir, size = 3) {
    this.dir = dir;
    this.size = size;
    this.nodes = [];
    this.binary = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
  }

  get urls() {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`);
  }

  async start() {
    if (!fs.existsSync(this.binary)) {
      throw new Error(`no nats-server at ${this.binary}: install the package nats-server ` +
        '(scripts/setup does)');
    }
    const taken = new Set();
    for (let i = 0; i < this.size; i++) {
      const node = { name: `n${i}`, dir: path.join(this.dir, `n${i}`), child: null,
        clientPort: await freePort(taken), routePort: await freePort(taken),
        httpPort: await freePort(taken) };
      fs.mkdirSync(path.join(node.dir, 'store'), { recursive: true });
      this.nodes.push(node);
    }
    const clusterName = `govesb-test-${process.pid}`;
    for (const node of this.nodes) {
      const routes = this.nodes.filter((o) => o !== node)
        .map((o) => `    nats-route://127.0.0.1:${o.routePort}`).join('\n');
      fs.writeFileSync(path.join(node.dir, 'server.conf'),
        `server_name: ${node.name}\nlisten: 127.0.0.1:${node.clientPort}\n` +
        `http: 127.0.0.1:${node.httpPort}\n` +
        `jetstream {\n  store_dir: "${node.dir}/store"\n  max_memory_store: 64MB\n` +
        '  max_file_store: 1GB\n}\n' +
        `cluster {\n  name: ${clusterName}\n  listen: 127.0.0.1:${node.routePort}\n` +
        `  routes: [\n${routes}\n  ]\n}\n`);
    }
    for (let i = 0; i < this.size; i++) this.spawn(i);
    await Promise.all(this.nodes.map((_, i) => this.waitReady(i)));
    await this.waitPlaced(0, this.size);
  }

  spawn(i) {
    const node = this.nodes[i];
    const log = fs.openSync(path.join(node.dir, 'server.log'), 'a');
    node.child = track(spawn(this.binary, ['-c', path.join(node.dir, 'server.conf')],
      { stdio: ['ignore', log, log] }));
    fs.closeSync(log);
  }

  // The cluster is ready when a stream replicated on `replicas` servers can be created (and
  // deleted again) through server `i`, as src/nats/local_cluster.cc checks it: that proves the
  // meta group has a leader and sees the servers as peers. Each try waits up to 2 s.
  async waitPlaced(i, replicas, timeoutMs = 60_000) {
    const port = this.nodes[i].clientPort;
    const name = `govesb_test_probe_${process.pid}`;
    await waitFor(async () => {
      const created = await natsRequest(port, `$JS.API.STREAM.CREATE.${name}`, JSON.stringify({
        name, subjects: [`govesb.test.probe.${process.pid}`], num_replicas: replicas,
        storage: 'memory' }));
      if (created.error && created.error.err_code !== 10058) { // 10058: the name exists
        throw new Error(`stream create: ${JSON.stringify(created.error)}`);
      }
      const deleted = await natsRequest(port, `$JS.API.STREAM.DELETE.${name}`, '');
      if (deleted.error && deleted.error.err_code !== 10059) { // 10059: not found
        throw new Error(`stream delete: ${JSON.stringify(deleted.error)}`);
      }
      return true;
    }, { timeoutMs, intervalMs: 100, what: `a JetStream stream on ${replicas} servers`,
      describe: () => this.nodes.map((_, j) => this.logTail(j, 10)).join('\n') });
  }

  // JetStream is ready on a server when /healthz answers 200 and /jsz names a meta leader of a
  // group of all the servers.
  waitReady(i, timeoutMs = 30_000) {
    const node = this.nodes[i];
    return waitFor(async () => {
      if (node.child.exitCode !== null || node.child.signalCode !== null) {
        throw Object.assign(new Error(`nats-server ${node.name} exited`), { fatal: true });
      }
      const health = await httpGet(`http://127.0.0.1:${node.httpPort}/healthz`);
      if (health.status !== 200) return false;
      const jsz = JSON.parse((await httpGet(`http://127.0.0.1:${node.httpPort}/jsz`)).text);
      const meta = jsz.meta_cluster ?? {};
      return Boolean(meta.leader) && (meta.cluster_size ?? 0) >= this.size;
    }, { timeoutMs, what: `NATS JetStream on ${node.name}`, describe: () => this.logTail(i) });
  }

  alive(i) {
    const c = this.nodes[i].child;
    return c && c.exitCode === null && c.signalCode === null;
  }

  async kill(i) {
    await stopChild(this.nodes[i].child, { signal: 'SIGKILL' });
  }

  async startAgain(i) {
    this.spawn(i);
    await this.waitReady(i);
    await this.waitPlaced(i, this.nodes.filter((_, j) => this.alive(j)).length);
  }

  async stop() {
    await Promise.all(this.nodes.map((n) => stopChild(n.child)));
  }

  logTail(i, lines = 25) {
    return `--- nats-server ${this.nodes[i].name} (tail) ---\n` +
      tailOf(path.join(this.nodes[i].dir, 'server.log'), lines);
  }
}

// One request over the NATS client protocol (no client library): CONNECT, SUB to an inbox,
// PUB with that reply subject, and the first MSG on the inbox, parsed as JSON. Rejects after
// `timeoutMs`.
function natsRequest(port, subject, payload, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const inbox = `_INBOX.govesbtest${process.pid}.${Date.now()}`;
    let buffered = Buffer.alloc(0);
    let sent = false;
    const timer = setTimeout(() => finish(new Error(`NATS ${subject}: no answer in ${timeoutMs} ms`)),
      timeoutMs);
    const finish = (err, value) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    socket.on('error', (err) => finish(err));
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const eol = buffered.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffered.subarray(0, eol).toString('utf8');
        if (line.startsWith('INFO ') && !sent) {
          sent = true;
          const body = Buffer.from(payload, 'utf8');
          socket.write(`CONNECT {"verbose":false,"pedantic":false,"name":"govesb-test"}\r\n` +
            `SUB ${inbox} 1\r\nPUB ${subject} ${inbox} ${body.length}\r\n`);
          socket.write(Buffer.concat([body, Buffer.from('\r\n')]));
        } else if (line === 'PING') {
          socket.write('PONG\r\n');
        } else if (line.startsWith('-ERR')) {
          finish(new Error(`NATS ${subject}: ${line}`));
          return;
        } else if (line.startsWith('MSG ')) {
          const size = Number(line.split(' ').at(-1));
          if (buffered.length < eol + 2 + size + 2) return; // the payload is not all here yet
          const text = buffered.subarray(eol + 2, eol + 2 + size).toString('utf8');
          try {
            finish(null, JSON.parse(text));
          } catch (err) {
            finish(new Error(`NATS ${subject}: ${err.message}: ${text}`));
          }
          return;
        }
        buffered = buffered.subarray(eol + 2);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Bus nodes
// ---------------------------------------------------------------------------------------------

// `govesb cluster init --postgres CONNINFO --kek-file FILE --json`: {created, bus_public_key}.
export function clusterInit(conninfo, kekFile) {
  return cli(['cluster', 'init', '--postgres', conninfo, '--kek-file', kekFile, '--json']);
}

export function clusterStatus(conninfo) {
  return cli(['cluster', 'status', '--postgres', conninfo, '--json']);
}

// One `govesb serve --cluster` node. start() and restart() wait for "listening on"; each run
// listens on a fresh port (baseUrl changes) and keeps its output in `logDir/ID-run-N.log`.
export class BusNode {
  constructor({ id, conninfo, natsUrls, kekFile, logDir, extraArgs = [] }) {
    this.id = id;
    this.storeArgs = ['--cluster', '--postgres', conninfo, '--nats', natsUrls.join(','),
      '--node-id', id, '--kek-file', kekFile];
    this.extraArgs = ['--admin-listen', 'off', ...extraArgs];
    this.logDir = logDir;
    this.bus = null;
    this.runs = 0;
    this.unexpectedExits = [];
    this.killing = false;
    this.history = new LineTail(200);
  }

  get baseUrl() {
    return this.bus?.baseUrl ?? null;
  }

  alive() {
    const c = this.bus?.child;
    return Boolean(c) && c.exitCode === null && c.signalCode === null;
  }

  async start() {
    const run = ++this.runs;
    this.bus = await startBus({ storeArgs: this.storeArgs, plainHttp: true,
      extraArgs: this.extraArgs, timeoutMs: 60_000 });
    const child = this.bus.child;
    const log = fs.createWriteStream(path.join(this.logDir, `${this.id}-run-${run}.log`));
    const keep = (stream) => (chunk) => {
      log.write(chunk);
      this.history.push(chunk.toString('utf8').split('\n').filter(Boolean)
        .map((l) => `[${this.id} run ${run} ${stream}] ${l}`).join('\n') + '\n');
    };
    child.stdout.on('data', keep('out'));
    child.stderr.on('data', keep('err'));
    child.once('exit', (code, signal) => {
      log.end();
      if (!this.killing) {
        this.unexpectedExits.push(`${this.id} run ${run} exited on its own (${code ?? signal})`);
      }
    });
  }

  async kill() {
    this.killing = true;
    await stopChild(this.bus?.child, { signal: 'SIGKILL' });
    this.killing = false;
  }

  async stop() {
    this.killing = true;
    await stopChild(this.bus?.child, { signal: 'SIGTERM', graceMs: 15_000 });
  }

  tail() {
    return `${this.bus ? this.bus.tail() : `${this.id}: never started`}\n` +
      `--- ${this.id}: output of every run (last lines) ---\n${this.history.text()}`;
  }
}
