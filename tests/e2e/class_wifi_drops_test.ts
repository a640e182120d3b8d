/**
 * A class behind one address (one NAT) whose Wi-Fi drops, and drops again:
 * forty students' sessions reconnect at once each time, all from that
 * address. A free comeback was once per name in 10 minutes, so the second
 * drop found every name's spent and the class waited for the sign-in rate
 * (one every 6 s). Now each session that lasted and ended a moment ago owes
 * its name one (comebacks.ts). Real sessions (runSession) through a real
 * TCP proxy that cuts them off (GateProxy); loopback is held to the address
 * limits as a LAN address is (limitNewNamesFromLoopback).
 */
import assert from "node:assert/strict";
import { startTestServer } from "../_helpers/chat.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { signedInClass } from "../_helpers/typist.ts";
import { until } from "../_helpers/bystanders.ts";

const CLASS = 40;
const DROPS = 3;
// Each drop comes seconds after the last, so each session's reconnection
// waits grow from drop to drop (a connection that lasted under 10 s is
// taken for a flapping one: reconnect_backoff.ts): all 40 were back in 6.4,
// 8.1 and 10.0 s on a quiet machine. Before comebacks were owed per
// session, none of 40 was back within 15 s of the second drop, and the
// address's sign-ins here come back at one a minute.
const BACK_WITHIN_MS = 25_000;

Deno.test("runSession: forty sessions from one address are all back within 25 s of each of three Wi-Fi drops in a row, none told of an error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_class_wifi_" });
  try {
    await using server = await startTestServer({
      connectionLimits: {
        limitNewNamesFromLoopback: true,
        // The morning's sign-ins within the burst; no token comes back
        // during the test (one a minute).
        signInBurstPerAddress: CLASS,
        signInsPerMinutePerAddress: 1,
        newNameBurstPerAddress: CLASS,
        // Room for three drops' comebacks in a row at once: a test cannot
        // wait the minute the address's comebacks take to come back (64 at
        // once by default), and what is tested is each name's own.
        maxConnectionsPerAddress: 4 * CLASS,
        // Real drops come minutes apart; here seconds.
        comebackSettledMs: 0,
      },
    });
    const proxy = new GateProxy(server.port);
    const spki = server.spki;
    // Forty first connections in a second pass the address's handshake
    // burst (30, then 10 a second): a refused one waits the server's
    // Retry-After (5 s) and tries again, as `chat connect` does.
    // One after another: an address may have only a few handshakes under
    // way at once.
    const students = await signedInClass(CLASS, {
      url: `ws://127.0.0.1:${proxy.port}`,
      spki,
      dir,
      waitMs: 15_000,
    });
    const backTimes = (i: number) =>
      students[i]!.terminal.printed.filter((line) =>
        line === `Reconnected as ${students[i]!.name}.`
      ).length;
    for (let drop = 1; drop <= DROPS; drop++) {
      const before = students.map(({ terminal }) => terminal.printed.length);
      proxy.cut();
      proxy.down = false;
      const dropped = Date.now();
      await until(
        () => students.every((_, i) => backTimes(i) >= drop),
        `all ${CLASS} back after drop ${drop}`,
        BACK_WITHIN_MS,
      ).catch((error) => {
        const missing = students.filter((_, i) => backTimes(i) < drop);
        throw new Error(
          `drop ${drop}: ${missing.length} of ${CLASS} not back within ${
            BACK_WITHIN_MS / 1000
          } s; one said:\n${
            missing[0]?.terminal.printed.slice(
              before[students.indexOf(missing[0])],
            ).join("\n")
          }`,
          { cause: error },
        );
      });
      console.log(
        `drop ${drop}: all ${CLASS} back in ${Date.now() - dropped} ms`,
      );
      for (const [i, { name, terminal }] of students.entries()) {
        const since = terminal.printed.slice(before[i]);
        const errors = since.filter((line) => line.includes("ERROR"));
        assert.deepEqual(errors, [], `${name}:\n${since.join("\n")}`);
      }
    }
    for (const { terminal } of students) terminal.type("/quit");
    for (const { name, session } of students) {
      assert.equal(await session, 0, name);
    }
    await proxy.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
