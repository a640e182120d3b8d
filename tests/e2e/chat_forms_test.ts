/**
 * The two forms of a chat message on the wire (docs/PROTOCOL.md 4.1): a
 * client that registers with `compact: true` gets live chat messages in the
 * compact form, any other client gets JSON, and both decode to the same
 * messages. Raw clients, so the test sees the decrypted batches themselves.
 */

import assert from "node:assert/strict";
import type { ServerMessage } from "../../src/protocol/messages.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const decoder = new TextDecoder();

/** Reads frames until a message matching `predicate` has arrived. */
async function until(
  raw: RawClient,
  predicate: (message: ServerMessage, body: string) => boolean,
): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (
    !raw.messages.some((m) => predicate(m.message, decoder.decode(m.body)))
  ) {
    await raw.receiveMessages(Math.max(1, deadline - Date.now()));
  }
}

type ChatMessage = Extract<
  ServerMessage,
  { t: "public" | "private" | "group" }
>;

/** The chat messages a raw client received, as [header, text]. */
function chat(raw: RawClient): [ChatMessage, string][] {
  return raw.messages.flatMap(({ message, body }) =>
    message.t === "public" || message.t === "private" ||
      message.t === "group"
      ? [[message, decoder.decode(body)] as [ChatMessage, string]]
      : []
  );
}

/** Whether any batch the client opened has a JSON header of these types. */
function sawJsonChat(raw: RawClient): boolean {
  return raw.batches.some((batch) =>
    /"t":"(public|private|group)"/.test(decoder.decode(batch))
  );
}

Deno.test("live chat messages come compact to clients that asked, JSON to the rest, and decode the same", async () => {
  await using server = await startTestServer();
  const sender = await TestClient.connect(server, "sender");
  const readers: RawClient[] = [];
  try {
    // In this order, so a JSON reader comes after a compact one too (the
    // server makes the JSON form when it first needs it).
    for (
      const [name, compact, acks] of [
        ["plain", false, false],
        ["terse", true, false],
        ["later", false, false],
        ["acker", true, true],
        ["varint", true, true],
      ] as const
    ) {
      const raw = await RawClient.connect(server.url, {
        pinnedSpki: server.spki,
      });
      readers.push(raw);
      if (name === "later") {
        // Asked for compact in a registration that failed: it does not count.
        const refused = await raw.register("no good!", { compact: true });
        assert.equal(refused.t, "error");
      }
      const welcome = await raw.register(name, {
        compact,
        acks,
        ...(name === "varint" ? { varint: true } : {}),
      });
      assert.equal(welcome.t, "welcome");
      assert.equal(welcome.t === "welcome" && welcome.acks, acks || undefined);
    }
    const [plain, terse, later, acker, varint] = readers as [
      RawClient,
      RawClient,
      RawClient,
      RawClient,
      RawClient,
    ];
    assert.equal(
      (await sender.client.request({ t: "create", group: "team" } as never)).t,
      "ok",
    );
    for (const raw of readers) {
      assert.equal((await raw.request({ t: "join", group: "team" })).t, "ok");
    }
    assert.equal((await sender.client.say("to everyone")).t, "ok");
    for (const to of ["plain", "terse", "later", "acker", "varint"]) {
      const reply = await sender.client.request(
        { t: "msg", to } as never,
        new TextEncoder().encode(`just for ${to}`),
      );
      assert.equal(reply.t, "ok");
    }
    const said = await sender.client.request(
      { t: "gsay", group: "team" } as never,
      new TextEncoder().encode("to the team"),
    );
    assert.equal(said.t, "ok");
    for (const raw of readers) {
      await until(raw, (m, text) => m.t === "group" && text === "to the team");
    }

    // Ids and seqs, where sent, are the same for every reader.
    const positions = (raw: RawClient) =>
      chat(raw).filter(([m]) => m.t !== "private").map(([m]) => [m.id, m.seq]);
    const stored = positions(plain);
    assert.ok(stored.flat().every(Number.isSafeInteger), "JSON has them");
    assert.deepEqual(positions(later), stored);
    assert.deepEqual(positions(acker), stored, "so do compact forms 4-6");
    assert.deepEqual(positions(varint), stored, "and forms 7-9");
    // Which forms came, by the first byte of each compact message.
    const forms = (raw: RawClient) =>
      raw.batches.map((batch) => batch[0]).filter((form) => form !== 0);
    assert.deepEqual(forms(acker), [4, 5, 6]);
    assert.deepEqual(forms(varint), [7, 8, 9]);
    assert.deepEqual(
      positions(terse).flat(),
      [undefined, undefined, undefined, undefined],
      "forms 1-3 leave them out",
    );
    const strip = (messages: [ChatMessage, string][]) =>
      messages.map(([m, text]) => {
        assert.ok(Number.isSafeInteger(m.ts) && m.ts > 0);
        const { ts: _, id: _id, seq: _seq, ...rest } = m;
        return [rest, text];
      });
    assert.deepEqual(strip(chat(plain)), [
      [{ t: "public", from: "sender" }, "to everyone"],
      [{ t: "private", from: "sender" }, "just for plain"],
      [{ t: "group", group: "team", from: "sender" }, "to the team"],
    ]);
    assert.deepEqual(strip(chat(terse)), [
      [{ t: "public", from: "sender" }, "to everyone"],
      [{ t: "private", from: "sender" }, "just for terse"],
      [{ t: "group", group: "team", from: "sender" }, "to the team"],
    ]);
    assert.deepEqual(strip(chat(later)), [
      [{ t: "public", from: "sender" }, "to everyone"],
      [{ t: "private", from: "sender" }, "just for later"],
      [{ t: "group", group: "team", from: "sender" }, "to the team"],
    ]);
    assert.deepEqual(strip(chat(acker)), [
      [{ t: "public", from: "sender" }, "to everyone"],
      [{ t: "private", from: "sender" }, "just for acker"],
      [{ t: "group", group: "team", from: "sender" }, "to the team"],
    ]);
    assert.ok(!sawJsonChat(acker), "the acknowledging client got no JSON chat");
    for (const form of [0x04, 0x05, 0x06]) {
      assert.ok(
        acker.batches.some((batch) => batch[0] === form),
        `a frame starting with compact form ${form}`,
      );
    }
    // The same routing time in either form.
    assert.equal(chat(plain)[0]![0].ts, chat(terse)[0]![0].ts);
    assert.ok(sawJsonChat(plain), "the client that did not ask got JSON");
    assert.ok(sawJsonChat(later), "nor did the one whose ask was refused");
    assert.ok(!sawJsonChat(terse), "the client that asked got no JSON chat");
    // Each chat message came in a frame of its own: its form is the first byte.
    for (const form of [0x01, 0x02, 0x03]) {
      assert.ok(
        terse.batches.some((batch) => batch[0] === form),
        `a frame starting with compact form ${form}`,
      );
    }

    // History is never compact: it carries `history` (and maybe `to`).
    const before = terse.batches.length;
    assert.equal((await terse.request({ t: "history" })).t, "ok");
    const replay = terse.batches.slice(before).map((b) => decoder.decode(b))
      .join("");
    assert.match(replay, /"t":"public","from":"sender".*"history":true/);
  } finally {
    await Promise.all(readers.map((raw) => raw.close()));
    await sender.quit();
  }
});
