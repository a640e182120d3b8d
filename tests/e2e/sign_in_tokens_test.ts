// An address's sign-in tokens (PROTOCOL 5.8) are spent only by sign-ins that
// pass, and a known name's free comeback only when the ordinary sign-ins
// cannot pay. Real servers, raw clients over real sockets; loopback is held
// to the address limits as a LAN address is (limitNewNamesFromLoopback).
import assert from "node:assert/strict";
import {
  generateIdentity,
  type Identity,
  importIdentityPem,
} from "../../src/crypto/identity.ts";
import {
  TOO_MANY_NEW_NAMES,
  TOO_MANY_SIGN_INS,
} from "../../src/server/serve.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";

const identity = async (): Promise<Identity> =>
  await importIdentityPem((await generateIdentity()).privatePem);

const outcome = (reply: { t: string; code?: string; text?: string }) =>
  reply.t === "error" ? `${reply.code}: ${reply.text}` : reply.t;

Deno.test("startServer: invalid names registered in a loop spend none of the address's sign-ins or new names", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      // No token comes back during the test.
      signInsPerMinutePerAddress: 1,
      signInBurstPerAddress: 4,
      newNamesPerMinutePerAddress: 1,
      newNameBurstPerAddress: 4,
      // The loop as fast as it can go: what it spends is the point.
      messagesPerSecond: 0,
      messagesPerSecondPerAddress: 0,
      limitNewNamesFromLoopback: true,
    },
  });
  const mallory = await RawClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const key = await identity();
  const refusals = new Set<string>();
  for (let i = 0; i < 100; i++) {
    refusals.add(outcome(await mallory.register("a b", { identity: key })));
  }
  assert.equal(refusals.size, 1, [...refusals].join("\n"));
  assert.ok(![...refusals][0]!.startsWith("limit"), [...refusals][0]);
  await mallory.close();
  // Everyone behind the address still signs in: four new names, the burst.
  for (const name of ["ann", "ben", "cat", "dan"]) {
    const honest = await RawClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    assert.equal(outcome(await honest.register(name)), "welcome", name);
    await honest.close();
  }
});

Deno.test("startServer: a known name's first sign-in pays the address's sign-ins, keeping its comeback for a dropped connection", async () => {
  const store = openStore(":memory:");
  try {
    const names = ["ann", "ben", "cat", "dan"];
    const keys = new Map<string, Identity>();
    for (const name of names) keys.set(name, await identity());
    // Yesterday: the names became known (loopback not held to the limits).
    {
      await using yesterday = await startTestServer({ store });
      for (const name of names) {
        const client = await RawClient.connect(yesterday.url, {
          pinnedSpki: yesterday.spki,
        });
        const reply = await client.register(name, {
          identity: keys.get(name)!,
        });
        assert.equal(outcome(reply), "welcome", name);
        await client.close();
      }
    }
    await using server = await startTestServer({
      store,
      connectionLimits: {
        // No token comes back during the test.
        signInsPerMinutePerAddress: 1,
        signInBurstPerAddress: 4,
        limitNewNamesFromLoopback: true,
        // The morning's sessions last a moment here, not half a minute.
        comebackSettledMs: 0,
      },
    });
    const signIn = async (name: string) => {
      const client = await RawClient.connect(server.url, {
        pinnedSpki: server.spki,
      });
      const reply = await client.register(name, {
        identity: keys.get(name) ?? await identity(),
      });
      return { client, reply: outcome(reply) };
    };
    // This morning: the four sign in, within the burst.
    const morning = [];
    for (const name of names) morning.push(await signIn(name));
    assert.deepEqual(
      morning.map(({ reply }) => reply),
      names.map(() => "welcome"),
    );
    // A newcomer, past the burst.
    const eve = await signIn("eve");
    await eve.client.close();
    // The Wi-Fi drops: all four come back at once.
    for (const { client } of morning) await client.close();
    const back = [];
    for (const name of names) back.push(await signIn(name));
    assert.deepEqual(
      back.map(({ reply }) => reply),
      names.map(() => "welcome"),
    );
    for (const { client } of back) await client.close();
    // A newcomer found the burst spent by them: their comebacks were kept.
    assert.equal(eve.reply, `limit: ${TOO_MANY_SIGN_INS}`);
  } finally {
    store.close();
  }
});

Deno.test("startServer: a new name past both the new-name and the sign-in rate is told of the new-name one, whose wait is the longer", async () => {
  await using server = await startTestServer({
    connectionLimits: {
      signInsPerMinutePerAddress: 1,
      signInBurstPerAddress: 1,
      newNamesPerMinutePerAddress: 1,
      newNameBurstPerAddress: 1,
      limitNewNamesFromLoopback: true,
    },
  });
  const replies = [];
  for (const name of ["ann", "ben"]) {
    const client = await RawClient.connect(server.url, {
      pinnedSpki: server.spki,
    });
    replies.push(outcome(await client.register(name)));
    await client.close();
  }
  assert.deepEqual(replies, ["welcome", `limit: ${TOO_MANY_NEW_NAMES}`]);
});
