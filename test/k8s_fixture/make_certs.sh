#!/usr/bin/env bash
# Makes a throw-away test CA, a server certificate for the fixture and a client
# certificate, with openssl:  make_certs.sh DIR SAN [CLIENT_CN]
#   SAN: subjectAltName entries, e.g. "IP:127.0.0.1,DNS:k8s.test"
# Writes DIR/ca.crt ca.key server.crt server.key client.crt client.key
# (keys 0600). Nothing here is a real secret; the test deletes DIR.
set -euo pipefail
dir=$1 san=$2 client=${3:-clusterd-client}
mkdir -p "$dir"
cd "$dir"
umask 077
q() { "$@" >/dev/null 2>&1 || { echo "make_certs: $* failed" >&2; "$@"; exit 1; }; }
q openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=fixture-ca -keyout ca.key -out ca.crt
q openssl req -newkey rsa:2048 -nodes -subj /CN=fixture-server -keyout server.key -out server.csr
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" > server.ext
q openssl x509 -req -days 2 -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile server.ext -out server.crt
q openssl req -newkey rsa:2048 -nodes -subj "/CN=$client" -keyout client.key -out client.csr
printf 'extendedKeyUsage=clientAuth\n' > client.ext
q openssl x509 -req -days 2 -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile client.ext -out client.crt
rm -f server.csr client.csr server.ext client.ext ca.srl
chmod 644 ca.crt server.crt client.crt
