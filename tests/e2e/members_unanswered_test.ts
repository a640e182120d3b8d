/**
 * A server that never lists a group's members (stalled, or hostile): the
 * group line is not sent, and `--json` says why with the code `timeout` (the
 * server did not answer in time), not `internal` (a fault of the client's
 * or the server's).
 */

import assert from "node:assert/strict";
import { startHostileE2e } from "../_helpers/hostile_e2e.ts";

Deno.test("chat connect --json says a group line is not sent, with code timeout, when the server does not list the group's members within 5 s", async () => {
  await using run = await startHostileE2e(
    "chat-members-unanswered-",
    () => ["--json"],
    () => {},
    () => "unanswered",
  );
  const { bob } = run;
  await bob.write(
    JSON.stringify({ cmd: "group", group: "crew", text: "hi", id: "g1" }) +
      "\n",
  );
  const [line] = await bob.waitFor(/^\{"type":"error","re":"g1".*$/m);
  assert.deepEqual(JSON.parse(line), {
    type: "error",
    re: "g1",
    code: "timeout",
    text:
      "ERROR: Not sent: the server did not list the members of crew within 5 seconds",
  });
  await bob.write('{"cmd":"quit"}\n');
  await bob.finish();
});
