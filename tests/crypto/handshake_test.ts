import assert from "node:assert/strict";
import { MAX_HANDSHAKE_BYTES } from "../../src/protocol/limits.ts";
import {
  concatBytes,
  equalBytes,
  fromBase64,
  randomBytes,
  toBase64,
  u32be,
  utf8Encode,
} from "../../src/crypto/bytes.ts";
import {
  ClientHandshake,
  HandshakeError,
  KeyMismatchError,
  ServerHandshake,
  type SessionKeys,
} from "../../src/crypto/handshake.ts";
import {
  generateRsaKeyPair,
  importPrivateKeyPem,
  importPublicKeyPem,
} from "../../src/crypto/keys.ts";
import {
  FrameError,
  FrameOpener,
  FrameSealer,
} from "../../src/crypto/session_cipher.ts";

const SERVER = await generateRsaKeyPair(2048);
const OTHER = await generateRsaKeyPair(2048);
const serverKey = await importPrivateKeyPem(SERVER.privatePem);
const otherKey = await importPrivateKeyPem(OTHER.privatePem);
const serverPublic = await importPublicKeyPem(SERVER.publicPem);
const otherPublic = await importPublicKeyPem(OTHER.publicPem);

type Json = Record<string, unknown>;

interface Transcript {
  serverHello: string;
  clientHello: string;
  serverFinished: string;
  clientFinished: string;
}

async function handshake(
  client = new ClientHandshake(),
  server?: ServerHandshake,
): Promise<
  {
    client: SessionKeys;
    server: SessionKeys;
    frames: Transcript;
    fingerprint: string;
  }
> {
  server ??= await ServerHandshake.start(serverKey);
  const hello = await client.receiveServerHello(server.hello);
  const serverFinished = await server.receiveClientHello(hello.reply);
  const finished = await client.receiveServerFinished(serverFinished);
  const serverKeys = await server.receiveClientFinished(finished.reply);
  return {
    client: finished.keys,
    server: serverKeys,
    frames: {
      serverHello: server.hello,
      clientHello: hello.reply,
      serverFinished,
      clientFinished: finished.reply,
    },
    fingerprint: hello.fingerprint,
  };
}

async function rejectsWith(
  promise: Promise<unknown>,
  message: RegExp,
): Promise<HandshakeError> {
  let caught: HandshakeError | undefined;
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, `got ${error}`);
    assert.equal(error.constructor, HandshakeError);
    assert.match(error.message, message);
    caught = error;
    return true;
  });
  return caught!;
}

/** A valid client_hello for a fresh server, as a mutable object. */
async function freshClientHello(): Promise<
  { server: ServerHandshake; fields: Json }
> {
  const server = await ServerHandshake.start(serverKey);
  const { reply } = await new ClientHandshake().receiveServerHello(
    server.hello,
  );
  return { server, fields: JSON.parse(reply) };
}

/** A client that has sent its client_hello, and the server_finished it expects. */
async function clientAwaitingFinished(): Promise<
  { client: ClientHandshake; fields: Json }
> {
  const server = await ServerHandshake.start(serverKey);
  const client = new ClientHandshake();
  const { reply } = await client.receiveServerHello(server.hello);
  return { client, fields: JSON.parse(await server.receiveClientHello(reply)) };
}

/**
 * A client written from the protocol description alone, with S and Nc chosen
 * by the caller. It checks that ServerHandshake follows the documented protocol.
 */
async function referenceClient(
  serverHello: string,
  secret: Uint8Array<ArrayBuffer>,
  clientNonce: Uint8Array<ArrayBuffer>,
) {
  const hello = JSON.parse(serverHello);
  const serverKey = await crypto.subtle.importKey(
    "spki",
    fromBase64(hello.key),
    { name: "RSA-OAEP", hash: "SHA-256" },
    false,
    ["encrypt"],
  );
  const ephemeral = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const share = new Uint8Array(
    await crypto.subtle.exportKey("raw", ephemeral.publicKey),
  );
  const clientHello = JSON.stringify({
    type: "client_hello",
    version: 1,
    nonce: toBase64(clientNonce),
    secret: toBase64(
      new Uint8Array(
        await crypto.subtle.encrypt({ name: "RSA-OAEP" }, serverKey, secret),
      ),
    ),
    share: toBase64(share),
  });

  async function finish(serverFinished: string) {
    const message = JSON.parse(serverFinished);
    const serverShare = fromBase64(message.share);
    const peer = await crypto.subtle.importKey(
      "raw",
      serverShare,
      { name: "X25519" },
      false,
      [],
    );
    const z = new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "X25519", public: peer },
        ephemeral.privateKey,
        256,
      ),
    );
    const sh = utf8Encode(serverHello);
    const ch = utf8Encode(clientHello);
    const th = new Uint8Array(
      await crypto.subtle.digest(
        "SHA-256",
        concatBytes(
          utf8Encode("chat/1 transcript"),
          u32be(sh.length),
          sh,
          u32be(ch.length),
          ch,
          serverShare,
        ),
      ),
    );
    const okm = new Uint8Array(
      await crypto.subtle.deriveBits(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: concatBytes(fromBase64(hello.nonce), clientNonce),
          info: concatBytes(utf8Encode("chat/1 keys"), th),
        },
        await crypto.subtle.importKey(
          "raw",
          concatBytes(secret, z),
          "HKDF",
          false,
          [
            "deriveBits",
          ],
        ),
        128 * 8,
      ),
    );
    const hmac = async (key: Uint8Array<ArrayBuffer>, label: string) =>
      new Uint8Array(
        await crypto.subtle.sign(
          "HMAC",
          await crypto.subtle.importKey(
            "raw",
            key,
            { name: "HMAC", hash: "SHA-256" },
            false,
            [
              "sign",
            ],
          ),
          concatBytes(utf8Encode(label), th),
        ),
      );
    const serverMacValid = equalBytes(
      fromBase64(message.mac),
      await hmac(okm.slice(96, 128), "chat/1 server finished"),
    );
    return {
      serverMacValid,
      transcriptHash: th,
      c2s: okm.slice(0, 32),
      s2c: okm.slice(32, 64),
      clientFinished: JSON.stringify({
        type: "client_finished",
        mac: toBase64(await hmac(okm.slice(64, 96), "chat/1 client finished")),
      }),
    };
  }

  return { clientHello, finish };
}

Deno.test("ClientHandshake and ServerHandshake derive session keys that work both ways", async () => {
  const { client, server, fingerprint } = await handshake();
  assert.equal(fingerprint, SERVER.fingerprint);
  assert.deepEqual(client.transcriptHash, server.transcriptHash);
  assert.equal(client.transcriptHash.length, 32);

  for (let i = 0; i < 3; i++) {
    const up = utf8Encode(`client to server ${i}`);
    assert.deepEqual(
      await server.receiver.open(await client.sender.seal(up)),
      up,
    );
    const down = utf8Encode(`server to client ${i}`);
    assert.deepEqual(
      await client.receiver.open(await server.sender.seal(down)),
      down,
    );
  }

  // The two directions use different keys: a reflected frame does not open.
  const reflected = await client.sender.seal(utf8Encode("echo"));
  await assert.rejects(client.receiver.open(reflected), FrameError);
});

Deno.test("ClientHandshake reports the server key it was given", async () => {
  const server = await ServerHandshake.start(serverKey);
  const hello = await new ClientHandshake().receiveServerHello(server.hello);
  assert.deepEqual(hello.serverSpki, serverPublic.spki);
  assert.equal(hello.fingerprint, SERVER.fingerprint);
  const message = JSON.parse(server.hello);
  assert.deepEqual(Object.keys(message), ["type", "version", "nonce", "key"]);
  assert.equal(fromBase64(message.nonce).length, 32);
});

Deno.test("ClientHandshake accepts a server presenting the pinned key", async () => {
  const { client, server } = await handshake(
    new ClientHandshake({ pinnedSpki: serverPublic.spki }),
  );
  const message = utf8Encode("pinned");
  assert.deepEqual(
    await server.receiver.open(await client.sender.seal(message)),
    message,
  );
});

Deno.test("ClientHandshake throws KeyMismatchError naming both fingerprints", async () => {
  const server = await ServerHandshake.start(serverKey);
  const client = new ClientHandshake({ pinnedSpki: otherPublic.spki });
  await assert.rejects(
    client.receiveServerHello(server.hello),
    (error: unknown) => {
      assert.ok(error instanceof KeyMismatchError);
      assert.ok(error instanceof HandshakeError);
      assert.equal(
        error.message,
        `Server key mismatch: expected ${OTHER.fingerprint} (from your public key file), the server presented ${SERVER.fingerprint}`,
      );
      assert.equal(error.expected, OTHER.fingerprint);
      assert.equal(error.presented, SERVER.fingerprint);
      return true;
    },
  );
});

Deno.test("ClientHandshake fails at the server MAC when the server lacks the key it presents", async () => {
  // Presents SERVER's public key, holds OTHER's private key.
  const server = await ServerHandshake.start({
    privateKey: otherKey.privateKey,
    publicSpki: serverKey.publicSpki,
  });
  const client = new ClientHandshake({ pinnedSpki: serverPublic.spki });
  const { reply } = await client.receiveServerHello(server.hello);
  const serverFinished = await server.receiveClientHello(reply);
  await rejectsWith(
    client.receiveServerFinished(serverFinished),
    new RegExp(
      `^Handshake failed: the server could not prove it holds the private key for ${
        SERVER.fingerprint.replace(/[+/]/g, "\\$&")
      }$`,
    ),
  );
});

Deno.test("ServerHandshake hides a tampered RSA secret until the finished MACs", async () => {
  const server = await ServerHandshake.start(serverKey);
  const client = new ClientHandshake();
  const hello = JSON.parse(
    (await client.receiveServerHello(server.hello)).reply,
  );
  const secret = fromBase64(hello.secret);
  secret[100]! ^= 0x01;
  hello.secret = toBase64(secret);

  // No error and a normal-looking reply: nothing reveals that decryption failed.
  const serverFinished = JSON.parse(
    await server.receiveClientHello(JSON.stringify(hello)),
  );
  assert.deepEqual(Object.keys(serverFinished), ["type", "share", "mac"]);
  assert.equal(fromBase64(serverFinished.share).length, 32);
  assert.equal(fromBase64(serverFinished.mac).length, 32);

  await rejectsWith(
    client.receiveServerFinished(JSON.stringify(serverFinished)),
    /could not prove it holds the private key/,
  );
  const forged = JSON.stringify({
    type: "client_finished",
    mac: toBase64(randomBytes(32)),
  });
  await rejectsWith(
    server.receiveClientFinished(forged),
    /^Handshake failed: the client's finished MAC did not verify/,
  );
});

Deno.test("ServerHandshake treats an RSA secret of the wrong length like a bad ciphertext", async () => {
  const server = await ServerHandshake.start(serverKey);
  // Decrypts fine but is 16 bytes: the server must carry on with a random S.
  const reference = await referenceClient(
    server.hello,
    randomBytes(16),
    randomBytes(32),
  );
  const serverFinished = await server.receiveClientHello(reference.clientHello);
  const result = await reference.finish(serverFinished);
  assert.equal(result.serverMacValid, false);
  await rejectsWith(
    server.receiveClientFinished(result.clientFinished),
    /client's finished MAC/,
  );
});

Deno.test("ServerHandshake rejects a replayed client_hello and client_finished", async () => {
  const first = await handshake();
  const server = await ServerHandshake.start(serverKey);
  await server.receiveClientHello(first.frames.clientHello);
  const replayed = await rejectsWith(
    server.receiveClientFinished(first.frames.clientFinished),
    /client's finished MAC did not verify/,
  );

  // Same error, same place, whatever the cause.
  const tampered = await ServerHandshake.start(serverKey);
  const hello = JSON.parse(
    (await new ClientHandshake().receiveServerHello(tampered.hello)).reply,
  );
  hello.secret = toBase64(randomBytes(256));
  await tampered.receiveClientHello(JSON.stringify(hello));
  const failed = await rejectsWith(
    tampered.receiveClientFinished(first.frames.clientFinished),
    /client's finished MAC/,
  );
  assert.equal(failed.message, replayed.message);
});

Deno.test("ServerHandshake rejects malformed client_hello messages", async () => {
  const cases: [string, (fields: Json) => string, RegExp][] = [
    ["not JSON", () => "{", /^Malformed client_hello: not valid JSON$/],
    ["an array", () => "[]", /not a JSON object/],
    ["null", () => "null", /not a JSON object/],
    [
      "wrong type",
      (f) => JSON.stringify({ ...f, type: "server_hello" }),
      /^Unexpected handshake message: expected 'client_hello', got 'server_hello'$/,
    ],
    [
      "hostile type",
      (f) => JSON.stringify({ ...f, type: "\u001b[2J" }),
      /got a message of unknown type$/,
    ],
    [
      "version 2",
      (f) => JSON.stringify({ ...f, version: 2 }),
      /^Unsupported protocol version 2 \(this server speaks version 1\)$/,
    ],
    [
      "version as text",
      (f) => JSON.stringify({ ...f, version: "1" }),
      /'version' must be an integer/,
    ],
    [
      "no version",
      (f) => JSON.stringify({ ...f, version: undefined }),
      /'version' must be an integer/,
    ],
    [
      "extra field",
      (f) => JSON.stringify({ ...f, extra: 1 }),
      /unexpected field 'extra'/,
    ],
    [
      "short nonce",
      (f) => JSON.stringify({ ...f, nonce: toBase64(randomBytes(31)) }),
      /'nonce' must be 32 bytes, got 31/,
    ],
    [
      "nonce with a newline",
      (f) => JSON.stringify({ ...f, nonce: `${f.nonce}\n` }),
      /'nonce' is not valid base64/,
    ],
    [
      "nonce as number",
      (f) => JSON.stringify({ ...f, nonce: 7 }),
      /'nonce' must be a base64 string/,
    ],
    [
      "long share",
      (f) => JSON.stringify({ ...f, share: toBase64(randomBytes(33)) }),
      /'share' must be 32 bytes, got 33/,
    ],
    [
      "no share",
      (f) => JSON.stringify({ ...f, share: undefined }),
      /'share' must be a base64 string/,
    ],
    [
      "short secret",
      (f) => JSON.stringify({ ...f, secret: toBase64(randomBytes(255)) }),
      /'secret' must be 256 bytes, got 255/,
    ],
    [
      "oversized",
      (f) => JSON.stringify({ ...f, pad: "x".repeat(MAX_HANDSHAKE_BYTES) }),
      new RegExp(`longer than ${MAX_HANDSHAKE_BYTES} bytes`),
    ],
    [
      "oversized in UTF-8 only",
      (f) =>
        JSON.stringify({ ...f, pad: "\u20ac".repeat(MAX_HANDSHAKE_BYTES / 3) }),
      /longer than/,
    ],
    [
      "lone surrogate",
      (f) => JSON.stringify(f).replace("}", ',"x":"\ud800"}'),
      /invalid Unicode/,
    ],
  ];
  for (const [name, mutate, message] of cases) {
    const { server, fields } = await freshClientHello();
    const text = mutate(fields);
    await rejectsWith(server.receiveClientHello(text), message).catch(
      (error) => {
        throw new Error(`case '${name}': ${error.message}`);
      },
    );
    // A failed handshake stays failed.
    await rejectsWith(server.receiveClientHello(text), /already failed/);
  }
});

Deno.test("ClientHandshake rejects malformed server_hello messages", async () => {
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
  const weakSpki = new Uint8Array(
    await crypto.subtle.exportKey("spki", weak.publicKey),
  );
  const server = await ServerHandshake.start(serverKey);
  const valid: Json = JSON.parse(server.hello);
  const cases: [string, string, RegExp][] = [
    ["not JSON", "hello", /^Malformed server_hello: not valid JSON$/],
    [
      "wrong type",
      JSON.stringify({ ...valid, type: "client_hello" }),
      /expected 'server_hello', got 'client_hello'/,
    ],
    [
      "version 2",
      JSON.stringify({ ...valid, version: 2 }),
      /^Unsupported protocol version 2 \(this client speaks version 1\)$/,
    ],
    [
      "long nonce",
      JSON.stringify({ ...valid, nonce: toBase64(randomBytes(33)) }),
      /'nonce' must be 32 bytes/,
    ],
    [
      "empty key",
      JSON.stringify({ ...valid, key: "" }),
      /'key' must be 1 to 1024 bytes, got 0/,
    ],
    [
      "huge key",
      JSON.stringify({ ...valid, key: toBase64(randomBytes(1025)) }),
      /'key' must be 1 to 1024 bytes, got 1025/,
    ],
    [
      "garbage key",
      JSON.stringify({ ...valid, key: toBase64(randomBytes(300)) }),
      /unusable public key/,
    ],
    [
      "weak key",
      JSON.stringify({ ...valid, key: toBase64(weakSpki) }),
      /unusable public key: .*1024 bits/,
    ],
    ["oversized", " ".repeat(MAX_HANDSHAKE_BYTES + 1), /longer than/],
  ];
  for (const [name, text, message] of cases) {
    await rejectsWith(new ClientHandshake().receiveServerHello(text), message)
      .catch((error) => {
        throw new Error(`case '${name}': ${error.message}`);
      });
  }
});

Deno.test("ClientHandshake rejects malformed server_finished messages", async () => {
  const cases: [string, (fields: Json) => string, RegExp][] = [
    [
      "wrong type",
      (f) => JSON.stringify({ ...f, type: "server_hello" }),
      /expected 'server_finished'/,
    ],
    [
      "extra version",
      (f) => JSON.stringify({ ...f, version: 1 }),
      /unexpected field 'version'/,
    ],
    [
      "short mac",
      (f) => JSON.stringify({ ...f, mac: toBase64(randomBytes(31)) }),
      /'mac' must be 32 bytes, got 31/,
    ],
    [
      "no share",
      (f) => JSON.stringify({ ...f, share: undefined }),
      /'share' must be a base64 string/,
    ],
    [
      "all-zero share",
      (f) => JSON.stringify({ ...f, share: toBase64(new Uint8Array(32)) }),
      /invalid key share/,
    ],
    [
      "wrong mac",
      (f) => JSON.stringify({ ...f, mac: toBase64(randomBytes(32)) }),
      /could not prove/,
    ],
  ];
  for (const [name, mutate, message] of cases) {
    const { client, fields } = await clientAwaitingFinished();
    await rejectsWith(client.receiveServerFinished(mutate(fields)), message)
      .catch((error) => {
        throw new Error(`case '${name}': ${error.message}`);
      });
  }
});

Deno.test("ServerHandshake rejects a malformed client_finished", async () => {
  for (
    const text of [
      '{"type":"client_finished"}',
      '{"type":"client_finished","mac":"AA=="}',
      "x",
    ]
  ) {
    const server = await ServerHandshake.start(serverKey);
    await server.receiveClientHello(
      (await new ClientHandshake().receiveServerHello(server.hello)).reply,
    );
    await rejectsWith(
      server.receiveClientFinished(text),
      /^Malformed client_finished/,
    );
  }
});

Deno.test("Handshakes reject messages out of order", async () => {
  const server = await ServerHandshake.start(serverKey);
  await rejectsWith(
    server.receiveClientFinished('{"type":"client_finished","mac":""}'),
    /^Unexpected client_finished: the server handshake is waiting for client_hello$/,
  );
  const client = new ClientHandshake();
  await rejectsWith(
    client.receiveServerFinished("{}"),
    /waiting for server_hello/,
  );

  const { frames } = await handshake(client, server);
  await rejectsWith(
    client.receiveServerHello(frames.serverHello),
    /already complete/,
  );
  await rejectsWith(
    server.receiveClientHello(frames.clientHello),
    /already complete/,
  );
});

Deno.test("ServerHandshake.start rejects a key that cannot decrypt", async () => {
  await rejectsWith(
    ServerHandshake.start({
      privateKey: serverPublic.publicKey,
      publicSpki: serverPublic.spki,
    }),
    /must be an RSA-OAEP \(SHA-256\) private key/,
  );
  await rejectsWith(
    ServerHandshake.start({
      privateKey: serverKey.privateKey,
      publicSpki: randomBytes(1025),
    }),
    /1 to 1024 bytes/,
  );
});

Deno.test("ServerHandshake follows the documented protocol", async () => {
  const server = await ServerHandshake.start(serverKey);
  const reference = await referenceClient(
    server.hello,
    randomBytes(32),
    randomBytes(32),
  );
  const result = await reference.finish(
    await server.receiveClientHello(reference.clientHello),
  );
  assert.equal(result.serverMacValid, true);
  const keys = await server.receiveClientFinished(result.clientFinished);
  assert.deepEqual(keys.transcriptHash, result.transcriptHash);

  const up = utf8Encode("from the reference client");
  assert.deepEqual(
    await keys.receiver.open(await new FrameSealer(result.c2s).seal(up)),
    up,
  );
  const down = utf8Encode("to the reference client");
  assert.deepEqual(
    await new FrameOpener(result.s2c).open(await keys.sender.seal(down)),
    down,
  );
});

Deno.test("Handshakes with the same RSA secret still derive different keys", async () => {
  // Someone who later learns S (say, the server's RSA key leaked) still lacks
  // the ephemeral X25519 secret: the keys must depend on it.
  const secret = randomBytes(32);
  const clientNonce = randomBytes(32);
  const results = [];
  for (let i = 0; i < 2; i++) {
    const server = await ServerHandshake.start(serverKey);
    const reference = await referenceClient(server.hello, secret, clientNonce);
    const result = await reference.finish(
      await server.receiveClientHello(reference.clientHello),
    );
    assert.equal(result.serverMacValid, true);
    await server.receiveClientFinished(result.clientFinished);
    results.push(result);
  }
  const [a, b] = results as [typeof results[0], typeof results[0]];
  assert.notDeepEqual(a.c2s, b.c2s);
  assert.notDeepEqual(a.s2c, b.s2c);
  assert.notDeepEqual(a.transcriptHash, b.transcriptHash);
});
