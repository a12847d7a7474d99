// A GovESB provider in Node.js on the unchanged govesb-connector-js: the bus POSTs each request
// for your API here, signed with the bus key; answer with an envelope signed with your key.
// Run: GOVESB_CLIENT_PRIVATE_KEY=... GOVESB_ESB_PUBLIC_KEY=... PORT=8080 node provider.js
const http = require("node:http");
const { GovEsbHelper } = require("govesb-connector-js");

const helper = new GovEsbHelper({
  clientPrivateKey: process.env.GOVESB_CLIENT_PRIVATE_KEY, // your key, base64 PKCS#8 DER
  esbPublicKey: process.env.GOVESB_ESB_PUBLIC_KEY, // `govesb admin --data-dir DIR esb-key`
});

async function answer(body) {
  let verified = null;
  try {
    verified = helper.verifyThenReturnData(body, "json"); // null: not signed by the bus
  } catch (err) {} // not JSON at all
  if (verified === null) return [400, await helper.failureResponse(null, "not a signed delivery", "json")];
  const { requestId, apiCode, esbBody } = JSON.parse(verified);
  console.log(`request ${requestId} for ${apiCode}: ${JSON.stringify(esbBody)}`);
  if (!esbBody || typeof esbBody.certificateNo !== "string") {
    return [200, await helper.failureResponse(null, "certificateNo is required", "json")];
  }
  const found = { certificateNo: esbBody.certificateNo, status: "registered" };
  return [200, await helper.successResponse(JSON.stringify(found), "json")];
}

http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    const [status, text] = await answer(Buffer.concat(chunks).toString("utf8"));
    res.writeHead(status, { "Content-Type": "application/json" }).end(text);
  });
}).listen(Number(process.env.PORT || 8080), () => console.log("provider listening"));
