#!/usr/bin/env python3
"""Verify a ceremony transcript (transcript.intoto.jsonl) independently of the Go tool.

Written from docs/transcript.md alone: section 11 (verification, step by step), plus, on
request, checks 2, 3 and 7 of section 12. Python 3 standard library only; signatures are
checked by the `openssl` command (`openssl dgst -sha256|-sha384 -verify`).

    python3 docs/verify-transcript.py TRANSCRIPT... [--ca ca.pem] [--require-witnesses N]

Each file is checked on its own (several copies of one transcript share their signature
checks). Exit 0: every file verifies (a summary of each on stdout). Exit 1: one does not; for
each such file one line on stderr, "FILE: line N: reason" (or "FILE: reason" when no single
line is at fault). Exit 2: usage error, or openssl missing.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

# §1: names fixed by the format.
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
ENTRY_TYPE = "https://ceremony.dev/transcript/entry/v1"
WITNESS_TYPE = "https://ceremony.dev/transcript/witness/v1"
PREV_SUBJECT = "transcript:prev"
SEAL_SUBJECT = "transcript:seal"
KINDS_AFTER_HEADER = ("step", "failure", "intent", "resume", "deviation", "seal")

HEX64 = re.compile(r"^[0-9a-f]{64}$")
KEY_ID = re.compile(r"^sha256:[0-9a-f]{64}$")
B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
# §8: RFC 3339; §10: witness times in UTC with Z.
TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")

# Defined member names, for the case-variant rule of §4.
STATEMENT_MEMBERS = ("_type", "subject", "predicateType", "predicate")
SUBJECT_MEMBERS = ("name", "digest", "mediaType", "content")
ENTRY_MEMBERS = ("seq", "kind", "prev", "step", "started", "finished", "operator", "inputs", "results", "error")
STEP_MEMBERS = ("id", "title", "attempt")
WITNESS_MEMBERS = ("name", "role", "time", "statement", "keyId", "publicKey")

# §5: key types by their DER AlgorithmIdentifier.
OID_EC = bytes.fromhex("2a8648ce3d0201")
OID_P256 = bytes.fromhex("2a8648ce3d030107")
OID_P384 = bytes.fromhex("2b81040022")
OID_RSA = bytes.fromhex("2a864886f70d010101")


class Bad(Exception):
    """A verification failure; line counts from 1, 0 when no line is at fault."""

    def __init__(self, line, msg):
        super().__init__(msg)
        self.line, self.msg = line, msg


class Invalid(Exception):
    """A problem with one line, before its line number is known."""


# ---------------------------------------------------------------- JSON (§4)

def _no_dupes(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise Invalid("duplicate member %s" % json.dumps(k))
        obj[k] = v
    return obj


def _no_constant(name):
    raise Invalid("%s is not JSON" % name)


def parse_json(raw, what):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("%s is not UTF-8" % what)
    if text.startswith("\ufeff"):
        raise Invalid("%s starts with a byte-order mark" % what)
    try:
        return json.loads(text, object_pairs_hook=_no_dupes, parse_constant=_no_constant)
    except ValueError as e:
        raise Invalid("%s: %s" % (what, e))


def check_case(obj, defined, where):
    folded = {n.casefold(): n for n in defined}
    for k in obj:
        if k not in defined and k.casefold() in folded:
            raise Invalid("%s member %s differs from %s only in letter case" % (where, json.dumps(k), json.dumps(folded[k.casefold()])))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def want(obj, name, kinds, where, required=False):
    """obj[name] with a JSON type check; None (absent or null) unless required."""
    v = obj.get(name)
    if v is None:
        if required:
            raise Invalid("%s has no %s" % (where, name))
        return None
    ok = {"string": lambda x: isinstance(x, str), "integer": is_int, "object": lambda x: isinstance(x, dict),
          "array": lambda x: isinstance(x, list), "any": lambda x: True}[kinds](v)
    if not ok:
        raise Invalid("payload is not an in-toto statement: %s.%s is not a JSON %s" % (where, name, kinds))
    return v


def parse_time(s, where, utc_only=False):
    m = TIME.match(s)
    if not m:
        raise Invalid("%s %s is not an RFC 3339 time" % (where, json.dumps(s)))
    if utc_only and m.group(8) != "Z":
        raise Invalid("%s must be RFC 3339 in UTC" % where)
    frac = (m.group(7) or ".0")[1:7].ljust(6, "0")
    try:
        t = datetime.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)),
                              int(m.group(6)), int(frac))
        if m.group(8) != "Z":
            datetime.timezone(datetime.timedelta(hours=int(m.group(8)[1:3]), minutes=int(m.group(8)[4:6])))
    except ValueError:
        raise Invalid("%s %s is not a valid time" % (where, json.dumps(s)))
    return t, (m.group(7) or "").strip(".0")


# ---------------------------------------------------------------- base64 (§3)

def strict_b64(s, what):
    if not isinstance(s, str) or len(s) % 4 != 0 or not B64.match(s):
        raise Invalid("%s: not standard base64" % what)
    b = base64.b64decode(s, validate=True)
    if base64.b64encode(b).decode("ascii") != s:
        raise Invalid("%s: not standard base64" % what)
    return b


# ---------------------------------------------------------------- keys (§5, §6)

def der_tlv(b, i):
    """One DER element at b[i]: (tag, value, next index), minimal lengths only."""
    if i + 2 > len(b):
        raise ValueError("truncated")
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or i + k > len(b) or b[i] == 0:
            raise ValueError("bad length")
        n = int.from_bytes(b[i:i + k], "big")
        if n < 0x80:
            raise ValueError("non-minimal length")
        i += k
    if i + n > len(b):
        raise ValueError("truncated")
    return tag, b[i:i + n], i + n


def parse_public_key(pem, where):
    """A §6 PEM PUBLIC KEY string -> (DER, openssl digest flag)."""
    if not isinstance(pem, str):
        raise Invalid("%s: not PEM" % where)
    head, tail = "-----BEGIN PUBLIC KEY-----\n", "-----END PUBLIC KEY-----\n"
    if not pem.startswith(head) or not pem.endswith(tail):
        raise Invalid("%s: want exactly one PEM PUBLIC KEY block, no headers" % where)
    body = pem[len(head):len(pem) - len(tail)].split("\n")
    if body[-1] != "" or len(body) < 2 or any(len(l) != 64 for l in body[:-2]) or not 0 < len(body[-2]) <= 64:
        raise Invalid("%s: want exactly one PEM PUBLIC KEY block, no headers" % where)
    der = strict_b64("".join(body[:-1]), where)
    try:
        tag, spki, end = der_tlv(der, 0)
        if tag != 0x30 or end != len(der):
            raise ValueError("not a SEQUENCE")
        tag, alg, i = der_tlv(spki, 0)
        btag, bits, j = der_tlv(spki, i)
        if tag != 0x30 or btag != 0x03 or j != len(spki) or not bits or bits[0] != 0:
            raise ValueError("not a SubjectPublicKeyInfo")
        otag, oid, k = der_tlv(alg, 0)
        params = alg[k:]
        if otag != 0x06:
            raise ValueError("no algorithm")
        if oid == OID_EC:
            ptag, curve, k2 = der_tlv(params, 0)
            if ptag != 0x06 or k2 != len(params):
                raise ValueError("EC key without a named curve")
            size = {OID_P256: 32, OID_P384: 48}.get(curve)
            if size is None:
                raise Invalid("%s: unsupported curve (P-256 or P-384)" % where)
            if len(bits) != 2 + 2 * size or bits[1] != 4:
                raise ValueError("not an uncompressed point")
            return der, "-sha256" if size == 32 else "-sha384", ORDER[curve]
        if oid == OID_RSA:
            if params != b"\x05\x00":
                raise ValueError("RSA parameters must be NULL")
            return der, "-sha256", None
        raise Invalid("%s: unsupported key type (ECDSA P-256, P-384 or RSA)" % where)
    except ValueError as e:
        raise Invalid("%s: not a DER SubjectPublicKeyInfo (%s)" % (where, e))


# Group orders of the two curves (SEC 2), for the low-S rule (§5).
ORDER = {
    OID_P256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    OID_P384: 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
}


def key_id(der):
    return "sha256:" + hashlib.sha256(der).hexdigest()


class Key:
    def __init__(self, pem, der, digest, order):
        self.pem, self.der, self.digest, self.id = pem, der, digest, key_id(der)
        self.order = order  # the curve's group order for ECDSA keys, None for RSA


class OpenSSL:
    """Signature checks with the openssl command, in one scratch directory."""

    def __init__(self, path):
        self.path = path
        self.dir = tempfile.mkdtemp(prefix="verify-transcript-")
        self.keys = {}
        self.verified = {}

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, *args, data=None):
        return subprocess.run((self.path,) + args, input=data, capture_output=True)

    def file(self, name, data):
        p = os.path.join(self.dir, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def verify(self, key, pae, sig):
        # Several copies of one transcript share most lines: check each
        # (key, PAE, signature) once.
        seen = hashlib.sha256(b"%d:%s%d:%s%s" % (len(key.der), key.der, len(pae), pae, sig)).digest()
        if seen not in self.verified:
            if key.id not in self.keys:
                self.keys[key.id] = self.file("key%d.pem" % len(self.keys), key.pem.encode("ascii"))
            r = self.run("dgst", key.digest, "-verify", self.keys[key.id], "-signature", self.file("sig.der", sig),
                         self.file("pae.bin", pae))
            self.verified[seen] = r.returncode == 0 and b"Verified OK" in r.stdout
        return self.verified[seen]


# ---------------------------------------------------------------- lines (§3, §4, §5)

def pae(payload):
    t = PAYLOAD_TYPE.encode("ascii")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def envelope(raw):
    """§11 steps 3.1-3.4: the payload bytes and the one signature (keyid, sig) of a raw line."""
    env = parse_json(raw, "not a DSSE envelope")
    if not isinstance(env, dict):
        raise Invalid("not a DSSE envelope: not a JSON object")
    if env.get("payloadType") != PAYLOAD_TYPE:
        raise Invalid("payloadType %s, want %s" % (json.dumps(env.get("payloadType")), json.dumps(PAYLOAD_TYPE)))
    payload = strict_b64(env.get("payload"), "payload")
    sigs = env.get("signatures")
    one = isinstance(sigs, list) and len(sigs) == 1 and isinstance(sigs[0], dict)
    keyid = sigs[0].get("keyid") if one else None
    sig = sigs[0].get("sig") if one else None
    if one and isinstance(keyid, str) and isinstance(sig, str) and (KEY_ID.match(keyid) and B64.match(sig)):
        template = ('{"payloadType":"%s","payload":"%s","signatures":[{"keyid":"%s","sig":"%s"}]}'
                    % (PAYLOAD_TYPE, env["payload"], keyid, sig)).encode("ascii")
        if template == raw:
            return payload, keyid, strict_b64(sig, "signature")
    if isinstance(sigs, list) and len(sigs) != 1:
        raise Invalid("%d signatures, want exactly one" % len(sigs))
    raise Invalid("envelope is not in the form this tool writes (spacing, field order, escaping or an extra field changed)")


def statement(payload, predicate_type):
    st = parse_json(payload, "payload is not an in-toto statement")
    if not isinstance(st, dict):
        raise Invalid("payload is not an in-toto statement: not a JSON object")
    check_case(st, STATEMENT_MEMBERS, "statement")
    if st.get("_type") != STATEMENT_TYPE or st.get("predicateType") != predicate_type:
        if predicate_type == WITNESS_TYPE and st.get("_type") == STATEMENT_TYPE and st.get("predicateType") == ENTRY_TYPE:
            raise Invalid("entry after the seal: only witness lines may follow it")
        raise Invalid("statement %s with predicate %s, want %s with %s" % (
            json.dumps(st.get("_type")), json.dumps(st.get("predicateType")), json.dumps(STATEMENT_TYPE), json.dumps(predicate_type)))
    subjects = want(st, "subject", "array", "statement") or []
    for s in subjects:
        if not isinstance(s, dict):
            raise Invalid("payload is not an in-toto statement: a subject is not an object")
        check_case(s, SUBJECT_MEMBERS, "subject")
        want(s, "name", "string", "subject")
        want(s, "mediaType", "string", "subject")
        want(s, "content", "string", "subject")
        digest = want(s, "digest", "object", "subject") or {}
        if any(not isinstance(v, str) for v in digest.values()):
            raise Invalid("payload is not an in-toto statement: a digest value is not a string")
    pred = st.get("predicate")
    if not isinstance(pred, dict):
        raise Invalid("payload is not an in-toto statement: the predicate is not an object")
    return subjects, pred


def check_subject(s, i):
    name, d = s.get("name") or "", (s.get("digest") or {}).get("sha256")
    where = "subject %d %s" % (i, json.dumps(name))
    if name == "" or name == PREV_SUBJECT:
        raise Invalid("%s: name empty or reserved" % where)
    if not isinstance(d, str) or not HEX64.match(d):
        raise Invalid("%s: digest needs sha256 as 64 lowercase hex digits" % where)
    if s.get("content") is not None:
        content = strict_b64(s["content"], where + ": content")
        if hashlib.sha256(content).hexdigest() != d:
            raise Invalid("%s: sha256 does not match its content" % where)


def entry(raw, seq, prev):
    """§11 steps 3.1-3.9 for the line expected at seq after a line of digest prev."""
    payload, keyid, sig = envelope(raw)
    subjects, e = statement(payload, ENTRY_TYPE)
    check_case(e, ENTRY_MEMBERS, "predicate")
    got_seq = want(e, "seq", "integer", "predicate")
    kind = want(e, "kind", "string", "predicate") or ""
    got_prev = want(e, "prev", "string", "predicate") or ""
    step = want(e, "step", "object", "predicate")
    if step is not None:
        check_case(step, STEP_MEMBERS, "step")
        want(step, "id", "string", "step")
        want(step, "title", "string", "step")
        want(step, "attempt", "integer", "step")
    for t in ("started", "finished"):
        if want(e, t, "string", "predicate") is not None:
            parse_time(e[t], "predicate." + t)
    want(e, "operator", "string", "predicate")
    want(e, "inputs", "object", "predicate")
    want(e, "error", "string", "predicate")
    if got_prev != prev and seq == 0:
        raise Invalid("prev %s on the first line, want none" % json.dumps(got_prev))
    if got_prev != prev:
        raise Invalid("prev does not match line %d" % seq)
    if got_seq != seq:
        raise Invalid("seq %s, want %d" % (json.dumps(got_seq), seq))
    if seq == 0 and kind != "header":
        raise Invalid('kind %s on the first line, want "header"' % json.dumps(kind))
    if seq > 0 and kind not in KINDS_AFTER_HEADER:
        raise Invalid("kind %s not allowed after the header" % json.dumps(kind))
    if seq > 0:
        first = subjects[0] if subjects else {}
        digest = first.get("digest") or {}
        if first.get("name") != PREV_SUBJECT or len(digest) != 1 or "sha256:" + str(digest.get("sha256")) != prev:
            raise Invalid('first subject must be "%s" with the previous line\'s sha256' % PREV_SUBJECT)
        subjects = subjects[1:]
    elif not subjects:
        raise Invalid("header has no subject (in-toto v1 requires one)")
    for i, s in enumerate(subjects):
        check_subject(s, i + 1)
    return e, payload, keyid, sig, subjects


def header_key(e):
    """§11 step 3.10: the transcript key and the declared witnesses, from the header's inputs."""
    inputs = e.get("inputs") or {}
    signer = inputs.get("signer")
    if not isinstance(signer, dict):
        raise Invalid("header: inputs.signer is missing: nothing names the transcript key")
    der, digest, order = parse_public_key(signer.get("publicKey"), "header: inputs.signer.publicKey")
    key = Key(signer["publicKey"], der, digest, order)
    if signer.get("keyId") != key.id:
        raise Invalid("header: inputs.signer.keyId %s is not the key ID of its publicKey (%s)" % (json.dumps(signer.get("keyId")), key.id))
    declared = inputs.get("witnesses") or []
    if not isinstance(declared, list):
        raise Invalid("header: inputs.witnesses is not an array")
    for i, w in enumerate(declared):
        if (not isinstance(w, dict) or not isinstance(w.get("name"), str) or w["name"] == "" or not isinstance(w.get("keyId"), str)
                or not KEY_ID.match(w["keyId"]) or not isinstance(w.get("role", ""), (str, type(None)))):
            raise Invalid("header: inputs.witnesses[%d]: needs a name and a keyId (sha256: and 64 lowercase hex digits)" % i)
    return key, declared


def check_signature(ssl, payload, keyid, sig, key):
    """§11 step 3.11 (one signature was already required by envelope())."""
    if keyid != key.id:
        raise Invalid("signature keyid %s, want %s" % (json.dumps(keyid), key.id))
    if not ssl.verify(key, pae(payload), sig):
        raise Invalid("signature does not verify with key %s" % key.id)
    if key.order is not None and ecdsa_s(sig) > key.order // 2:
        raise Invalid("ECDSA signature with a high S: only the low-S form is valid (§5)")


def ecdsa_s(sig):
    """The s of a DER Ecdsa-Sig-Value (already verified by openssl)."""
    _, seq, _ = der_tlv(sig, 0)
    _, _, i = der_tlv(seq, 0)
    _, s, _ = der_tlv(seq, i)
    return int.from_bytes(s, "big")


def check_seal(e, seq, before):
    """§11 step 3.12: the seal's lines and sha256 of the bytes before it."""
    results = e.get("results")
    lines = results.get("lines") if isinstance(results, dict) else None
    digest = results.get("sha256") if isinstance(results, dict) else None
    if not is_int(lines) or not isinstance(digest, str):
        raise Invalid('seal results need "lines" and "sha256" of the bytes before the seal')
    if lines != seq:
        raise Invalid("seal counts %d lines before it, there are %d" % (lines, seq))
    want_digest = hashlib.sha256(before).hexdigest()
    if digest != want_digest:
        raise Invalid("seal sha256 %s is not that of the %d lines before it (%s)" % (json.dumps(digest), seq, want_digest))


def witness(ssl, raw, seal_sha256, transcript_key):
    """§11 step 4: a witness line over the seal whose raw line has SHA-256 seal_sha256."""
    payload, keyid, sig = envelope(raw)
    subjects, p = statement(payload, WITNESS_TYPE)
    if (len(subjects) != 1 or subjects[0].get("name") != SEAL_SUBJECT or not isinstance(subjects[0].get("digest"), dict)
            or len(subjects[0]["digest"]) != 1):
        raise Invalid('a witness line\'s one subject must be "%s" with the seal line\'s sha256' % SEAL_SUBJECT)
    if subjects[0]["digest"].get("sha256") != seal_sha256:
        raise Invalid("witness line of another transcript: it signs the seal sha256:%s, this transcript's seal is sha256:%s"
                      % (subjects[0]["digest"].get("sha256"), seal_sha256))
    check_case(p, WITNESS_MEMBERS, "witness predicate")
    for m in WITNESS_MEMBERS:
        want(p, m, "string", "witness predicate")
    der, digest, order = parse_public_key(p.get("publicKey"), "witness publicKey")
    key = Key(p["publicKey"], der, digest, order)
    name = p.get("name") or ""
    if name == "":
        raise Invalid("witness has no name")
    t, frac = parse_time(p.get("time") or "", "witness %s: time" % json.dumps(name), utc_only=True)
    if t == datetime.datetime(1, 1, 1) and frac == "":
        raise Invalid("witness %s: time must be RFC 3339 in UTC" % json.dumps(name))
    if p.get("keyId") != key.id:
        raise Invalid("witness %s: keyId %s is not the key ID of its publicKey (%s)" % (json.dumps(name), json.dumps(p.get("keyId")), key.id))
    check_signature(ssl, payload, keyid, sig, key)
    if key.id == transcript_key.id:
        raise Invalid("witness %s signs with the transcript key: a witness needs a key of their own" % json.dumps(name))
    return {"name": name, "role": p.get("role") or "", "keyId": key.id, "time": p.get("time")}


# ---------------------------------------------------------------- the file (§2, §11)

class Verified:
    def __init__(self):
        self.entries = []      # (line number, predicate, own subjects) through the seal
        self.key = None
        self.declared = []
        self.seal_line = 0
        self.seal_sha256 = ""
        self.witnesses = []    # first line per key
        self.witness_lines = 0


def verify(data, ssl):
    if not data:
        raise Bad(0, "empty: no header")
    cut = data.rfind(b"\n") + 1
    body, tail = data[:cut], data[cut:]
    lines = body[:-1].split(b"\n") if body else []
    v = Verified()
    prev, offset = "", 0
    for i, raw in enumerate(lines):
        n = i + 1
        try:
            if not v.seal_line:
                e, payload, keyid, sig, subjects = entry(raw, i, prev)
                if i == 0:
                    v.key, v.declared = header_key(e)
                check_signature(ssl, payload, keyid, sig, v.key)
                if e.get("kind") == "seal":
                    check_seal(e, i, data[:offset])
                    v.seal_line, v.seal_sha256 = n, hashlib.sha256(raw).hexdigest()
                v.entries.append((n, e, subjects))
                prev = "sha256:" + hashlib.sha256(raw).hexdigest()
            else:
                w = witness(ssl, raw, v.seal_sha256, v.key)
                v.witness_lines += 1
                if all(x["keyId"] != w["keyId"] for x in v.witnesses):
                    w["line"] = n
                    v.witnesses.append(w)
        except Invalid as e:
            raise Bad(n, str(e))
        offset += len(raw) + 1
    if tail and not v.seal_line:
        raise Bad(len(lines) + 1, "torn last line (incomplete write) (%d bytes): the ceremony did not finish" % len(tail))
    if tail:
        raise Bad(len(lines) + 1, "torn last line (incomplete write) (%d bytes) after the seal, as an interrupted witness "
                                  "signature leaves: keep the first %d bytes (truncate -s %d)" % (len(tail), cut, cut))
    if not v.seal_line:
        last = v.entries[-1][1].get("kind") if v.entries else ""
        raise Bad(0, "not sealed: the ceremony did not finish (%d lines, the last a %s entry)" % (len(lines), json.dumps(last)))
    return v


# ---------------------------------------------------------------- §12, checks 2, 3 and 7

def latest(v, name):
    """The last step entry's inlined file called name, and its line."""
    found = (None, 0)
    for n, e, subjects in v.entries:
        if e.get("kind") != "step":
            continue
        for s in subjects:
            if s.get("name") == name and s.get("content") is not None:
                found = (base64.b64decode(s["content"]), n)
    return found


def check_ca(v, ssl, ca_path):
    try:
        with open(ca_path, "rb") as f:
            given = f.read()
    except OSError as e:
        raise Bad(0, "--ca: %s" % e)
    r = ssl.run("x509", "-outform", "DER", data=given)
    if r.returncode != 0:
        raise Bad(0, "--ca %s: not a certificate" % ca_path)
    given_der = r.stdout
    ca_pem, ca_line = latest(v, "ca.pem")
    if ca_pem is None:
        raise Bad(0, "the transcript records no CA certificate (ca.pem)")
    r = ssl.run("x509", "-outform", "DER", data=ca_pem)
    if r.returncode != 0 or r.stdout != given_der:
        raise Bad(ca_line, "verifying against another CA: the transcript's ca.pem (SHA-256 %s) is not the CA given (SHA-256 %s)"
                  % (hashlib.sha256(r.stdout).hexdigest(), hashlib.sha256(given_der).hexdigest()))
    ca_file = ssl.file("ca.pem", ca_pem)
    if ssl.run("verify", "-no_check_time", "-CAfile", ca_file, ca_file).returncode != 0:
        raise Bad(ca_line, "ca.pem is not a self-signed CA certificate")
    cert, cert_line = latest(v, "transcript.pem")
    if cert is None:
        raise Bad(0, "the transcript records no transcript.pem: nothing certifies the key that signed it")
    r = ssl.run("verify", "-no_check_time", "-CAfile", ca_file, ssl.file("transcript.pem", cert))
    if r.returncode != 0:
        raise Bad(cert_line, "transcript.pem was not issued by the CA given: %s" % (r.stdout + r.stderr).decode(errors="replace").strip().splitlines()[-1])
    pub = ssl.run("x509", "-noout", "-pubkey", data=cert)
    der = ssl.run("pkey", "-pubin", "-outform", "DER", data=pub.stdout)
    if pub.returncode != 0 or der.returncode != 0:
        raise Bad(cert_line, "transcript.pem: cannot read its public key")
    if key_id(der.stdout) != v.key.id:
        raise Bad(cert_line, "transcript.pem certifies key %s, but the transcript is signed by %s" % (key_id(der.stdout), v.key.id))
    return hashlib.sha256(given_der).hexdigest()


def check_file(path, args, ssl):
    """Verify one transcript; print its summary, or its failure on stderr. True when it verifies."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        print("%s: %s" % (path, e.strerror or e), file=sys.stderr)
        return False
    try:
        v = verify(data, ssl)
        ca = check_ca(v, ssl, args.ca) if args.ca else None
        declared = {w["keyId"]: w for w in v.declared}
        signed = [w for w in v.witnesses if w["keyId"] in declared]
        if len(signed) < args.require_witnesses:
            missing = [d["name"] for d in v.declared if all(w["keyId"] != d["keyId"] for w in v.witnesses)]
            raise Bad(0, "%d declared witnesses must sign, %d did; not signed: %s" % (args.require_witnesses, len(signed), ", ".join(missing) or "none"))
    except Bad as b:
        where = "line %d: " % b.line if b.line else ""
        print("%s: %s%s" % (path, where, b.msg), file=sys.stderr)
        return False
    print("%s: verified: %d lines through the seal (line %d), each signed by %s and chained to the one before"
          % (path, len(v.entries), v.seal_line, v.key.id))
    print("  seal sha256:%s" % v.seal_sha256)
    if ca:
        print("  ca.pem is the CA given (SHA-256 %s); transcript.pem, issued by it, certifies the transcript key" % ca)
    print("  %d witness lines; %d of %d declared witnesses signed" % (v.witness_lines, len(signed), len(declared)))
    for w in v.witnesses:
        print("  witness %s (%s) %s, line %d%s" % (w["name"], w["role"] or "no role", w["keyId"], w["line"],
                                                   "" if w["keyId"] in declared else ", not declared: not counted"))
    return True


def main(argv):
    ap = argparse.ArgumentParser(description="Verify ceremony transcripts (docs/transcript.md) with python3 and openssl.")
    ap.add_argument("transcript", nargs="+", help="transcript.intoto.jsonl files, each checked on its own")
    ap.add_argument("--ca", help="the ceremony CA certificate (PEM): also check ca.pem and transcript.pem against it")
    ap.add_argument("--require-witnesses", type=int, default=0, metavar="N", help="fail unless N distinct declared witnesses signed")
    args = ap.parse_args(argv)
    if args.require_witnesses < 0:
        ap.error("--require-witnesses: give a count")
    openssl = shutil.which("openssl")
    if openssl is None:
        print("verify-transcript: the openssl command is not installed", file=sys.stderr)
        return 2
    ssl = OpenSSL(openssl)
    try:
        results = [check_file(path, args, ssl) for path in args.transcript]
    finally:
        ssl.close()
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
