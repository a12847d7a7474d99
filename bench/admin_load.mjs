// A steady load of portal-like admin API traffic (dashboards and searches) for bench/run's
// admin-load row: `node bench/admin_load.mjs ADMIN_URL TOKEN RATE SECONDS`. Requests are
// started at RATE per second (open loop, keep-alive connections), whatever the answers take;
// prints one JSON line: requests, ok, errors, achieved rate, p50/p99 latency in ms.
const [url, token, rateText, secondsText] = process.argv.slice(2);
if (!url || !token || !rateText || !secondsText) {
  console.error('usage: node admin_load.mjs ADMIN_URL TOKEN RATE SECONDS');
  process.exit(2);
}
const rate = Number(rateText);
const seconds = Number(secondsText);
const headers = { Authorization: `Bearer ${token}` };
// What a dashboard and an auditor's searches ask for.
const paths = [
  '/api/v1/traffic?step=1',
  '/api/v1/traffic/totals?by=code',
  '/api/v1/traffic/totals?by=system',
  '/api/v1/evidence?limit=50',
  '/api/v1/evidence?limit=20&kind=request',
  '/api/v1/apis',
  '/api/v1/deliveries?state=dead&limit=50',
  '/api/v1/actions?limit=50',
];
const latencies = [];
let requests = 0;
let ok = 0;
let errors = 0;
const started = performance.now();
const inFlight = new Set();
function one(i) {
  const t0 = performance.now();
  requests += 1;
  const p = fetch(url + paths[i % paths.length], { headers })
    .then(async (r) => {
      await r.arrayBuffer();
      if (r.ok) ok += 1; else errors += 1;
      latencies.push(performance.now() - t0);
    })
    .catch(() => { errors += 1; })
    .finally(() => inFlight.delete(p));
  inFlight.add(p);
}
let i = 0;
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (i < due) one(i++);
    if (performance.now() - started >= seconds * 1000) {
      clearInterval(timer);
      resolve();
    }
  }, 5);
});
await Promise.allSettled([...inFlight]);
const elapsed = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] : null);
console.log(JSON.stringify({
  requests, ok, errors, seconds: Number(elapsed.toFixed(2)),
  rate_per_s: Number((requests / elapsed).toFixed(1)),
  p50_ms: q(0.5) && Number(q(0.5).toFixed(2)), p99_ms: q(0.99) && Number(q(0.99).toFixed(2)),
}));
