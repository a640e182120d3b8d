// This module is browser compatible.

/**
 * The handshake that authenticates the server and sets up session keys.
 *
 * Four JSON text frames; binary fields are standard base64 with padding:
 *
 *     1. S->C {"type":"server_hello","version":1,"nonce":Ns,"key":server RSA public key (SPKI DER)}
 *     2. C->S {"type":"client_hello","version":1,"nonce":Nc,"secret":RSA-OAEP-SHA256(key, S),"share":client X25519 public}
 *     3. S->C {"type":"server_finished","share":server X25519 public,"mac":server MAC}
 *     4. C->S {"type":"client_finished","mac":client MAC}
 *
 * Ns, Nc and S are 32 fresh random bytes each; shares are 32-byte raw X25519
 * public keys from fresh ephemeral key pairs.
 *
 *     TH  = SHA-256("chat/1 transcript" || u32be(len SH) || SH || u32be(len CH) || CH || server share)
 *     Z   = X25519(ephemeral private, peer share)             (all zero: failure)
 *     OKM = HKDF-SHA256(IKM = S || Z, salt = Ns || Nc, info = "chat/1 keys" || TH, 128 bytes)
 *         = c2s secret (32) || s2c secret (32) || client finished key (32) || server finished key (32)
 *     server MAC = HMAC-SHA256(server finished key, "chat/1 server finished" || TH)
 *     client MAC = HMAC-SHA256(client finished key, "chat/1 client finished" || TH)
 *
 * SH and CH are the exact UTF-8 bytes of frames 1 and 2. The traffic secrets
 * feed the session cipher (session_cipher.ts), one per direction.
 *
 * Why this shape: only the holder of the server's private key learns S, so a
 * correct server MAC proves the server's identity; Z comes from ephemeral keys,
 * so recorded sessions stay secret if the RSA key later leaks; the nonces and
 * the transcript hash bind the keys to this one conversation, so nothing can be
 * replayed or spliced.
 *
 * The server never reveals whether RSA decryption worked (that would be a
 * padding oracle): on failure it carries on with a random S and every
 * server-side failure surfaces in one place, the client MAC check.
 */

import { MAX_HANDSHAKE_BYTES, PROTOCOL_VERSION } from "../protocol/limits.ts";
import {
  concatBytes,
  equalBytes,
  fromBase64,
  randomBytes,
  toBase64,
  u32be,
  utf8Encode,
} from "./bytes.ts";
import {
  fingerprint,
  importPublicKeyDer,
  KeyFormatError,
  rsaModulusBytes,
} from "./keys.ts";
import {
  FrameOpener,
  FrameSealer,
  type SessionCipherOptions,
  TRAFFIC_SECRET_BYTES,
} from "./session_cipher.ts";

// ---- Protocol constants: changing any of these is a protocol change. ----

/** The `version` field of both hellos. */
export const HANDSHAKE_VERSION: number = PROTOCOL_VERSION;

/** Length of Ns and Nc. */
export const NONCE_BYTES = 32;

/** Length of S, the RSA-encrypted secret. */
export const SECRET_BYTES = 32;

/** Length of an X25519 public key share. */
export const SHARE_BYTES = 32;

/** Length of a finished MAC (HMAC-SHA256). */
export const MAC_BYTES = 32;

/** Largest server public key (SPKI DER) a client accepts. */
export const MAX_SERVER_KEY_BYTES = 1024;

/** Length of the HKDF output split into the four handshake secrets. */
export const OKM_BYTES = 4 * 32;

/** Domain-separation labels, used as UTF-8. */
export const TRANSCRIPT_LABEL = "chat/1 transcript";
export const KEYS_LABEL = "chat/1 keys";
export const SERVER_FINISHED_LABEL = "chat/1 server finished";
export const CLIENT_FINISHED_LABEL = "chat/1 client finished";

/** Frame `type` values. */
export const SERVER_HELLO = "server_hello";
export const CLIENT_HELLO = "client_hello";
export const SERVER_FINISHED = "server_finished";
export const CLIENT_FINISHED = "client_finished";

/** The frames the client sends (2 and 4 above), in the order it sends them. */
export const CLIENT_FRAMES = [CLIENT_HELLO, CLIENT_FINISHED] as const;

// ---- End of protocol constants. ----

/** What the server reports for every failure after parsing, whatever the cause. */
const SERVER_FAILURE =
  "Handshake failed: the client's finished MAC did not verify " +
  "(it may use a different server key, or the handshake was tampered with or replayed)";

/** The handshake could not complete; the connection must be closed. */
export class HandshakeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HandshakeError";
  }
}

/** The server presented a different key than the one the user pinned. */
export class KeyMismatchError extends HandshakeError {
  /** Fingerprint of the pinned key. */
  readonly expected: string;
  /** Fingerprint of the key the server presented. */
  readonly presented: string;

  constructor(expected: string, presented: string) {
    super(
      `Server key mismatch: expected ${expected} (from your public key file), the server presented ${presented}`,
    );
    this.name = "KeyMismatchError";
    this.expected = expected;
    this.presented = presented;
  }
}

/** The result of a completed handshake, from one side's point of view. */
export interface SessionKeys {
  /** Seals what this side sends (client: c2s secret; server: s2c secret). */
  sender: FrameSealer;
  /** Opens what this side receives. */
  receiver: FrameOpener;
  /** TH, identical on both sides; usable as a session identifier. */
  transcriptHash: Uint8Array<ArrayBuffer>;
}

export interface ServerHandshakeOptions {
  /** RSA-OAEP (SHA-256) private key with the `decrypt` usage. */
  privateKey: CryptoKey;
  /** The matching public key as SPKI DER, sent to the client as is. */
  publicSpki: Uint8Array;
  /** Session cipher options, for tests. */
  cipher?: SessionCipherOptions;
}

export interface ClientHandshakeOptions {
  /** The server key the user expects (`--pub`), as canonical SPKI DER. */
  pinnedSpki?: Uint8Array;
  /** Session cipher options, for tests. */
  cipher?: SessionCipherOptions;
}

type ServerState =
  | { step: "await client_hello" }
  | {
    step: "await client_finished";
    expectedMac: Uint8Array;
    secrets: HandshakeSecrets;
    transcriptHash: Uint8Array<ArrayBuffer>;
    failed: boolean;
  }
  | { step: "busy" | "done" | "failed" };

/**
 * The server side. Use a fresh instance per connection: {@link start}, send
 * {@link hello}, then feed the client's two frames in order.
 */
export class ServerHandshake {
  /** Frame 1, to send as is. */
  readonly hello: string;
  readonly #helloBytes: Uint8Array<ArrayBuffer>;
  readonly #serverNonce: Uint8Array<ArrayBuffer>;
  readonly #privateKey: CryptoKey;
  readonly #secretCiphertextBytes: number;
  readonly #cipher: SessionCipherOptions;
  #state: ServerState = { step: "await client_hello" };

  private constructor(opts: ServerHandshakeOptions) {
    this.#privateKey = opts.privateKey;
    this.#secretCiphertextBytes = rsaModulusBytes(opts.privateKey);
    this.#cipher = opts.cipher ?? {};
    this.#serverNonce = randomBytes(NONCE_BYTES);
    this.hello = JSON.stringify({
      type: SERVER_HELLO,
      version: HANDSHAKE_VERSION,
      nonce: toBase64(this.#serverNonce),
      key: toBase64(opts.publicSpki),
    });
    this.#helloBytes = utf8Encode(this.hello);
  }

  /** Prepares frame 1 with a fresh nonce. */
  static start(opts: ServerHandshakeOptions): Promise<ServerHandshake> {
    const { privateKey, publicSpki } = opts;
    const algorithm = privateKey.algorithm as Partial<RsaHashedKeyAlgorithm>;
    if (
      privateKey.type !== "private" || algorithm.name !== "RSA-OAEP" ||
      algorithm.hash?.name !== "SHA-256" ||
      !privateKey.usages.includes("decrypt")
    ) {
      return Promise.reject(
        new HandshakeError(
          "The server key must be an RSA-OAEP (SHA-256) private key usable to decrypt",
        ),
      );
    }
    if (publicSpki.length === 0 || publicSpki.length > MAX_SERVER_KEY_BYTES) {
      return Promise.reject(
        new HandshakeError(
          `The server public key must be 1 to ${MAX_SERVER_KEY_BYTES} bytes of SPKI DER, got ${publicSpki.length}`,
        ),
      );
    }
    return Promise.resolve(new ServerHandshake(opts));
  }

  /**
   * Takes frame 2 and returns frame 3.
   *
   * @throws {HandshakeError} only if the message is malformed or out of order;
   * cryptographic failures are deferred to {@link receiveClientFinished}
   */
  async receiveClientHello(text: string): Promise<string> {
    this.#expect("await client_hello", CLIENT_HELLO);
    try {
      const { bytes, fields } = parseMessage(text, CLIENT_HELLO, [
        "type",
        "version",
        "nonce",
        "secret",
        "share",
      ], "server");
      const clientNonce = bytesField(
        fields,
        CLIENT_HELLO,
        "nonce",
        NONCE_BYTES,
      );
      const encryptedSecret = bytesField(
        fields,
        CLIENT_HELLO,
        "secret",
        this.#secretCiphertextBytes,
      );
      const clientShare = bytesField(
        fields,
        CLIENT_HELLO,
        "share",
        SHARE_BYTES,
      );

      // Implicit rejection: a bad ciphertext gets a random S and the exact same
      // treatment, so the client learns nothing about why the handshake fails.
      let failed = false;
      let secret: Uint8Array<ArrayBuffer>;
      try {
        secret = new Uint8Array(
          await crypto.subtle.decrypt(
            { name: "RSA-OAEP" },
            this.#privateKey,
            encryptedSecret,
          ),
        );
      } catch {
        secret = new Uint8Array(0);
      }
      if (secret.length !== SECRET_BYTES) {
        failed = true;
        secret = randomBytes(SECRET_BYTES);
      }

      const ephemeral = await generateX25519();
      let shared = await x25519(ephemeral.privateKey, clientShare);
      if (shared === null) {
        failed = true;
        shared = randomBytes(SHARE_BYTES);
      }

      const transcriptHash = await hashTranscript(
        this.#helloBytes,
        bytes,
        ephemeral.publicShare,
      );
      const secrets = await deriveHandshakeSecrets(
        secret,
        shared,
        this.#serverNonce,
        clientNonce,
        transcriptHash,
      );
      const serverMac = await finishedMac(
        secrets.serverFinishedKey,
        SERVER_FINISHED_LABEL,
        transcriptHash,
      );
      const expectedMac = await finishedMac(
        secrets.clientFinishedKey,
        CLIENT_FINISHED_LABEL,
        transcriptHash,
      );
      this.#state = {
        step: "await client_finished",
        expectedMac,
        secrets,
        transcriptHash,
        failed,
      };
      return JSON.stringify({
        type: SERVER_FINISHED,
        share: toBase64(ephemeral.publicShare),
        mac: toBase64(serverMac),
      });
    } catch (error) {
      this.#state = { step: "failed" };
      throw asHandshakeError(error);
    }
  }

  /**
   * Takes frame 4; on success the session keys are ready.
   *
   * @throws {HandshakeError} if the client did not prove it holds the same
   * keys; the message is the same whatever the cause
   */
  receiveClientFinished(text: string): Promise<SessionKeys> {
    try {
      const state = this.#expect("await client_finished", CLIENT_FINISHED);
      this.#state = { step: "failed" };
      const { fields } = parseMessage(text, CLIENT_FINISHED, [
        "type",
        "mac",
      ], "server");
      const mac = bytesField(fields, CLIENT_FINISHED, "mac", MAC_BYTES);
      // Both checks always run, so a failure costs the same whatever caused it.
      const macMatches = equalBytes(mac, state.expectedMac);
      if (!macMatches || state.failed) throw new HandshakeError(SERVER_FAILURE);
      this.#state = { step: "done" };
      return Promise.resolve(sessionKeys(
        state.secrets.s2c,
        state.secrets.c2s,
        state.transcriptHash,
        this.#cipher,
      ));
    } catch (error) {
      return Promise.reject(asHandshakeError(error));
    }
  }

  #expect<S extends ServerState["step"]>(
    step: S,
    frame: string,
  ): Extract<ServerState, { step: S }> {
    const state = this.#state;
    if (state.step !== step) {
      throw new HandshakeError(
        `Unexpected ${frame}: the server handshake is ${
          describeStep(state.step)
        }`,
      );
    }
    this.#state = { step: "busy" };
    return state as Extract<ServerState, { step: S }>;
  }
}

type ClientState =
  | { step: "await server_hello" }
  | {
    step: "await server_finished";
    serverHelloBytes: Uint8Array<ArrayBuffer>;
    clientHelloBytes: Uint8Array<ArrayBuffer>;
    serverNonce: Uint8Array<ArrayBuffer>;
    clientNonce: Uint8Array<ArrayBuffer>;
    secret: Uint8Array<ArrayBuffer>;
    ephemeralPrivate: CryptoKey;
    fingerprint: string;
  }
  | { step: "busy" | "done" | "failed" };

/**
 * The client side. Use a fresh instance per connection and feed it the
 * server's two frames in order, sending each returned reply.
 */
export class ClientHandshake {
  readonly #pinnedSpki: Uint8Array | undefined;
  readonly #cipher: SessionCipherOptions;
  #state: ClientState = { step: "await server_hello" };

  constructor(opts: ClientHandshakeOptions = {}) {
    this.#pinnedSpki = opts.pinnedSpki?.slice();
    this.#cipher = opts.cipher ?? {};
  }

  /**
   * Takes frame 1 and returns frame 2, with the server's key.
   *
   * @throws {KeyMismatchError} if a pinned key was given and the server's differs
   * @throws {HandshakeError} for anything else wrong with the message
   */
  async receiveServerHello(
    text: string,
  ): Promise<
    { reply: string; serverSpki: Uint8Array<ArrayBuffer>; fingerprint: string }
  > {
    this.#expect("await server_hello", SERVER_HELLO);
    try {
      const { bytes, fields } = parseMessage(text, SERVER_HELLO, [
        "type",
        "version",
        "nonce",
        "key",
      ], "client");
      const serverNonce = bytesField(
        fields,
        SERVER_HELLO,
        "nonce",
        NONCE_BYTES,
      );
      const keyDer = bytesField(fields, SERVER_HELLO, "key", {
        max: MAX_SERVER_KEY_BYTES,
      });

      let server;
      try {
        server = await importPublicKeyDer(keyDer);
      } catch (error) {
        if (!(error instanceof KeyFormatError)) throw error;
        throw new HandshakeError(
          `The server sent an unusable public key: ${error.message}`,
          { cause: error },
        );
      }
      const serverFingerprint = await fingerprint(server.spki);
      if (
        this.#pinnedSpki !== undefined &&
        !equalBytes(this.#pinnedSpki, server.spki)
      ) {
        throw new KeyMismatchError(
          await fingerprint(this.#pinnedSpki),
          serverFingerprint,
        );
      }

      const clientNonce = randomBytes(NONCE_BYTES);
      const secret = randomBytes(SECRET_BYTES);
      const encryptedSecret = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: "RSA-OAEP" },
          server.publicKey,
          secret,
        ),
      );
      const ephemeral = await generateX25519();
      const reply = JSON.stringify({
        type: CLIENT_HELLO,
        version: HANDSHAKE_VERSION,
        nonce: toBase64(clientNonce),
        secret: toBase64(encryptedSecret),
        share: toBase64(ephemeral.publicShare),
      });
      this.#state = {
        step: "await server_finished",
        serverHelloBytes: bytes,
        clientHelloBytes: utf8Encode(reply),
        serverNonce,
        clientNonce,
        secret,
        ephemeralPrivate: ephemeral.privateKey,
        fingerprint: serverFingerprint,
      };
      return { reply, serverSpki: server.spki, fingerprint: serverFingerprint };
    } catch (error) {
      this.#state = { step: "failed" };
      throw asHandshakeError(error);
    }
  }

  /**
   * Takes frame 3, checks that the server proved it holds its private key,
   * and returns frame 4 with the session keys.
   *
   * @throws {HandshakeError} if the server's proof does not verify
   */
  async receiveServerFinished(
    text: string,
  ): Promise<{ reply: string; keys: SessionKeys }> {
    const state = this.#expect("await server_finished", SERVER_FINISHED);
    this.#state = { step: "failed" };
    try {
      const { fields } = parseMessage(text, SERVER_FINISHED, [
        "type",
        "share",
        "mac",
      ], "client");
      const serverShare = bytesField(
        fields,
        SERVER_FINISHED,
        "share",
        SHARE_BYTES,
      );
      const mac = bytesField(fields, SERVER_FINISHED, "mac", MAC_BYTES);

      const shared = await x25519(state.ephemeralPrivate, serverShare);
      if (shared === null) {
        throw new HandshakeError(
          "Handshake failed: the server sent an invalid key share",
        );
      }
      const transcriptHash = await hashTranscript(
        state.serverHelloBytes,
        state.clientHelloBytes,
        serverShare,
      );
      const secrets = await deriveHandshakeSecrets(
        state.secret,
        shared,
        state.serverNonce,
        state.clientNonce,
        transcriptHash,
      );
      const expectedMac = await finishedMac(
        secrets.serverFinishedKey,
        SERVER_FINISHED_LABEL,
        transcriptHash,
      );
      if (!equalBytes(mac, expectedMac)) {
        throw new HandshakeError(
          `Handshake failed: the server could not prove it holds the private key for ${state.fingerprint}`,
        );
      }
      const clientMac = await finishedMac(
        secrets.clientFinishedKey,
        CLIENT_FINISHED_LABEL,
        transcriptHash,
      );
      this.#state = { step: "done" };
      return {
        reply: JSON.stringify({
          type: CLIENT_FINISHED,
          mac: toBase64(clientMac),
        }),
        keys: sessionKeys(
          secrets.c2s,
          secrets.s2c,
          transcriptHash,
          this.#cipher,
        ),
      };
    } catch (error) {
      throw asHandshakeError(error);
    }
  }

  #expect<S extends ClientState["step"]>(
    step: S,
    frame: string,
  ): Extract<ClientState, { step: S }> {
    const state = this.#state;
    if (state.step !== step) {
      throw new HandshakeError(
        `Unexpected ${frame}: the client handshake is ${
          describeStep(state.step)
        }`,
      );
    }
    this.#state = { step: "busy" };
    return state as Extract<ClientState, { step: S }>;
  }
}

/** The four secrets of OKM (docs/PROTOCOL.md 2.4). */
export interface HandshakeSecrets {
  c2s: Uint8Array<ArrayBuffer>;
  s2c: Uint8Array<ArrayBuffer>;
  clientFinishedKey: Uint8Array<ArrayBuffer>;
  serverFinishedKey: Uint8Array<ArrayBuffer>;
}

function describeStep(step: string): string {
  switch (step) {
    case "busy":
      return "still processing the previous message";
    case "done":
      return "already complete";
    case "failed":
      return "already failed";
    default:
      return `waiting for ${step.replace("await ", "")}`;
  }
}

function sessionKeys(
  sendSecret: Uint8Array,
  receiveSecret: Uint8Array,
  transcriptHash: Uint8Array<ArrayBuffer>,
  cipher: SessionCipherOptions,
): SessionKeys {
  return {
    sender: new FrameSealer(sendSecret, cipher),
    receiver: new FrameOpener(receiveSecret, cipher),
    transcriptHash,
  };
}

/** Keeps the public API to HandshakeError: anything else is a bug or a platform failure. */
function asHandshakeError(error: unknown): HandshakeError {
  if (error instanceof HandshakeError) return error;
  return new HandshakeError(
    `Handshake failed: ${error instanceof Error ? error.message : error}`,
    { cause: error },
  );
}

const MESSAGE_TYPE_PATTERN = /^[a-z_]{1,32}$/;

/**
 * Length check, JSON parse, exact type, version (for hellos) and no unknown
 * fields. The length limit applies before parsing so a hostile peer cannot
 * make us parse megabytes of JSON.
 */
function parseMessage(
  text: string,
  type: string,
  allowed: readonly string[],
  side: "client" | "server",
): { bytes: Uint8Array<ArrayBuffer>; fields: Record<string, unknown> } {
  if (typeof text !== "string") {
    throw new HandshakeError(
      `Malformed ${type}: expected a text message`,
    );
  }
  // A UTF-16 code unit never encodes to fewer than one UTF-8 byte, so this
  // rejects oversized input before encoding it.
  if (text.length > MAX_HANDSHAKE_BYTES) {
    throw tooLong(type);
  }
  if (!text.isWellFormed()) {
    throw new HandshakeError(`Malformed ${type}: invalid Unicode`);
  }
  const bytes = utf8Encode(text);
  if (bytes.length > MAX_HANDSHAKE_BYTES) throw tooLong(type);

  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HandshakeError(`Malformed ${type}: not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HandshakeError(`Malformed ${type}: not a JSON object`);
  }
  const fields = value as Record<string, unknown>;
  const actualType = fields.type;
  if (actualType !== type) {
    const shown = typeof actualType === "string" &&
        MESSAGE_TYPE_PATTERN.test(actualType)
      ? `'${actualType}'`
      : "a message of unknown type";
    throw new HandshakeError(
      `Unexpected handshake message: expected '${type}', got ${shown}`,
    );
  }
  if (allowed.includes("version")) {
    const version = fields.version;
    if (!Number.isSafeInteger(version)) {
      throw new HandshakeError(
        `Malformed ${type}: 'version' must be an integer`,
      );
    }
    if (version !== HANDSHAKE_VERSION) {
      throw new HandshakeError(
        `Unsupported protocol version ${version} (this ${side} speaks version ${HANDSHAKE_VERSION})`,
      );
    }
  }
  for (const name of Object.keys(fields)) {
    if (!allowed.includes(name)) {
      const shown = MESSAGE_TYPE_PATTERN.test(name) ? ` '${name}'` : "";
      throw new HandshakeError(`Malformed ${type}: unexpected field${shown}`);
    }
  }
  return { bytes, fields };
}

function tooLong(type: string): HandshakeError {
  return new HandshakeError(
    `Malformed ${type}: longer than ${MAX_HANDSHAKE_BYTES} bytes`,
  );
}

/** A base64 field of exactly `size` bytes, or of 1 to `size.max` bytes. */
function bytesField(
  fields: Record<string, unknown>,
  type: string,
  name: string,
  size: number | { max: number },
): Uint8Array<ArrayBuffer> {
  const value = fields[name];
  if (typeof value !== "string") {
    throw new HandshakeError(
      `Malformed ${type}: '${name}' must be a base64 string`,
    );
  }
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64(value);
  } catch {
    throw new HandshakeError(
      `Malformed ${type}: '${name}' is not valid base64`,
    );
  }
  if (
    typeof size === "number"
      ? bytes.length !== size
      : bytes.length === 0 || bytes.length > size.max
  ) {
    const expected = typeof size === "number"
      ? `${size} bytes`
      : `1 to ${size.max} bytes`;
    throw new HandshakeError(
      `Malformed ${type}: '${name}' must be ${expected}, got ${bytes.length}`,
    );
  }
  return bytes;
}

async function generateX25519(): Promise<
  { privateKey: CryptoKey; publicShare: Uint8Array<ArrayBuffer> }
> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const publicShare = new Uint8Array(
    await crypto.subtle.exportKey("raw", pair.publicKey),
  );
  return { privateKey: pair.privateKey, publicShare };
}

/**
 * The X25519 shared secret, or null if the peer's share is unusable: WebCrypto
 * rejects low-order points, and an all-zero result is refused here too in case
 * a platform does not.
 */
async function x25519(
  privateKey: CryptoKey,
  peerShare: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer> | null> {
  try {
    const peer = await crypto.subtle.importKey(
      "raw",
      peerShare,
      { name: "X25519" },
      false,
      [],
    );
    const shared = new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "X25519", public: peer },
        privateKey,
        SHARE_BYTES * 8,
      ),
    );
    return equalBytes(shared, new Uint8Array(SHARE_BYTES)) ? null : shared;
  } catch {
    return null;
  }
}

/** TH (docs/PROTOCOL.md 2.3); exported for the document's test vector (A.2). */
export async function hashTranscript(
  serverHello: Uint8Array,
  clientHello: Uint8Array,
  serverShare: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const transcript = concatBytes(
    utf8Encode(TRANSCRIPT_LABEL),
    u32be(serverHello.length),
    serverHello,
    u32be(clientHello.length),
    clientHello,
    serverShare,
  );
  return new Uint8Array(await crypto.subtle.digest("SHA-256", transcript));
}

/** OKM split in four (docs/PROTOCOL.md 2.4); exported for A.2. */
export async function deriveHandshakeSecrets(
  secret: Uint8Array,
  shared: Uint8Array,
  serverNonce: Uint8Array,
  clientNonce: Uint8Array,
  transcriptHash: Uint8Array,
): Promise<HandshakeSecrets> {
  const ikm = await crypto.subtle.importKey(
    "raw",
    concatBytes(secret, shared),
    "HKDF",
    false,
    ["deriveBits"],
  );
  const okm = new Uint8Array(
    await crypto.subtle.deriveBits(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: concatBytes(serverNonce, clientNonce),
        info: concatBytes(utf8Encode(KEYS_LABEL), transcriptHash),
      },
      ikm,
      OKM_BYTES * 8,
    ),
  );
  const n = TRAFFIC_SECRET_BYTES;
  return {
    c2s: okm.slice(0, n),
    s2c: okm.slice(n, 2 * n),
    clientFinishedKey: okm.slice(2 * n, 3 * n),
    serverFinishedKey: okm.slice(3 * n, 4 * n),
  };
}

/** A Finished MAC (docs/PROTOCOL.md 2.5); exported for A.2. */
export async function finishedMac(
  finishedKey: Uint8Array<ArrayBuffer>,
  label: string,
  transcriptHash: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey(
    "raw",
    finishedKey,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(
    await crypto.subtle.sign(
      "HMAC",
      key,
      concatBytes(utf8Encode(label), transcriptHash),
    ),
  );
}
