/**
 * Every way a file sent ends gives its place back (sending_places.ts), and
 * once: a place kept would hold the user's next files to that recipient for
 * the rest of the session; one given back twice would let five go at once.
 * outgoingFiles with the real FileSender against a real server; jojo is a
 * bare client that answers as each case needs.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ChatClient } from "../../src/client/chat_client.ts";
import type { FileReceiver } from "../../src/client/file_receiver.ts";
import { FileSender, type ShareKey } from "../../src/client/file_sender.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { newFileKeyId } from "../../src/client/file_key_share.ts";
import type { Link } from "../../src/client/connection_files.ts";
import { jsonOf } from "../../src/client/json_output.ts";
import {
  outgoingFiles,
  STOPPED_AT_END,
  STOPPED_BY_YOU,
} from "../../src/client/outgoing_files.ts";
import { ResendSchedule } from "../../src/client/resend_schedule.ts";
import {
  MAX_SENDING_PER_RECIPIENT,
  SendingPlaces,
} from "../../src/client/sending_places.ts";
import {
  isFailure,
  type SessionEvent,
} from "../../src/client/session_events.ts";
import type { StatusRow } from "../../src/client/status_row.ts";
import type { Turn } from "../../src/client/unconfirmed_chat.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import type { ServerLimits } from "../../src/server/state.ts";
import { until } from "../_helpers/bystanders.ts";
import {
  startTestServer,
  TestClient,
  testIdentity,
  type TestServer,
} from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const JOJO = { to: "jojo" } as const;

/** A ResendSchedule that counts the pauses it was asked for. */
class CountedSchedule extends ResendSchedule {
  pauses = 0;
  override next(): number | null {
    this.pauses++;
    return super.next();
  }
}

/**
 * How a file's key goes (file_sender.ts ShareKey), as the session's does
 * it: in the offer, after `roundTrips(name)` pings of the server (a key
 * that takes its time, as one sent end to end does).
 */
type SlowKeys = (name: string) => number;

async function signIn(
  server: TestServer,
  name: string,
  identity: Identity,
  slowKeys?: SlowKeys,
): Promise<Link> {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const reply = await client.register(name, identity);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  const shareKey: ShareKey | null = slowKeys === undefined
    ? null
    : async (_target, key, file) => {
      for (let i = 0; i < slowKeys(file); i++) {
        await client.request({ t: "ping" });
      }
      return {
        kind: "shared",
        fields: { key_id: newFileKeyId(), ...fileKeyForOffer(key), name: file },
        lines: [],
      };
    };
  return {
    client,
    sender: new FileSender(client, shareKey),
    receiver: null as unknown as FileReceiver,
  };
}

type Offer = Extract<ServerMessage, { t: "file_offer" }>;

/**
 * sophia sending files photo1.jpg ... photo6.jpg (1000 bytes each) to
 * jojo, who answers nothing unless told; `places` are her session's.
 */
async function sophiaSends(
  schedule = () => new ResendSchedule([20], 60_000),
  turn?: () => Turn,
  slowKeys?: SlowKeys,
  limits?: Partial<ServerLimits>,
) {
  const server = await startTestServer(
    limits === undefined ? {} : { limits },
  );
  const dir = await Deno.makeTempDir({ prefix: "chat-places-" });
  const paths: string[] = [];
  for (let i = 1; i <= 6; i++) {
    paths.push(join(dir, `photo${i}.jpg`));
    await Deno.writeTextFile(paths.at(-1)!, "x".repeat(1000));
  }
  const jojoIdentity = await testIdentity();
  let jojo = await TestClient.connect(server, "jojo", jojoIdentity);
  const identity = await testIdentity();
  let link = await signIn(server, "sophia", identity, slowKeys);
  let relinked = Promise.withResolvers<boolean>();
  let leaving = false;
  const events: SessionEvent[] = [];
  const places = new SendingPlaces();
  const outgoing = outgoingFiles({
    link: () => link,
    relinked: () => relinked.promise,
    leaving: () => leaving,
    emit: (event) => events.push(event),
    status: { showProgress: () => {} } as unknown as StatusRow,
    resendSchedule: schedule,
    places,
    ...(turn === undefined ? {} : { turn }),
  });
  const sends: Promise<void>[] = [];
  const leave = () => {
    if (leaving) return;
    leaving = true;
    relinked.resolve(false);
    for (const { offer } of link.sender.offers()) link.sender.withdraw(offer);
    for (const { xfer } of link.sender.list()) link.sender.cancel(xfer);
    for (const { id } of outgoing.resends()) outgoing.cancelResend(id);
  };
  /** The offers jojo (this connection of his) was made, in order. */
  const offers = () =>
    jojo.inbox.flatMap((m) => m.message.t === "file_offer" ? [m.message] : []);
  return {
    server,
    places,
    events,
    outgoing,
    get link() {
      return link;
    },
    get jojo() {
      return jojo;
    },
    offers,
    /** Sends a file of `bytes` bytes, big.bin, to jojo. */
    async sendBig(bytes: number): Promise<void> {
      const path = join(dir, "big.bin");
      await Deno.writeFile(path, new Uint8Array(bytes));
      const sent = outgoing.send(JOJO, path, 0);
      sends.push(sent);
      await sent;
    },
    /** Sends photo`n`.jpg to `target` (jojo's by default). */
    send(n: number, target: { to: string } | { group: string } = JOJO) {
      const sent = outgoing.send(target, paths[n - 1]!, n);
      sends.push(sent);
      return sent;
    },
    /** Resolves once jojo has been offered `count` files in all. */
    async offered(count: number): Promise<Offer[]> {
      await jojo.waitFor(() => offers().length >= count, WAIT_MS);
      return offers();
    },
    /** "... waits: 4 files to ..." said so far. */
    heldSaid: () =>
      events.filter((e) => e.type === "notice" && / waits: /.test(e.text))
        .length,
    /** jojo answers offer `offer`. */
    answer(offer: Offer, t: "file_accept" | "file_decline") {
      jojo.client.post({ t, xfer: offer.xfer });
    },
    async cut(): Promise<void> {
      link.client.abort();
      await link.client.ended;
    },
    async relink(): Promise<void> {
      link = await signIn(server, "sophia", identity, slowKeys);
      relinked.resolve(true);
      relinked = Promise.withResolvers<boolean>();
    },
    async jojoLeaves(): Promise<void> {
      await jojo.quit();
    },
    async jojoBack(): Promise<void> {
      jojo = await TestClient.connect(server, "jojo", jojoIdentity);
    },
    leave,
    /** Everything sent so far is done with. */
    settled: () => Promise.all(sends),
    async [Symbol.asyncDispose]() {
      leave();
      await Promise.all(sends);
      await link.client.quit().catch(() => {});
      await jojo.quit().catch(() => {});
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("outgoingFiles gives a file's place back once when the server refuses its offer (not online, not a member, no such group)", async () => {
  await using s = await sophiaSends();
  await s.send(1, { to: "ghost" });
  await s.send(2, { group: "nowhere" });
  assert.equal(s.places.taken({ to: "ghost" }), 0);
  assert.equal(s.places.taken({ group: "nowhere" }), 0);
  const refusals = s.events.flatMap((e) =>
    e.type === "file_sent" && e.outcome.kind === "refused"
      ? [e.outcome.code]
      : []
  );
  assert.equal(refusals.length, 2, JSON.stringify(s.events));
});

Deno.test("outgoingFiles gives a file's place back once when its recipient declines it, and keeps the others' places", async () => {
  await using s = await sophiaSends();
  s.send(1);
  s.send(2);
  const [first] = await s.offered(2);
  assert.equal(s.places.taken(JOJO), 2);
  s.answer(first!, "file_decline");
  await until(
    () => s.events.some((e) => e.type === "file_sent"),
    "the declined file to end",
  );
  // One ended: one place back, not both (a second release would let five go).
  assert.equal(s.places.taken(JOJO), 1);
});

Deno.test("outgoingFiles gives a file's place back once when its recipient cancels it mid-way", async () => {
  await using s = await sophiaSends();
  s.send(1);
  s.send(2);
  const [first] = await s.offered(2);
  s.answer(first!, "file_accept");
  await until(() => s.link.sender.list().length === 1, "the transfer to run");
  s.jojo.client.post({ t: "file_cancel", xfer: first!.xfer, reason: "no" });
  await until(
    () => s.events.some((e) => e.type === "file_sent"),
    "the cancelled file to end",
  );
  assert.equal(s.places.taken(JOJO), 1);
});

Deno.test("outgoingFiles gives a file's place back once when the sender takes back its offer, stops its transfer, or stops it while it waits for a place", async () => {
  await using s = await sophiaSends();
  for (let n = 1; n <= 6; n++) s.send(n);
  const offers = await s.offered(MAX_SENDING_PER_RECIPIENT);
  await until(() => s.heldSaid() === 2, "photo5 and photo6 to wait");
  assert.equal(s.places.taken(JOJO), MAX_SENDING_PER_RECIPIENT);
  assert.equal(s.places.waiting, 2);
  // /cancel of a held file: it waits no more, and takes no place.
  const held = s.outgoing.resends().filter((r) => r.why === "place");
  assert.deepEqual(held.map((r) => r.name), ["photo5.jpg", "photo6.jpg"]);
  assert.ok(s.outgoing.cancelResend(held[0]!.id));
  await until(() => s.places.waiting === 1, "photo5 to wait no more");
  assert.equal(s.places.taken(JOJO), MAX_SENDING_PER_RECIPIENT);
  // /cancel of an offer not answered yet: photo6 takes its place.
  const [offered] = s.link.sender.offers();
  assert.ok(s.link.sender.withdraw(offered!.offer));
  await s.offered(MAX_SENDING_PER_RECIPIENT + 1);
  assert.equal(s.offers().at(-1)?.name, "photo6.jpg");
  assert.equal(s.places.waiting, 0);
  assert.equal(s.places.taken(JOJO), MAX_SENDING_PER_RECIPIENT);
  // /cancel of a transfer running: one place back.
  s.answer(offers[1]!, "file_accept");
  await until(() => s.link.sender.list().length === 1, "the transfer to run");
  assert.ok(s.link.sender.cancel(s.link.sender.list()[0]!.xfer));
  await until(
    () => s.places.taken(JOJO) === MAX_SENDING_PER_RECIPIENT - 1,
    "the cancelled transfer's place back",
  );
  // Nothing else is given back meanwhile.
  await s.send(1, { to: "ghost" });
  assert.equal(s.places.taken(JOJO), MAX_SENDING_PER_RECIPIENT - 1);
});

Deno.test("outgoingFiles counts a name in any case as the same recipient's places", async () => {
  await using s = await sophiaSends();
  for (let n = 1; n <= 4; n++) s.send(n, n % 2 === 0 ? { to: "JoJo" } : JOJO);
  await s.offered(4);
  s.send(5, { to: "JOJO" });
  await until(() => s.heldSaid() === 1, "photo5 to wait");
  assert.equal(s.places.taken(JOJO), MAX_SENDING_PER_RECIPIENT);
});

Deno.test("outgoingFiles: a file waiting for its place when the session ends takes none and ends", async () => {
  await using s = await sophiaSends();
  for (let n = 1; n <= 5; n++) s.send(n);
  await s.offered(4);
  await until(() => s.heldSaid() === 1, "photo5 to wait");
  s.leave();
  await s.settled();
  assert.equal(s.places.taken(JOJO), 0);
  assert.equal(s.places.waiting, 0);
  assert.equal(s.offers().length, 4);
});

Deno.test("outgoingFiles gives the places back while files our broken connection cut off wait, takes them again once back, and offers the held files in the order sent", async () => {
  await using s = await sophiaSends();
  for (let n = 1; n <= 6; n++) s.send(n);
  const first = await s.offered(4);
  s.answer(first[0]!, "file_accept");
  await until(() => s.link.sender.list().length === 1, "the transfer to run");
  await until(() => s.heldSaid() === 2, "photo5 and photo6 to wait");
  await s.cut();
  // Every one waits for our connection now, none holding a place.
  await until(
    () => s.outgoing.resends().length === 6,
    "all six to wait for our connection",
  );
  assert.equal(s.places.taken(JOJO), 0);
  await s.relink();
  const again = await s.offered(8);
  await until(() => s.places.waiting === 2, "two to wait for a place again");
  assert.equal(s.places.taken(JOJO), MAX_SENDING_PER_RECIPIENT);
  const named = again.slice(4).map((o) => o.name);
  assert.equal(named.length, 4);
  // Offered again: the four under way (in the order their opens end),
  // not the held ones.
  assert.deepEqual([...named].sort(), [
    "photo1.jpg",
    "photo2.jpg",
    "photo3.jpg",
    "photo4.jpg",
  ]);
  // One declined: photo5 next, then photo6.
  s.answer(again[4]!, "file_decline");
  assert.equal((await s.offered(9))[8]?.name, "photo5.jpg");
  s.answer(again[5]!, "file_decline");
  assert.equal((await s.offered(10))[9]?.name, "photo6.jpg");
  assert.equal(s.places.taken(JOJO), MAX_SENDING_PER_RECIPIENT);
});

Deno.test("outgoingFiles gives the place back when its recipient leaves while asked", async () => {
  await using s = await sophiaSends();
  const sent = s.send(1);
  await s.offered(1);
  assert.equal(s.places.taken(JOJO), 1);
  await s.jojoLeaves();
  await sent;
  assert.equal(s.places.taken(JOJO), 0);
});

Deno.test("outgoingFiles gives the place back between offers made again while its recipient is away, and when it gives up", async () => {
  const schedule = new CountedSchedule([10], 200);
  await using s = await sophiaSends(() => schedule);
  const sent = s.send(1);
  await s.offered(1);
  await s.cut();
  await s.jojoLeaves();
  await s.relink();
  await until(() => schedule.pauses > 0, "an offer made again refused");
  assert.equal(s.places.taken(JOJO), 0);
  await sent;
  assert.ok(
    s.events.some((e) => e.type === "error" && /Gave up offering/.test(e.text)),
    JSON.stringify(s.events),
  );
  assert.equal(s.places.taken(JOJO), 0);
});

Deno.test("outgoingFiles counts a group as one recipient, apart from its members", async () => {
  await using s = await sophiaSends();
  const ours = { group: "photos" };
  assert.equal(
    (await s.link.client.request({ t: "create", group: "photos" })).t,
    "ok",
  );
  assert.equal(
    (await s.jojo.client.request({ t: "join", group: "photos" })).t,
    "ok",
  );
  for (let n = 1; n <= 5; n++) s.send(n, ours);
  await s.offered(4);
  await until(() => s.heldSaid() === 1, "the 5th to the group to wait");
  assert.equal(s.places.taken(ours), MAX_SENDING_PER_RECIPIENT);
  // jojo's own places are his.
  s.send(6);
  await s.offered(5);
  assert.equal(s.places.taken(JOJO), 1);
  s.leave();
  await s.settled();
  assert.equal(s.places.taken(ours), 0);
  assert.equal(s.places.taken(JOJO), 0);
});

Deno.test("outgoingFiles gives the place of a file to oneself back once the server answers it", async () => {
  await using s = await sophiaSends();
  await s.send(1, { to: "Sophia" });
  assert.equal(s.places.taken({ to: "sophia" }), 0);
  assert.ok(
    s.events.some((e) => e.type === "file_sent"),
    JSON.stringify(s.events),
  );
});

Deno.test("outgoingFiles lets the lines typed after a held file go at once, and after one offered once the server passed it on", async () => {
  // Each file's turn among the lines typed: `gone[n]` once the next may go.
  const gone: boolean[] = [];
  let sent = 0;
  await using s = await sophiaSends(undefined, () => {
    const n = ++sent;
    gone[n] = false;
    return { ready: Promise.resolve(), done: () => gone[n] = true };
  });
  for (let n = 1; n <= 5; n++) s.send(n);
  await s.offered(4);
  await until(() => gone.slice(1, 5).every(Boolean), "the 4 offered to go");
  await until(() => s.heldSaid() === 1, "the 5th to wait");
  // Held: what was typed after it went, though it waits on.
  assert.equal(gone[5], true);
  assert.equal(s.places.waiting, 1);
});

Deno.test("outgoingFiles gives the place back when its recipient leaves mid-transfer, while the file waits to be offered to him again", async () => {
  await using s = await sophiaSends(() =>
    new ResendSchedule([10 * 60_000], 60 * 60_000)
  );
  s.send(1);
  const [offer] = await s.offered(1);
  s.answer(offer!, "file_accept");
  await until(() => s.link.sender.list().length === 1, "the transfer to run");
  await s.jojoLeaves();
  await until(
    () => s.outgoing.resends().some((r) => r.why === "again"),
    "the file to wait for jojo",
  );
  assert.equal(s.places.taken(JOJO), 0);
});

Deno.test("outgoingFiles offers held files in the order sent when the later one is ready first", async () => {
  // photo5's key takes three round trips to the server, photo6's none: both
  // freed by two declines heard one after the other, photo6 reached the
  // wire first, each going as soon as it had opened its file and sent its
  // key.
  await using s = await sophiaSends(
    undefined,
    undefined,
    (name) => name === "photo5.jpg" ? 3 : 0,
  );
  for (let i = 1; i <= 6; i++) s.send(i);
  const four = await s.offered(MAX_SENDING_PER_RECIPIENT);
  await until(() => s.heldSaid() === 2, "the 5th and 6th held");
  s.answer(four[0]!, "file_decline");
  s.answer(four[1]!, "file_decline");
  const all = await s.offered(6);
  assert.deepEqual(all.slice(4).map((o) => o.name), [
    "photo5.jpg",
    "photo6.jpg",
  ]);
});

/** The codes of the offers the server refused, in order. */
function refusedCodes(events: SessionEvent[]): (string | undefined)[] {
  return events.flatMap((e) =>
    e.type === "file_sent" && e.outcome.kind === "refused"
      ? [e.outcome.code]
      : []
  );
}

Deno.test("outgoingFiles gives a file's place back once when the server refuses it as too large, and keeps the others'", async () => {
  await using s = await sophiaSends(undefined, undefined, undefined, {
    maxFileBytes: 5000,
  });
  s.send(1);
  s.send(2);
  await s.offered(2);
  await s.sendBig(6000);
  assert.deepEqual(refusedCodes(s.events), ["too_large"]);
  // Kept, the 4th file to jojo would wait with three under way; given back
  // twice, the two under way would count as one.
  assert.equal(s.places.taken(JOJO), 2);
  s.send(3);
  s.send(4);
  assert.equal((await s.offered(4)).length, 4);
  assert.equal(s.heldSaid(), 0);
});

Deno.test("outgoingFiles gives a file's place back once when the server refuses it past the sender's transfers (limit)", async () => {
  await using s = await sophiaSends(undefined, undefined, undefined, {
    maxTransfersPerUser: 2,
  });
  s.send(1);
  s.send(2);
  await s.offered(2);
  await s.send(3);
  assert.deepEqual(refusedCodes(s.events), ["limit"]);
  assert.equal(s.places.taken(JOJO), 2);
  // One of the two declined: the server takes one more, and the place the
  // refused one had is free (kept, the 4th would be held: 3 taken + 1).
  s.answer(s.offers()[0]!, "file_decline");
  await until(
    () => refusedCodes(s.events).length === 2,
    "the declined file to end",
  );
  assert.deepEqual(refusedCodes(s.events), ["limit", "declined"]);
  assert.equal(s.places.taken(JOJO), 1);
});

Deno.test("outgoingFiles: /cancel N of a file being offered again to several people stops it for all of them", async () => {
  await using s = await sophiaSends(() => new ResendSchedule([50], 60_000));
  const kikiIdentity = await testIdentity();
  let kiki = await TestClient.connect(s.server, "kiki", kikiIdentity);
  const made = await s.link.client.request({ t: "create", group: "g" });
  assert.notEqual(made.t, "error", JSON.stringify(made));
  for (const client of [s.jojo.client, kiki.client]) {
    const joined = await client.request({ t: "join", group: "g" });
    assert.notEqual(joined.t, "error", JSON.stringify(joined));
  }
  const sent = s.send(1, { group: "g" });
  let ended = false;
  void sent.then(() => ended = true);
  const offerOf = (client: TestClient) =>
    client.inbox.flatMap((m) =>
      m.message.t === "file_offer" ? [m.message] : []
    );
  await s.jojo.waitFor(() => offerOf(s.jojo).length === 1, WAIT_MS);
  await kiki.waitFor(() => offerOf(kiki).length === 1, WAIT_MS);
  s.answer(offerOf(s.jojo)[0]!, "file_accept");
  kiki.client.post({ t: "file_accept", xfer: offerOf(kiki)[0]!.xfer });
  await until(() => s.link.sender.list().length === 1, "the transfer to run");
  await s.jojoLeaves();
  await kiki.quit();
  await until(
    () => s.outgoing.resends().some((r) => r.targets.length === 2),
    "the file to wait for jojo and kiki",
  );
  await s.jojoBack();
  // Offered again to jojo first (kiki away: tried later); kiki back while
  // it waits for his answer.
  await s.jojo.waitFor(() => offerOf(s.jojo).length === 1, WAIT_MS);
  kiki = await TestClient.connect(s.server, "kiki", kikiIdentity);
  const [file] = s.link.sender.filesUnderWay();
  assert.equal(s.link.sender.stopFile(file!), "offer");
  await until(
    () => ended || offerOf(kiki).length > 0,
    "the file to end, or be offered to kiki",
  );
  // Before: the offer to jojo taken back, the file went on to kiki.
  assert.equal(offerOf(kiki).length, 0);
  assert.equal(ended, true);
  await kiki.quit();
});

Deno.test("outgoingFiles says once, by its re, the outcome of a file stopped before it was ever offered: cancelled while it waits for its place, or the session ending", async () => {
  await using s = await sophiaSends();
  for (let n = 1; n <= 6; n++) s.send(n);
  await s.offered(MAX_SENDING_PER_RECIPIENT);
  await until(() => s.heldSaid() === 2, "photo5 and photo6 to wait");
  const finals = (re: number) =>
    s.events.filter((e) =>
      (e.type === "file_sent" || e.type === "error") && e.re === re
    );
  const stopped = (re: number, reason: string) => ({
    type: "file_sent",
    re,
    name: `photo${re}.jpg`,
    to: "jojo",
    ok: false,
    reason,
    results: [],
  });
  // /cancel of photo5: before, nothing final was said of it.
  const [five] = s.outgoing.resends();
  assert.ok(s.outgoing.cancelResend(five!.id));
  await until(() => finals(5).length > 0, "photo5's outcome");
  assert.deepEqual(finals(5).map(jsonOf), [stopped(5, STOPPED_BY_YOU)]);
  // The session ends with photo6 still waiting (its connection down).
  s.outgoing.stopWaiting();
  await until(() => finals(6).length > 0, "photo6's outcome");
  assert.deepEqual(finals(6).map(jsonOf), [stopped(6, STOPPED_AT_END)]);
  // A failed file each, for a script's exit status, and said once.
  assert.ok([...finals(5), ...finals(6)].every(isFailure));
  s.leave();
  await s.settled();
  assert.equal(finals(5).length, 1);
  assert.equal(finals(6).length, 1);
  assert.equal(s.offers().length, MAX_SENDING_PER_RECIPIENT);
});
