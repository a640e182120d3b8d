/**
 * A class behind one address (one NAT) whose Wi-Fi drops while the teacher
 * speaks: forty students' sessions reconnect at once, and each asks for what
 * was said meanwhile (missed_public.ts), all from that address, whose
 * `history` requests come 3 a second, bursts of 10. Nobody did anything
 * wrong: nobody may be shown an ERROR for it. Real sessions (runSession)
 * through a real TCP proxy that cuts them off (GateProxy); loopback is held
 * to the address limits as a LAN address is (limitNewNamesFromLoopback),
 * the history limits their defaults.
 */
import assert from "node:assert/strict";
import { MISSED_LATE } from "../../src/client/missed_public.ts";
import { withPatience } from "../../src/client/with_patience.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { signedInClass } from "../_helpers/typist.ts";
import { until } from "../_helpers/bystanders.ts";

const CLASS = 40;
const DROPS = 2;

Deno.test("runSession: forty sessions from one address sign in at once, and each gets what was said during two Wi-Fi drops at once, none told of an error or that it is late", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat_class_catch_up_" });
  try {
    await using server = await startTestServer({
      connectionLimits: {
        limitNewNamesFromLoopback: true,
        // The sign-ins are not what is tested (class_wifi_drops_test).
        signInsPerMinutePerAddress: 0,
        newNamesPerMinutePerAddress: 0,
        // Nor its new connections: a first connection refused is not tried
        // again.
        handshakesPerSecond: 0,
      },
    });
    const proxy = new GateProxy(server.port);
    const spki = server.spki;
    // The teacher, on the wire: not behind the Wi-Fi that drops.
    const teacher = await TestClient.connect(server, "teacher");
    const students = await signedInClass(CLASS, {
      url: `ws://127.0.0.1:${proxy.port}`,
      spki,
      dir,
    });
    // The Wi-Fi drops before anyone said anything: each student's place in
    // the room to catch up from is where it stood at its welcome (last_id),
    // where a history request asked for it at the sign-in could still be
    // refused with slow_down when the drop came, and what the teacher said
    // during the drop was lost without a word.
    for (let drop = 1; drop <= DROPS; drop++) {
      const before = students.map(({ terminal }) => terminal.printed.length);
      proxy.cut();
      const said = `page ${drop * 12}, everyone`;
      // The teacher shares the class's address, and its message rate.
      const reply = await withPatience(() => teacher.client.say(said));
      assert.equal(reply.t, "ok", JSON.stringify(reply));
      proxy.down = false;
      const dropped = Date.now();
      const since = (i: number) =>
        students[i]!.terminal.printed.slice(before[i]);
      const back = (i: number) =>
        since(i).includes(`Reconnected as ${students[i]!.name}.`);
      await until(
        () => students.every((_, i) => back(i)),
        `all ${CLASS} back after drop ${drop}`,
        15_000,
      );
      // The teacher goes on once all are back: a live line held while a
      // student's catch-up waits, and let go after 5 s with a word that the
      // catch-up is late (MISSED_LATE), when it waits for the address's
      // history rate.
      const next = `and page ${drop * 12 + 1}`;
      const nextReply = await withPatience(() => teacher.client.say(next));
      assert.equal(nextReply.t, "ok", JSON.stringify(nextReply));
      // Each shows both lines, or says why not.
      const done = (i: number) =>
        since(i).some((line) => line.includes("ERROR")) ||
        (since(i).some((line) => line.includes(said)) &&
          since(i).some((line) => line.includes(next)));
      await until(
        () => students.every((_, i) => done(i)),
        `all ${CLASS} caught up after drop ${drop}`,
        45_000,
      ).catch((error) => {
        const missing = students.filter((_, i) => !done(i));
        throw new Error(
          `drop ${drop}: ${missing.length} of ${CLASS} did not catch up within 45 s; one said:\n${
            since(students.indexOf(missing[0]!)).join("\n")
          }`,
          { cause: error },
        );
      });
      console.log(
        `drop ${drop}: all ${CLASS} caught up in ${Date.now() - dropped} ms`,
      );
      for (const [i, { name }] of students.entries()) {
        const lines = since(i);
        const wrong = lines.filter((line) =>
          line.includes("ERROR") || line === MISSED_LATE
        );
        assert.deepEqual(wrong, [], `${name}:\n${lines.join("\n")}`);
        // What was missed above what came after it.
        assert.ok(
          lines.findIndex((line) => line.includes(said)) <
            lines.findIndex((line) => line.includes(next)),
          `${name}:\n${lines.join("\n")}`,
        );
      }
    }
    for (const { terminal } of students) terminal.type("/quit");
    for (const { name, session } of students) {
      assert.equal(await session, 0, name);
    }
    await teacher.quit();
    await proxy.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
