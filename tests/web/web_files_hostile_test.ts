/**
 * Review (web client file receiving, against a hostile server): the classes
 * of bug fixed in the terminal's FileReceiver (43198c7, de40c6d) checked on
 * WebFiles.
 */
import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { fileKeyForOffer } from "../../src/client/file_key.ts";
import { randomBytes } from "../../src/crypto/bytes.ts";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import {
  type FileSigner,
  newFileSigner,
} from "../../src/crypto/file_signature.ts";
import type {
  ClientMessage,
  FileOfferNotice,
} from "../../src/protocol/messages.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import {
  KEYS_IN_OFFERS,
  type ReceiveCallbacks,
  sha256Hex,
  WebFiles,
} from "../../src/web/web_files.ts";
import { startHostileServer } from "../_helpers/hostile_server.ts";
import { InTurn } from "../../src/client/in_turn.ts";
import { ReceivedFiles } from "../../src/client/received_files.ts";
import { MAX_RECEIVING_PER_SENDER } from "../../src/client/receiving_share.ts";

/** A client of a hostile server, and the server's end of its connection. */
async function clientOfHostileServer() {
  const server = await startHostileServer();
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  return {
    client,
    channel: await server.session,
    async [Symbol.asyncDispose]() {
      await client.quit();
      await server[Symbol.asyncDispose]();
    },
  };
}

/** A WebFiles on a client of a hostile server; its user accepts everything. */
async function webFilesOnHostileServer() {
  const hostile = await clientOfHostileServer();
  const { client } = hostile;
  const asked: FileOfferNotice[] = [];
  const failed: string[] = [];
  const duplicates: string[] = [];
  const callbacks: ReceiveCallbacks = {
    ask(offer, answer) {
      asked.push(offer);
      answer(true);
    },
    duplicate(offer) {
      duplicates.push(offer.name);
    },
    declined() {},
    progress() {},
    received() {},
    cancelled() {},
    failed(offer, reason) {
      failed.push(`${offer.name}: ${reason}`);
    },
  };
  const files = new WebFiles(client, callbacks);
  client.onMessage((incoming) => files.receive(incoming));
  return { ...hostile, files, asked, failed, duplicates };
}

function offer(xfer: number, name: string, size: number): FileOfferNotice {
  return {
    t: "file_offer",
    xfer,
    from: "sophia",
    name,
    size,
    timeout: 90_000,
    ...fileKeyForOffer(newFileKey()),
  };
}

/** The client's answers to offers, until `count` of them came. */
async function answers(
  channel: SecureChannel,
  count: number,
): Promise<ClientMessage[]> {
  const kinds = ["file_accept", "file_decline", "file_done", "file_cancel"];
  const got: ClientMessage[] = [];
  while (got.length < count) {
    const batch = await channel.receive();
    if (batch === null) throw new Error("closed before the answers");
    for (const { header } of batch) {
      const message = header as ClientMessage;
      if (kinds.includes(message.t)) got.push(message);
    }
  }
  return got;
}

/** All of `content` as transfer `xfer`'s one chunk, then its end. */
async function sendWhole(
  channel: SecureChannel,
  cipher: FileCipher,
  xfer: number,
  content: Uint8Array,
): Promise<void> {
  channel.send(
    { t: "file_chunk", xfer, offset: 0 },
    await cipher.seal({ index: 0, offset: 0 }, content),
  );
  channel.send({
    t: "file_end",
    xfer,
    sha256: await cipher.keyedDigest(await sha256Hex(content)),
  });
}

/**
 * A page whose lines are shown in turn with its file offers (`order`): each
 * presence line is shown as its name. Resolves once the one named "after"
 * reached the page.
 */
function showInTurn(
  client: ChatClient,
  files: WebFiles,
  order: InTurn,
  shown: string[],
): Promise<void> {
  const after = Promise.withResolvers<void>();
  client.onMessage((incoming) => {
    files.receive(incoming);
    const { message } = incoming;
    if (message.t !== "presence") return;
    if (message.name === "after") after.resolve();
    order.run(() => void shown.push(message.name));
  });
  return after.promise;
}

/** Keys as in offers, each only once `ready` resolves. */
function keysOnceReady(ready: Promise<void>) {
  return {
    share: null,
    take: async (offer: FileOfferNotice) => {
      await ready;
      return KEYS_IN_OFFERS.take(offer);
    },
  };
}

Deno.test("WebFiles takes at most 32 files asked about or coming in at once, as the terminal does", async () => {
  await using fixture = await webFilesOnHostileServer();
  const { channel } = fixture;
  // 200 offers of 256 MiB each: everything a page takes is held in memory.
  for (let xfer = 1; xfer <= 200; xfer++) {
    channel.send(offer(xfer, `f${xfer}.bin`, 256 * 1024 * 1024));
  }
  const got = await answers(channel, 200);
  const accepted = got.filter((a) => a.t === "file_accept").length;
  assert.equal(fixture.files.list().length, accepted);
  // The terminal (file_receiver.ts MAX_RECEIVING) refuses past 32; the page
  // asked its user 200 questions and is now committed to 50 GiB in memory.
  assert.ok(
    fixture.asked.length <= 32 && accepted <= 32,
    `asked ${fixture.asked.length}, accepted ${accepted}`,
  );
});

Deno.test("WebFiles refuses a sender's offers past its share of the files coming in, and still takes another sender's", async () => {
  await using fixture = await webFilesOnHostileServer();
  const { channel } = fixture;
  // Eight from one sender (the server's transfers per user), then one from
  // someone else.
  for (let xfer = 1; xfer <= 8; xfer++) {
    channel.send({ ...offer(xfer, `f${xfer}.bin`, 1000), from: "mallory" });
  }
  channel.send(offer(9, "notes.txt", 12));
  const got = new Map<number, ClientMessage>();
  for (const answer of await answers(channel, 9)) {
    if ("xfer" in answer) got.set(answer.xfer, answer);
  }
  for (let xfer = 1; xfer <= 9; xfer++) {
    const answer = got.get(xfer);
    if (xfer <= MAX_RECEIVING_PER_SENDER || xfer === 9) {
      assert.equal(answer?.t, "file_accept", JSON.stringify(answer));
    } else {
      assert.equal(answer?.t, "file_cancel", JSON.stringify(answer));
      assert.match(
        String((answer as { reason?: string }).reason),
        /4 files from this sender are coming in already/,
      );
    }
  }
});

Deno.test("WebFiles ignores a second offer with the xfer of a transfer it already took, and says so", async () => {
  await using fixture = await webFilesOnHostileServer();
  const { channel } = fixture;
  channel.send(offer(1, "report.pdf", 1000));
  assert.equal((await answers(channel, 1))[0]?.t, "file_accept");
  assert.deepEqual(fixture.files.list().map((e) => e.name), ["report.pdf"]);
  // The same xfer again, another name: the terminal's FileReceiver ignores
  // it (`if (this.#incoming.has(offer.xfer)) return`).
  channel.send(offer(1, "other.html", 1000));
  channel.send(offer(2, "marker.bin", 10));
  // Until the page answered the marker (answers come in order).
  for (let done = false; !done;) {
    for (const answer of await answers(channel, 1)) {
      if ("xfer" in answer && answer.xfer === 2) done = true;
    }
  }
  assert.deepEqual(
    fixture.asked.map((o) => o.name),
    ["report.pdf", "marker.bin"],
    `the accepted report.pdf was replaced unseen (failed: ${
      JSON.stringify(fixture.failed)
    }); now listed: ${JSON.stringify(fixture.files.list().map((e) => e.name))}`,
  );
  assert.deepEqual(fixture.duplicates, ["other.html"]);
});

Deno.test("WebFiles keeps a group file only when its end carries the signature of the key that came end to end with its file key", async () => {
  await using hostile = await clientOfHostileServer();
  const { client, channel } = hostile;
  const key = newFileKey();
  const sophia = await newFileSigner();
  const mallory = await newFileSigner();
  const received: string[] = [];
  const failed: string[] = [];
  const files = new WebFiles(client, {
    ask: (_offer, answer) => answer(true),
    declined() {},
    progress() {},
    received: (offer) => void received.push(offer.name),
    failed: (offer, reason) => failed.push(`${offer.name}: ${reason}`),
    cancelled() {},
  }, {
    share: null,
    // As file_key_share.ts hands over a group file's key that came end to
    // end: with its sender's verify key.
    take: (offer) => ({
      key,
      name: `file${offer.xfer}.bin`,
      readable: false,
      verifyKey: sophia.verifyKey,
    }),
  });
  client.onMessage((incoming) => files.receive(incoming));
  const contents = randomBytes(3000);
  const send = async (xfer: number, signer: FileSigner | null) => {
    channel.send({
      t: "file_offer",
      xfer,
      from: "sophia",
      group: "team",
      name: "(end-to-end)",
      size: contents.length,
      timeout: 90_000,
      key_id: "0".repeat(32),
    });
    assert.equal((await answers(channel, 1))[0]!.t, "file_accept");
    const cipher = await FileCipher.create(key, xfer, contents.length);
    channel.send(
      { t: "file_chunk", xfer, offset: 0 },
      await cipher.seal({ index: 0, offset: 0 }, contents),
      true,
    );
    const sha256 = await cipher.keyedDigest(await sha256Hex(contents));
    const sig = await signer?.sign(sha256);
    channel.send(
      { t: "file_end", xfer, sha256, ...(sig === undefined ? {} : { sig }) },
      undefined,
      true,
    );
    return (await answers(channel, 1))[0] as Extract<
      ClientMessage,
      { t: "file_done" }
    >;
  };
  assert.equal((await send(1, null)).ok, false);
  assert.equal((await send(2, mallory)).ok, false);
  assert.equal((await send(3, sophia)).ok, true);
  assert.deepEqual(failed, [
    "file1.bin: the file is not signed by sophia (another member of the group, with the server's help, may have replaced it)",
    "file2.bin: the file is not signed by sophia (another member of the group, with the server's help, may have replaced it)",
  ]);
  assert.deepEqual(received, ["file3.bin"]);
});

Deno.test("WebFiles holds an offer's place in turn: a line that came after it is shown once the offer is asked about, though its key came late", async () => {
  await using hostile = await clientOfHostileServer();
  const { client, channel } = hostile;
  const shown: string[] = [];
  const order = new InTurn((error) => shown.push(`error ${error}`));
  const key = Promise.withResolvers<void>();
  const asked = Promise.withResolvers<void>();
  const files = new WebFiles(
    client,
    {
      ask(offer, answer) {
        shown.push(`asked ${offer.name}`);
        answer(false);
        asked.resolve();
      },
      declined() {},
      progress() {},
      received() {},
      cancelled() {},
      failed() {},
    },
    // The key comes once the line after the offer has reached the page.
    keysOnceReady(key.promise),
    () => order.hold(30_000),
  );
  const after = showInTurn(client, files, order, shown);
  channel.send({ t: "presence", name: "before", online: true });
  channel.send(offer(1, "a.txt", 3));
  channel.send({ t: "presence", name: "after", online: true });
  await after;
  key.resolve();
  await asked.promise;
  await order.settled;
  assert.deepEqual(shown, ["before", "asked a.txt", "after"]);
});

Deno.test("WebFiles says a second offer under a transfer number and an offer too large for a browser in their places, after the lines that came before them and still wait", async () => {
  await using hostile = await clientOfHostileServer();
  const { client, channel } = hostile;
  const shown: string[] = [];
  const order = new InTurn((error) => shown.push(`error ${error}`));
  const key = Promise.withResolvers<void>();
  const files = new WebFiles(
    client,
    {
      ask(offer, answer) {
        shown.push(`asked ${offer.name}`);
        answer(false);
      },
      duplicate(offer) {
        shown.push(`duplicate ${offer.name}`);
      },
      declined(offer, why) {
        shown.push(`declined ${offer.name}: ${why}`);
      },
      progress() {},
      received() {},
      cancelled() {},
      failed() {},
    },
    // The first offer's key comes once the last line reached the page:
    // what came after that offer waits for it.
    keysOnceReady(key.promise),
    () => order.hold(30_000),
  );
  const after = showInTurn(client, files, order, shown);
  channel.send(offer(1, "a.txt", 3));
  channel.send({ t: "presence", name: "between", online: true });
  channel.send(offer(2, "huge.bin", 512 * 1024 * 1024));
  channel.send(offer(1, "other.html", 3));
  channel.send({ t: "presence", name: "after", online: true });
  await after;
  key.resolve();
  await order.settled;
  assert.deepEqual(shown, [
    "asked a.txt",
    "between",
    "declined huge.bin: too large for a browser (256 MiB at most)",
    "duplicate other.html",
    "after",
  ]);
});

Deno.test("WebFiles does not claim a file received whole from a sender its user ignores since: the offer is declined unseen, as any of theirs, not accepted without asking", async () => {
  await using hostile = await clientOfHostileServer();
  const { client, channel } = hostile;
  const said: string[] = [];
  const received = new ReceivedFiles();
  const ignoring = new Set<string>();
  const files = new WebFiles(
    client,
    {
      // As files_view.ts: an ignored user's offers are declined unseen.
      ask(offer, answer) {
        if (ignoring.has(offer.from)) {
          answer(false);
          return;
        }
        said.push(`asked ${offer.name}`);
        answer(true);
      },
      declinesUnasked: (offer) => ignoring.has(offer.from),
      declined() {},
      progress() {},
      received(offer) {
        said.push(`received ${offer.name}`);
      },
      again(offer) {
        said.push(`again ${offer.name}`);
      },
      cancelled() {},
      failed() {},
    },
    undefined,
    undefined,
    received,
  );
  client.onMessage((incoming) => files.receive(incoming));
  const fingerprint = "SHA256:mallory";
  const content = new TextEncoder().encode("abc");
  const key = newFileKey();
  const cipher = await FileCipher.create(key, 1, 3);
  channel.send({
    ...offer(1, "a.txt", 3),
    from: "mallory",
    fingerprint,
    ...fileKeyForOffer(key),
  });
  assert.equal((await answers(channel, 1))[0]!.t, "file_accept");
  await sendWhole(channel, cipher, 1, content);
  assert.deepEqual((await answers(channel, 1))[0], {
    t: "file_done",
    xfer: 1,
    ok: true,
    reason: "",
  });
  // mallory is ignored now, and offers the same file again.
  ignoring.add("mallory");
  const again = newFileKey();
  channel.send({
    ...offer(2, "a.txt", 3),
    from: "mallory",
    fingerprint,
    ...fileKeyForOffer(again),
    // With its digest, as an offer made again: claimed, were he not ignored.
    sha256: await (await FileCipher.create(again, 2, 3)).keyedDigest(
      await sha256Hex(content),
    ),
  });
  assert.deepEqual(await answers(channel, 1), [
    { t: "file_decline", xfer: 2 },
  ]);
  assert.deepEqual(said, ["asked a.txt", "received a.txt"]);
});

Deno.test("WebFiles does not claim a file received whole once the page let it go (pushed out by newer files, or its row gone): offered again, it is asked about and received afresh", async () => {
  await using hostile = await clientOfHostileServer();
  const { client, channel } = hostile;
  const said: string[] = [];
  let kept = true;
  const files = new WebFiles(
    client,
    {
      ask(offer, answer) {
        said.push(`asked ${offer.name}`);
        answer(true);
      },
      declined() {},
      progress() {},
      received(offer) {
        said.push(`received ${offer.name}`);
        return () => kept;
      },
      again(offer) {
        said.push(`again ${offer.name}`);
      },
      cancelled() {},
      failed() {},
    },
    undefined,
    undefined,
    new ReceivedFiles(),
  );
  client.onMessage((incoming) => files.receive(incoming));
  const content = new TextEncoder().encode("abc");
  for (const xfer of [1, 2]) {
    const key = newFileKey();
    const cipher = await FileCipher.create(key, xfer, 3);
    channel.send({
      ...offer(xfer, "a.txt", 3),
      fingerprint: "SHA256:sophia",
      ...fileKeyForOffer(key),
      // With its digest, as an offer made again: claimed, were it kept.
      sha256: await cipher.keyedDigest(await sha256Hex(content)),
    });
    // Accepted afresh both times: no claim of what the page let go.
    assert.deepEqual(await answers(channel, 1), [
      { t: "file_accept", xfer },
    ]);
    await sendWhole(channel, cipher, xfer, content);
    assert.deepEqual(await answers(channel, 1), [
      { t: "file_done", xfer, ok: true, reason: "" },
    ]);
    // Newer files pushed it out of what the page keeps to save.
    kept = false;
  }
  assert.deepEqual(said, [
    "asked a.txt",
    "received a.txt",
    "asked a.txt",
    "received a.txt",
  ]);
});

Deno.test("WebFiles says an offer asked about was taken back in turn: after the lines held behind a later offer of its sender, as the terminal does", async () => {
  await using hostile = await clientOfHostileServer();
  const { client, channel } = hostile;
  const shown: string[] = [];
  const order = new InTurn((error) => shown.push(`error ${error}`));
  const key = Promise.withResolvers<void>();
  const firstAsked = Promise.withResolvers<void>();
  const files = new WebFiles(
    client,
    {
      ask(offer) {
        // Left unanswered: a question on the page.
        shown.push(`asked ${offer.name}`);
        if (offer.xfer === 1) firstAsked.resolve();
      },
      withdrawn(offer) {
        shown.push(`took back ${offer.name}`);
      },
      declined() {},
      progress() {},
      received() {},
      cancelled() {},
      failed() {},
    },
    // The second offer's key comes late: its place holds the lines after it.
    {
      share: null,
      take: async (offer: FileOfferNotice) => {
        if (offer.xfer === 2) await key.promise;
        return KEYS_IN_OFFERS.take(offer);
      },
    },
    () => order.hold(30_000),
  );
  const last = Promise.withResolvers<void>();
  client.onMessage((incoming) => {
    files.receive(incoming);
    const { message } = incoming;
    if (message.t !== "presence") return;
    order.run(() => void shown.push(message.name));
    if (message.name === "last") last.resolve();
  });
  channel.send(offer(1, "a.txt", 3));
  await firstAsked.promise;
  channel.send(offer(2, "b.txt", 3));
  channel.send({ t: "presence", name: "after", online: true });
  channel.send({
    t: "file_cancel",
    xfer: 1,
    reason: "sophia took it back",
    withdrawn: true,
  });
  channel.send({ t: "presence", name: "last", online: true });
  await last.promise;
  key.resolve();
  await order.settled;
  // Before: 'took back a.txt' right after its question, ahead of the
  // second offer and the line after it.
  assert.deepEqual(shown, [
    "asked a.txt",
    "asked b.txt",
    "after",
    "took back a.txt",
    "last",
  ]);
});
