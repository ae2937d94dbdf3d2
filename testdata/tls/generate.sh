#!/usr/bin/env bash
# Regenerates the test TLS material (see testdata/PROVENANCE.md): a self-signed P-256 test CA
# and two leaves it signs, valid 100 years. The CA key is thrown away. Test use only.
set -euo pipefail
cd "$(dirname "$0")"
days=36500
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key \
    -out ca.pem -days $days -subj "/CN=xmtp-appview test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
for leaf in localhost other; do
    if [ "$leaf" = localhost ]; then san="DNS:localhost,IP:127.0.0.1"; else san="DNS:other.test"; fi
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$leaf.key" \
        -out "$leaf.csr" -subj "/CN=$leaf"
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
        "$san" >"$leaf.ext"
    openssl x509 -req -in "$leaf.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -out "$leaf.pem" -days $days -extfile "$leaf.ext"
    rm "$leaf.csr" "$leaf.ext"
done
rm -f ca.key ca.srl
chmod 644 ./*.key
