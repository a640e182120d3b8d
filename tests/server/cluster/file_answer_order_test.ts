/**
 * A recipient's answers about a file run on another node of a cluster
 * (`file_accept`, `file_ack`, `file_cancel`, `file_decline`) reach the
 * sender after what the recipient said before them (docs/PROTOCOL.md 4.2):
 * the answers cross the bus, the messages the log, and the sender's node
 * carries an answer out once it has applied the log as far as the
 * recipient's node had (docs/SCALING.md, "Bus events"). A real NATS, two
 * real nodes, real clients over sockets.
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
import { natsServerPath, startNats } from "../../_helpers/nats.ts";

const NATS = await natsServerPath();
const FILE_KEY = "ab".repeat(32);

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
  chunk: () => Promise<void>;
} {
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  let chunks = 0;
  client.client.onMessage(({ message, body }) => {
    lines.push(lineOf(message, new TextDecoder().decode(body)));
    if (message.t === "file_chunk") chunks++;
    wake?.();
  });
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => wake = resolve);
  };
  let taken = 0;
  return {
    lines,
    until,
    next: (line) => until(() => lines.includes(line)),
    chunk: () => until(() => chunks > taken).then(() => void taken++),
  };
}

function lineOf(message: ServerMessage, text: string): string {
  switch (message.t) {
    case "private":
      return `private ${message.from}: ${text}`;
    case "file_offer":
      return `file_offer ${message.xfer}`;
    case "file_progress":
      return `file_progress ${message.acked}`;
    case "file_result":
      return `file_result ${message.name} ${message.ok}: ${message.reason}`;
    case "file_cancel":
      return `file_cancel ${message.reason}${
        message.withdrawn === true ? " (withdrawn)" : ""
      }`;
    default:
      return message.t;
  }
}

Deno.test({
  name:
    "a recipient's file_accept, file_ack, file_cancel and file_decline reach a sender on another node after the private messages sent before them",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    await using a = await startNode(nats.url);
    await using b = await startNode(nats.url);
    const sophia = await TestClient.connect(b, "sophia");
    const sent = noticesOf(sophia);
    const jojo = await TestClient.connect(a, "jojo");
    const got = noticesOf(jojo);
    try {
      // Node B knows jojo is online on A: an offer can reach him.
      await sent.next("presence");
      const text = (line: string) => new TextEncoder().encode(line);
      // Asked in one tick: one frame (the channel packs what is queued).
      const sayThen = (words: string, answer: () => void) => {
        jojo.client.request({ t: "msg", to: "sophia" }, text(words));
        answer();
      };
      const offer = async () => {
        const seen = got.lines.length;
        const offered = () =>
          got.lines.slice(seen).find((one) => one.startsWith("file_offer "));
        const xfer = got.until(() => offered() !== undefined).then(() =>
          Number(offered()!.split(" ")[1])
        );
        const ready = sophia.client.request({
          t: "file_offer",
          name: "big.bin",
          size: 4,
          to: "jojo",
          key: FILE_KEY,
        });
        return { xfer: await xfer, ready };
      };
      for (let round = 0; round < 3; round++) {
        const accepted = await offer();
        sayThen(
          `accepting ${round}`,
          () => jojo.client.post({ t: "file_accept", xfer: accepted.xfer }),
        );
        const ready = await accepted.ready;
        assert.equal(ready.t, "file_ready");
        assert.ok(
          sent.lines.includes(`private jojo: accepting ${round}`),
          `file_ready came before jojo's message: ${sent.lines.join(" | ")}`,
        );
        const chunk = got.chunk();
        sophia.client.post(
          { t: "file_chunk", xfer: accepted.xfer, offset: 0 },
          new Uint8Array(2 + 16),
          true,
        );
        await chunk;
        sayThen(
          `acking ${round}`,
          () =>
            jojo.client.post({
              t: "file_ack",
              xfer: accepted.xfer,
              received: 2,
            }),
        );
        await sent.next("file_progress 2");
        sayThen(`cancelling ${round}`, () =>
          jojo.client.post({
            t: "file_cancel",
            xfer: accepted.xfer,
            reason: `done ${round}`,
          }));
        await sent.next(`file_result jojo false: done ${round}`);
        const declined = await offer();
        sayThen(
          `declining ${round}`,
          () => jojo.client.post({ t: "file_decline", xfer: declined.xfer }),
        );
        const refused = await declined.ready;
        assert.equal(refused.t, "error");
        assert.ok(
          sent.lines.includes(`private jojo: declining ${round}`),
          `the decline came before jojo's message: ${sent.lines.join(" | ")}`,
        );
      }
      const order = sent.lines.filter((line) =>
        /^(private|file_progress|file_result)/.test(line)
      );
      assert.deepEqual(
        order,
        [0, 1, 2].flatMap((round) => [
          `private jojo: accepting ${round}`,
          `private jojo: acking ${round}`,
          "file_progress 2",
          `private jojo: cancelling ${round}`,
          `file_result jojo false: done ${round}`,
          `private jojo: declining ${round}`,
        ]),
      );
    } finally {
      await jojo.quit();
      await sophia.quit();
    }
  },
});

Deno.test({
  name:
    "a sender takes back its offer to a recipient on another node before the answer: the recipient hears it was withdrawn",
  ignore: NATS === null,
  async fn() {
    await using nats = await startNats(NATS!);
    await using a = await startNode(nats.url);
    await using b = await startNode(nats.url);
    const sophia = await TestClient.connect(b, "sophia");
    const sent = noticesOf(sophia);
    const jojo = await TestClient.connect(a, "jojo");
    const got = noticesOf(jojo);
    try {
      await sent.next("presence");
      const { id, reply } = sophia.client.numberedRequest({
        t: "file_offer",
        name: "wrong.bin",
        size: 4,
        to: "jojo",
        key: FILE_KEY,
      });
      await got.until(() => got.lines.some((l) => l.startsWith("file_offer ")));
      sophia.client.post({
        t: "file_cancel",
        xfer: 0,
        offer: id,
        reason: "withdrawn",
      });
      await got.next("file_cancel sophia took back the offer (withdrawn)");
      const answer = await reply;
      assert.equal(answer.t, "error");
      // The recipient's late yes reaches nothing.
      const offered = got.lines.find((l) => l.startsWith("file_offer "))!;
      jojo.client.post({
        t: "file_accept",
        xfer: Number(offered.split(" ")[1]),
      });
      assert.equal(
        (await sophia.client.request({ t: "ping" })).t,
        "pong",
      );
      assert.ok(
        !sent.lines.some((l) => l.startsWith("file_")),
        sent.lines.join(" | "),
      );
    } finally {
      await jojo.quit();
      await sophia.quit();
    }
  },
});
