/**
 * File data about a file from another node of a cluster is judged by the
 * recipient's own node (PROTOCOL 5.8): a real `nats-server -js`, two real
 * `chat serve --cluster` nodes, raw clients. mallory on node A offers
 * mallory2 (hers too) on node B a file, and mallory2 floods node B with
 * file data about it that moves nothing; uncounted, node B parsed each and
 * passed every acknowledgement on to node A over NATS, and mallory2 was never
 * cut off.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Cluster, type ClusterNode, natsForTest } from "../_helpers/cluster.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import { packBatches } from "../../src/protocol/batch_framing.ts";
import { encodeMessage } from "../../src/protocol/message_framing.ts";
import { FILE_CHUNK_TAG_BYTES } from "../../src/protocol/limits.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const NATS = await natsForTest("cluster_file_flood_test");

async function rawOn(cluster: Cluster, node: ClusterNode, name: string) {
  const { spki } = await importPublicKeyPem(
    await Deno.readTextFile(join(cluster.dir, "public.pem")),
  );
  const raw = await RawClient.connect(`ws://${node.address}`, {
    pinnedSpki: spki,
  });
  assert.equal((await raw.register(name)).t, "welcome");
  return raw;
}

/**
 * mallory on node A offers mallory2 on node B a file and mallory2 accepts:
 * node A runs the transfer, node B passes it on under its own id (`xfer`).
 */
async function bridgedTransfer(cluster: Cluster) {
  const [a, b] = await cluster.nodes("a", "b");
  const recipient = await rawOn(cluster, b, "mallory2");
  const sender = await rawOn(cluster, a, "mallory");
  // Node A lists mallory2 (its presence came through NATS) before the offer.
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const list = await sender.request({ t: "list" });
    assert.equal(list.t, "users");
    if (list.users.some((user) => user.name === "mallory2")) break;
    assert.ok(Date.now() < deadline, "node A never listed mallory2");
  }
  const offer = sender.nextId();
  await sender.sendMessage({
    t: "file_offer",
    id: offer,
    to: "mallory2",
    name: "big.bin",
    size: 1 << 30,
  });
  let xfer: number | undefined;
  while (xfer === undefined) {
    for (const { message } of await recipient.receiveMessages(WAIT_MS)) {
      if (message.t === "file_offer") xfer = message.xfer;
    }
  }
  await recipient.sendMessage({ t: "file_accept", xfer });
  assert.equal((await sender.replyTo(offer, 10_000)).t, "file_ready");
  return { sender, recipient, xfer };
}

for (
  const [what, message] of [
    [
      "acknowledgements that move nothing",
      (xfer: number): ClientMessage => ({ t: "file_ack", xfer, received: 0 }),
    ],
    [
      "chunks, which only the sender sends",
      (xfer: number): ClientMessage => ({ t: "file_chunk", xfer, offset: 0 }),
    ],
  ] as const
) {
  Deno.test({
    name:
      `chat serve --cluster: a recipient's frame of ${what} about a file from another node gets the recipient cut off by its node, as about a file from its own`,
    ignore: NATS === null,
    async fn() {
      await using cluster = await Cluster.start(NATS!, {
        prefix: "chat-cluster-file-flood",
      });
      const { sender, recipient, xfer } = await bridgedTransfer(cluster);
      const header = message(xfer);
      const body = header.t === "file_chunk"
        ? new Uint8Array(1 + FILE_CHUNK_TAG_BYTES)
        : undefined;
      const [batch, ...rest] = packBatches(
        Array.from({ length: 10_000 }, () => encodeMessage(header, body)),
      );
      assert.equal(rest.length, 0);
      recipient.send(await recipient.sealPlaintext(batch!));
      const closed = await recipient.waitClosed(WAIT_MS);
      assert.deepEqual(closed, { code: 1008, reason: "violation" });
      await sender.close();
    },
  });
}
