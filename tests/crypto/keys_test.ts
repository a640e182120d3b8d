import assert from "node:assert/strict";
import { fromBase64, toBase64, utf8Encode } from "../../src/crypto/bytes.ts";
import {
  fingerprint,
  generateRsaKeyPair,
  holdsPrivateKey,
  importPrivateKeyPem,
  importPublicKeyDer,
  importPublicKeyPem,
  KeyFormatError,
  publicKeyPem,
} from "../../src/crypto/keys.ts";

const KEY = await generateRsaKeyPair(2048);

/** Written by Python's `cryptography` (PublicFormat.PKCS1), with its own SPKI fingerprint. */
const PYTHON_PKCS1_PUBLIC = `-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAzh2CgLiGluVJzt81kGMpQTAFC40U7bd7/pzHEoGATF9a4z709k1U
rDmcVE0eQcPStHMxUAXErnMxdXuyzfwDExMT0RQLyaeN9vtrMZIyoQWlMbXtwkr2
qyst9mZjIjBsbSgvEAyBiZml2/eAJBvicKpz55JUH+pd9MWwadpJLFFTpHaSxquw
2RKVpy6ws2C+FPRdHGlRKiDFIjucbvMz6jiPB9ZJS/2Vm71CEES7xe2X6GdbVJxG
GrjTinrCM+8eiuTpKBGw2TExOpjqfr/+EjnvXb/AuSe+0t8zk8iGAV7MloC6wnFe
3o26eRPv2/TNMDMce9S6ry476/iPhvqKUwIDAQAB
-----END RSA PUBLIC KEY-----
`;
const PYTHON_PKCS1_FINGERPRINT =
  "SHA256:AoeVCla/T6G/fJA/7cYvco5cFFGs9oJ8eXM+/pKe15I";

/**
 * A test key made by another producer, `openssl genrsa -traditional 2048`
 * (OpenSSL 3.0), and what `openssl rsa -pubout` wrote for it.
 */
const OPENSSL_PKCS1_PRIVATE = `-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAtl3u76/jWU/Di1iKW4B2s9gNhaIzAVfZzil0qPYDSwc6WhpV
eYPPTyFViyUbzlMa3+k9XZbDLDRBqsB+8W70FOmQcvQsVtvhGMnb4+XDP45YBJh4
nZmVnlz9QyEqJK4Y0X3PlpJQnuZZ/reuUZbS6XF5FpsDc7RZOvppri6yVMLXh+gp
RIdbycICGXdiH01Vbt0aPx3ieE9Q/E/OF6JxpIauzKMotu/78aXH/zMJJYIndJJg
1ZeZf/1Sbgmqikh8iaKMShEN/lfY/niPp7j2UZ4Pp4zWMe3xso2Jd1dBNb2iYvJN
Wxq/Snsb6J414k8RUr+ZWd7RD81TWCUyCeXs8QIDAQABAoIBAADB6p3rhJdf2+xi
QldHKjNvPkbCCh8yX1eBAKwYPL9vJ+viDx54w2oQqZ3WclkcfXc6f1yh/s18Bb4k
34Icjxs63djWMzz8VJ1plWJ9rQstOifuuxCyBxlv0I5vOzfCyS0Ot+IzBzboPeeM
aTiVGkbjEU/e3fZviKFGEywEX+uv63kHBvf3LlaXSBCa8gioCmf5J5QcnjpPcko4
9rU1t9AEEa3NhwZWmDxYtDw73G3sq8ILIdA9lccpjYcMPUSIMux2piscny0+YbzL
VFYfpKBLQJn1un+hoFqweZ5kgrlpxArvYrSq3PWAoXXoGdcXTkNm4eUBnAV/3Rs9
lhOn2mcCgYEA5amyY6DhPzr1sXWRuR0dL5C7JgwyJ66NI9GGpWL78jzgLmhBItuZ
g7gwXiZoIJ7+sqlSjmborcVwqW2ovuZcldMUZL69s7jaDzb1+KYw89bE2pZH+sbw
Tc0gTKzU/9HVMg89V0OYc2AUXK7hzR4C1jSxk4EMCcQchSBk+dWgdMcCgYEAy0fA
L9xprtTD1nSwTDf6yVQ/9Fa4cylHUi6DVNA/70XoCGd4sXE7eUO6FdNqEX5j2e/B
GLqtoDVvJqYfKqIbhesUae+iSj3+JcH/86fPk1IEyX/kvfY3UAH+xF0MnmwUWiBz
Osywb5wTR2tMhg8Q/zI8CbITZvobElzbxSfs6IcCgYAuu9FpJJuxWjYU3m/A04PU
4gazP1gVaxedak2T6giKyohz6RMYHMeoXhq5jecyfCgoAvyhrZ87fSnn0EC+V/IP
KtzDg2zm3X7CCdUTu/3KILH+KQaMqV7M9ijUcXcGd5SCk0dQMpkbIToDgjLAopLB
NAfOlDv24MlM7cKedDIqkQKBgAycnP3bLOtd4/CQOMfhyTtocLdWEgeDDhu5Kwi+
CtlreuPal5BauBfj7c2g2jnPn55L060XF+KSrhy1vcVFXXPHi/KunWEBy5zIFnsl
dClts0JVHvnyJqheF1JTe47woaqdzMhfHqsuAbwymgLPOHy8vyDS3YVMCxXukOwA
eCBNAoGBANkYMLrQ1jY7K5na5WoQECRZ82sh5E6LluPui7tiofBbFePJfxSt8rZ6
2437JVe9ba0AahAy6LBkOAy0VaHigMD85NMelvmJH2M2oEgvCglNuARBuZ4GTnjj
rZEL+XoDHrvFvDSBlrmv/LlMl0prD5DdNyVWgmVuu7ozihst5zdn
-----END RSA PRIVATE KEY-----
`;
const OPENSSL_PUBLIC = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtl3u76/jWU/Di1iKW4B2
s9gNhaIzAVfZzil0qPYDSwc6WhpVeYPPTyFViyUbzlMa3+k9XZbDLDRBqsB+8W70
FOmQcvQsVtvhGMnb4+XDP45YBJh4nZmVnlz9QyEqJK4Y0X3PlpJQnuZZ/reuUZbS
6XF5FpsDc7RZOvppri6yVMLXh+gpRIdbycICGXdiH01Vbt0aPx3ieE9Q/E/OF6Jx
pIauzKMotu/78aXH/zMJJYIndJJg1ZeZf/1Sbgmqikh8iaKMShEN/lfY/niPp7j2
UZ4Pp4zWMe3xso2Jd1dBNb2iYvJNWxq/Snsb6J414k8RUr+ZWd7RD81TWCUyCeXs
8QIDAQAB
-----END PUBLIC KEY-----
`;

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  return fromBase64(
    pem.split("\n").filter((l) => !l.startsWith("-----")).join(""),
  );
}

function toPem(label: string, der: Uint8Array): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${
    lines.join("\n")
  }\n-----END ${label}-----\n`;
}

/** The content of the DER element starting at `offset`, and where it ends. */
function derElement(
  der: Uint8Array,
  offset: number,
): { tag: number; content: Uint8Array; end: number } {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i]!;
    start += count;
  }
  return {
    tag,
    content: der.subarray(start, start + length),
    end: start + length,
  };
}

/** PKCS#8 PrivateKeyInfo -> the PKCS#1 RSAPrivateKey inside it. */
function pkcs8ToPkcs1(pkcs8: Uint8Array): Uint8Array {
  const info = derElement(pkcs8, 0).content;
  const version = derElement(info, 0);
  const algorithm = derElement(info, version.end);
  const privateKey = derElement(info, algorithm.end);
  assert.equal(privateKey.tag, 0x04);
  return privateKey.content;
}

/** SPKI -> the PKCS#1 RSAPublicKey inside it. */
function spkiToPkcs1(spki: Uint8Array): Uint8Array {
  const info = derElement(spki, 0).content;
  const algorithm = derElement(info, 0);
  const bits = derElement(info, algorithm.end);
  assert.equal(bits.tag, 0x03);
  return bits.content.subarray(1);
}

async function rejectsWith(
  promise: Promise<unknown>,
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof KeyFormatError, `got ${error}`);
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("generateRsaKeyPair writes PKCS#8 and SPKI PEM in 64-character lines", () => {
  for (
    const [pem, label] of [
      [KEY.privatePem, "PRIVATE KEY"],
      [KEY.publicPem, "PUBLIC KEY"],
    ] as const
  ) {
    assert.ok(pem.startsWith(`-----BEGIN ${label}-----\n`));
    assert.ok(pem.endsWith(`\n-----END ${label}-----\n`));
    const body = pem.split("\n").slice(1, -2);
    for (const line of body.slice(0, -1)) assert.equal(line.length, 64);
    assert.ok(body.at(-1)!.length <= 64);
  }
});

Deno.test("generateRsaKeyPair makes RSA-OAEP keys with exponent 65537", async () => {
  const { publicKey } = await importPublicKeyPem(KEY.publicPem);
  const algorithm = publicKey.algorithm as RsaHashedKeyAlgorithm;
  assert.equal(algorithm.name, "RSA-OAEP");
  assert.equal(algorithm.modulusLength, 2048);
  assert.equal((algorithm.hash as Algorithm).name, "SHA-256");
  assert.deepEqual([...algorithm.publicExponent], [1, 0, 1]);
});

Deno.test("generateRsaKeyPair rejects unsupported sizes", async () => {
  await assert.rejects(
    generateRsaKeyPair(1024 as 2048),
    RangeError,
  );
});

Deno.test("importPrivateKeyPem round-trips a generated key pair", async () => {
  const { privateKey, publicSpki } = await importPrivateKeyPem(KEY.privatePem);
  const { publicKey, spki } = await importPublicKeyPem(KEY.publicPem);
  assert.deepEqual(publicSpki, spki);
  assert.deepEqual(spki, pemBody(KEY.publicPem));
  assert.equal(await fingerprint(publicSpki), KEY.fingerprint);
  assert.equal(privateKey.extractable, false);
  assert.deepEqual(privateKey.usages, ["decrypt"]);

  const message = utf8Encode("secret");
  const ciphertext = await crypto.subtle.encrypt(
    { name: "RSA-OAEP" },
    publicKey,
    message,
  );
  const decrypted = await crypto.subtle.decrypt(
    { name: "RSA-OAEP" },
    privateKey,
    ciphertext,
  );
  assert.deepEqual(new Uint8Array(decrypted), message);
});

Deno.test("importPrivateKeyPem accepts PKCS#1 'RSA PRIVATE KEY' PEM", async () => {
  const pkcs1 = pkcs8ToPkcs1(pemBody(KEY.privatePem));
  const imported = await importPrivateKeyPem(toPem("RSA PRIVATE KEY", pkcs1));
  assert.equal(await fingerprint(imported.publicSpki), KEY.fingerprint);
});

Deno.test("importPublicKeyPem accepts PKCS#1 'RSA PUBLIC KEY' PEM", async () => {
  const pkcs1 = spkiToPkcs1(pemBody(KEY.publicPem));
  const imported = await importPublicKeyPem(toPem("RSA PUBLIC KEY", pkcs1));
  assert.deepEqual(imported.spki, pemBody(KEY.publicPem));

  // An independent producer: the SPKI fingerprint Python computed itself.
  const python = await importPublicKeyPem(PYTHON_PKCS1_PUBLIC);
  assert.equal(await fingerprint(python.spki), PYTHON_PKCS1_FINGERPRINT);
});

Deno.test("importPrivateKeyPem accepts CRLF line endings and surrounding text", async () => {
  const pem = "Bag Attributes\r\n" + KEY.privatePem.replaceAll("\n", "\r\n") +
    "trailer\r\n";
  const { publicSpki } = await importPrivateKeyPem(pem);
  assert.equal(await fingerprint(publicSpki), KEY.fingerprint);
});

Deno.test("fingerprint is SHA256: and unpadded base64 of the SPKI digest", async () => {
  // SHA-256("abc") is ba7816bf...15ad, whose base64 ends in "=".
  assert.equal(
    await fingerprint(utf8Encode("abc")),
    "SHA256:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
  );
  assert.match(KEY.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
});

Deno.test("importPrivateKeyPem rejects text that is not a PEM key", async () => {
  for (
    const text of ["", "hello", KEY.privatePem.replace(/-----BEGIN/, "BEGIN")]
  ) {
    await rejectsWith(
      importPrivateKeyPem(text),
      /^Not a PEM private key \(expected '-----BEGIN PRIVATE KEY-----'\)$/,
    );
  }
  await rejectsWith(
    importPublicKeyPem("garbage"),
    /^Not a PEM public key \(expected '-----BEGIN PUBLIC KEY-----'\)$/,
  );
});

Deno.test("importPrivateKeyPem rejects truncated and corrupt PEM", async () => {
  await rejectsWith(
    importPrivateKeyPem(KEY.privatePem.slice(0, 200)),
    /^Truncated PEM: no '-----END PRIVATE KEY-----' line/,
  );
  const lines = KEY.privatePem.split("\n");
  lines[3] = lines[3]!.slice(0, 10) + "!" + lines[3]!.slice(11);
  await rejectsWith(importPrivateKeyPem(lines.join("\n")), /not valid base64/);
  await rejectsWith(
    importPrivateKeyPem(
      toPem("PRIVATE KEY", crypto.getRandomValues(new Uint8Array(600))),
    ),
    /^Not an RSA private key, or the key data is corrupt$/,
  );
  await rejectsWith(
    importPrivateKeyPem(
      toPem("RSA PRIVATE KEY", new Uint8Array([0x30, 0x05, 1])),
    ),
    /^Corrupt RSA private key/,
  );
  await rejectsWith(
    importPrivateKeyPem(
      "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n",
    ),
    /is empty/,
  );
});

Deno.test("importPrivateKeyPem refuses a public key and vice versa", async () => {
  await rejectsWith(
    importPrivateKeyPem(KEY.publicPem),
    /^This is a public key, not a private key/,
  );
  await rejectsWith(
    importPublicKeyPem(KEY.privatePem),
    /^This is a private key; give the public key instead/,
  );
});

Deno.test("importPrivateKeyPem refuses encrypted and OpenSSH keys with a way out", async () => {
  const body = KEY.privatePem.split("\n").slice(1, -2).join("\n");
  await rejectsWith(
    importPrivateKeyPem(
      `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${body}\n-----END ENCRYPTED PRIVATE KEY-----\n`,
    ),
    /^Encrypted private keys are not supported; .*openssl pkey/,
  );
  await rejectsWith(
    importPrivateKeyPem(
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n" +
        `DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n${body}\n` +
        "-----END RSA PRIVATE KEY-----\n",
    ),
    /^Encrypted private keys are not supported/,
  );
  await rejectsWith(
    importPrivateKeyPem(
      `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`,
    ),
    /^OpenSSH-format private keys are not supported; .*ssh-keygen -p -m PKCS8/,
  );
  await rejectsWith(
    importPrivateKeyPem(
      `-----BEGIN EC PRIVATE KEY-----\n${body}\n-----END EC PRIVATE KEY-----\n`,
    ),
    /^Unsupported PEM type 'EC PRIVATE KEY'/,
  );
});

Deno.test("importPrivateKeyPem rejects non-RSA and weak keys", async () => {
  const ec = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign"],
  );
  const ecPkcs8 = new Uint8Array(
    await crypto.subtle.exportKey("pkcs8", ec.privateKey),
  );
  await rejectsWith(
    importPrivateKeyPem(toPem("PRIVATE KEY", ecPkcs8)),
    /^Not an RSA private key/,
  );

  const weak = await crypto.subtle.generateKey(
    {
      name: "RSA-OAEP",
      hash: "SHA-256",
      modulusLength: 1024,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ["encrypt", "decrypt"],
  );
  const weakPkcs8 = new Uint8Array(
    await crypto.subtle.exportKey("pkcs8", weak.privateKey),
  );
  const weakSpki = new Uint8Array(
    await crypto.subtle.exportKey("spki", weak.publicKey),
  );
  await rejectsWith(
    importPrivateKeyPem(toPem("PRIVATE KEY", weakPkcs8)),
    /^The RSA key is 1024 bits; use a key of 2048 to 4096 bits/,
  );
  await rejectsWith(importPublicKeyDer(weakSpki), /is 1024 bits/);
});

// chat keygen --public-from: the public key of a private key alone.
Deno.test("publicKeyPem of a private key's derived SPKI is byte for byte the public.pem chat keygen wrote", async () => {
  const { publicSpki } = await importPrivateKeyPem(KEY.privatePem);
  assert.equal(publicKeyPem(publicSpki), KEY.publicPem);
});

Deno.test("publicKeyPem of a PKCS#1 key from OpenSSL is what openssl rsa -pubout writes", async () => {
  const { publicSpki } = await importPrivateKeyPem(OPENSSL_PKCS1_PRIVATE);
  assert.equal(publicKeyPem(publicSpki), OPENSSL_PUBLIC);
});

Deno.test("publicKeyPem's key encrypts what the private key decrypts, and no other private key does", async () => {
  const { privateKey, publicSpki } = await importPrivateKeyPem(
    OPENSSL_PKCS1_PRIVATE,
  );
  const { publicKey } = await importPublicKeyPem(publicKeyPem(publicSpki));
  const message = utf8Encode("read it out loud");
  const ciphertext = await crypto.subtle.encrypt(
    { name: "RSA-OAEP" },
    publicKey,
    message,
  );
  assert.deepEqual(
    new Uint8Array(
      await crypto.subtle.decrypt({ name: "RSA-OAEP" }, privateKey, ciphertext),
    ),
    message,
  );
  const other = await importPrivateKeyPem(KEY.privatePem);
  await assert.rejects(
    crypto.subtle.decrypt({ name: "RSA-OAEP" }, other.privateKey, ciphertext),
  );
});

Deno.test("holdsPrivateKey is true for every private key PEM and false for public keys and other text", () => {
  for (
    const label of [
      "PRIVATE KEY",
      "RSA PRIVATE KEY",
      "ENCRYPTED PRIVATE KEY",
      "OPENSSH PRIVATE KEY",
      "EC PRIVATE KEY",
    ]
  ) {
    assert.ok(holdsPrivateKey(`-----BEGIN ${label}-----\nAAAA\n`), label);
  }
  assert.ok(holdsPrivateKey(OPENSSL_PKCS1_PRIVATE));
  assert.ok(!holdsPrivateKey(KEY.publicPem));
  assert.ok(!holdsPrivateKey(OPENSSL_PUBLIC));
  assert.ok(!holdsPrivateKey("not a key\n"));
});
