/**
 * e2eLineEvent: a line the end-to-end sessions said becomes an event by its
 * kind, whatever its first word.
 */

import assert from "node:assert/strict";
import { e2eLineEvent } from "../../src/client/session_events.ts";
import {
  errorLine,
  noticeLine,
  warningLine,
} from "../../src/client/e2e_lines.ts";

Deno.test("e2eLineEvent says errors and warnings as e2e errors, notices as notices, by kind not by words", () => {
  assert.deepEqual(e2eLineEvent(errorLine("ERROR: x")), {
    type: "error",
    re: null,
    code: "e2e",
    text: "ERROR: x",
  });
  assert.deepEqual(e2eLineEvent(warningLine("WARNING: y")), {
    type: "error",
    re: null,
    code: "e2e",
    text: "WARNING: y",
  });
  // A notice that quotes such a word is still a notice.
  assert.deepEqual(e2eLineEvent(noticeLine("WARNING: quoted")), {
    type: "notice",
    text: "WARNING: quoted",
  });
  // The text shown may be the line's made safe.
  assert.deepEqual(e2eLineEvent(noticeLine("a\x1b[2Jb"), "ab"), {
    type: "notice",
    text: "ab",
  });
});
