/**
 * `/transfers` and `/cancel` between real `main.ts connect` processes, a group
 * transfer that goes on when one member cancels, and the clean-up of
 * partial downloads at start (issue 16). Receivers reach the server through
 * a proxy that holds the data part-way, so a transfer is still running when
 * the test looks at it.
 */

import assert from "node:assert/strict";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import {
  ChatProcess,
  listeningPort,
  serveProcess,
} from "../_helpers/process.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

const SIZE = 8 * 1024 * 1024;

async function setup() {
  const dir = await Deno.makeTempDir({ prefix: "chat-control-" });
  const keys = `${dir}/keys`;
  const keygen = new ChatProcess(["keygen", "--bits", "2048", "--out", keys]);
  assert.equal((await keygen.finish()).code, 0);
  const bytes = new Uint8Array(SIZE);
  for (let at = 0; at < SIZE; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, at + 65536));
  }
  await Deno.writeFile(`${dir}/big.bin`, bytes);
  const processes: ChatProcess[] = [];
  const server = serveProcess(keys);
  processes.push(server);
  const port = await listeningPort(server);
  const proxy = new HoldingProxy(Number(port));
  const connect = async (user: string, receiver: boolean) => {
    const child = new ChatProcess([
      "connect",
      `127.0.0.1:${receiver ? proxy.port : port}`,
      "--pub",
      `${keys}/public.pem`,
      "--user",
      user,
      ...(receiver
        ? [
          "--downloads",
          `${dir}/${user}-downloads`,
          "--no-open",
          "--accept-files",
          "all",
        ]
        : []),
    ]);
    processes.push(child);
    await child.waitFor(/SUCCESS: Username registered\./);
    return child;
  };
  return {
    dir,
    proxy,
    bytes,
    connect,
    async [Symbol.asyncDispose]() {
      for (const p of processes) p.kill("SIGKILL");
      for (const p of processes) await p.finish().catch(() => {});
      await proxy.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Waits until bytes of a file have reached the receiver's partial. */
async function untilReceiving(downloads: string): Promise<void> {
  const dir = `${downloads}/.chat-partial`;
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    for (const name of await listDir(dir)) {
      if (!name.endsWith(".part")) continue;
      const size = await Deno.stat(`${dir}/${name}`).then(
        (i) => i.size,
        () => 0,
      );
      if (size > 0) return;
    }
    assert.ok(Date.now() < deadline, "the file started arriving");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function listDir(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir)).catch(() => []))
    .map((e) => e.name).sort();
}

Deno.test("/transfers lists a running transfer on both sides, and /cancel on the receiver stops it for both", async () => {
  await using r = await setup();
  const jojo = await r.connect("jojo", true);
  const sophia = await r.connect("sophia", false);
  r.proxy.holdAt(r.proxy.downBytes + SIZE / 2);
  await sophia.write(`/file jojo ${r.dir}/big.bin\n`);
  await untilReceiving(`${r.dir}/jojo-downloads`);
  await sophia.write("/transfers\n");
  await sophia.waitFor(
    /File transfers \(\/cancel N stops one\):\n {2}1\. sending big\.bin to jojo: .* of 8\.0 MiB \(\d+%\)/,
  );
  await jojo.write("/transfers\n");
  const [, n] = await jojo.waitFor(
    /\n {2}(\d+)\. receiving big\.bin from sophia: .* of 8\.0 MiB \(\d+%\)/,
  );
  await jojo.write(`/cancel ${n}\n`);
  await jojo.waitFor(
    /Cancelled receiving big\.bin; its partial file is removed\./,
  );
  r.proxy.release();
  await sophia.waitForStderr(
    /ERROR: File big\.bin was not received by jojo: cancelled/,
  );
  // Cancelled, not broken: it is not offered again, and nothing is kept.
  await sophia.write("/transfers\n");
  await sophia.waitFor(/No file transfers\./);
  assert.doesNotMatch(sophia.stdout, /will be offered again/);
  assert.deepEqual(await listDir(`${r.dir}/jojo-downloads`), []);
  await jojo.write("/cancel 99\n");
  await jojo.waitForStderr(/ERROR: No transfer 99; \/transfers lists them/);
  // Said once, by /cancel: not as an error too (stderr is in order, so
  // one would be there by now).
  assert.doesNotMatch(jojo.stderr, /big\.bin from sophia was not received/);
});

Deno.test("a group transfer goes on for the others when one member cancels", async () => {
  await using r = await setup();
  const jojo = await r.connect("jojo", true);
  const nana = await r.connect("nana", true);
  const sophia = await r.connect("sophia", false);
  await sophia.write("/create team\n");
  await sophia.waitFor(/SUCCESS: Group 'team' created and joined\./);
  for (const member of [jojo, nana]) {
    await member.write("/join team\n");
    await member.waitFor(/SUCCESS: Joined group 'team'\./);
  }
  r.proxy.holdAt(r.proxy.downBytes + SIZE / 2);
  await sophia.write(`/groupfile team ${r.dir}/big.bin\n`);
  await untilReceiving(`${r.dir}/nana-downloads`);
  await nana.write("/transfers\n");
  const [, n] = await nana.waitFor(
    /\n {2}(\d+)\. receiving big\.bin from sophia/,
  );
  await nana.write(`/cancel ${n}\n`);
  await nana.waitFor(/Cancelled receiving big\.bin/);
  r.proxy.release();
  await jojo.waitFor(/\[Receive big\.bin from Group team sophia\]\./, 30_000);
  assert.deepEqual(
    await Deno.readFile(`${r.dir}/jojo-downloads/big.bin`),
    r.bytes,
  );
  await sophia.waitForStderr(
    /ERROR: File big\.bin was not received by nana: cancelled/,
  );
  assert.deepEqual(await listDir(`${r.dir}/nana-downloads`), []);
});

Deno.test("a partial kept after the sender died is listed as resumable and /cancel removes it; stale ones go at start", async () => {
  await using r = await setup();
  const downloads = `${r.dir}/jojo-downloads`;
  // Left by an earlier receiver killed mid-way: a part with no description.
  await Deno.mkdir(`${downloads}/.chat-partial`, { recursive: true });
  await Deno.writeFile(
    `${downloads}/.chat-partial/${"f".repeat(32)}.part`,
    new Uint8Array(100),
  );
  const jojo = await r.connect("jojo", true);
  await jojo.waitFor(/Removed 1 stale partial download file\(s\) from /);
  assert.deepEqual(await listDir(`${downloads}/.chat-partial`), []);
  const sophia = await r.connect("sophia", false);
  r.proxy.holdAt(r.proxy.downBytes + SIZE / 2);
  await sophia.write(`/file jojo ${r.dir}/big.bin\n`);
  await untilReceiving(downloads);
  sophia.kill("SIGKILL");
  await sophia.finish();
  r.proxy.release();
  await jojo.waitForStderr(/was not received: sophia disconnected/);
  await jojo.write("/transfers\n");
  const [, n] = await jojo.waitFor(
    /\n {2}(\d+)\. resumable big\.bin from sophia: .* of 8\.0 MiB \(\d+%\) kept; resumes when they send it again/,
  );
  await jojo.write(`/cancel ${n}\n`);
  await jojo.waitFor(/Removed the partial download of big\.bin\./);
  assert.deepEqual(await listDir(`${downloads}/.chat-partial`), []);
});

Deno.test("/cancel on the sender stops the transfer and the receiver keeps nothing", async () => {
  await using r = await setup();
  const jojo = await r.connect("jojo", true);
  const sophia = await r.connect("sophia", false);
  r.proxy.holdAt(r.proxy.downBytes + SIZE / 2);
  await sophia.write(`/file jojo ${r.dir}/big.bin\n`);
  await untilReceiving(`${r.dir}/jojo-downloads`);
  await sophia.write("/transfers\n");
  const [, n] = await sophia.waitFor(/\n {2}(\d+)\. sending big\.bin to jojo/);
  await sophia.write(`/cancel ${n}\n`);
  await sophia.waitFor(/Cancelled sending big\.bin\./);
  r.proxy.release();
  await jojo.waitForStderr(
    /ERROR: File big\.bin from sophia was not received: sophia cancelled it\n/,
  );
  // Said once, by /cancel, not as an error too: once the transfer is gone
  // from the list, its ending was printed (stderr is in order, and the
  // answer to /cancel 99 comes after it).
  await sophia.write("/transfers\n");
  await sophia.waitFor(/No file transfers\./);
  await sophia.write("/cancel 99\n");
  await sophia.waitForStderr(/ERROR: No transfer 99/);
  assert.doesNotMatch(sophia.stderr, /Sending file big\.bin stopped/);
  const deadline = Date.now() + WAIT_MS;
  while ((await listDir(`${r.dir}/jojo-downloads`)).length > 0) {
    assert.ok(Date.now() < deadline, "the partial was removed");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
});
