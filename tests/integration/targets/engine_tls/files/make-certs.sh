#!/usr/bin/env bash
# Copyright (c) moby.engine contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make-certs.sh DIR: the certificates of the engine_tls target, valid for one day.
#   DIR/ca.pem              the CA the engine trusts (its key: ca-key.pem)
#   DIR/server-{cert,key}.pem  the engine's certificate, for DNS:localhost and DNS:moby-tls.test only
#                           (not for the address 127.0.0.1, so that connecting by IP is a name mismatch)
#   DIR/client/{ca,cert,key}.pem  a client certificate signed by that CA, laid out for DOCKER_CERT_PATH
#   DIR/other-ca.pem        an unrelated CA, and DIR/other-{cert,key}.pem a client certificate it signed
set -euo pipefail
dir=$1
mkdir -p "$dir/client"
cd "$dir"
umask 077
# EC P-256 keys: as good as RSA here and generated in milliseconds.
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ca() {  # ca NAME CN
  openssl req -x509 "${newkey[@]}" -days 1 -keyout "$1-key.pem" -out "$1.pem" -subj "/CN=$2" 2>/dev/null
}
leaf() {  # leaf KEY CERT CA CN EXTENSIONS
  openssl req "${newkey[@]}" -keyout "$1" -out "$1.csr" -subj "/CN=$4" 2>/dev/null
  printf '%s\nauthorityKeyIdentifier=keyid,issuer\n' "$5" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3-key.pem" -CAcreateserial -days 1 \
    -extfile "$1.ext" -out "$2" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
ca ca "moby-it-engine_tls CA"
ca other-ca "moby-it-engine_tls unrelated CA"
leaf server-key.pem server-cert.pem ca moby-tls.test \
  "$(printf 'subjectAltName=DNS:localhost,DNS:moby-tls.test\nextendedKeyUsage=serverAuth')"
leaf client/key.pem client/cert.pem ca moby-it-client "extendedKeyUsage=clientAuth"
leaf other-key.pem other-cert.pem other-ca moby-it-client "extendedKeyUsage=clientAuth"
cp ca.pem client/ca.pem
