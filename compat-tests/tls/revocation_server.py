"""The distribution points and OCSP responder of the revocation tests, on 127.0.0.1:<port>:
GET /<file> serves a file of <dir> (the CRLs); POST /ocsp, or GET /ocsp/<base64 request>,
answers an OCSP request as <dir>/ocsp.json says (serial in hex -> good | revoked), signed by
the delegated responder <dir>/ocsp.{crt,key}, for the certificates <dir>/*.pem the
intermediate <dir>/inter.pem issued. Each request is logged on stdout.

usage: revocation_server.py <port> <dir>
"""
import base64
import datetime
import glob
import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

port, root = int(sys.argv[1]), sys.argv[2]


def load(name):
    with open(os.path.join(root, name), "rb") as f:
        return f.read()


issuer = x509.load_pem_x509_certificate(load("inter.pem"))
responder = x509.load_pem_x509_certificate(load("ocsp.crt"))
responder_key = serialization.load_pem_private_key(load("ocsp.key"), None)
status = {int(k, 16): v for k, v in json.loads(load("ocsp.json")).items()}
certs = {}
for path in glob.glob(os.path.join(root, "*.pem")):
    with open(path, "rb") as f:
        data = f.read()
    if b"BEGIN CERTIFICATE" in data:
        c = x509.load_pem_x509_certificate(data)
        if c.issuer == issuer.subject:
            certs[c.serial_number] = c


def answer(der):
    req = ocsp.load_der_ocsp_request(der)
    cert = certs.get(req.serial_number)
    if cert is None or req.serial_number not in status:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
    now = datetime.datetime.utcnow()
    revoked = status[req.serial_number] == "revoked"
    b = ocsp.OCSPResponseBuilder().add_response(
        cert=cert, issuer=issuer, algorithm=req.hash_algorithm,
        cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
        this_update=now - datetime.timedelta(minutes=1),
        next_update=now + datetime.timedelta(hours=1),
        revocation_time=now - datetime.timedelta(hours=1) if revoked else None,
        revocation_reason=None,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, responder).certificates([responder])
    return b.sign(responder_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class Handler(BaseHTTPRequestHandler):
    def reply(self, body, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = urllib.parse.unquote(self.path)
        if path.startswith("/ocsp/"):
            self.reply(answer(base64.b64decode(path[len("/ocsp/"):])),
                       "application/ocsp-response")
            return
        name = os.path.basename(path)
        try:
            self.reply(load(name), "application/pkix-crl")
        except OSError:
            self.send_error(404)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.reply(answer(self.rfile.read(n)), "application/ocsp-response")

    def log_message(self, fmt, *args):
        print("%s %s" % (self.client_address[0], fmt % args), flush=True)


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
