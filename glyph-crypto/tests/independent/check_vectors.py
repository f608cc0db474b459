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


def spk_sig(b_sign_sk, spk_id, spk_pub):
    return ed_key(b_sign_sk).sign(b"glyph/spk/v1" + struct.pack(">I", spk_id) + spk_pub)


def x3dh(v):
    """Both sides of the handshake; returns (sk, ad, header dict, responder sk)."""
    a_sign, a_dh, b_sign, b_dh, spk, ek = (bytes.fromhex(v[k]) for k in
                                            ("a_sign_sk", "a_dh_sk", "b_sign_sk", "b_dh_sk", "b_spk_sk", "a_ek_sk"))
    opk = bytes.fromhex(v["b_opk_sk"]) if v["b_opk_sk"] is not None else None
    spk_pub, ek_pub = x_pub(spk), x_pub(ek)
    ed25519.Ed25519PublicKey.from_public_bytes(ed_pub(b_sign)).verify(
        spk_sig(b_sign, v["b_spk_id"], spk_pub), b"glyph/spk/v1" + struct.pack(">I", v["b_spk_id"]) + spk_pub)
    init = [x_dh(a_dh, spk_pub), x_dh(ek, x_pub(b_dh)), x_dh(ek, spk_pub)] + ([x_dh(ek, x_pub(opk))] if opk else [])
    resp = [x_dh(spk, x_pub(a_dh)), x_dh(b_dh, ek_pub), x_dh(spk, ek_pub)] + ([x_dh(opk, ek_pub)] if opk else [])
    sk = hkdf(b"\xff" * 32 + b"".join(init), b"\0" * 32, b"glyph/x3dh/v1", 32)
    sk_b = hkdf(b"\xff" * 32 + b"".join(resp), b"\0" * 32, b"glyph/x3dh/v1", 32)
    ad = ed_pub(a_sign) + x_pub(a_dh) + ed_pub(b_sign) + x_pub(b_dh)
    header = {"sign_pub": b64(ed_pub(a_sign)), "dh_pub": b64(x_pub(a_dh)), "ek": b64(ek_pub),
              "spk_id": v["b_spk_id"], "opk_id": v["b_opk_id"]}
    return sk, ad, header, sk_b


def check_x3dh(v):
    sk, ad, header, sk_b = x3dh(v)
    spk = bytes.fromhex(v["b_spk_sk"])
    return {"spk_sig": spk_sig(bytes.fromhex(v["b_sign_sk"]), v["b_spk_id"], x_pub(spk)).hex(),
            "sk": sk.hex(), "ad": ad.hex(), "header": ({k: v["header"].get(k) for k in header}, header),
            "responder sk": (sk_b.hex(), sk.hex())}


class Ratchet:
    """The Double Ratchet of PROTOCOL.md section 4, written from the spec."""
    MAX_SKIP, MAX_STORED = 1000, 2000

    def __init__(self, ad, dhs, dhr=None, rk=None, cks=None):
        self.ad, self.dhs, self.dhr, self.rk, self.cks = ad, dhs, dhr, rk, cks
        self.ckr, self.ns, self.nr, self.pn, self.skipped = None, 0, 0, 0, {}

    @staticmethod
    def kdf_rk(rk, dh_out):
        okm = hkdf(dh_out, rk, b"glyph/ratchet/rk/v1", 64)
        return okm[:32], okm[32:]

    @staticmethod
    def kdf_ck(ck):
        return hmac.new(ck, b"\x02", hashlib.sha256).digest(), hmac.new(ck, b"\x01", hashlib.sha256).digest()

    def seal(self, mk, header, data, opening=False):
        okm = hkdf(mk, b"\0" * 32, b"glyph/ratchet/mk/v1", 56)
        if opening:
            sub = hchacha20(okm[:32], okm[32:48])
            return ChaCha20Poly1305(sub).decrypt(b"\0" * 4 + okm[48:56], data, self.ad + header)
        return xchacha_seal(okm[:32], okm[32:], data, self.ad + header)

    def encrypt(self, plaintext):
        self.cks, mk = self.kdf_ck(self.cks)
        header = x_pub(self.dhs) + struct.pack(">II", self.pn, self.ns)
        self.ns += 1
        return header, self.seal(mk, header, plaintext)

    def skip(self, until):
        if self.nr + self.MAX_SKIP < until:
            raise ValueError("too many skipped")
        while self.ckr is not None and self.nr < until:
            self.ckr, mk = self.kdf_ck(self.ckr)
            self.skipped[(self.dhr, self.nr)] = mk
            self.nr += 1

    def decrypt(self, header, ct, next_key):
        """Signal's RatchetDecrypt; the caller keeps a copy to roll back."""
        dh, pn, n = header[:32], *struct.unpack(">II", header[32:])
        if (dh, n) in self.skipped:
            plaintext = self.seal(self.skipped[(dh, n)], header, ct, opening=True)
            del self.skipped[(dh, n)]
            return plaintext
        if dh != self.dhr:
            self.skip(pn)
            self.pn, self.ns, self.nr, self.dhr = self.ns, 0, 0, dh
            self.rk, self.ckr = self.kdf_rk(self.rk, x_dh(self.dhs, dh))
            self.skip(n)
            self.ckr, mk = self.kdf_ck(self.ckr)
            plaintext = self.seal(mk, header, ct, opening=True)  # authenticate before the next key is drawn
            self.dhs = next_key()
            self.rk, self.cks = self.kdf_rk(self.rk, x_dh(self.dhs, dh))
        else:
            self.skip(n)
            self.ckr, mk = self.kdf_ck(self.ckr)
            plaintext = self.seal(mk, header, ct, opening=True)
        self.nr += 1
        while len(self.skipped) > self.MAX_STORED:
            del self.skipped[next(iter(self.skipped))]
        return plaintext


def check_session(v):
    import copy
    sk, ad, header, _ = x3dh(v)
    a_keys = [bytes.fromhex(k) for k in v["a_ratchet_sks"]]
    b_keys = [bytes.fromhex(k) for k in v["b_ratchet_sks"]]
    used = {"a": 1, "b": 0}

    def next_key(side):
        keys = a_keys if side == "a" else b_keys
        key = keys[used[side]]
        used[side] += 1
        return key

    spk = bytes.fromhex(v["b_spk_sk"])
    a_first = a_keys[0]
    rk, cks = Ratchet.kdf_rk(sk, x_dh(a_first, x_pub(spk)))
    sides = {"a": Ratchet(ad, a_first, dhr=x_pub(spk), rk=rk, cks=cks), "b": None}
    a_heard_back, sends = False, []
    for event in v["events"]:
        if event["op"] == "send":
            side, plaintext = event["from"], bytes.fromhex(event["plaintext"])
            hdr, ct = sides[side].encrypt(plaintext)
            x3 = header if side == "a" and not a_heard_back else None
            envelope = {"v": 2, "x3dh": x3, "msg": {"header": b64(hdr), "ct": b64(ct)}}
            stated = v["envelopes"][len(sends)]
            stated = {"v": stated["v"], "x3dh": stated["x3dh"] and {k: stated["x3dh"].get(k) for k in header},
                      "msg": {k: stated["msg"].get(k) for k in ("header", "ct")}}
            expect("session", 0, f"envelopes[{len(sends)}]", stated, envelope)
            sends.append((side, plaintext, envelope))
            continue
        sender, plaintext, envelope = sends[event["msg"]]
        receiver = "b" if sender == "a" else "a"
        state = sides[receiver] or Ratchet(ad, spk, rk=sk)  # B's session starts at its first receive
        trial, saved_used = copy.deepcopy(state), dict(used)
        try:
            if receiver == "a" and envelope["x3dh"] is not None:
                raise ValueError("B never sends an x3dh header")
            opened = trial.decrypt(base64.b64decode(envelope["msg"]["header"]),
                                   base64.b64decode(envelope["msg"]["ct"]), lambda: next_key(receiver))
        except Exception as err:
            used.update(saved_used)
            if event.get("expect") != "reject":
                raise Disagreement(f"session: message {event['msg']} does not decrypt: {err!r}")
            continue
        if event.get("expect") == "reject":
            raise Disagreement(f"session: message {event['msg']} should be rejected")
        expect("session", 0, f"recv {event['msg']}", opened, plaintext)
        sides[receiver] = trial
        a_heard_back = a_heard_back or receiver == "a"
    return {"a_ratchet_sks used": (len(a_keys), used["a"]), "b_ratchet_sks used": (len(b_keys), used["b"])}


def check_device_list(v):
    """Section 9: sign the list; the file's list must equal it and follow the rules."""
    sign_sk = bytes.fromhex(v["sign_sk"])
    sign_pub = ed_pub(sign_sk)
    devices = v["devices"]
    assert 1 <= len(devices) <= 16, "a list holds 1 to 16 devices"
    assert all(isinstance(d, int) and 1 <= d <= 0xFFFFFFFF for d in devices), "ids are u32, not 0"
    assert all(a < b for a, b in zip(devices, devices[1:])), "ids strictly ascending"
    signed = (b"glyph/devices/v1" + sign_pub + struct.pack(">I", v["version"])
              + struct.pack(">I", len(devices)) + b"".join(struct.pack(">I", d) for d in devices))
    sig = ed_key(sign_sk).sign(signed)
    ed25519.Ed25519PublicKey.from_public_bytes(sign_pub).verify(sig, signed)
    computed = {"v": 1, "sign_pub": b64(sign_pub), "version": v["version"], "devices": devices, "sig": b64(sig)}
    stated = {k: v["list"].get(k) for k in computed}
    return {"sign_pub": sign_pub.hex(), "list": (stated, computed)}


CHECKS = {"device-list": check_device_list, "x3dh": check_x3dh, "session": check_session, "identity": check_identity, "safety-number": check_safety_number, "seal-v1": check_seal_v1,
          "media": check_media, "share": check_share}


def main(directory):
    checked = 0
    for path in sorted(Path(directory).glob("*.json")):
        data = json.loads(path.read_text())
        check = CHECKS.get(data["section"])
        if check is None:
            continue  # not a vector file of the spec
        for index, vector in enumerate(data["vectors"]):
            for field, computed in check(vector).items():
                if isinstance(computed, tuple):
                    expect(data["section"], index, field, *computed)
                elif field not in vector:
                    raise Disagreement(f"{data['section']} vector {index}: no field {field}")
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
