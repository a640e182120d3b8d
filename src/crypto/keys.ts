// This module is browser compatible.

/**
 * RSA key pairs for server authentication: generation, PEM import and export,
 * and fingerprints.
 *
 * Keys are RSA-OAEP with SHA-256. Public keys travel and are compared as SPKI
 * DER as WebCrypto exports it, so a key has one byte form and one fingerprint
 * however it was written to disk (PKCS#8 or PKCS#1, SPKI or PKCS#1).
 */

import {
  arrayBufferBacked,
  concatBytes,
  equalBytes,
  fromBase64,
  randomBytes,
  toBase64,
} from "./bytes.ts";

/** Smallest RSA modulus accepted, in bits. */
export const MIN_RSA_BITS = 2048;

/** Largest RSA modulus accepted, in bits; larger keys would not fit a handshake message. */
export const MAX_RSA_BITS = 4096;

/** The key sizes `chat keygen` offers. */
export type RsaKeyBits = 2048 | 3072 | 4096;

const RSA_OAEP: RsaHashedImportParams = { name: "RSA-OAEP", hash: "SHA-256" };

/** F4, the public exponent everybody uses. */
const PUBLIC_EXPONENT = new Uint8Array([0x01, 0x00, 0x01]);

const PEM_PRIVATE = "PRIVATE KEY";
const PEM_PUBLIC = "PUBLIC KEY";
const PEM_RSA_PRIVATE = "RSA PRIVATE KEY";
const PEM_RSA_PUBLIC = "RSA PUBLIC KEY";
const PEM_ENCRYPTED_PRIVATE = "ENCRYPTED PRIVATE KEY";
const PEM_OPENSSH_PRIVATE = "OPENSSH PRIVATE KEY";
const PEM_LINE_CHARS = 64;

/**
 * DER of the AlgorithmIdentifier for rsaEncryption (1.2.840.113549.1.1.1) with
 * NULL parameters: the envelope PKCS#8 and SPKI put around PKCS#1 RSA keys.
 */
const RSA_ENCRYPTION_ALGORITHM = new Uint8Array([
  0x30,
  0x0d,
  0x06,
  0x09,
  0x2a,
  0x86,
  0x48,
  0x86,
  0xf7,
  0x0d,
  0x01,
  0x01,
  0x01,
  0x05,
  0x00,
]);

/** A key that cannot be used, with a message saying what to do about it. */
export class KeyFormatError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyFormatError";
  }
}

export interface GeneratedKeyPair {
  /** PKCS#8 PEM. */
  privatePem: string;
  /** SPKI PEM. */
  publicPem: string;
  /** {@link fingerprint} of the public key. */
  fingerprint: string;
}

export interface ImportedPrivateKey {
  /** Non-extractable RSA-OAEP (SHA-256) key, usable to decrypt. */
  privateKey: CryptoKey;
  /** The matching public key as canonical SPKI DER. */
  publicSpki: Uint8Array<ArrayBuffer>;
}

export interface ImportedPublicKey {
  /** RSA-OAEP (SHA-256) key, usable to encrypt. */
  publicKey: CryptoKey;
  /** Canonical SPKI DER. */
  spki: Uint8Array<ArrayBuffer>;
}

/** Generates a new RSA-OAEP key pair and returns it as PEM text. */
export async function generateRsaKeyPair(
  bits: RsaKeyBits,
): Promise<GeneratedKeyPair> {
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) {
    throw new RangeError(
      `Unsupported RSA key size ${bits}: use 2048, 3072 or 4096`,
    );
  }
  const pair = await crypto.subtle.generateKey(
    { ...RSA_OAEP, modulusLength: bits, publicExponent: PUBLIC_EXPONENT },
    true,
    ["encrypt", "decrypt"],
  );
  const pkcs8 = new Uint8Array(
    await crypto.subtle.exportKey("pkcs8", pair.privateKey),
  );
  const spki = new Uint8Array(
    await crypto.subtle.exportKey("spki", pair.publicKey),
  );
  return {
    privatePem: toPem(PEM_PRIVATE, pkcs8),
    publicPem: publicKeyPem(spki),
    fingerprint: await fingerprint(spki),
  };
}

/**
 * Imports an unencrypted RSA private key from PKCS#8 (`BEGIN PRIVATE KEY`) or
 * PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM, and derives its public key.
 *
 * @throws {KeyFormatError} if the text is not a usable RSA private key
 */
export async function importPrivateKeyPem(
  pem: string,
): Promise<ImportedPrivateKey> {
  const block = parsePem(pem, "private");
  let pkcs8: Uint8Array<ArrayBuffer>;
  switch (block.label) {
    case PEM_PRIVATE:
      pkcs8 = block.der;
      break;
    case PEM_RSA_PRIVATE:
      requireDerSequence(block.der, "RSA private key");
      pkcs8 = wrapPkcs1Private(block.der);
      break;
    case PEM_PUBLIC:
    case PEM_RSA_PUBLIC:
      throw new KeyFormatError(
        `This is a public key, not a private key (expected '${
          pemBegin(PEM_PRIVATE)
        }')`,
      );
    default:
      throw unsupportedLabel(block.label, PEM_PRIVATE);
  }

  // Extractable only long enough to read n and e: WebCrypto cannot export a
  // public key from a private one directly, but it can rebuild one from JWK.
  let extractable: CryptoKey;
  try {
    extractable = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8,
      RSA_OAEP,
      true,
      ["decrypt"],
    );
  } catch (error) {
    throw new KeyFormatError(
      "Not an RSA private key, or the key data is corrupt",
      { cause: error },
    );
  }
  checkModulus(extractable);
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  if (jwk.n === undefined || jwk.e === undefined) {
    throw new KeyFormatError("Not an RSA private key");
  }
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RSA-OAEP-256", ext: true },
    RSA_OAEP,
    true,
    ["encrypt"],
  );
  const publicSpki = new Uint8Array(
    await crypto.subtle.exportKey("spki", publicKey),
  );
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8,
    RSA_OAEP,
    false,
    ["decrypt"],
  );

  // A structurally valid key with damaged private fields would otherwise only
  // show up as every client failing the handshake; catch it at startup.
  const probe = randomBytes(32);
  let decrypted: Uint8Array;
  try {
    decrypted = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "RSA-OAEP" },
        privateKey,
        await crypto.subtle.encrypt({ name: "RSA-OAEP" }, publicKey, probe),
      ),
    );
  } catch (error) {
    throw new KeyFormatError("The RSA private key is corrupt", {
      cause: error,
    });
  }
  if (!equalBytes(decrypted, probe)) {
    throw new KeyFormatError("The RSA private key is corrupt");
  }
  return { privateKey, publicSpki };
}

/**
 * Imports an RSA public key from SPKI (`BEGIN PUBLIC KEY`) or PKCS#1
 * (`BEGIN RSA PUBLIC KEY`) PEM.
 *
 * @throws {KeyFormatError} if the text is not a usable RSA public key
 */
export async function importPublicKeyPem(
  pem: string,
): Promise<ImportedPublicKey> {
  const block = parsePem(pem, "public");
  switch (block.label) {
    case PEM_PUBLIC:
      return await importPublicKeyDer(block.der);
    case PEM_RSA_PUBLIC:
      requireDerSequence(block.der, "RSA public key");
      return await importPublicKeyDer(wrapPkcs1Public(block.der));
    case PEM_PRIVATE:
    case PEM_RSA_PRIVATE:
    case PEM_ENCRYPTED_PRIVATE:
    case PEM_OPENSSH_PRIVATE:
      throw new KeyFormatError(
        `This is a private key; give the public key instead (expected '${
          pemBegin(PEM_PUBLIC)
        }')`,
      );
    default:
      throw unsupportedLabel(block.label, PEM_PUBLIC);
  }
}

/**
 * Imports an RSA public key from SPKI DER, as it travels in the handshake.
 *
 * @throws {KeyFormatError} if the bytes are not a usable RSA public key
 */
export async function importPublicKeyDer(
  spki: Uint8Array,
): Promise<ImportedPublicKey> {
  let publicKey: CryptoKey;
  try {
    publicKey = await crypto.subtle.importKey(
      "spki",
      arrayBufferBacked(spki),
      RSA_OAEP,
      true,
      ["encrypt"],
    );
  } catch (error) {
    throw new KeyFormatError(
      "Not an RSA public key, or the key data is corrupt",
      { cause: error },
    );
  }
  checkModulus(publicKey);
  const canonical = new Uint8Array(
    await crypto.subtle.exportKey("spki", publicKey),
  );
  return { publicKey, spki: canonical };
}

/**
 * A public key as `chat keygen` writes it (`BEGIN PUBLIC KEY`, SPKI), from the
 * SPKI DER that {@link importPrivateKeyPem} derives: `chat keygen --public-from`
 * writes the public half of a private key this way, as `ssh-keygen -y` does.
 */
export function publicKeyPem(spki: Uint8Array): string {
  return toPem(PEM_PUBLIC, spki);
}

/**
 * Whether `text` holds a private key of any PEM kind, usable or not: a file
 * that must never be replaced by its public half, even with --force.
 */
export function holdsPrivateKey(text: string): boolean {
  return /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text);
}

/** What {@link fingerprint} makes: the one check of a fingerprint's form. */
export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * OpenSSH-style fingerprint of a public key: `SHA256:` and the unpadded
 * base64 of the SHA-256 of its SPKI DER.
 */
export async function fingerprint(spki: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", arrayBufferBacked(spki)),
  );
  return "SHA256:" + toBase64(digest).replace(/=+$/, "");
}

/** The RSA modulus length of an RSA key, in bytes: the size of its ciphertexts. */
export function rsaModulusBytes(key: CryptoKey): number {
  const { modulusLength } = key.algorithm as RsaHashedKeyAlgorithm;
  return Math.ceil(modulusLength / 8);
}

function checkModulus(key: CryptoKey): void {
  const { modulusLength } = key.algorithm as RsaHashedKeyAlgorithm;
  if (modulusLength < MIN_RSA_BITS || modulusLength > MAX_RSA_BITS) {
    throw new KeyFormatError(
      `The RSA key is ${modulusLength} bits; use a key of ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits ('chat keygen' makes one)`,
    );
  }
}

function toPem(label: string, der: Uint8Array): string {
  const body = toBase64(der);
  let out = pemBegin(label) + "\n";
  for (let i = 0; i < body.length; i += PEM_LINE_CHARS) {
    out += body.slice(i, i + PEM_LINE_CHARS) + "\n";
  }
  return out + pemEnd(label) + "\n";
}

function pemBegin(label: string): string {
  return `-----BEGIN ${label}-----`;
}

function pemEnd(label: string): string {
  return `-----END ${label}-----`;
}

interface PemBlock {
  label: string;
  der: Uint8Array<ArrayBuffer>;
}

/**
 * Finds the first PEM block. Text around it is ignored, as OpenSSL does (tools
 * such as `openssl pkcs12` put attributes before the block).
 */
function parsePem(text: string, kind: "private" | "public"): PemBlock {
  const expected = kind === "private" ? PEM_PRIVATE : PEM_PUBLIC;
  const begin = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text);
  if (begin === null) {
    throw new KeyFormatError(
      `Not a PEM ${kind} key (expected '${pemBegin(expected)}')`,
    );
  }
  const label = begin[1]!;
  if (label === PEM_ENCRYPTED_PRIVATE) throw encryptedKeyError();
  if (label === PEM_OPENSSH_PRIVATE) {
    throw new KeyFormatError(
      "OpenSSH-format private keys are not supported; convert a copy with " +
        "'ssh-keygen -p -m PKCS8 -f <copy>'",
    );
  }
  const bodyStart = begin.index + begin[0].length;
  const endIndex = text.indexOf(pemEnd(label), bodyStart);
  if (endIndex < 0) {
    throw new KeyFormatError(
      `Truncated PEM: no '${pemEnd(label)}' line after '${pemBegin(label)}'`,
    );
  }
  const lines = text.slice(bodyStart, endIndex).split(/\r?\n/)
    .map((line) => line.trim());
  // RFC 1421 headers: legacy OpenSSL encryption announces itself here.
  if (lines.some((line) => /^Proc-Type:.*ENCRYPTED/i.test(line))) {
    throw encryptedKeyError();
  }
  const base64 = lines.filter((line) => line !== "" && !line.includes(":"))
    .join("");
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = fromBase64(base64);
  } catch (error) {
    throw new KeyFormatError(
      `Corrupt PEM: the text between '${pemBegin(label)}' and '${
        pemEnd(label)
      }' is not valid base64`,
      { cause: error },
    );
  }
  if (der.length === 0) {
    throw new KeyFormatError(
      `Corrupt PEM: '${pemBegin(label)}' block is empty`,
    );
  }
  return { label, der };
}

function encryptedKeyError(): KeyFormatError {
  return new KeyFormatError(
    "Encrypted private keys are not supported; write an unencrypted copy " +
      "with 'openssl pkey -in <file> -out <new file>'",
  );
}

function unsupportedLabel(label: string, expected: string): KeyFormatError {
  return new KeyFormatError(
    `Unsupported PEM type '${label}' (expected '${pemBegin(expected)}')`,
  );
}

/** Checks that `der` is exactly one DER SEQUENCE, as a PKCS#1 key must be. */
function requireDerSequence(der: Uint8Array, what: string): void {
  const corrupt = () =>
    new KeyFormatError(`Corrupt ${what}: not a DER SEQUENCE`);
  if (der.length < 2 || der[0] !== 0x30) throw corrupt();
  let length = der[1]!;
  let headerBytes = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || der.length < 2 + count) throw corrupt();
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[2 + i]!;
    headerBytes += count;
  }
  if (headerBytes + length !== der.length) throw corrupt();
}

function derLength(length: number): Uint8Array {
  if (length < 0x80) return new Uint8Array([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return new Uint8Array([0x80 | bytes.length, ...bytes]);
}

function derTlv(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  return concatBytes(
    new Uint8Array([tag]),
    derLength(content.length),
    content,
  );
}

/** PKCS#1 RSAPrivateKey -> PKCS#8 PrivateKeyInfo (RFC 5208). */
function wrapPkcs1Private(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  const version = new Uint8Array([0x02, 0x01, 0x00]);
  return derTlv(
    0x30,
    concatBytes(version, RSA_ENCRYPTION_ALGORITHM, derTlv(0x04, pkcs1)),
  );
}

/** PKCS#1 RSAPublicKey -> SubjectPublicKeyInfo (RFC 5280). */
function wrapPkcs1Public(pkcs1: Uint8Array): Uint8Array<ArrayBuffer> {
  const noUnusedBits = new Uint8Array([0x00]);
  return derTlv(
    0x30,
    concatBytes(
      RSA_ENCRYPTION_ALGORITHM,
      derTlv(0x03, concatBytes(noUnusedBits, pkcs1)),
    ),
  );
}
