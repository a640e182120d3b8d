/**
 * A class behind one address (one NAT) when the server restarts: forty
 * students' sessions reconnect at once, all from that address. Every sign-in
 * past the address's burst (30) waited for the sign-in rate (one every 6 s),
 * so the 40th was back a minute later, and a script gave up before then.
 * Real sessions (runSession) against a real server restarted on the same
 * port and store; loopback is held to the address limits as a LAN address
 * is (limitNewNamesFromLoopback), the limits otherwise their defaults.
 */
import assert from "node:assert/strict";
import { openStore } from "../../src/store/sqlite_store.ts";
import { startTestServer } from "../_helpers/chat.ts";
import { signedInClass } from "../_helpers/typist.ts";
import { until } from "../_helpers/bystanders.ts";

const CLASS = 40;

Deno.test("runSession: forty sessions from one address are all back within 15 s of a server restart, none giving up or told of an error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_class_comeback_" });
  const store = openStore(":memory:");
  try {
    // The class signed in over the morning: here within a second or two,
    // so the address is not held to its message rates meanwhile, nor to its
    // new connections (10 a second past 30: 40 sign-ins in less than a
    // second were refused at the 37th) (the server's own machine is not
    // held to the sign-in limits either).
    const first = await startTestServer({
      store,
      connectionLimits: {
        handshakesPerSecond: 0,
        messagesPerSecondPerAddress: 0,
        historyPerSecondPerAddress: 0,
      },
    });
    const port = first.port;
    const spki = first.spki;
    // Half of them people at a terminal, half scripts (which give up).
    // One after another: a connection's first attempt is not retried, and
    // an address may have only a few handshakes under way at once.
    const students = await signedInClass(CLASS, {
      url: `ws://127.0.0.1:${port}`,
      spki,
      dir,
    });
    const before = students.map(({ terminal }) => terminal.printed.length);
    await first.shutdown();
    // The same server comes back, now holding this address to its limits.
    await using _second = await startTestServer({
      store,
      port,
      connectionLimits: { limitNewNamesFromLoopback: true },
    });
    const restarted = Date.now();
    const back = (i: number) =>
      students[i]!.terminal.printed.includes(
        `Reconnected as ${students[i]!.name}.`,
      );
    await until(
      () => students.every((_, i) => back(i)),
      `all ${CLASS} back`,
      15_000,
    ).catch((error) => {
      const missing = students.filter((_, i) => !back(i));
      throw new Error(
        `${missing.length} of ${CLASS} not back within 15 s; one said:\n${
          missing[0]?.terminal.printed.slice(before[0]).join("\n")
        }`,
        { cause: error },
      );
    });
    const took = Date.now() - restarted;
    // None was told of an error or gave up on the way back.
    for (const [i, { name, terminal }] of students.entries()) {
      const since = terminal.printed.slice(before[i]);
      const errors = since.filter((line) => line.includes("ERROR"));
      assert.deepEqual(errors, [], `${name}:\n${since.join("\n")}`);
      // Turned away for the address's rates (at the upgrade, at the
      // sign-in): each said once at most, not once per try.
      const still = since.filter((line) =>
        line.startsWith("Still reconnecting")
      );
      assert.equal(
        new Set(still).size,
        still.length,
        `${name}:\n${since.join("\n")}`,
      );
    }
    console.log(`all ${CLASS} back ${took} ms after the restart`);
    for (const { terminal } of students) terminal.type("/quit");
    for (const { name, session } of students) {
      assert.equal(await session, 0, name);
    }
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
