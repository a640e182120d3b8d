/**
 * A sender's file offer to a recipient on another node of a cluster reaches
 * them after what the sender said before it (docs/PROTOCOL.md 4.2): the
 * offer crosses the bus, the messages the log, and the recipient's node
 * passes the offer on once it has applied the log as far as the sender's
 * node had (docs/SCALING.md, "Bus events"); the chunks that follow keep
 * behind it. A real NATS, two real nodes, real clients over sockets; node
 * A reaches NATS over a link that delivers in bursts (bursty_proxy.ts), as
 * a node a little behind would: over plain loopback the race showed in 1
 * round of 20 in 1 run of 8.
 */

import assert from "node:assert/strict";
import type { ServerMessage } from "../../../src/protocol/messages.ts";
import { ClusterNode } from "../../../src/server/cluster/node.ts";
import { openStore } from "../../../src/store/sqlite_store.ts";
import {
  startTestServer,
  TestClient,
  type TestServer,
} from "../../_helpers/chat.ts";
import { BurstyProxy } from "../../_helpers/bursty_proxy.ts";
import { natsServerPath, startNats } from "../../_helpers/nats.ts";

const NATS = await natsServerPath();
const FILE_KEY = "ab".repeat(32);
const ROUNDS = 20;

async function startNode(url: string): Promise<TestServer> {
  const cluster = await ClusterNode.start({
    urls: [url],
    presenceTtlMs: 15_000,
    log: () => {},
  });
  const store = openStore(":memory:");
  try {
    const server = await startTestServer({ store, cluster });
    return Object.assign(server, {
      async [Symbol.asyncDispose]() {
        await server.shutdown();
        await cluster.close();
        store.close();
      },
    });
  } catch (error) {
    await cluster.close();
    store.close();
    throw error;
  }
}

/** What `client` is sent besides replies, as it comes, one line each. */
function noticesOf(client: TestClient): {
  lines: string[];
  until: (done: () => boolean) => Promise<void>;
  next: (line: string) => Promise<void>;
} {
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  client.client.onMessage(({ message, body }) => {
    lines.push(lineOf(message, new TextDecoder().decode(body)));
    wake?.();
  });
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => wake = resolve);
  };
  return {
    lines,
    until,
    next: (line) => until(() => lines.includes(line)),
  };
}

function lineOf(message: ServerMessage, text: string): string {
  switch (message.t) {
    case "private":
      return `private ${message.from}: ${text}`;
    case "file_offer":
      return `file_offer ${message.xfer} ${message.name}`;
    case "file_chunk":
      return `file_chunk ${message.offset}`;
    case "file_cancel":
      return `file_cancel ${message.reason}`;
    default:
      return message.t;
  }
}

Deno.test({
  name:
    "a sender's file_offer reaches a recipient on another node after the private message sent before it, in the same frame or the one before",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    // Node A hears NATS over a link that delivers in bursts: the log's
    // record of a message and the bus's offer sent a moment after it come
    // together.
    const link = new BurstyProxy(Number(new URL(nats.url).port), 20);
    await using _link = { [Symbol.asyncDispose]: () => link.close() };
    await using a = await startNode(`nats://127.0.0.1:${link.port}`);
    await using b = await startNode(nats.url);
    const jojo = await TestClient.connect(a, "jojo");
    const got = noticesOf(jojo);
    const sophia = await TestClient.connect(b, "sophia");
    try {
      // Node A knows sophia is online on B, and B knows jojo is on A.
      await got.next("presence");
      await sophia.client.request({ t: "ping" });
      const text = (line: string) => new TextEncoder().encode(line);
      const offered = (name: string) =>
        got.lines.find((line) => line.endsWith(` ${name}`));
      const early: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const name = `report-${round}.pdf`;
        // Asked in one tick: one frame (the channel packs what is queued);
        // every other round the message's own frame first, its ok awaited.
        const said = sophia.client.request(
          { t: "msg", to: "jojo" },
          text(`here comes report ${round}`),
        );
        if (round % 2 === 1) await said;
        const ready = sophia.client.request({
          t: "file_offer",
          name,
          size: 4,
          to: "jojo",
          key: FILE_KEY,
        });
        await got.until(() => offered(name) !== undefined);
        if (!got.lines.includes(`private sophia: here comes report ${round}`)) {
          early.push(round);
        }
        const xfer = Number(offered(name)!.split(" ")[1]);
        jojo.client.post({ t: "file_decline", xfer });
        assert.equal((await ready).t, "error");
        assert.equal((await said).t, "ok");
      }
      // An offer said before and taken: its chunk follows it over.
      await sophia.client.request(
        { t: "msg", to: "jojo" },
        text("and the figures"),
      );
      const ready = sophia.client.request({
        t: "file_offer",
        name: "figures.csv",
        size: 4,
        to: "jojo",
        key: FILE_KEY,
      });
      await got.until(() => offered("figures.csv") !== undefined);
      const xfer = Number(offered("figures.csv")!.split(" ")[1]);
      jojo.client.post({ t: "file_accept", xfer });
      const taken = await ready;
      assert.equal(taken.t, "file_ready");
      sophia.client.post(
        { t: "file_chunk", xfer: (taken as { xfer: number }).xfer, offset: 0 },
        new Uint8Array(4 + 16),
        true,
      );
      await got.next("file_chunk 0");
      assert.deepEqual(early, [], "rounds whose offer came first");
      const order = got.lines.filter((line) =>
        /^(private sophia: (here|and)|file_offer|file_chunk)/.test(line)
      ).map((line) => line.replace(/^file_offer \d+ /, "file_offer "));
      assert.deepEqual(
        order,
        Array.from({ length: ROUNDS }, (_, round) => [
          `private sophia: here comes report ${round}`,
          `file_offer report-${round}.pdf`,
        ]).flat().concat([
          "private sophia: and the figures",
          "file_offer figures.csv",
          "file_chunk 0",
        ]),
      );
    } finally {
      await jojo.quit();
      await sophia.quit();
    }
  },
});
