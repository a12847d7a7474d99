'use strict';
// The other side of the payload-encryption interop tests (payload_encryption_test.cc): runs
// the reference implementation, govesb-connector-js, on files the test writes. Resolve the
// package with NODE_PATH=<repo>/test/interop/node_modules.
//
//   node node_payload_crypto.js encrypt <recipient SPKI base64 file> <plaintext file> <out file>
//   node node_payload_crypto.js decrypt <PKCS#8 base64 file> <encrypted JSON file> <out file>
//   node node_payload_crypto.js vectors    (prints testdata/node_payload_vectors.txt)
//
// Plaintext files are UTF-8 text (the helper takes and returns strings). Exit status: 0 on
// success, 2 when the helper fails, 3 when the package cannot be loaded.

const fs = require('fs');
const crypto = require('crypto');

let GovEsbHelper;
try {
  ({ GovEsbHelper } = require('govesb-connector-js'));
} catch (e) {
  process.stderr.write(`cannot load govesb-connector-js (NODE_PATH=${process.env.NODE_PATH || ''}): ${e.message}\n`);
  process.exit(3);
}

const readText = (path) => fs.readFileSync(path, 'utf8');

function main(argv) {
  const [mode, keyFile, inFile, outFile] = argv;
  const helper = new GovEsbHelper();
  if (mode === 'encrypt') {
    fs.writeFileSync(outFile, helper.encrypt(readText(inFile), readText(keyFile).trim()), 'utf8');
  } else if (mode === 'decrypt') {
    helper.setClientPrivateKey(readText(keyFile).trim());
    fs.writeFileSync(outFile, helper.decrypt(readText(inFile)), 'utf8');
  } else if (mode === 'vectors') {
    // Fresh keys every run: a rerun gives new, equally valid vectors.
    const plaintext = '{"nin":"19850101-12345-00001-23","jina":"Asha Júma","kiasi":"1500.50 TSh ✓"}';
    for (const curve of ['secp256k1', 'prime256v1', 'secp521r1']) {
      const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: curve });
      const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
      const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
      process.stdout.write(`${curve} ${pkcs8} ${helper.encrypt(plaintext, spki)}\n`);
    }
  } else {
    throw new Error(`unknown mode '${mode}' (expected encrypt, decrypt or vectors)`);
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`govesb-connector-js failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
}
