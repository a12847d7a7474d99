#!/bin/sh
# How the foreign known-answer vectors in keys_test.cc were made. Not run by the build: the
# keys are random, so a rerun gives new (equally valid) constants to paste into the test.
# Needs: openssl (3.x), node (>= 18), python3.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"

printf '%s' '{"apiCode":"TZX04KQ","esbBody":{"name":"Asha Juma","city":"Dar es Salaam","amount":1500.5}}' > msg.txt

echo "== openssl"
for c in secp256k1 prime256v1 secp521r1; do
  openssl ecparam -name $c -genkey -noout -out $c.sec1.pem
  echo "$c spki      $(openssl pkey -in $c.sec1.pem -pubout -outform DER | base64 -w0)"
  echo "$c pkcs8     $(openssl pkcs8 -topk8 -nocrypt -in $c.sec1.pem -outform DER | base64 -w0)"
  openssl dgst -sha256 -sign $c.sec1.pem -out $c.sig msg.txt
  echo "$c signature $(base64 -w0 $c.sig)"
  echo "$c SEC1 PEM:"; cat $c.sec1.pem
  echo "$c compressed spki $(openssl ec -in $c.sec1.pem -pubout -conv_form compressed -outform DER 2>/dev/null | base64 -w0)"
done
echo "prime256v1 explicit-params spki $(openssl ec -in prime256v1.sec1.pem -pubout -param_enc explicit -outform DER 2>/dev/null | base64 -w0)"
openssl pkcs8 -topk8 -in prime256v1.sec1.pem -passout pass:x -v2 aes-256-cbc

echo "== keys to refuse"
echo "rsa       $(openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 2>/dev/null | openssl pkey -pubout -outform DER | base64 -w0)"
echo "secp384r1 $(openssl ecparam -name secp384r1 -genkey -noout | openssl pkey -pubout -outform DER | base64 -w0)"
echo "ed25519   $(openssl genpkey -algorithm ed25519 | openssl pkey -pubout -outform DER | base64 -w0)"

echo "== node"
node -e '
const crypto = require("crypto");
const msg = require("fs").readFileSync("msg.txt");
for (const c of ["secp256k1", "prime256v1", "secp521r1"]) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: c });
  const s = crypto.createSign("sha256");
  s.update(msg);
  console.log(c, "spki     ", publicKey.export({ type: "spki", format: "der" }).toString("base64"));
  console.log(c, "pkcs8    ", privateKey.export({ type: "pkcs8", format: "der" }).toString("base64"));
  console.log(c, "signature", s.sign({ key: privateKey, dsaEncoding: "der" }).toString("base64"));
}'

echo "== secp256k1 signature variants (pass a base64 DER signature as argument)"
cat > variants.py <<'EOF'
import base64, sys
n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
der = base64.b64decode(sys.argv[1])
assert der[0] == 0x30 and der[1] == len(der) - 2
i, ints = 2, []
for _ in range(2):
    assert der[i] == 2
    l = der[i + 1]
    ints.append(int.from_bytes(der[i + 2:i + 2 + l], "big"))
    i += 2 + l
r, s = ints
def enc_int(x):
    b = x.to_bytes((x.bit_length() + 7) // 8, "big")
    if b[0] & 0x80:
        b = b"\0" + b
    return bytes([2, len(b)]) + b
def enc(r, s, long_form=False):
    body = enc_int(r) + enc_int(s)
    return bytes([0x30] + ([0x81] if long_form else []) + [len(body)]) + body
print("low-S    ", base64.b64encode(enc(r, min(s, n - s))).decode())
print("high-S   ", base64.b64encode(enc(r, max(s, n - s))).decode())
print("long-form", base64.b64encode(enc(r, s, long_form=True)).decode())
EOF
python3 variants.py "$(base64 -w0 secp256k1.sig)"

# tls_chain.pem (certificate_test.cc): a P-256 leaf for bus.example, 127.0.0.1 and ::1, serial
# 1234ABCD, then the self-signed CA that issued it. Made once on 2026-12-02 with:
#   openssl ecparam -name prime256v1 -genkey -noout -out ca.key
#   openssl req -x509 -new -key ca.key -subj "/CN=Test bus CA/O=GovESB tests" -days 3650 \
#     -out ca.pem -addext "basicConstraints=critical,CA:TRUE"
#   openssl ecparam -name prime256v1 -genkey -noout -out leaf.key
#   openssl req -new -key leaf.key -subj "/CN=bus.example/O=GovESB tests" -out leaf.csr
#   printf 'subjectAltName=DNS:bus.example,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\n' > ext
#   openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 0x1234ABCD -days 3650 \
#     -extfile ext -out leaf.pem
#   cat leaf.pem ca.pem > tls_chain.pem
# The expected values come from `openssl x509 -noout -fingerprint -sha256 -dates -serial`.
