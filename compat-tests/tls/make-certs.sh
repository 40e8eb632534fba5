#!/usr/bin/env bash
# Certificates and keystores for the TLS tests, made fresh in <dir> with openssl and keytool:
#   ca.pem                      the test CA
#   server.{jks,p12,pem}        the server's key and certificate (SAN IP:127.0.0.1, DNS:localhost)
#   server-enc.pem              the same with its key encrypted by the password
#   server2.pem                 another server certificate (CN=reloaded), for reloading
#   trust.{jks,p12,pem}         a trust store holding the CA
#   client.{crt,key,p12,jks}    a client whose subject needs escaping, has a multi-valued RDN
#                               and an email attribute
#   super.{crt,key,p12}         a client named by X509AuthenticationProvider.superUser
#   stranger.{crt,key,p12}      a client signed by another CA (untrusted)
#   expired.{crt,key,p12}       a client whose certificate has expired
#   other-ip.{crt,key,p12}      a client certificate naming only 10.9.9.9
# Every store's password is "secret".
#
# usage: make-certs.sh <dir>
set -euo pipefail
d=$1
mkdir -p "$d"
cd "$d"
pw=secret
q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; }

q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=ferrozk test CA"
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca2.key -out ca2.pem -days 30 -subj "/CN=another CA"

# leaf <name> <subject> <san> <ca> [days|expired]
leaf() {
    local name=$1 subj=$2 san=$3 ca=$4 days=${5:-30}
    q openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj"
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" > "$name.ext"
    if [ "$days" = expired ]; then
        # Valid for one day, starting two days ago (keytool can back-date; openssl 3.0 cannot).
        [ -f "$ca.p12" ] || q openssl pkcs12 -export -in "$ca.pem" -inkey "$ca.key" -out "$ca.p12" \
            -passout "pass:$pw" -name ca
        q keytool -gencert -keystore "$ca.p12" -storetype PKCS12 -storepass $pw -alias ca \
            -infile "$name.csr" -outfile "$name.crt" -rfc -startdate -2d -validity 1 \
            -ext "san=ip:127.0.0.1"
    else
        q openssl x509 -req -in "$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
            -out "$name.crt" -days "$days" -extfile "$name.ext"
    fi
    q openssl pkcs12 -export -in "$name.crt" -inkey "$name.key" -out "$name.p12" -passout "pass:$pw" -name "$name"
}

leaf server "/CN=localhost" "IP:127.0.0.1,DNS:localhost" ca
leaf server2 "/CN=reloaded" "IP:127.0.0.1,DNS:localhost" ca
leaf client "/C=US/O=Acme, Inc./OU=ops+UID=42/CN=client #1 <one>/emailAddress=one@example.com" "IP:127.0.0.1" ca
leaf super "/O=ferrozk/CN=zk admin" "IP:127.0.0.1" ca
leaf stranger "/CN=stranger" "IP:127.0.0.1" ca2
leaf expired "/CN=expired" "IP:127.0.0.1" ca expired
leaf other-ip "/CN=elsewhere" "IP:10.9.9.9" ca

# The server's key as PEM (PKCS#8 key and certificate in one file), JKS and PKCS12.
q openssl pkcs8 -topk8 -nocrypt -in server.key -out server.p8
cat server.crt server.p8 > server.pem
# ... and with the key encrypted by the store password (PKCS#8 PBES2, AES-256).
q openssl pkcs8 -topk8 -v2 aes-256-cbc -passout "pass:$pw" -in server.key -out server.ep8
cat server.crt server.ep8 > server-enc.pem
q openssl pkcs8 -topk8 -nocrypt -in server2.key -out server2.p8
cat server2.crt server2.p8 > server2.pem
q keytool -importkeystore -srckeystore server.p12 -srcstoretype PKCS12 -srcstorepass $pw \
    -destkeystore server.jks -deststoretype JKS -deststorepass $pw -noprompt
q keytool -importkeystore -srckeystore client.p12 -srcstoretype PKCS12 -srcstorepass $pw \
    -destkeystore client.jks -deststoretype JKS -deststorepass $pw -noprompt
cp ca.pem trust.pem
q keytool -importcert -file ca.pem -alias ca -keystore trust.jks -storetype JKS -storepass $pw -noprompt
q keytool -importcert -file ca.pem -alias ca -keystore trust.p12 -storetype PKCS12 -storepass $pw -noprompt
rm -f ./*.csr ./*.ext ./*.srl
echo "certificates in $d"
