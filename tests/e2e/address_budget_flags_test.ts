/**
 * `chat serve --groups-per-address`, `--joins-per-address`,
 * `--prekeys-per-address` and `--prekeys-per-user-per-address`
 * (account_budgets.ts) in a real `chat serve`, reached as a class behind
 * one address reaches it: from this machine's LAN address (loopback is not
 * held to them), the one its start-up hint names.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import {
  createKeyring,
  fetchBundle,
  publishPrekeys,
} from "../../src/client/e2e_keys.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  TOO_MANY_GROUPS_CREATED,
  TOO_MANY_GROUPS_JOINED,
} from "../../src/server/router.ts";
import { testIdentity } from "../_helpers/chat.ts";
import { ChatProcess, makeKeys } from "../_helpers/process.ts";

/** A `chat serve` on every interface, and where its LAN clients reach it. */
interface LanServer extends AsyncDisposable {
  /** ws://LAN-ADDRESS:PORT, or null on a machine with only loopback. */
  readonly url: string | null;
  readonly spki: Uint8Array;
}

/** One key pair for the file's servers, made once. */
let keys: Promise<string> | null = null;

function keyDir(): Promise<string> {
  return keys ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-budget-flags-" });
    globalThis.addEventListener("unload", () => {
      Deno.removeSync(dir, { recursive: true });
    });
    await makeKeys(dir);
    return dir;
  })();
}

/**
 * `chat serve --host 0.0.0.0` with `flags`, keeping nothing; its LAN
 * address read from the connect command it prints.
 */
async function serveOnLan(...flags: string[]): Promise<LanServer> {
  const dir = await keyDir();
  let server: ChatProcess | null = null;
  const dispose = async () => {
    server?.kill();
    await server?.finish();
  };
  try {
    server = new ChatProcess([
      "serve",
      "--key",
      `${dir}/private.pem`,
      "--host",
      "0.0.0.0",
      "--port",
      "0",
      "--data",
      ":memory:",
      "--no-web",
      ...flags,
    ]);
    await server.waitFor(/listening on ws:\/\/0\.0\.0\.0:\d+/);
    const [, target] = await server.waitFor(
      / {4}deno task connect (\S+) --pub/,
    );
    const spki = (await importPublicKeyPem(
      await Deno.readTextFile(`${dir}/public.pem`),
    )).spki;
    // A machine with no network but loopback prints a placeholder.
    const lan = /^[\d.]+:\d+$/.test(target!) && !target!.startsWith("127.");
    return {
      url: lan ? `ws://${target}` : null,
      spki,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/**
 * `name` signed in over the LAN with an identity key of its own; its
 * one-time prekeys published if `publish`.
 */
async function signIn(
  server: LanServer,
  name: string,
  { publish = false } = {},
): Promise<ChatClient> {
  const client = await ChatClient.connect(server.url!, {
    pinnedSpki: server.spki,
  });
  const identity = await testIdentity();
  const reply = await client.register(name, identity);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  if (publish) await publishPrekeys(client, await createKeyring(identity));
  return client;
}

/** The reply to `message` as [code, text] if refused, else its type. */
async function answer(
  client: ChatClient,
  message: { t: "create" | "join"; group: string },
): Promise<string | [string, string]> {
  const reply = await client.request(message);
  return reply.t === "error" ? [reply.code, reply.text] : reply.t;
}

function noLan(): void {
  console.warn("No LAN address on this machine: nothing held to check");
}

Deno.test("chat serve --groups-per-address 2 --joins-per-address 2: the accounts of one LAN address create two groups and join two, together", async () => {
  await using server = await serveOnLan(
    "--groups-per-address",
    "2",
    "--joins-per-address",
    "2",
  );
  if (server.url === null) return noLan();
  const [m1, m2, m3] = [
    await signIn(server, "m1"),
    await signIn(server, "m2"),
    await signIn(server, "m3"),
  ];
  try {
    assert.equal(await answer(m1, { t: "create", group: "g1" }), "ok");
    assert.equal(await answer(m2, { t: "create", group: "g2" }), "ok");
    assert.deepEqual(
      await answer(m3, { t: "create", group: "g3" }),
      ["limit", TOO_MANY_GROUPS_CREATED],
    );
    assert.equal(await answer(m3, { t: "join", group: "g1" }), "ok");
    assert.equal(await answer(m3, { t: "join", group: "g2" }), "ok");
    assert.deepEqual(
      await answer(m2, { t: "join", group: "g1" }),
      ["limit", TOO_MANY_GROUPS_JOINED],
    );
  } finally {
    for (const client of [m1, m2, m3]) await client.quit();
  }
});

Deno.test("chat serve --groups-per-address 0 --joins-per-address 0: one LAN address creates and joins past the defaults (10 and 60 an hour)", async () => {
  await using server = await serveOnLan(
    "--groups-per-address",
    "0",
    "--joins-per-address",
    "0",
    // 122 requests at once from one address: not what is tested here.
    "--rate",
    "0",
    "--rate-per-address",
    "0",
  );
  if (server.url === null) return noLan();
  const creator = await signIn(server, "creator");
  const joiner = await signIn(server, "joiner");
  try {
    for (let i = 1; i <= 61; i++) {
      assert.equal(
        await answer(creator, { t: "create", group: `g${i}` }),
        "ok",
      );
    }
    for (let i = 1; i <= 61; i++) {
      assert.equal(await answer(joiner, { t: "join", group: `g${i}` }), "ok");
    }
  } finally {
    await creator.quit();
    await joiner.quit();
  }
});

Deno.test("chat serve --prekeys-per-user-per-address 1 --prekeys-per-address 2: one LAN address takes one of a user's one-time keys and two of everyone's", async () => {
  await using server = await serveOnLan(
    "--prekeys-per-user-per-address",
    "1",
    "--prekeys-per-address",
    "2",
  );
  if (server.url === null) return noLan();
  const owners = [
    await signIn(server, "bob", { publish: true }),
    await signIn(server, "carol", { publish: true }),
    await signIn(server, "dave", { publish: true }),
  ];
  // A classmate's accounts: one identity takes one of a user's until they
  // top up (docs/PROTOCOL.md 11.2), so each asks once.
  const takers = [
    await signIn(server, "m1"),
    await signIn(server, "m2"),
    await signIn(server, "m3"),
    await signIn(server, "m4"),
  ];
  const taken = async (client: ChatClient, name: string) =>
    (await fetchBundle(client, name)).bundle.oneTime.length;
  try {
    const [m1, m2, m3, m4] = takers as [
      ChatClient,
      ChatClient,
      ChatClient,
      ChatClient,
    ];
    assert.equal(await taken(m1, "bob"), 1);
    // The address's one of bob's for the hour is gone: the bundle still
    // comes (X3DH without DH4).
    assert.equal(await taken(m2, "bob"), 0);
    assert.equal(await taken(m3, "carol"), 1);
    // The address's two of everyone's are spent: none of dave's either.
    assert.equal(await taken(m4, "dave"), 0);
  } finally {
    for (const client of [...owners, ...takers]) await client.quit();
  }
});
