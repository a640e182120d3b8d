/**
 * A node killed with SIGKILL while its user is mid-file (issue 19, README
 * "Running several nodes", docs/SCALING.md "Files across nodes"): a real
 * `nats-server -js`, two real `chat serve --cluster` nodes and real `chat
 * connect --json` clients. alice sends a file to bob, one of them on node A
 * (with both addresses), the other on node B; node A dies during it. The
 * one on it comes back on node B, alice offers the file again and it
 * resumes: bob holds it byte for byte, once.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { crash } from "../_helpers/nats.ts";
import { Cluster, natsForTest, untilKeysKnown } from "../_helpers/cluster.ts";

const NATS = await natsForTest("cluster_kill_midfile_test");

for (const dies of ["sender's", "receiver's"] as const) {
  Deno.test({
    name:
      `a node killed with SIGKILL while alice sends bob (on the other node) a file, the ${dies}: the one on it reconnects to the other, the file arrives byte for byte, once, and she is told it was sent`,
    ignore: NATS === null,
    fn: () => killedMidFile(dies),
  });
}

async function killedMidFile(dies: "sender's" | "receiver's"): Promise<void> {
  await using cluster = await Cluster.start(NATS!, {
    prefix: "chat-kill-midfile",
    presenceTtl: 2,
  });
  const [a, b] = await cluster.nodes("a", "b");
  const downloads = join(cluster.dir, "bob-downloads");
  // Whoever is on the node that dies knows both addresses.
  const [alicesNode, bobsNode] = dies === "sender's"
    ? [`${a.address},${b.address}`, b.address]
    : [b.address, `${a.address},${b.address}`];
  const bob = await cluster.bot(bobsNode, "bob", {
    args: ["--downloads", downloads, "--no-open", "--accept-files", "all"],
  });
  const alice = await cluster.bot(alicesNode, "alice");
  await alice.waitForList((names) => names.includes("bob"), 10_000);
  const probe = await cluster.probe(dies === "sender's" ? a : b, "probe");
  await untilKeysKnown(probe, "bob");
  await probe.quit();

  const file = join(cluster.dir, "film.raw");
  const bytes = new Uint8Array(24 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 65_536) {
    crypto.getRandomValues(bytes.subarray(i, i + 65_536));
  }
  await Deno.writeFile(file, bytes);
  await alice.chat.write(
    `${JSON.stringify({ cmd: "file", to: "bob", path: file, id: "f1" })}\n`,
  );
  // Under way: part of it reached bob.
  await alice.chat.waitFor(
    /"type":"file_progress","direction":"out".*"bytes":[1-9]/,
    30_000,
  );
  await crash(a.process);

  // The transfer that broke is said so, then offered again and resumed
  // (README "--json"): the last word on it is that it was sent.
  await alice.chat.waitFor(
    /^\{"type":"file_sent","re":"f1".*"ok":true.*$/m,
    120_000,
  );
  await bob.chat.waitFor(/"type":"file_received"/, 30_000);
  assert.deepEqual(await Deno.readFile(join(downloads, "film.raw")), bytes);
  const received = bob.events().filter((e) => e.type === "file_received");
  assert.equal(received.length, 1, bob.chat.stdout);
  // No second copy (the partial download's folder aside).
  assert.deepEqual(
    [...Deno.readDirSync(downloads)].map((entry) => entry.name).filter((
      name,
    ) => !name.startsWith(".")),
    ["film.raw"],
  );
  assert.match(
    (dies === "sender's" ? alice : bob).chat.stdout,
    new RegExp(
      `"state":"reconnected".*"server":"127\\.0\\.0\\.1:${b.port}"`,
    ),
  );
}
