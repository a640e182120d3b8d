/**
 * GroupSessions' messages waiting for their sender keys (group_sessions.ts
 * deliverKey): a key opens only the messages of its own chain, and a waiting
 * message refused by its timer while a key was opening others does not take
 * another sender's waiting message with it. No server: the keys and
 * messages are made here, the saves gated where an interleaving needs it.
 */

import assert from "node:assert/strict";
import type { ChatClient } from "../../src/client/chat_client.ts";
import {
  type E2eGroup,
  emptyGroupState,
  encodeGroupContent,
  type GroupOpened,
  GroupSessions,
  type GroupSessionsOptions,
  MAX_GROUP_WAITING,
  SENDER_KEY_LABEL_PREFIX,
} from "../../src/client/group_sessions.ts";
import {
  encodeSenderKey,
  newSenderChain,
  type OwnChain,
  sealGroupMessage,
} from "../../src/crypto/sender_key.ts";
import { InTurn } from "../../src/client/in_turn.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const client = { serverFingerprint: "SHA256:server" } as unknown as ChatClient;
let nextId = 1;

async function seal(
  chain: OwnChain,
  from: string,
  text: string,
): Promise<{ chain: OwnChain; message: E2eGroup; body: Uint8Array }> {
  const out = await sealGroupMessage(
    chain,
    encodeGroupContent({ from, group: "g", text }),
  );
  const id = nextId++;
  return {
    chain: out.chain,
    message: {
      t: "e2e_group",
      group: "g",
      from,
      fingerprint: "SHA256:x",
      ts: Date.now(),
      id,
      seq: id,
    } as E2eGroup,
    body: out.message,
  };
}

/** GroupSessions that only receive, every sender known to use keys. */
function receiving(
  options: Pick<GroupSessionsOptions, "late"> & Partial<GroupSessionsOptions>,
): GroupSessions {
  return new GroupSessions({
    state: emptyGroupState(),
    save: async () => {},
    sendSecret: () => Promise.reject(new Error("unused")),
    knownKey: () => "SHA256:sender",
    notify: () => {},
    ...options,
  });
}

function describe(o: GroupOpened): string {
  return o.kind === "message"
    ? `shown: ${o.text}`
    : o.kind === "refused"
    ? `refused: ${o.lines.join(" ")}`
    : "waiting";
}

function settledOf(o: GroupOpened): Promise<void> {
  assert.equal(o.kind, "waiting");
  return (o as Extract<GroupOpened, { kind: "waiting" }>).settled;
}

/** `promise`, or a failure after `ms` (a bound, not a synchronisation). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(what)), ms);
    }),
  ]);
}

Deno.test("a sender key opens only the waiting messages of its own chain: one on the sender's next chain waits for that chain's key", async () => {
  const late: string[] = [];
  const groups = receiving({
    late: (o) => late.push(describe(o)),
    waitMs: 60_000,
  });
  // bob writes on chain A, then (someone left) on a new chain B; both
  // messages overtake their keys, which come end to end behind them.
  const a = await newSenderChain();
  const b = await newSenderChain();
  const m1 = await seal(a, "bob", "on chain A");
  const m2 = await seal(b, "bob", "on chain B");
  const first = settledOf(await groups.open(client, m1.message, m1.body));
  const second = settledOf(await groups.open(client, m2.message, m2.body));
  const label = SENDER_KEY_LABEL_PREFIX + "g";
  assert.ok(groups.deliverKey(client, "bob", label, encodeSenderKey(a)));
  await within(first, 5000, "the message on chain A was not opened");
  assert.deepEqual(late, ["shown: on chain A"]);
  assert.ok(groups.deliverKey(client, "bob", label, encodeSenderKey(b)));
  await within(second, 5000, "the message on chain B was not opened");
  assert.deepEqual(late, ["shown: on chain A", "shown: on chain B"]);
});

Deno.test("messages waiting for a key that has come are opened even when storing it outlasts their wait, and another sender's waiting message stays", async () => {
  const late: string[] = [];
  const lateOnes = {
    count: 0,
    wanted: 0,
    reached: Promise.withResolvers<void>(),
  };
  // Storing bob's chain is held until well past the messages' wait.
  const holding = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  let saves = 0;
  const waitMs = 100;
  const groups = receiving({
    save: async () => {
      if (++saves === 1) {
        holding.resolve();
        await release.promise;
      }
    },
    late: (o) => {
      late.push(describe(o));
      if (++lateOnes.count === lateOnes.wanted) lateOnes.reached.resolve();
    },
    waitMs,
  });
  const bobChain = await newSenderChain();
  const carolChain = await newSenderChain();
  const bob1 = await seal(bobChain, "bob", "bob 1");
  const bob2 = await seal(bob1.chain, "bob", "bob 2");
  const carol1 = await seal(carolChain, "carol", "carol 1");
  const waiting = [
    settledOf(await groups.open(client, bob1.message, bob1.body)),
    settledOf(await groups.open(client, bob2.message, bob2.body)),
  ];
  const carolSettled = settledOf(
    await groups.open(client, carol1.message, carol1.body),
  );
  const label = SENDER_KEY_LABEL_PREFIX + "g";
  groups.deliverKey(client, "bob", label, encodeSenderKey(bobChain));
  await within(holding.promise, 5000, "bob's chain was not stored");
  // carol's key never comes: her message is refused when its wait ends,
  // while bob's chain is still being stored. bob's messages stopped
  // waiting when his key came.
  lateOnes.wanted = 1;
  await within(lateOnes.reached.promise, 5000, "carol's wait never ended");
  await within(carolSettled, 5000, "carol's message was never settled");
  release.resolve();
  await within(Promise.all(waiting), 5000, "bob's messages never settled");
  assert.deepEqual(late.map((l) => l.slice(0, 42)), [
    "refused: ERROR: A group message from carol",
    "shown: bob 1",
    "shown: bob 2",
  ]);
});

Deno.test("a message's wait for its sender key starts once the end-to-end messages before it are dealt with (`before`)", async () => {
  const late: string[] = [];
  const secondLate = Promise.withResolvers<void>();
  const earlier = Promise.withResolvers<void>();
  const waitMs = 50;
  const groups = receiving({
    late: (o) => {
      late.push(describe(o));
      if (late.length === 2) secondLate.resolve();
    },
    waitMs,
    // The private messages before it (its key among them) are still being
    // opened, slowly: a reconnect's backlog.
    before: () => earlier.promise,
  });
  const bobChain = await newSenderChain();
  const bob1 = await seal(bobChain, "bob", "bob 1");
  const settled = settledOf(await groups.open(client, bob1.message, bob1.body));
  // Many waits long: nothing gave up on it.
  await new Promise((resolve) => setTimeout(resolve, waitMs * 6));
  assert.deepEqual(late, []);
  // The backlog is through, its key among it.
  groups.deliverKey(
    client,
    "bob",
    SENDER_KEY_LABEL_PREFIX + "g",
    encodeSenderKey(bobChain),
  );
  earlier.resolve();
  await within(settled, 5000, "bob 1 never settled");
  assert.deepEqual(late, ["shown: bob 1"]);
  // Without its key, the wait runs once the backlog is through.
  const carolChain = await newSenderChain();
  const carol1 = await seal(carolChain, "carol", "carol 1");
  await groups.open(client, carol1.message, carol1.body);
  await within(secondLate.promise, 5000, "never refused");
  assert.equal(late.length, 2);
  assert.match(late[1]!, /^refused: .*from carol/);
});

Deno.test("a waiting message opens and settles even when saving its sender key fails", async () => {
  let saves = 0;
  const late: string[] = [];
  const notes: string[] = [];
  const groups = receiving({
    // Storing the key fails; the saves after (the message opened) work.
    save: () =>
      saves++ === 0
        ? Promise.reject(new Error("disk full"))
        : Promise.resolve(),
    notify: (lines) => notes.push(...lines.map(({ text }) => text)),
    late: (o) => late.push(describe(o)),
    waitMs: 60_000,
  });
  const chain = await newSenderChain();
  const m = await seal(chain, "bob", "kept in memory");
  const settled = settledOf(await groups.open(client, m.message, m.body));
  groups.deliverKey(
    client,
    "bob",
    SENDER_KEY_LABEL_PREFIX + "g",
    encodeSenderKey(chain),
  );
  await within(settled, 5000, "never settled: never acknowledged");
  assert.deepEqual(late, ["shown: kept in memory"]);
  assert.match(notes.join("\n"), /could not be saved: disk full/);
});

Deno.test("the wait of a message whose key never comes starts when what came before it is dealt with, not before", async () => {
  const late: string[] = [];
  const refusedAt: number[] = [];
  const gone = Promise.withResolvers<void>();
  const earlier = Promise.withResolvers<void>();
  const waitMs = 50;
  const groups = receiving({
    late: (o) => {
      late.push(describe(o));
      refusedAt.push(performance.now());
      gone.resolve();
    },
    waitMs,
    before: () => earlier.promise,
  });
  const chain = await newSenderChain();
  const m = await seal(chain, "dan", "no key comes");
  await groups.open(client, m.message, m.body);
  // Many waits long: the timer has not started.
  await new Promise((resolve) => setTimeout(resolve, waitMs * 6));
  assert.deepEqual(late, []);
  const released = performance.now();
  earlier.resolve();
  await within(gone.promise, 5000, "never refused");
  assert.match(late[0]!, /^refused: .*from dan/);
  assert.ok(refusedAt[0]! - released >= waitMs - 5, "a whole wait after");
});

Deno.test("a message whose sender's new key waits for /trust is held at once (holdUntilTrusted), not refused when the wait is up, and opens once the key comes", async () => {
  const late: string[] = [];
  const held: string[] = [];
  const groups = receiving({
    late: (o) => late.push(describe(o)),
    // Long: the message must not wait for it.
    waitMs: 60_000,
    holdUntilTrusted: (_, message) => {
      held.push(message.from);
      return Promise.resolve([
        `A group message from ${message.from} in ${message.group} waits until you accept their new key (/trust ${message.from})`,
      ]);
    },
  });
  const chain = await newSenderChain();
  const m = await seal(chain, "jojo", "from my new key");
  const settled = settledOf(await groups.open(client, m.message, m.body));
  await within(settled, 5000, "the held message was not settled");
  assert.deepEqual(held, ["jojo"]);
  assert.deepEqual(late, [
    "refused: A group message from jojo in g waits until you accept their new key (/trust jojo)",
  ]);
  // /trust: the key (held with the change) comes, then the message again.
  const label = SENDER_KEY_LABEL_PREFIX + "g";
  assert.ok(groups.deliverKey(client, "jojo", label, encodeSenderKey(chain)));
  const opened = await groups.open(client, m.message, m.body);
  assert.equal(describe(opened), "shown: from my new key");
});

Deno.test("a message whose sender has no key change waiting (holdUntilTrusted null) still waits for its sender key", async () => {
  const late: string[] = [];
  const asked = Promise.withResolvers<void>();
  const groups = receiving({
    late: (o) => late.push(describe(o)),
    waitMs: 60_000,
    holdUntilTrusted: () => {
      asked.resolve();
      return Promise.resolve(null);
    },
  });
  const chain = await newSenderChain();
  const m = await seal(chain, "bob", "keyed later");
  const settled = settledOf(await groups.open(client, m.message, m.body));
  await within(asked.promise, WAIT_MS, "holdUntilTrusted was not asked");
  assert.deepEqual(late, []);
  const label = SENDER_KEY_LABEL_PREFIX + "g";
  assert.ok(groups.deliverKey(client, "bob", label, encodeSenderKey(chain)));
  await within(settled, 5000, "the message was not opened");
  assert.deepEqual(late, ["shown: keyed later"]);
});

Deno.test("a message of a sender that comes while the sender key is stored for their earlier one, which waited, is shown after it (the sender's order)", async () => {
  // As a session shows them (session_e2e.ts): each outcome in the order
  // the messages came, and what waited when `late` gives it.
  const shown: string[] = [];
  const order = new InTurn((error) => {
    throw error;
  });
  const show = (opened: Promise<GroupOpened>) =>
    order.run(async () => {
      const outcome = await opened;
      if (outcome.kind !== "waiting") shown.push(describe(outcome));
    });
  const storing = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  let saves = 0;
  const groups = receiving({
    save: async () => {
      if (++saves === 1) {
        storing.resolve();
        await release.promise;
      }
    },
    late: (o) => order.run(() => void shown.push(describe(o))),
    waitMs: 60_000,
  });
  const chain = await newSenderChain();
  const bob1 = await seal(chain, "bob", "bob 1");
  const bob2 = await seal(bob1.chain, "bob", "bob 2");
  // bob 1 overtakes its key; bob 2 comes while the key is being stored.
  const first = groups.open(client, bob1.message, bob1.body);
  show(first);
  const firstSettled = settledOf(await first);
  groups.deliverKey(
    client,
    "bob",
    SENDER_KEY_LABEL_PREFIX + "g",
    encodeSenderKey(chain),
  );
  await within(storing.promise, 5000, "bob's chain was not stored");
  const second = groups.open(client, bob2.message, bob2.body);
  show(second);
  release.resolve();
  await within(firstSettled, 5000, "bob 1 never settled");
  const outcome = await within(second, 5000, "bob 2 never opened");
  if (outcome.kind === "waiting") {
    await within(outcome.settled, 5000, "bob 2 never settled");
  }
  await order.settled;
  assert.deepEqual(shown, ["shown: bob 1", "shown: bob 2"]);
});

Deno.test("deliverKey settles only once the sender key is saved: the message that brought it is acknowledged only then", async () => {
  const saving = Promise.withResolvers<void>();
  const release = Promise.withResolvers<void>();
  let saves = 0;
  const groups = receiving({
    save: async () => {
      if (++saves === 1) {
        saving.resolve();
        await release.promise;
      }
    },
    late: () => {},
  });
  const chain = await newSenderChain();
  let kept = false;
  const delivered = groups.deliverKey(
    client,
    "bob",
    SENDER_KEY_LABEL_PREFIX + "g",
    encodeSenderKey(chain),
  );
  assert.ok(delivered !== null);
  void Promise.resolve(delivered).then(() => (kept = true));
  await within(saving.promise, 5000, "bob's chain was never saved");
  // Acknowledged now, a client killed before the save lands has the key
  // nowhere, and the server never sends it again.
  await Promise.resolve();
  assert.equal(kept, false, "settled before the key was saved");
  release.resolve();
  await within(Promise.resolve(delivered), 5000, "never settled");
  assert.equal(kept, true);
  assert.equal(
    groups.deliverKey(client, "bob", "file key 1", new Uint8Array(32)),
    null,
  );
});

Deno.test("a message that waited for its sender key settles (is acknowledged) only once `late` has shown it, not when it is handed over", async () => {
  // The session shows what `late` gives in its turn, which may still be
  // busy (a message opening behind a `groups` request): acknowledged when
  // handed over, a client killed before the line was written lost it.
  const handed: string[] = [];
  const turn = Promise.withResolvers<void>();
  const groups = receiving({
    late: (o) => {
      handed.push(describe(o));
      return turn.promise;
    },
    waitMs: 60_000,
  });
  const chain = await newSenderChain();
  const bob1 = await seal(chain, "bob", "bob 1");
  const bob2 = await seal(bob1.chain, "bob", "bob 2");
  const first = settledOf(await groups.open(client, bob1.message, bob1.body));
  const second = settledOf(await groups.open(client, bob2.message, bob2.body));
  let settled = 0;
  void first.then(() => settled++);
  void second.then(() => settled++);
  const label = SENDER_KEY_LABEL_PREFIX + "g";
  await groups.deliverKey(client, "bob", label, encodeSenderKey(chain));
  assert.deepEqual(handed, ["shown: bob 1", "shown: bob 2"]);
  // Turns of the event loop for anything that would settle them now.
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
  assert.equal(settled, 0, "settled before its line was shown");
  turn.resolve();
  await within(first, 5000, "bob 1 never settled");
  await within(second, 5000, "bob 2 never settled");
  assert.equal(settled, 2);
});

Deno.test("deliverKey calls `taken` once the key is in the state, before the save that keeps it, and for a key already held", async () => {
  let taken = 0;
  const atSave: number[] = [];
  const groups = receiving({
    save: () => {
      atSave.push(taken);
      return Promise.resolve();
    },
    late: () => {},
  });
  const chain = await newSenderChain();
  const label = SENDER_KEY_LABEL_PREFIX + "g";
  const delivered = groups.deliverKey(
    client,
    "bob",
    label,
    encodeSenderKey(chain),
    () => taken++,
  );
  // Not before: the message's archive would lose the key's bytes in a save
  // of something else, while the key itself is not kept yet.
  assert.equal(taken, 0);
  await within(Promise.resolve(delivered), 5000, "never settled");
  assert.deepEqual(atSave, [1]);
  await groups.deliverKey(
    client,
    "bob",
    label,
    encodeSenderKey(chain),
    () => taken++,
  );
  assert.equal(taken, 2);
});

Deno.test("a message from a sender whose key is known is kept waiting over one of 200 made-up members' with one waiting each: theirs gives way, the known sender's opens once its key comes", async () => {
  const outcomes: GroupOpened[] = [];
  // No wait starts before the gate opens (`before`): none gives up during
  // the test, however slow the machine; then each gives up at once.
  const gate = Promise.withResolvers<void>();
  const sessions = receiving({
    late: (opened) => void outcomes.push(opened),
    waitMs: 1,
    before: () => gate.promise,
    knownKey: (_server, name) => name === "alice" ? "SHA256:alice" : null,
  });
  // Members made up by the host, one message each on a chain nobody was
  // given: the rule "the sender with the most waiting gives way" ties.
  const waiting: GroupOpened[] = [];
  const madeUp = async (name: string) => {
    const sealed = await seal(await newSenderChain(), name, "x");
    return await sessions.open(client, sealed.message, sealed.body);
  };
  for (let i = 0; i < MAX_GROUP_WAITING; i++) {
    waiting.push(await madeUp(`ghost${i}`));
  }
  for (const o of waiting) assert.equal(o.kind, "waiting", describe(o));
  // alice has written to us end to end before: her key is known. Her
  // message comes before her chain's key.
  const chain = await newSenderChain();
  const sealed = await seal(chain, "alice", "genuine");
  const opened = await sessions.open(client, sealed.message, sealed.body);
  assert.equal(opened.kind, "waiting", describe(opened));
  // The oldest made-up one gave way, said as refused.
  assert.deepEqual(outcomes.map(describe), [
    "refused: ERROR: A group message from ghost0 in g could not be opened, and is not shown: its sender key never came (it was sent before you could read the group, or the server withheld the key)",
  ]);
  sessions.deliverKey(
    client,
    "alice",
    `${SENDER_KEY_LABEL_PREFIX}g`,
    encodeSenderKey(chain),
  );
  await within(settledOf(opened), 5_000, "alice's message never settled");
  assert.equal(outcomes.map(describe).at(-1), "shown: genuine");
  // Full again: someone not known gets no room from the others not known.
  waiting.push(await madeUp("ghost200"));
  assert.equal(waiting.at(-1)!.kind, "waiting");
  const stranger = await madeUp("stranger");
  assert.equal(stranger.kind, "refused", describe(stranger));
  gate.resolve();
  await within(
    Promise.all(waiting.slice(1).map(settledOf)),
    WAIT_MS,
    "the made-up ones never gave up",
  );
});
