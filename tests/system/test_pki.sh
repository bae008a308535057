# Sourced by the TLS system tests and bench/tls_compare.sh: a throwaway CA
# and certificates made with the openssl command line (no private key is
# ever committed).
#   pki_ca DIR            DIR/ca.crt and DIR/ca.key, a self-signed CA
#   pki_cert DIR NAME CN  DIR/NAME.crt and DIR/NAME.key, signed by DIR's CA,
#                         for 127.0.0.1 and localhost
# Both return non-zero when openssl fails.
pki_ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
pki_ca() {
  mkdir -p "$1" &&
    openssl req -x509 "${pki_ec[@]}" -keyout "$1/ca.key" -out "$1/ca.crt" -days 2 -subj /CN=test-ca \
      2>/dev/null
}
pki_cert() {
  local dir=$1 name=$2 cn=$3
  echo "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$dir/$name.ext" &&
    openssl req "${pki_ec[@]}" -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$cn" 2>/dev/null &&
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
      -out "$dir/$name.crt" -days 2 -extfile "$dir/$name.ext" 2>/dev/null
}
