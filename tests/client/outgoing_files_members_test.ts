/**
 * outgoingFiles with a group file whose members are offered it again one by
 * one: each member's outcome held back while it is to be offered again is
 * said once, final, whatever becomes of the other members' offers.
 */

import assert from "node:assert/strict";
import type { ChatClient } from "../../src/client/chat_client.ts";
import type { Link } from "../../src/client/connection_files.ts";
import type { FileReceiver } from "../../src/client/file_receiver.ts";
import type { FileSender, SendTarget } from "../../src/client/file_sender.ts";
import { outgoingFiles } from "../../src/client/outgoing_files.ts";
import type { SentFileOutcome } from "../../src/client/render.ts";
import { ResendSchedule } from "../../src/client/resend_schedule.ts";
import type { SessionEvent } from "../../src/client/session_events.ts";
import type { StatusRow } from "../../src/client/status_row.ts";

/** A transfer that ended with `results`, each recipient's. */
function finished(
  ...results: { name: string; ok: boolean }[]
): SentFileOutcome {
  return {
    kind: "finished",
    name: "notes.txt",
    size: 1000,
    results: results.map(({ name, ok }) => ({
      name,
      ok,
      reason: ok ? "" : "disconnected",
      ...(ok ? {} : { resumable: true }),
    })),
  };
}

Deno.test("outgoingFiles says once, final, the outcome of a group member's file to be offered again when another member's offer ends meanwhile", async () => {
  let leaving = false;
  const events: SessionEvent[] = [];
  // What each offer comes to, by whom it names: the group's transfer broke
  // for alice and bob; offered again, alice's broke again (she left), and
  // bob took his, as the session ended.
  const outcomes = new Map<string, SentFileOutcome>([
    [
      "crew",
      finished({ name: "alice", ok: false }, { name: "bob", ok: false }),
    ],
    ["alice", finished({ name: "alice", ok: false })],
    ["bob", finished({ name: "bob", ok: true })],
  ]);
  const sender = {
    send: (
      target: SendTarget,
      _path: string,
      _progress: unknown,
      offered: (name: string, size: number) => void,
      _answered: unknown,
      _resumed: unknown,
      _keyLines: unknown,
      asked?: () => void,
    ) => {
      const who = "to" in target ? target.to : target.group;
      offered("notes.txt", 1000);
      asked?.();
      if (who === "bob") leaving = true;
      return Promise.resolve(outcomes.get(who)!);
    },
  } as unknown as FileSender;
  const client = {
    isOver: false,
    ended: new Promise(() => {}),
  } as unknown as ChatClient;
  const link: Link = {
    client,
    sender,
    receiver: null as unknown as FileReceiver,
  };
  const outgoing = outgoingFiles({
    link: () => link,
    relinked: () => new Promise<boolean>(() => {}),
    leaving: () => leaving,
    emit: (event) => events.push(event),
    status: { showProgress: () => {} } as unknown as StatusRow,
    resendSchedule: () => new ResendSchedule([1], 60_000),
  });
  await outgoing.send({ group: "crew" }, "notes.txt", 1);
  const finals = (name: string) =>
    events.filter((e) =>
      e.type === "file_sent" && e.again !== true && "to" in e.target &&
      e.target.to === name
    );
  assert.equal(finals("bob").length, 1, JSON.stringify(events));
  // Before, bob's outcome took the place of alice's held one, which was
  // never said: a program heard nothing final of her file.
  assert.equal(finals("alice").length, 1, JSON.stringify(events));
});
