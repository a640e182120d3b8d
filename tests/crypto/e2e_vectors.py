#!/usr/bin/env python3
"""An independent computation of the end-to-end test vectors of
docs/PROTOCOL.md ("End to end (in progress)"), written from that text with
the `cryptography` package (python3-cryptography), not from our TypeScript.
tests/crypto/e2e_vectors.json holds its output (e2e_vectors_test.ts checks
our code against it); regenerate it with:

    python3 tests/crypto/e2e_vectors.py > tests/crypto/e2e_vectors.json
"""

import base64
import hashlib
import json
import struct

from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def ed(byte):
    return Ed25519PrivateKey.from_private_bytes(bytes([byte]) * 32)


def x(byte):
    return X25519PrivateKey.from_private_bytes(bytes([byte]) * 32)


def pub(key):
    return key.public_key().public_bytes(*RAW)


def dh(private, public):
    return private.exchange(X25519PublicKey.from_public_bytes(public))


def field(data):
    return struct.pack(">I", len(data)) + data


def hkdf(ikm, salt, info, length):
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def hmac256(key, data):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def b64(data):
    return base64.b64encode(data).decode()


def signed(identity, kind, key_id, key):
    message = (field(b"chat/1 e2e prekey") + field(pub(identity))
               + field(bytes([kind])) + field(struct.pack(">I", key_id))
               + field(pub(key)))
    return {"id": key_id, "key": b64(pub(key)),
            "sig": b64(identity.sign(message))}, message


def kdf_rk(rk, dh_out):
    okm = hkdf(dh_out, rk, b"chat/1 e2e ratchet", 64)
    return okm[:32], okm[32:]


def kdf_ck(ck):
    return hmac256(ck, b"\x02"), hmac256(ck, b"\x01")


def encrypt(mk, ad, header, plaintext):
    okm = hkdf(mk, bytes(32), b"chat/1 e2e message", 44)
    return header + AESGCM(okm[:32]).encrypt(okm[32:], plaintext, ad + header)


def header(ratchet_key, pn, n):
    return pub(ratchet_key) + struct.pack(">II", pn, n)


alice, bob = ed(0x0A), ed(0x0B)
alice_dh, bob_dh, bob_spk, bob_opk = x(0xA1), x(0xB1), x(0xB2), x(0xB3)
alice_ek, alice_r1, bob_r1 = x(0xA2), x(0xA3), x(0xB4)

spk_json, spk_message = signed(bob, 2, 1, bob_spk)
bundle = {
    "identity": b64(pub(bob)),
    "dh": signed(bob, 1, 0, bob_dh)[0],
    "signed": spk_json,
    "one_time": [signed(bob, 3, 7, bob_opk)[0]],
}
alice_dh_json = signed(alice, 1, 0, alice_dh)[0]

# X3DH, Alice's side.
ikm = (b"\xff" * 32 + dh(alice_dh, pub(bob_spk)) + dh(alice_ek, pub(bob_dh))
       + dh(alice_ek, pub(bob_spk)) + dh(alice_ek, pub(bob_opk)))
sk = hkdf(ikm, bytes(32), b"chat/1 e2e x3dh", 32)
ad = pub(alice) + pub(alice_dh) + pub(bob) + pub(bob_dh)

# Double Ratchet: Alice's first message, Bob's reply.
rk, cks = kdf_rk(sk, dh(alice_r1, pub(bob_spk)))
cks, mk = kdf_ck(cks)
message1 = encrypt(mk, ad, header(alice_r1, 0, 0), b"hello bob")

rk_b, ckr = kdf_rk(sk, dh(bob_spk, pub(alice_r1)))
rk_b, cks_b = kdf_rk(rk_b, dh(bob_r1, pub(alice_r1)))
cks_b, mk = kdf_ck(cks_b)
message2 = encrypt(mk, ad, header(bob_r1, 0, 0), b"hi alice")

# Alice's first message in its envelope (kind 1: with her X3DH init).
envelope1 = (bytes([1, 1]) + pub(alice) + pub(alice_dh)
             + base64.b64decode(alice_dh_json["sig"]) + pub(alice_ek)
             + struct.pack(">IBI", 1, 1, 7) + message1)



# The safety number of alice (IK seed 0a) and bob (0b), docs/PROTOCOL.md 11.8:
# libsignal's NumericFingerprintGenerator, version 0, 5200 iterations.
def safety_half(key, name_key):
    h = struct.pack(">H", 0) + key + name_key.encode()
    for _ in range(5200):
        h = hashlib.sha512(h + key).digest()
    return "".join("%05d" % (int.from_bytes(h[i:i + 5], "big") % 100000)
                   for i in range(0, 30, 5))


safety = "".join(sorted([safety_half(pub(alice), "alice"),
                         safety_half(pub(bob), "bob")]))

# Sender keys for groups, docs/PROTOCOL.md 11.11: chain id 16 bytes c1, chain
# key 32 bytes c2, signing key seed 32 bytes c3; two messages.
def hmac256(key, data):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


group_label = b"chat/1 e2e group"
chain_id = bytes([0xc1]) * 16
chain_key = bytes([0xc2]) * 32
group_signer = ed(0xc3)
sender_key = (bytes([1]) + chain_id + struct.pack(">I", 0) + chain_key
              + pub(group_signer))
group_messages = []
for iteration, text in enumerate([b"hello team", b"second"]):
    message_key = hmac256(chain_key, b"\x01")
    chain_key = hmac256(chain_key, b"\x02")
    material = HKDF(algorithm=hashes.SHA256(), length=44, salt=bytes(32),
                    info=b"chat/1 e2e group message").derive(message_key)
    header = bytes([1]) + chain_id + struct.pack(">I", iteration)
    ciphertext = AESGCM(material[:32]).encrypt(material[32:], text,
                                               group_label + header)
    signature = group_signer.sign(group_label + header + ciphertext)
    group_messages.append((header + ciphertext + signature).hex())


print(json.dumps({
    "signedPrekeyMessage": spk_message.hex(),
    "bundle": bundle,
    "aliceDh": alice_dh_json,
    "sharedKey": sk.hex(),
    "associatedData": ad.hex(),
    "message1": message1.hex(),
    "message2": message2.hex(),
    "envelope1": envelope1.hex(),
    "safetyNumber": safety,
    "senderKey": sender_key.hex(),
    "groupMessages": group_messages,
}, indent=2))
