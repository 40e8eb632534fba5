#!/usr/bin/env bash
# Certificates for the revocation tests (ssl.crl, ssl.ocsp), made fresh in <dir> with openssl
# and keytool. A root CA signs the server and an intermediate CA; the intermediate signs the
# clients. Distribution points and the OCSP responder are http://127.0.0.1:<port>/ (served by
# revocation_server.py):
#   root.crl (DER)             the root's CRL: nothing revoked (the intermediate names it)
#   inter.crl (DER)            the intermediate's CRL: revokes `revoked`
#   ocsp.json                  what the responder answers: serial -> good | revoked
#                              (`revoked` and `ocsp-revoked` are revoked there)
#   ocsp.{crt,key}             the responder's certificate, delegated by the intermediate
#   server.p12, trust.p12      the server's key store, and a trust store holding the root
#   ca.pem                     the root, for clients
#   <client>.{chain.pem,key}   clients: good, revoked, ocsp-revoked (CRL and OCSP URLs),
#                              ocsp-only (OCSP URL only), bare (neither)
# Every store's password is "secret".
#
# usage: make-revocation-certs.sh <dir> <port>
set -euo pipefail
d=$1
port=$2
mkdir -p "$d"
cd "$d"
pw=secret
url=http://127.0.0.1:$port
q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }

q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
    -subj "/CN=revocation test root" -addext "keyUsage=critical,keyCertSign,cRLSign"

# sign <name> <subject> <issuer> <extensions...>
sign() {
    local name=$1 subj=$2 issuer=$3
    shift 3
    q openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj"
    printf '%s\n' "$@" > "$name.ext"
    q openssl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial \
        -out "$name.pem" -days 30 -extfile "$name.ext"
}

sign inter "/CN=revocation test intermediate" ca \
    "basicConstraints=critical,CA:true" "keyUsage=critical,keyCertSign,cRLSign" \
    "crlDistributionPoints=URI:$url/root.crl"
sign server "/CN=localhost" ca "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "extendedKeyUsage=serverAuth,clientAuth"
sign ocsp "/CN=revocation test OCSP responder" inter "extendedKeyUsage=OCSPSigning" \
    "keyUsage=critical,digitalSignature"
both=("crlDistributionPoints=URI:$url/inter.crl" "authorityInfoAccess=OCSP;URI:$url/ocsp")
leaf=("subjectAltName=IP:127.0.0.1" "extendedKeyUsage=serverAuth,clientAuth")
sign good "/CN=good" inter "${leaf[@]}" "${both[@]}"
sign revoked "/CN=revoked" inter "${leaf[@]}" "${both[@]}"
sign ocsp-revoked "/CN=ocsp revoked" inter "${leaf[@]}" "${both[@]}"
sign ocsp-only "/CN=ocsp only" inter "${leaf[@]}" "authorityInfoAccess=OCSP;URI:$url/ocsp"
sign bare "/CN=bare" inter "${leaf[@]}"
for c in good revoked ocsp-revoked ocsp-only bare; do
    cat "$c.pem" inter.pem > "$c.chain.pem"
done
mv ocsp.pem ocsp.crt

# CRLs: the root's revokes nothing; the intermediate's revokes `revoked`.
crl() {
    local ca=$1
    shift
    rm -f "$ca.index" && touch "$ca.index" && echo 01 > "$ca.crlnumber"
    printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s\ncrlnumber=%s\ndefault_md=sha256\ndefault_crl_days=7\n' \
        "$ca.index" "$ca.crlnumber" > "$ca.cnf"
    for c in "$@"; do
        q openssl ca -config "$ca.cnf" -keyfile "$ca.key" -cert "$ca.pem" -revoke "$c.pem"
    done
    q openssl ca -config "$ca.cnf" -keyfile "$ca.key" -cert "$ca.pem" -gencrl -out "$ca.crl.pem"
    q openssl crl -in "$ca.crl.pem" -outform DER -out "$ca.crl"
}
crl ca
mv ca.crl root.crl
crl inter revoked

serial() { openssl x509 -in "$1.pem" -noout -serial | cut -d= -f2; }
{
    printf '{'
    printf '"%s": "good", ' "$(serial good)" "$(serial ocsp-only)"
    printf '"%s": "revoked", ' "$(serial revoked)"
    printf '"%s": "revoked"' "$(serial ocsp-revoked)"
    printf '}\n'
} > ocsp.json

q openssl pkcs12 -export -in server.pem -inkey server.key -out server.p12 -passout "pass:$pw" -name server
q keytool -importcert -file ca.pem -alias ca -keystore trust.p12 -storetype PKCS12 -storepass $pw -noprompt
rm -f ./*.csr ./*.ext ./*.srl
echo "revocation certificates in $d"
