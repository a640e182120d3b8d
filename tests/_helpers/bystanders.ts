/**
 * Two well-behaved users who chat alongside an attack, and the checks that
 * the attack hurt no one but the attacker.
 */

import assert from "node:assert/strict";
import { TestClient, type TestServer } from "./chat.ts";
import { WAIT_MS } from "./patience.ts";

/** Two registered users who should not notice anything. */
export interface Bystanders {
  alice: TestClient;
  bob: TestClient;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function bystanders(server: TestServer): Promise<Bystanders> {
  const alice = await TestClient.connect(server, "alice");
  const bob = await TestClient.connect(server, "bob");
  return {
    alice,
    bob,
    [Symbol.asyncDispose]: async () => {
      await Promise.all([alice.quit(), bob.quit()]);
    },
  };
}

/** Alice and Bob still exchange a broadcast and a private message. */
export async function assertStillChatting(
  { alice, bob }: Bystanders,
  tag: string,
): Promise<void> {
  assert.equal((await alice.client.say(`still here ${tag}`)).t, "ok");
  await bob.waitFor((m) =>
    m.message.t === "public" && m.message.from === "alice" &&
    m.text === `still here ${tag}`
  );
  assert.equal((await bob.client.msg("alice", `me too ${tag}`)).t, "ok");
  await alice.waitFor((m) =>
    m.message.t === "private" && m.message.from === "bob" &&
    m.text === `me too ${tag}`
  );
}

/** Resolves with the first log line matching `pattern`; bounded in time. */
export async function waitForLog(
  server: TestServer,
  pattern: RegExp,
  timeoutMs = WAIT_MS,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = server.logs.find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (Date.now() >= deadline) {
      assert.fail(
        `no log line matches ${pattern} within ${timeoutMs} ms; logs: ${
          JSON.stringify(server.logs)
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Polls `check` until it holds; fails after `timeoutMs`. */
export async function until(
  check: () => boolean,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
