// A server that crashes writes no session ends: the store's last sighting of
// each signed-in name is what decides its comeback after the restart
// (PROTOCOL 5.8). Real servers on one store file, raw clients over real
// sockets; the crash is the store's files copied at one instant while a name
// is signed in, as a killed process leaves them.
import assert from "node:assert/strict";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import {
  generateIdentity,
  type Identity,
  importIdentityPem,
} from "../../src/crypto/identity.ts";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import { until } from "../_helpers/bystanders.ts";

const identity = async (): Promise<Identity> =>
  await importIdentityPem((await generateIdentity()).privatePem);

const outcome = (reply: { t: string; code?: string; text?: string }) =>
  reply.t === "error" ? `${reply.code}: ${reply.text}` : reply.t;

/** The comeback window, and how often sightings are written, made short. */
const WITHIN_MS = 1500;
const EVERY_MS = 100;

Deno.test("recordSightings: a name signed in longer than the comeback window when the server crashed comes back free after the restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_sightings_" });
  const keys = { ann: await identity(), ben: await identity() };
  try {
    const store = openStore(join(dir, "chat.db"));
    try {
      await using first = await startTestServer({
        store,
        connectionLimits: {
          comebackWithinMs: WITHIN_MS,
          sightingEveryMs: EVERY_MS,
        },
      });
      const signIn = async (name: keyof typeof keys) => {
        const client = await RawClient.connect(first.url, {
          pinnedSpki: first.spki,
        });
        const reply = await client.register(name, { identity: keys[name] });
        assert.equal(outcome(reply), "welcome", name);
        return client;
      };
      await (await signIn("ben")).close();
      const ann = await signIn("ann");
      const signedIn = Date.now();
      // ann stays signed in for longer than the window...
      await until(
        () => Date.now() - signedIn > WITHIN_MS + 2 * EVERY_MS,
        "ann signed in past the comeback window",
        WITHIN_MS * 3,
      );
      // ...when the server dies: its files as they are now, no end written.
      for (const suffix of ["", "-wal"]) {
        const from = join(dir, `chat.db${suffix}`);
        if (existsSync(from)) {
          copyFileSync(from, join(dir, `crash.db${suffix}`));
        }
      }
      await ann.close();
    } finally {
      store.close();
    }
    const crashed = openStore(join(dir, "crash.db"));
    try {
      await using second = await startTestServer({
        store: crashed,
        connectionLimits: {
          comebackWithinMs: WITHIN_MS,
          sightingEveryMs: EVERY_MS,
          // One sign-in from an address, then none for a minute: ben's.
          signInsPerMinutePerAddress: 1,
          signInBurstPerAddress: 1,
          limitNewNamesFromLoopback: true,
        },
      });
      const replies = [];
      for (const name of ["ben", "ann"] as const) {
        const client = await RawClient.connect(second.url, {
          pinnedSpki: second.spki,
        });
        replies.push(
          outcome(await client.register(name, { identity: keys[name] })),
        );
        await client.close();
      }
      // ben paid the address's one sign-in; ann came back as after a clean
      // stop, free.
      assert.deepEqual(replies, ["welcome", "welcome"]);
    } finally {
      crashed.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
