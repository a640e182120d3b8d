/**
 * Group members for GroupSessions tests: a real client of a real test
 * server each, with its own E2eSessions and GroupSessions
 * (tests/client/group_sessions_test.ts, group_sessions_hostile_test.ts).
 */

import assert from "node:assert/strict";
import type { ChatClient } from "../../src/client/chat_client.ts";
import { createKeyring, publishPrekeys } from "../../src/client/e2e_keys.ts";
import { E2eSessions } from "../../src/client/e2e_sessions.ts";
import { emptyE2eState } from "../../src/client/e2e_state.ts";
import {
  type E2eGroup,
  emptyGroupState,
  type GroupOpened,
  GroupSessions,
  type GroupState,
} from "../../src/client/group_sessions.ts";
import { KnownIdentities } from "../../src/client/known_identities.ts";
import type { UnarrivedMessages } from "../../src/client/unarrived.ts";
import { TestClient, testIdentity, type TestServer } from "./chat.ts";
import { WAIT_MS } from "./patience.ts";

export interface Member {
  name: string;
  client: ChatClient;
  e2e: E2eSessions;
  groups: GroupSessions;
  state: GroupState;
  /** Every e2e_group received, with its body. */
  received: { message: E2eGroup; body: Uint8Array }[];
  /** What became of each, in the order it was settled. */
  opened: GroupOpened[];
  notes: string[];
}

/**
 * `waitMs`: how long a message waits for its sender key (300 ms unless
 * told); `onSecret`: run after each sender key this member gives (a test's
 * hook into the moment between the members listed and the message);
 * `unarrived`: told of the messages its chains skipped.
 */
export async function member(
  server: TestServer,
  name: string,
  waitMs = 300,
  onSecret: (to: string) => Promise<void> = async () => {},
  unarrived?: UnarrivedMessages,
): Promise<Member> {
  const identity = await testIdentity();
  const { client } = await TestClient.connect(server, name, identity);
  const keyring = await createKeyring(identity);
  await publishPrekeys(client, keyring);
  const identities = KnownIdentities.inMemory();
  const e2e = new E2eSessions({
    keyring,
    saveKeyring: async () => {},
    identities,
    state: emptyE2eState(),
    saveState: async () => {},
    notify: () => {},
  });
  const m: Member = {
    name,
    client,
    e2e,
    state: emptyGroupState(),
    received: [],
    opened: [],
    notes: [],
    groups: null as unknown as GroupSessions,
  };
  m.groups = new GroupSessions({
    ...(unarrived === undefined ? {} : { unarrived }),
    state: m.state,
    save: async () => {},
    sendSecret: async (...args) => {
      const reply = await e2e.sendSecret(...args);
      await onSecret(args[1]);
      return reply;
    },
    knownKey: (server, n) => identities.known(server, n),
    notify: (lines) => m.notes.push(...lines.map(({ text }) => text)),
    late: (opened) => m.opened.push(opened),
    waitMs,
  });
  client.onMessage(({ message, body }) => {
    if (message.t === "e2e_private") {
      void e2e.open(client, message, body).then((opened) => {
        if (opened.kind === "secret") {
          m.groups.deliverKey(client, opened.from, opened.label, opened.secret);
        }
      });
    } else if (message.t === "e2e_group") {
      m.received.push({ message, body: body.slice() });
      void m.groups.open(client, message, body).then((opened) => {
        if (opened.kind !== "waiting") m.opened.push(opened);
      });
    }
  });
  return m;
}

let cids = 0;
export function cid(): string {
  return (++cids).toString(16).padStart(32, "0");
}

export async function say(from: Member, group: string, text: string) {
  const reply = await from.groups.send(from.client, group, text, cid());
  assert.equal(reply.t, "ok", JSON.stringify(reply));
}

/** Waits (with a deadline) until `m` has settled `count` messages. */
export async function settled(
  m: Member,
  count: number,
): Promise<GroupOpened[]> {
  const deadline = Date.now() + WAIT_MS;
  while (m.opened.length < count) {
    if (Date.now() > deadline) {
      assert.fail(
        `${m.name} settled ${m.opened.length} of ${count} messages within ${WAIT_MS} ms: ${
          JSON.stringify(m.opened)
        }`,
      );
    }
    await m.client.request({ t: "ping" });
    await new Promise((r) => setTimeout(r, 10));
  }
  return m.opened;
}

export function texts(opened: GroupOpened[]): string[] {
  return opened.map((o) =>
    o.kind === "message"
      ? `${o.message.from}@${o.message.group}: ${o.text}`
      : o.kind === "refused"
      ? o.lines.join(" ")
      : "waiting"
  );
}

export async function join(m: Member, group: string) {
  const reply = await m.client.request({ t: "join", group });
  assert.equal(reply.t, "ok", JSON.stringify(reply));
}
