/**
 * The self-signed TLS certificate `chat serve` serves the web page with
 * (issue 18): browsers give a page WebCrypto only in a secure context, and
 * plain http:// from another machine is not one. Made at first start (ECDSA
 * P-256, the key type every browser takes in TLS; Ed25519 is not), kept in
 * the data folder (0600), remade when it is about to expire or when the
 * machine's addresses are no longer the ones it names. A certificate put
 * there in its place (one chat serve did not make) is the host's own: used
 * as it is, never overwritten.
 *
 * Why `@peculiar/x509`: it builds X.509 with WebCrypto doing the signing (no
 * crypto of its own, no OpenSSL binary to find), and it is maintained with
 * the asn1 schemas it is built on. It needs the `reflect-metadata` polyfill
 * (for its dependency injection), imported first here.
 *
 * @module
 */

import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { isIP } from "node:net";
import { join } from "node:path";
import { writePrivateFileAtomically } from "../fs/private_paths.ts";

/** Certificate and key in PEM, as TLS listeners take them. */
export interface TlsCredentials {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 of the certificate, as browsers show it: "AB:CD:...". */
  readonly fingerprint: string;
  /** Host names and addresses it is valid for. */
  readonly names: readonly string[];
  readonly notAfter: Date;
  /** Made by chat serve (its subject), not put in the data folder by hand. */
  readonly madeHere: boolean;
}

/** What `loadOrMakeCertificate` did, for the log. */
export type CertificateOrigin =
  | { kind: "kept" }
  | { kind: "made"; why: string }
  /** Not made by chat serve: used as it is; `problem` what it lacks. */
  | { kind: "supplied"; problem: string | null };

export const CERT_FILE = "tls-cert.pem";
export const KEY_FILE = "tls-key.pem";

/** How long a certificate is valid: a year. */
export const VALID_DAYS = 365;
/** Remade this long before it expires, not to lapse while running. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;

/** The subject (and issuer) of the certificates chat serve makes. */
const SUBJECT = "CN=chat serve (self-signed)";

const ALGORITHM = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
} as const;

/**
 * The names the certificate is for: this machine under every name a browser
 * may use for it (localhost, loopback, the LAN addresses `addresses`),
 * without duplicates, in a stable order.
 */
export function certificateNames(addresses: readonly string[]): string[] {
  const bare = addresses.map((a) => a.replace(/^\[(.*)\]$/, "$1"));
  return [...new Set(["localhost", "127.0.0.1", "::1", ...bare])];
}

/** Makes a certificate for `names`, valid from `now` for VALID_DAYS. */
export async function makeCertificate(
  names: readonly string[],
  now: Date,
): Promise<TlsCredentials> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const serial = crypto.getRandomValues(new Uint8Array(16));
  // Positive: the top bit of a DER integer is its sign.
  serial[0] = serial[0]! & 0x7f;
  // An hour back: a client whose clock is a little behind still takes it.
  const notBefore = new Date(now.getTime() - 3600 * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toHex(),
    name: SUBJECT,
    notBefore,
    notAfter: new Date(now.getTime() + VALID_DAYS * DAY_MS),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension(
        names.map((value) => ({
          type: isIP(value) ? "ip" as const : "dns" as const,
          value,
        })),
      ),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  }, crypto);
  const pkcs8 = new Uint8Array(
    await crypto.subtle.exportKey("pkcs8", keys.privateKey),
  );
  return await credentials(cert.toString("pem"), pem("PRIVATE KEY", pkcs8));
}

/**
 * Why a certificate must be remade before use at `now` for `names`, or null
 * when it is good: it expires within a week, or does not name exactly
 * `names` (an address was added or is gone).
 */
export function renewalReason(
  current: TlsCredentials,
  names: readonly string[],
  now: Date,
): string | null {
  if (current.notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS) {
    return `the one kept expires on ${current.notAfter.toISOString()}`;
  }
  const had = new Set(current.names.map(canonicalName));
  const want = new Set(names.map(canonicalName));
  const added = names.filter((n) => !had.has(canonicalName(n)));
  const gone = current.names.filter((n) => !want.has(canonicalName(n)));
  if (added.length > 0 || gone.length > 0) {
    const parts = [
      ...(added.length > 0 ? [`now also ${added.join(", ")}`] : []),
      ...(gone.length > 0 ? [`no longer ${gone.join(", ")}`] : []),
    ];
    return `this machine's addresses changed: ${parts.join("; ")}`;
  }
  return null;
}

/**
 * What a certificate the host supplied lacks to serve `names` at `now` (it
 * is used all the same: they chose it), or null when nothing.
 */
export function suppliedProblem(
  current: TlsCredentials,
  names: readonly string[],
  now: Date,
): string | null {
  const had = new Set(current.names.map(canonicalName));
  const missing = names.filter((n) => !had.has(canonicalName(n)));
  const problems = [
    ...(current.notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS
      ? [`it expires on ${current.notAfter.toISOString()}`]
      : []),
    ...(missing.length > 0 ? [`it does not name ${missing.join(", ")}`] : []),
  ];
  return problems.length > 0 ? problems.join("; ") : null;
}

/**
 * The certificate kept in `dataDir` if it is still good for `names` (or is
 * the host's own), else a new one written there (0600); with `dataDir` null
 * (`--data :memory:`) a new one kept nowhere.
 *
 * @throws the error of writing the files
 */
export async function loadOrMakeCertificate(
  dataDir: string | null,
  names: readonly string[],
  now: Date,
): Promise<{ credentials: TlsCredentials; origin: CertificateOrigin }> {
  if (dataDir === null) {
    return {
      credentials: await makeCertificate(names, now),
      origin: { kind: "made", why: "nothing is kept on disk" },
    };
  }
  const certPath = join(dataDir, CERT_FILE);
  const keyPath = join(dataDir, KEY_FILE);
  let why: string;
  try {
    const current = await credentials(
      await Deno.readTextFile(certPath),
      await Deno.readTextFile(keyPath),
    );
    if (!current.madeHere) {
      return {
        credentials: current,
        origin: {
          kind: "supplied",
          problem: suppliedProblem(current, names, now),
        },
      };
    }
    const reason = renewalReason(current, names, now);
    if (reason === null) {
      return { credentials: current, origin: { kind: "kept" } };
    }
    why = reason;
  } catch (error) {
    if (error instanceof SuppliedCertificateError) throw error;
    why = error instanceof Deno.errors.NotFound
      ? "there was none"
      : `the one kept could not be read (${(error as Error).message})`;
  }
  const made = await makeCertificate(names, now);
  // The key first: a certificate on disk always has its key beside it.
  await writePrivateFileAtomically(keyPath, made.key);
  await writePrivateFileAtomically(certPath, made.cert);
  return { credentials: made, origin: { kind: "made", why } };
}

/** Parses `certPem` (throws when it is not a certificate) and describes it. */
async function credentials(
  certPem: string,
  keyPem: string,
): Promise<TlsCredentials> {
  const cert = new x509.X509Certificate(certPem);
  const madeHere = cert.subject === SUBJECT && cert.issuer === SUBJECT;
  if (!keyPem.includes("-----BEGIN PRIVATE KEY-----")) {
    if (!madeHere) {
      // The host's own files: said, not replaced behind their back.
      throw new SuppliedCertificateError(
        `${KEY_FILE} beside the certificate you put there is no PKCS#8 private key (convert it with 'openssl pkcs8 -topk8 -nocrypt')`,
      );
    }
    throw new Error("the key file holds no PKCS#8 private key");
  }
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items.map((name) => name.value) ?? [];
  const digest = new Uint8Array(
    await crypto.subtle.digest(
      "SHA-256",
      cert.rawData,
    ),
  );
  return {
    cert: certPem,
    key: keyPem,
    fingerprint: [...digest].map((b) => b.toString(16).padStart(2, "0"))
      .join(":").toUpperCase(),
    names,
    notAfter: cert.notAfter,
    madeHere,
  };
}

/** A certificate the host supplied cannot be used: never replaced for it. */
class SuppliedCertificateError extends Error {
  override name = "SuppliedCertificateError";
}

/** "::1" and "0:0:0:0:0:0:0:1" are one address: compared in one form. */
function canonicalName(name: string): string {
  if (isIP(name) !== 6) return name.toLowerCase();
  const [head = "", tail = ""] = name.toLowerCase().split("::");
  const parts = (s: string) => s === "" ? [] : s.split(":");
  const h = parts(head), t = parts(tail);
  const full = name.includes("::")
    ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t]
    : h;
  return full.map((p) => p.replace(/^0+(?=.)/, "")).join(":");
}

function pem(label: string, der: Uint8Array): string {
  const lines = der.toBase64().match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${
    lines.join("\n")
  }\n-----END ${label}-----\n`;
}
