import assert from "node:assert/strict";
import type { ChatClient } from "../../src/client/chat_client.ts";
import type { TransferEntry } from "../../src/client/transfers_view.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";
import {
  type ReceiveCallbacks,
  sha256Hex,
  WEB_MAX_FILE_BYTES,
  WebFiles,
} from "../../src/web/web_files.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

/** Receive callbacks that record what happened and answer with `accept`. */
function recorder(accept: boolean) {
  const events: string[] = [];
  let resolveDone: (value: Blob | string) => void = () => {};
  const done = new Promise<Blob | string>((resolve) => (resolveDone = resolve));
  const callbacks: ReceiveCallbacks = {
    ask(offer: FileOfferNotice, answer) {
      events.push(`ask ${offer.name} ${offer.size} from ${offer.from}`);
      answer(accept);
      if (!accept) resolveDone("declined by the user");
    },
    declined(offer, why) {
      events.push(`declined ${offer.name}: ${why}`);
      resolveDone(why);
    },
    progress() {},
    received(_offer, file) {
      resolveDone(file);
    },
    cancelled(offer) {
      events.push(`cancelled ${offer.name}`);
      resolveDone("cancelled by the user");
    },
    failed(_offer, reason) {
      resolveDone(`failed: ${reason}`);
    },
  };
  return { events, done, callbacks };
}

/** WebFiles on `client`, given every message it gets. */
function listen(client: ChatClient, callbacks: ReceiveCallbacks): WebFiles {
  const files = new WebFiles(client, callbacks);
  client.onMessage((incoming) => files.receive(incoming));
  return files;
}

function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  return bytes;
}

Deno.test("WebFiles sends a file through a real server to a WebFiles that accepts it, intact", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const bob = await TestClient.connect(server, "bob");
  const bobSide = recorder(true);
  listen(bob.client, bobSide.callbacks);
  const aliceFiles = listen(alice.client, recorder(false).callbacks);
  // Past the 4 MiB window: the sender must wait for acknowledgements.
  const bytes = randomBytes(5 * 1024 * 1024 + 123);
  const progress: number[] = [];
  const outcome = await aliceFiles.send(
    { to: "bob" },
    new File([bytes], "data.bin"),
    {
      offered() {},
      answered(declined) {
        assert.deepEqual(declined, []);
      },
      progress: (acked) => progress.push(acked),
    },
  );
  assert.deepEqual(outcome, {
    kind: "finished",
    name: "data.bin",
    size: bytes.length,
    results: [{ name: "bob", ok: true, reason: "" }],
  });
  assert.equal(progress.at(-1), bytes.length);
  const got = await bobSide.done;
  assert.ok(got instanceof Blob);
  assert.equal(
    await sha256Hex(new Uint8Array(await got.arrayBuffer())),
    await sha256Hex(bytes),
  );
  assert.deepEqual(bobSide.events, [
    `ask data.bin ${bytes.length} from alice`,
  ]);
  await alice.quit();
  await bob.quit();
});

Deno.test("WebFiles: an offer the user declines reaches the sender as refused with code declined", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const bob = await TestClient.connect(server, "bob");
  const bobSide = recorder(false);
  listen(bob.client, bobSide.callbacks);
  const aliceFiles = listen(alice.client, recorder(false).callbacks);
  let offered = 0;
  const outcome = await aliceFiles.send(
    { to: "bob" },
    new File([randomBytes(1000)], "no.bin"),
    { offered: () => offered++, answered() {}, progress() {} },
  );
  assert.equal(outcome.kind, "refused");
  assert.equal(outcome.kind === "refused" && outcome.code, "declined");
  assert.equal(await bobSide.done, "declined by the user");
  // The offer reached bob: the page said it was offering, once.
  assert.equal(offered, 1);
  await alice.quit();
  await bob.quit();
});

// A recipient without end-to-end keys gets the file key in the offer, which
// the server reads: with the keyed digest beside it, the server could test a
// guess of the file's contents, though the offer be declined and not a byte
// of the file cross.
Deno.test("WebFiles sends no digest (sha256) in an offer whose key the server can read", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const bob = await TestClient.connect(server, "bob");
  const offers: FileOfferNotice[] = [];
  const bobSide = recorder(false);
  listen(bob.client, {
    ...bobSide.callbacks,
    ask(offer, answer, deadlineMs) {
      offers.push(offer);
      bobSide.callbacks.ask(offer, answer, deadlineMs);
    },
  });
  const aliceFiles = listen(alice.client, recorder(false).callbacks);
  await aliceFiles.send(
    { to: "bob" },
    new File([randomBytes(1000)], "guess.bin"),
    { offered() {}, answered() {}, progress() {} },
  );
  assert.equal(offers.length, 1);
  assert.match(offers[0]!.key ?? "", /^[0-9a-f]{64}$/, "the key, in the clear");
  assert.equal(offers[0]!.sha256, undefined);
  await alice.quit();
  await bob.quit();
});

// The page said "Offering no.bin ... to ghost; waiting for an answer." and
// then that ghost is not online, as the terminal did.
Deno.test("WebFiles says it is offering only once the offer reached someone: not for a name or group the server refuses outright", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const aliceFiles = listen(alice.client, recorder(false).callbacks);
  let offered = 0;
  const callbacks = {
    offered: () => offered++,
    answered() {},
    progress() {},
  };
  const toGhost = await aliceFiles.send(
    { to: "ghost" },
    new File([randomBytes(1000)], "no.bin"),
    callbacks,
  );
  assert.equal(toGhost.kind === "refused" && toGhost.code, "no_such_user");
  const toNoGroup = await aliceFiles.send(
    { group: "nogroup" },
    new File([randomBytes(1000)], "no.bin"),
    callbacks,
  );
  assert.equal(toNoGroup.kind, "refused");
  assert.equal(offered, 0);
  await alice.quit();
});

Deno.test("WebFiles declines without asking an offer too large for a browser", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const bob = await TestClient.connect(server, "bob");
  const bobSide = recorder(true);
  listen(bob.client, bobSide.callbacks);
  const reply = await alice.client.request({
    t: "file_offer",
    name: "huge.iso",
    size: WEB_MAX_FILE_BYTES + 1,
    to: "bob",
  });
  assert.equal(reply.t, "error");
  assert.match(await bobSide.done as string, /too large for a browser/);
  assert.deepEqual(bobSide.events, [
    "declined huge.iso: too large for a browser (256 MiB at most)",
  ]);
  await alice.quit();
  await bob.quit();
});

Deno.test("WebFiles lists a transfer under way and cancels it: the sender hears it stopped, the receiver that it was cancelled", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const bob = await TestClient.connect(server, "bob");
  const bobSide = recorder(true);
  listen(bob.client, bobSide.callbacks);
  const aliceFiles = listen(alice.client, recorder(false).callbacks);
  const bytes = randomBytes(32 * 1024 * 1024);
  let listed: TransferEntry[] = [];
  const outcome = await aliceFiles.send(
    { to: "bob" },
    new File([bytes], "big.bin"),
    {
      offered() {},
      answered() {},
      progress(acked) {
        if (acked === 0 || listed.length > 0) return;
        // Under way: past the first window, not at the end.
        listed = aliceFiles.list();
        assert.equal(aliceFiles.cancel(listed[0]!), true);
        assert.equal(aliceFiles.cancel(listed[0]!), false);
      },
    },
  );
  assert.equal(listed.length, 1);
  assert.equal(listed[0]?.kind, "sending");
  assert.equal(listed[0]?.name, "big.bin");
  assert.equal(outcome.kind, "cancelled");
  assert.equal(
    outcome.kind === "cancelled" && outcome.reason,
    "you cancelled it",
  );
  assert.match(await bobSide.done as string, /^failed: alice cancelled/);
  await alice.quit();
  await bob.quit();
});

Deno.test("WebFiles: a receiver's own cancel tells its page (which takes the transfer's bar away), and the sender hears it stopped", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const bob = await TestClient.connect(server, "bob");
  const bobSide = recorder(true);
  let bobFiles: WebFiles | null = null;
  let listed: TransferEntry[] = [];
  bobSide.callbacks.progress = (_offer, received) => {
    if (received === 0 || listed.length > 0) return;
    listed = bobFiles!.list();
    assert.equal(bobFiles!.cancel(listed[0]!), true);
    assert.equal(bobFiles!.cancel(listed[0]!), false);
  };
  bobFiles = listen(bob.client, bobSide.callbacks);
  const aliceFiles = listen(alice.client, recorder(false).callbacks);
  const outcome = await aliceFiles.send(
    { to: "bob" },
    new File([randomBytes(32 * 1024 * 1024)], "big.bin"),
    { offered() {}, answered() {}, progress() {} },
  );
  assert.equal(listed[0]?.kind, "receiving");
  assert.deepEqual(
    "results" in outcome ? outcome.results : [],
    [{ name: "bob", ok: false, reason: "cancelled" }],
  );
  // Told at once, as /cancel answers: nothing more comes for it.
  assert.deepEqual(bobSide.events, [
    `ask big.bin ${32 * 1024 * 1024} from alice`,
    "cancelled big.bin",
  ]);
  await alice.quit();
  await bob.quit();
});

Deno.test("WebFiles lists an offer waiting for its answer and takes it back: the receiver's page hears it was withdrawn", async () => {
  await using server = await startTestServer();
  const alice = await TestClient.connect(server, "alice");
  const bob = await TestClient.connect(server, "bob");
  const asked = Promise.withResolvers<void>();
  const withdrawn = Promise.withResolvers<string>();
  listen(bob.client, {
    // Left unanswered: alice takes it back first.
    ask: () => asked.resolve(),
    declined: (_offer, why) => withdrawn.resolve(`declined: ${why}`),
    withdrawn: (offer) => withdrawn.resolve(`withdrawn ${offer.name}`),
    progress() {},
    received() {},
    cancelled() {},
    failed() {},
  });
  const aliceFiles = listen(alice.client, recorder(false).callbacks);
  const sending = aliceFiles.send(
    { to: "bob" },
    new File([randomBytes(10)], "wrong.txt"),
    { offered() {}, answered() {}, progress() {} },
  );
  await asked.promise;
  const listed = aliceFiles.list();
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.kind, "offered");
  assert.equal(aliceFiles.cancel(listed[0]!), true);
  assert.equal(await withdrawn.promise, "withdrawn wrong.txt");
  assert.deepEqual(await sending, {
    kind: "cancelled",
    name: "wrong.txt",
    reason: "you took it back",
    results: [],
    byYou: true,
  });
  assert.deepEqual(aliceFiles.list(), []);
  await alice.quit();
  await bob.quit();
});
