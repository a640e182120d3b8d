/**
 * outgoingFiles against a real server: an offer our broken connection left
 * unanswered is kept alive across the reconnection, and made again once we
 * are back, unless /cancel (transferControls) stops it meanwhile.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import type { FileReceiver } from "../../src/client/file_receiver.ts";
import { FileSender } from "../../src/client/file_sender.ts";
import type { Link } from "../../src/client/connection_files.ts";
import { outgoingFiles } from "../../src/client/outgoing_files.ts";
import { ResendSchedule } from "../../src/client/resend_schedule.ts";
import {
  FilesAtOnce,
  MAX_SENDING_AT_ONCE,
} from "../../src/client/sending_places.ts";
import { transferControls } from "../../src/client/transfer_controls.ts";
import { formatTransfers } from "../../src/client/transfers_view.ts";
import { until } from "../_helpers/bystanders.ts";
import {
  isFailure,
  type SessionEvent,
} from "../../src/client/session_events.ts";
import { jsonOf } from "../../src/client/json_output.ts";
import type { StatusRow } from "../../src/client/status_row.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

/** What is said of notes.txt once our connection broke under it. */
const CUT_OFF =
  "Not sent yet: notes.txt will be offered again once reconnected, resuming where it stopped";

async function signIn(
  server: TestServer,
  name: string,
  identity: Identity,
): Promise<Link> {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const reply = await client.register(name, identity);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  // Only sending here: nothing is received.
  return {
    client,
    sender: new FileSender(client),
    receiver: null as unknown as FileReceiver,
  };
}

/**
 * sophia's file notes.txt (1000 bytes) in a fresh folder, jojo signed in
 * with his own identity, and sophia with hers.
 */
async function sophiaAndJojo(server: TestServer) {
  const dir = await Deno.makeTempDir({ prefix: "chat-outgoing-" });
  const path = join(dir, "notes.txt");
  await Deno.writeTextFile(path, "x".repeat(1000));
  const jojoIdentity = await testIdentity();
  const jojo = await TestClient.connect(server, "jojo", jojoIdentity);
  const identity = await testIdentity();
  const link = await signIn(server, "sophia", identity);
  return { dir, path, jojo, jojoIdentity, identity, link };
}

/**
 * sophia's file for jojo, offered and left unanswered, and the /transfers
 * and /cancel of her session: `cut()` breaks her connection (the offer then
 * waits to be made again), `relink()` signs her in again.
 */
async function offerCut(schedule: () => ResendSchedule) {
  const server = await startTestServer();
  const { dir, path, jojo, jojoIdentity, identity, link: first } =
    await sophiaAndJojo(server);
  let link = first;
  // Nothing is received here: no transfer comes in.
  const receiver = { list: () => [] } as unknown as FileReceiver;
  let relinked = Promise.withResolvers<boolean>();
  let leaving = false;
  const events: SessionEvent[] = [];
  const outgoing = outgoingFiles({
    link: () => link,
    relinked: () => relinked.promise,
    leaving: () => leaving,
    emit: (event) => events.push(event),
    status: { showProgress: () => {} } as unknown as StatusRow,
    resendSchedule: schedule,
  });
  const transfers = transferControls({
    link: () => ({ ...link, receiver }),
    downloadsDir: join(dir, "downloads"),
    resends: { list: outgoing.resends, cancel: outgoing.cancelResend },
  });
  const leave = () => {
    leaving = true;
    link.client.abort();
    relinked.resolve(false);
  };
  const sending = outgoing.send({ to: "jojo" }, path, 1);
  await jojo.waitFor((m) => m.message.t === "file_offer");
  const offeringSaid = () =>
    events.filter((e) => e.type === "file_offering").length;
  return {
    jojo,
    events,
    transfers,
    sending,
    /** The offers jojo was made. */
    offers: () => jojo.inbox.filter((m) => m.message.t === "file_offer").length,
    /** "... will be offered again" said so far. */
    againSaid: () =>
      events.filter((e) =>
        e.type === "notice" && / will be offered again/.test(e.text)
      ).length,
    /** "Offering notes.txt ..." said so far. */
    offeringSaid,
    /** What was said so far: each notice's text, else the event's type. */
    said: () => events.map((e) => e.type === "notice" ? e.text : e.type),
    /**
     * jojo signs in again: once the offer made again reaches him, and has
     * been said `offered` times in all, `meanwhile` runs; then he leaves.
     */
    async jojoBack(
      offered: number,
      meanwhile: () => void = () => {},
    ): Promise<void> {
      const back = await TestClient.connect(server, "jojo", jojoIdentity);
      try {
        await back.waitFor((m) => m.message.t === "file_offer");
        await until(() => offeringSaid() === offered, "the offer said again");
        meanwhile();
      } finally {
        await back.quit();
      }
    },
    async cut(): Promise<void> {
      link.client.abort();
      await link.client.ended;
    },
    async relink(): Promise<void> {
      link = await signIn(server, "sophia", identity);
      relinked.resolve(true);
      relinked = Promise.withResolvers<boolean>();
    },
    /** The session ends: what is being sent is given up. */
    leave,
    async [Symbol.asyncDispose]() {
      leave();
      await outgoing.settled();
      await jojo.quit().catch(() => {});
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("outgoingFiles offers a file again once our connection is back when its offer was cut while waiting for an answer", async () => {
  // jojo does not answer: the offer waits for him.
  await using offer = await offerCut(() =>
    new ResendSchedule([20, 40], 60_000)
  );
  // Our connection breaks (a server restarting, say): the offer is left
  // unanswered, and nothing is offered while we are away.
  await offer.cut();
  assert.equal(offer.offers(), 1);
  await offer.relink();
  await offer.jojo.waitFor(() => offer.offers() === 2, WAIT_MS);
  offer.leave();
  await offer.sending;
  assert.ok(
    !offer.events.some((e) => e.type === "error" && /Gave up/.test(e.text)),
    JSON.stringify(offer.events),
  );
});

for (const end of ["the session ends", "/cancel stops it"] as const) {
  Deno.test(`outgoingFiles holds back the outcome of a file to be offered again, and says it once, final, when ${end} first`, async () => {
    await using offer = await offerCut(() => new ResendSchedule([20], 60_000));
    const finals = () =>
      offer.events.map(jsonOf).filter((e) =>
        e !== null && (e.type === "file_sent" || e.type === "error") &&
        e.re === 1
      );
    await offer.cut();
    await until(() => offer.againSaid() === 1, "the file to wait");
    // Not final (a terminal shows no ERROR for it), no command failed yet.
    const again = offer.events.filter((e) => e.type === "file_sent");
    assert.equal(again.length, 1);
    assert.equal(again[0]!.type === "file_sent" && again[0]!.again, true);
    assert.equal(isFailure(again[0]!), false);
    assert.deepEqual(finals(), [], JSON.stringify(offer.events));
    if (end === "the session ends") offer.leave();
    else {
      assert.equal((await offer.transfers.list()).length, 1);
      assert.deepEqual(await offer.transfers.cancel(1), [
        "Cancelled sending notes.txt.",
      ]);
    }
    await offer.sending;
    // The outcome of its last offer, once: a script's failed file.
    assert.deepEqual(finals(), [{
      type: "error",
      re: 1,
      code: "file",
      text: "ERROR: Not sent: the connection to the server was lost.",
    }]);
    const last = offer.events.filter((e) => e.type === "file_sent").at(-1)!;
    assert.equal(
      last.type === "file_sent" && last.held,
      end === "the session ends" ? "ended" : "cancelled",
    );
    assert.equal(isFailure(last), true);
  });
}

Deno.test("transferControls lists a file waiting for our connection to offer it again, and /cancel stops it: it is not offered once we are back", async () => {
  await using offer = await offerCut(() => new ResendSchedule([20], 60_000));
  await offer.cut();
  await until(() => offer.againSaid() === 1, "the file to wait");
  const listed = await offer.transfers.list();
  assert.deepEqual(formatTransfers(listed), [
    "File transfers (/cancel N stops one):",
    "  1. sending notes.txt to jojo: waiting to offer it again, resuming where it stopped",
  ]);
  assert.deepEqual(await offer.transfers.cancel(1), [
    "Cancelled sending notes.txt.",
  ]);
  await offer.relink();
  // Done with, without offering it again (before: offered at once).
  await offer.sending;
  assert.equal(offer.offers(), 1);
  assert.deepEqual(await offer.transfers.cancel(1), [
    "ERROR: Transfer 1 (notes.txt) has already ended",
  ]);
  assert.deepEqual(formatTransfers(await offer.transfers.list()), [
    "No file transfers.",
  ]);
});

/** A ResendSchedule that counts the pauses it was asked for. */
class CountedSchedule extends ResendSchedule {
  pauses = 0;
  override next(): number | null {
    this.pauses++;
    return super.next();
  }
}

Deno.test("transferControls: /cancel stops a file waiting out a pause before it is offered again", async () => {
  // The pause is long: only /cancel ends it within the test.
  const schedule = new CountedSchedule([10 * 60_000], 60 * 60_000);
  await using offer = await offerCut(() => schedule);
  await offer.cut();
  // jojo is gone when we are back: the offer made again is refused, and
  // the next waits out the pause (the first pause: after our connection
  // broke, it was offered again as soon as we were back).
  await offer.jojo.quit();
  await offer.relink();
  await until(() => schedule.pauses === 1, "the pause after the refusal");
  // Refused because jojo is away: nothing more is said of it.
  assert.equal(offer.offeringSaid(), 1, JSON.stringify(offer.events));
  assert.equal(offer.againSaid(), 1, JSON.stringify(offer.events));
  const [entry] = await offer.transfers.list();
  assert.equal(entry?.[1].kind, "resend");
  assert.deepEqual(await offer.transfers.cancel(entry[0]), [
    "Cancelled sending notes.txt.",
  ]);
  await offer.sending;
  assert.ok(
    !offer.events.some((e) => e.type === "error"),
    JSON.stringify(offer.events),
  );
});

Deno.test("outgoingFiles says once that a file will be offered again, nothing while its receiver stays away, and offers it again once he is back", async () => {
  const schedule = new CountedSchedule([20], 60_000);
  await using offer = await offerCut(() => schedule);
  await offer.cut();
  await offer.jojo.quit();
  await offer.relink();
  // Offered again and refused (jojo is away) several times.
  await until(() => schedule.pauses >= 5, "five offers refused");
  // What was said is what the break said: the offer, its end, and that it
  // will be offered again; nothing for each refusal.
  assert.deepEqual(offer.said(), [
    "file_offering",
    "file_sent",
    CUT_OFF,
  ]);
  // jojo is back: the next offer reaches him, and is said while it waits
  // for his answer.
  await offer.jojoBack(2, () =>
    assert.deepEqual(offer.said(), [
      "file_offering",
      "file_sent",
      CUT_OFF,
      "file_offering",
    ]));
});

Deno.test("outgoingFiles says the end of an offer made again that reached its receiver, who then left without answering, and offers it again once he is back", async () => {
  const schedule = new CountedSchedule([20], 60_000);
  await using offer = await offerCut(() => schedule);
  await offer.cut();
  // Offered again as soon as we are back: it reaches jojo and is said.
  await offer.relink();
  await offer.jojo.waitFor(() => offer.offers() === 2);
  await until(() => offer.offeringSaid() === 2, "the offer said again");
  // jojo leaves while asked: the server refuses the offer as to someone
  // not online (before: declined as "disconnected", and given up).
  await offer.jojo.quit();
  await until(() => offer.againSaid() === 2, "the file to wait again");
  const away = [
    "file_offering",
    "file_sent",
    "Not sent yet: notes.txt will be offered again, resuming where it stopped (User 'jojo' is not online)",
  ];
  const waiting = ["file_offering", "file_sent", CUT_OFF, ...away];
  assert.deepEqual(offer.said(), waiting);
  const ended = offer.events.filter((e) => e.type === "file_sent").at(-1);
  assert.deepEqual(ended?.type === "file_sent" && ended.outcome, {
    kind: "refused",
    text: "ERROR: User 'jojo' is not online.",
    code: "no_such_user",
  });
  // Offered again while he is away, refused, and nothing more said.
  const pauses = schedule.pauses;
  await until(() => schedule.pauses >= pauses + 3, "three offers refused");
  assert.deepEqual(offer.said(), waiting);
  // He is back: the next offer reaches him.
  await offer.jojoBack(3);
});

Deno.test("outgoingFiles with a bound on files at once offers no more than it, lists the next as waiting for one to end, and offers it once /cancel ends one", async () => {
  const server = await startTestServer();
  const { dir, path, jojo, link } = await sophiaAndJojo(server);
  // Nine people (jojo and eight more), one file each: none of them answers.
  const people = [jojo];
  for (let i = 1; i <= MAX_SENDING_AT_ONCE; i++) {
    people.push(
      await TestClient.connect(server, `p${i}`, await testIdentity()),
    );
  }
  const last = people[MAX_SENDING_AT_ONCE]!;
  const events: SessionEvent[] = [];
  let leaving = false;
  const outgoing = outgoingFiles({
    link: () => link,
    relinked: () => new Promise<boolean>(() => {}),
    leaving: () => leaving,
    emit: (event) => events.push(event),
    status: { showProgress: () => {} } as unknown as StatusRow,
    atOnce: new FilesAtOnce(),
  });
  const transfers = transferControls({
    link: () => ({
      ...link,
      receiver: { list: () => [] } as unknown as FileReceiver,
    }),
    downloadsDir: join(dir, "downloads"),
    resends: { list: outgoing.resends, cancel: outgoing.cancelResend },
  });
  const offered = (client: TestClient) =>
    client.inbox.filter((m) => m.message.t === "file_offer").length;
  const leave = async () => {
    leaving = true;
    link.client.abort();
    await outgoing.settled();
  };
  try {
    const sending = ["jojo", ...people.slice(1).map((_, i) => `p${i + 1}`)]
      .map((to, i) => outgoing.send({ to }, path, i + 1));
    for (const person of people.slice(0, MAX_SENDING_AT_ONCE)) {
      await person.waitFor((m) => m.message.t === "file_offer");
    }
    await until(() => outgoing.resends().length === 1, "the 9th to wait");
    // Before, the 9th was offered at once (bounded only per recipient),
    // and the server refused it: 8 transfers running already.
    assert.equal(offered(last), 0);
    const listed = formatTransfers(await transfers.list());
    assert.equal(listed.length, 1 + MAX_SENDING_AT_ONCE + 1, listed.join("\n"));
    assert.equal(
      listed.at(-1),
      "  9. sending notes.txt to p8: waiting to offer it, after one of the 8 files under way ends",
    );
    assert.deepEqual(await transfers.cancel(1), [
      "Took back the offer of notes.txt.",
    ]);
    await last.waitFor((m) => m.message.t === "file_offer");
    // None refused: the one taken back alone has ended.
    assert.deepEqual(
      events.filter((e) => e.type === "file_sent").map((e) =>
        e.type === "file_sent" ? e.outcome.kind : e.type
      ),
      ["cancelled"],
    );
    await leave();
    await Promise.all(sending);
    assert.equal(offered(last), 1);
  } finally {
    await leave();
    for (const person of people) await person.quit().catch(() => {});
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
