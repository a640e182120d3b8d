import assert from "node:assert/strict";
import {
  TOO_MANY_NEW_NAMES,
  TOO_MANY_SIGN_INS,
} from "../../src/protocol/sign_in_refusals.ts";
import {
  fitStatusLine,
  heldBack,
  RECONNECT_MAX_MS,
  reconnectDelay,
  StateChanges,
  statusLine,
  TAP_RETRY,
} from "../../src/client/reconnect_status.ts";

Deno.test("reconnectDelay doubles from 1 s, never passes 10 s, and keeps 50-100 % of the step", () => {
  const low = () => 0;
  const high = () => 0.999999;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 50].map((n) => reconnectDelay(n, high)),
    [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000],
  );
  assert.deepEqual(
    [1, 2, 5, 1000].map((n) => reconnectDelay(n, low)),
    [500, 1000, 5000, 5000],
  );
  for (let attempt = 1; attempt < 100; attempt++) {
    const delay = reconnectDelay(attempt);
    assert.ok(delay > 0 && delay <= RECONNECT_MAX_MS, `${attempt}: ${delay}`);
  }
});

Deno.test("statusLine says how a touch screen cuts the wait short, and nothing once it did", () => {
  const now = 1_000_000;
  const waiting = {
    kind: "waiting",
    attempt: 4,
    retryAt: now + 6000,
    lastError: null,
  } as const;
  assert.equal(
    statusLine(waiting, 0, now, TAP_RETRY),
    "Reconnecting in 6 s (attempt 4; tap Retry now)",
  );
  assert.equal(
    statusLine({ ...waiting, keyUsed: true }, 0, now, TAP_RETRY),
    "Reconnecting in 6 s (attempt 4)",
  );
});

Deno.test("statusLine counts down to the next attempt, says what failed and how many lines wait", () => {
  const now = 1_000_000;
  assert.equal(
    statusLine(
      {
        kind: "waiting",
        attempt: 3,
        retryAt: now + 2500,
        lastError: "Cannot connect: connection refused",
      },
      2,
      now,
    ),
    "Reconnecting in 3 s (attempt 3; 2 lines queued; press a key to retry now) Last try: Cannot connect: connection refused",
  );
  assert.equal(
    statusLine(
      { kind: "waiting", attempt: 1, retryAt: now - 5, lastError: null },
      1,
      now,
    ),
    "Reconnecting in 0 s (attempt 1; 1 line queued; press a key to retry now)",
  );
  // A key already tried during this wait: another does not, so no hint.
  assert.equal(
    statusLine(
      {
        kind: "waiting",
        attempt: 2,
        retryAt: now + 1500,
        lastError: "Cannot connect: connection refused",
        keyUsed: true,
      },
      0,
      now,
    ),
    "Reconnecting in 2 s (attempt 2) Last try: Cannot connect: connection refused",
  );
  assert.equal(
    statusLine({ kind: "reconnected", name: "sophia" }, 0, now),
    null,
  );
});

Deno.test("StateChanges gives one line per change of state, not one per attempt", () => {
  const changes = new StateChanges();
  const refused = "Cannot connect: connection refused";
  const lines = [
    changes.line({ kind: "lost", reason: "The connection was lost." }),
    changes.line({ kind: "waiting", attempt: 1, retryAt: 0, lastError: null }),
    changes.line({ kind: "connecting", attempt: 1, lastError: null }),
    changes.line({
      kind: "waiting",
      attempt: 2,
      retryAt: 0,
      lastError: refused,
    }),
    changes.line({ kind: "connecting", attempt: 2, lastError: refused }),
    changes.line({
      kind: "waiting",
      attempt: 3,
      retryAt: 0,
      lastError: refused,
    }),
    changes.line({ kind: "reconnected", name: "sophia" }),
  ].filter((line) => line !== null);
  assert.deepEqual(lines, [
    "The connection was lost. Reconnecting...",
    `Still reconnecting: ${refused}`,
    "Reconnected as sophia.",
  ]);
});

Deno.test("fitStatusLine shortens what comes before the last try's error, then cuts the error between sentences or words", () => {
  const error =
    "Cannot connect to ws://127.0.0.1:43397: connection refused. Is 'chat serve' running there?";
  const waiting = {
    kind: "waiting" as const,
    attempt: 3,
    retryAt: 9000,
    lastError: error,
  };
  // Wide enough: as statusLine has it.
  assert.equal(
    fitStatusLine(waiting, 0, 0, 200),
    statusLine(waiting, 0, 0),
  );
  assert.equal(
    fitStatusLine(waiting, 0, 0, 140),
    `Reconnecting in 9 s (attempt 3). Last try: ${error}`,
  );
  assert.equal(
    fitStatusLine(waiting, 0, 0, 105),
    `Retry in 9 s: ${error}`,
  );
  assert.equal(
    fitStatusLine(waiting, 2, 0, 80),
    "Retry in 9 s (2 queued): Cannot connect to ws://127.0.0.1:43397: connection\u2026",
  );
  assert.equal(
    fitStatusLine(waiting, 0, 0, 80),
    "Retry in 9 s: Cannot connect to ws://127.0.0.1:43397: connection refused.",
  );
  assert.equal(
    fitStatusLine({ ...waiting, kind: "connecting" }, 0, 0, 80),
    "Retrying: Cannot connect to ws://127.0.0.1:43397: connection refused.",
  );
  for (const columns of [40, 60, 80, 100]) {
    for (const queued of [0, 1, 12]) {
      const row = fitStatusLine(waiting, queued, 0, columns)!;
      assert.ok(row.length < columns, `${columns}: ${row}`);
      // Never a word cut in two: what is shown of the error is its start,
      // ending at a word's end.
      const shown = row.slice(row.indexOf(": ") + 2).replace(/\u2026$/, "");
      assert.ok(error.startsWith(shown), `${columns}: ${row}`);
      const next = error[shown.length];
      assert.ok(
        next === undefined || next === " " || shown === "",
        `${columns}: ${row}`,
      );
    }
  }
  // Nothing to fit: no error yet, or another state.
  const fresh = { ...waiting, lastError: null };
  assert.equal(fitStatusLine(fresh, 0, 0, 40), statusLine(fresh, 0, 0));
  assert.equal(
    fitStatusLine({ kind: "reconnected", name: "a" }, 0, 0, 40),
    null,
  );
});

Deno.test("fitStatusLine measures an emoji-presentation pair in the error as 2 columns", () => {
  // ⚠ alone is 1 column; with U+FE0F kitty and iTerm2 draw it 2 wide.
  const error = `${"\u26a0\ufe0f".repeat(30)} refused`;
  const waiting = {
    kind: "waiting" as const,
    attempt: 3,
    retryAt: 9000,
    lastError: error,
  };
  // "Retry in 9 s: " (14) + 30 pairs (60) + " refused" (8) = 82 columns.
  assert.equal(fitStatusLine(waiting, 0, 0, 84), `Retry in 9 s: ${error}`);
  assert.notEqual(fitStatusLine(waiting, 0, 0, 80), `Retry in 9 s: ${error}`);
});

Deno.test("heldBack is a sign-in turned away for a while (slow_down, too many sign-ins), not a new name's minutes-long limit nor another refusal", () => {
  const error = (code: string, text: string) => ({ t: "error", code, text });
  assert.equal(heldBack(error("limit", TOO_MANY_SIGN_INS)), true);
  assert.equal(heldBack(error("slow_down", "ERROR: slow down")), true);
  assert.equal(heldBack(error("limit", TOO_MANY_NEW_NAMES)), false);
  assert.equal(heldBack(error("name_taken", "ERROR: taken")), false);
  assert.equal(heldBack({ t: "welcome" }), false);
});
