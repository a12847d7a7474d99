// A GovESB push subscriber in Node.js on the unchanged govesb-connector-js: the bus POSTs every
// push of the topics you subscribe to here, signed with the bus key, and retries until you
// answer success. A delivery can come twice (after a crash, or a lost answer): keep the
// requestIds you have processed (here in memory; use your database) and skip repeats.
// Run: GOVESB_CLIENT_PRIVATE_KEY=... GOVESB_ESB_PUBLIC_KEY=... PORT=8081 node subscriber.js
const http = require("node:http");
const { GovEsbHelper } = require("govesb-connector-js");

const helper = new GovEsbHelper({
  clientPrivateKey: process.env.GOVESB_CLIENT_PRIVATE_KEY,
  esbPublicKey: process.env.GOVESB_ESB_PUBLIC_KEY,
});
const processed = new Set();

async function receive(body) {
  let verified = null;
  try {
    verified = helper.verifyThenReturnData(body, "json");
  } catch (err) {}
  if (verified === null) return [400, await helper.failureResponse(null, "not a signed delivery", "json")];
  const { requestId, pushCode, esbBody } = JSON.parse(verified);
  if (processed.has(requestId)) {
    console.log(`push ${requestId} again: already processed`);
  } else {
    console.log(`push ${requestId} on ${pushCode}: ${JSON.stringify(esbBody)}`);
    processed.add(requestId); // after your own work is safely done
  }
  return [200, await helper.successResponse(JSON.stringify({ received: requestId }), "json")];
}

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const [status, text] = await receive(Buffer.concat(chunks).toString("utf8"));
    res.writeHead(status, { "Content-Type": "application/json" }).end(text);
  });
}).listen(Number(process.env.PORT || 8081), () => console.log("subscriber listening"));
