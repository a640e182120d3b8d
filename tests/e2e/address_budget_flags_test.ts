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
import {
  TOO_MANY_GROUPS_CREATED,
  TOO_MANY_GROUPS_JOINED,
} from "../../src/server/router.ts";
import { testIdentity } from "../_helpers/chat.ts";
import { type LanServer, serveOnLan } from "../_helpers/lan_server.ts";

/** `chat serve` on every interface with `flags` (lan_server.ts). */
function serve(...flags: string[]): Promise<LanServer> {
  return serveOnLan("chat-budget-flags-", ...flags);
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
  const client = await ChatClient.connect(server.lanUrl!, {
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
  await using server = await serve(
    "--groups-per-address",
    "2",
    "--joins-per-address",
    "2",
  );
  if (server.lanUrl === null) return noLan();
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
  await using server = await serve(
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
  if (server.lanUrl === null) return noLan();
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
  await using server = await serve(
    "--prekeys-per-user-per-address",
    "1",
    "--prekeys-per-address",
    "2",
  );
  if (server.lanUrl === null) return noLan();
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
