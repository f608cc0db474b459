#!/usr/bin/env python3
"""An independent implementation of PROTOCOL.md, in Python, that checks
glyph-crypto's vector files. It shares no code with the Rust crate: if both
agree, the files say what the spec says, not only what the crate does.

Needs the `cryptography` package. XChaCha20 is not in it, so HChaCha20 is
written out below from its definition (draft-irtf-cfrg-xchacha section 2.2).

usage: check_vectors.py DIR   (exit 0: all agree; 1: a disagreement; 2: setup)
"""
import base64
import hashlib
import hmac
import json
import struct
import sys
import unicodedata
from pathlib import Path

try:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError:
    print("skipped: the Python package `cryptography` is not installed")
    sys.exit(0)

RAW, RAW_FMT = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def hkdf(ikm, salt, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def hchacha20(key, nonce16):
    state = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) + list(
        struct.unpack("<4I", nonce16))

    def qr(a, b, c, d):
        state[a] = (state[a] + state[b]) & 0xFFFFFFFF; state[d] = rotl(state[d] ^ state[a], 16)
        state[c] = (state[c] + state[d]) & 0xFFFFFFFF; state[b] = rotl(state[b] ^ state[c], 12)
        state[a] = (state[a] + state[b]) & 0xFFFFFFFF; state[d] = rotl(state[d] ^ state[a], 8)
        state[c] = (state[c] + state[d]) & 0xFFFFFFFF; state[b] = rotl(state[b] ^ state[c], 7)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *(state[0:4] + state[12:16]))


def xchacha_seal(key, nonce, plaintext, aad):
    sub = hchacha20(key, nonce[:16])
    return ChaCha20Poly1305(sub).encrypt(b"\0" * 4 + nonce[16:], plaintext, aad)


def x_pub(sk):
    return x25519.X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes(RAW, RAW_FMT)


def x_dh(sk, pk):
    out = x25519.X25519PrivateKey.from_private_bytes(sk).exchange(x25519.X25519PublicKey.from_public_bytes(pk))
    assert out != b"\0" * 32
    return out


def ed_key(sk):
    return ed25519.Ed25519PrivateKey.from_private_bytes(sk)


def ed_pub(sk):
    return ed_key(sk).public_key().public_bytes(RAW, RAW_FMT)


def b64(data):
    return base64.b64encode(data).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class Disagreement(Exception):
    pass


def expect(name, index, field, stated, computed):
    if stated != computed:
        raise Disagreement(f"{name} vector {index}, field {field}: file {stated!r} != computed {computed!r}")


def check_identity(v):
    mnemonic = unicodedata.normalize("NFKD", v["mnemonic"]).encode()
    salt = b"mnemonic" + unicodedata.normalize("NFKD", v["passphrase"]).encode()
    seed = hashlib.pbkdf2_hmac("sha512", mnemonic, salt, 2048)
    sign_sk = hkdf(seed, b"glyph/identity/v1", b"ed25519", 32)
    dh_sk = hkdf(seed, b"glyph/identity/v1", b"x25519", 32)
    fp = hashlib.sha256(ed_pub(sign_sk)).hexdigest()[:12]
    return {"seed": seed.hex(), "sign_sk": sign_sk.hex(), "sign_pub": ed_pub(sign_sk).hex(),
            "dh_sk": dh_sk.hex(), "dh_pub": x_pub(dh_sk).hex(),
            "fingerprint": " \u00b7 ".join([fp[0:4], fp[4:8], fp[8:12]])}


def safety_digits(sign_pub, dh_pub):
    h = hashlib.sha512(struct.pack(">H", 0) + sign_pub + dh_pub + b"glyph/safety/v1").digest()
    for _ in range(5199):
        h = hashlib.sha512(h + sign_pub + dh_pub).digest()
    return "".join("%05d" % (int.from_bytes(h[i:i + 5], "big") % 100000) for i in range(0, 30, 5))


def check_safety_number(v):
    a = safety_digits(bytes.fromhex(v["a_sign_pub"]), bytes.fromhex(v["a_dh_pub"]))
    b = safety_digits(bytes.fromhex(v["b_sign_pub"]), bytes.fromhex(v["b_dh_pub"]))
    return {"safety_number": min(a, b) + max(a, b)}


def check_seal_v1(v):
    sign_sk, r_sk, eph_sk = (bytes.fromhex(v[k]) for k in ("sender_sign_sk", "recipient_dh_sk", "eph_sk"))
    nonce, plaintext = bytes.fromhex(v["nonce"]), bytes.fromhex(v["plaintext"])
    r_pub, eph_pub, sign_pub = x_pub(r_sk), x_pub(eph_sk), ed_pub(sign_sk)
    key = hkdf(x_dh(eph_sk, r_pub), eph_pub + r_pub, b"glyph/seal/v1", 32)
    ct = xchacha_seal(key, nonce, plaintext, sign_pub)
    sig = ed_key(sign_sk).sign(b"glyph/seal/v1" + eph_pub + nonce + ct)
    envelope = {"v": 1, "from": b64(sign_pub), "eph": b64(eph_pub), "nonce": b64(nonce), "ct": b64(ct),
                "sig": b64(sig)}
    stated = {k: v["envelope"].get(k) for k in envelope}
    return {"sender_sign_pub": sign_pub.hex(), "recipient_dh_pub": r_pub.hex(), "key": key.hex(),
            "envelope": (stated, envelope)}


def check_media(v):
    key, nonce, plaintext = (bytes.fromhex(v[k]) for k in ("key", "nonce", "plaintext"))
    return {"blob": xchacha_seal(key, nonce, plaintext, b"").hex(), "sha256": hashlib.sha256(plaintext).hexdigest()}


def check_share(v):
    key, iv, plaintext = (bytes.fromhex(v[k]) for k in ("key", "iv", "plaintext"))
    return {"blob": (iv + AESGCM(key).encrypt(iv, plaintext, None)).hex(),
            "link": f"{v['base']}/s/{v['code']}#key={b64url(key)}"}


CHECKS = {"identity": check_identity, "safety-number": check_safety_number, "seal-v1": check_seal_v1,
          "media": check_media, "share": check_share}


def main(directory):
    checked = 0
    for path in sorted(Path(directory).glob("*.json")):
        data = json.loads(path.read_text())
        check = CHECKS.get(data["section"])
        if check is None:
            continue  # sections this checker does not implement (x3dh, session)
        for index, vector in enumerate(data["vectors"]):
            for field, computed in check(vector).items():
                if isinstance(computed, tuple):
                    expect(data["section"], index, field, *computed)
                else:
                    expect(data["section"], index, field, vector[field], computed)
            checked += 1
        print(f"{path.name}: {len(data['vectors'])} vectors agree with the Python implementation")
    if checked == 0:
        print("no vectors found", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(main(sys.argv[1]))
    except Disagreement as err:
        print(f"DISAGREES: {err}", file=sys.stderr)
        sys.exit(1)
