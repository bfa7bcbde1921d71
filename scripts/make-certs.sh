#!/usr/bin/env bash
# Makes a small certificate authority and, signed by it, a certificate for the ctrlab server and for each client
# named, with openssl (keys are PKCS#8 PEM, as gRPC Java and Python read them).
#   scripts/make-certs.sh DIR SERVER_NAME [CLIENT ...]
# writes DIR/ca.pem (give it to clients: ctrlab --tls --ca-cert ca.pem), DIR/server.pem and DIR/server.key (for
# ctrlab-server --tls-cert/--tls-key; valid for SERVER_NAME, localhost and 127.0.0.1), and DIR/CLIENT.pem and
# DIR/CLIENT.key for each client (mutual TLS: ctrlab-server --tls-client-ca DIR/ca.pem). DAYS sets the validity
# (default 365). Keep ca.key somewhere safe: whoever has it can make certificates the server trusts.
set -euo pipefail
dir="$1"; name="$2"; shift 2
days="${DAYS:-365}"
mkdir -p "$dir"
cd "$dir"
umask 077
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
if [ ! -f ca.key ]; then
  key ca.key
  openssl req -x509 -new -key ca.key -out ca.pem -days "$days" -subj "/CN=ctrlab CA" 2>/dev/null
fi
sign() { # NAME EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  printf '%s\n' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days "$days" \
    -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
sign server "subjectAltName=DNS:$name,DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
for client in "$@"; do
  sign "$client" "extendedKeyUsage=clientAuth"
done
chmod 644 ca.pem server.pem
echo "made $(pwd)/ca.pem, server.pem, server.key${*:+ and client certificates for $*}"
