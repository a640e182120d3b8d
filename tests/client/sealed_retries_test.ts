import assert from "node:assert/strict";
import {
  goesAgain,
  MAX_SEALED_KEPT,
  SealedRetries,
} from "../../src/client/sealed_retries.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

Deno.test("SealedRetries keeps a sealed line through a reply its client made up, forgets it at the server's answer, and keeps at most MAX_SEALED_KEPT", async () => {
  await using server = await startTestServer();
  const { client } = await TestClient.connect(server, "ann");
  const kept = new SealedRetries<string>();
  kept.keep("a", "line a", "sealed a");
  kept.answered("a", await client.request({ t: "ping" })); // pong: no answer
  assert.equal(kept.get("a"), "sealed a");
  kept.answered("a", await client.request({ t: "join", group: "nope" }));
  assert.equal(kept.get("a"), undefined, "a server's error is an answer");
  kept.keep("b", "line b", "sealed b");
  await client.quit();
  // Over: the client answers for the server.
  const notSent = await client.request({ t: "ping" });
  assert.equal(notSent.t, "error");
  kept.answered("b", notSent);
  assert.equal(kept.get("b"), "sealed b");
  for (let i = 0; i < MAX_SEALED_KEPT; i++) kept.keep(`c${i}`, "c", "x");
  assert.equal(kept.get("b"), undefined, "the oldest went");
  assert.equal(kept.get(`c${MAX_SEALED_KEPT - 1}`), "x");
  assert.equal(kept.get("c0"), "x");
});

Deno.test("SealedRetries refuses a cid sealed for another line: an envelope never goes to another recipient or stands for another text", () => {
  const kept = new SealedRetries<string>();
  assert.equal(kept.refusal("a", '["bob","text","hi"]'), null, "not sealed");
  kept.keep("a", '["bob","text","hi"]', "sealed for bob");
  assert.equal(kept.refusal("a", '["bob","text","hi"]'), null, "the same line");
  const other = kept.refusal("a", '["carol","text","hi"]');
  assert.equal(other?.t === "error" && other.code, "bad_request");
  assert.match(
    other?.t === "error" ? other.text : "",
    /client id was used for another line/,
  );
});

Deno.test("SealedRetries keeps a sealed line the server refused with slow_down: it goes again as the same bytes, not on another key of the chain", () => {
  const kept = new SealedRetries<string>();
  kept.keep("a", "line a", "sealed a");
  kept.answered("a", {
    t: "error",
    re: 1,
    code: "slow_down",
    text: "ERROR: slow down",
  });
  assert.equal(kept.get("a"), "sealed a");
  kept.answered("a", { t: "ok", re: 2, text: "sent", id: 7 });
  assert.equal(kept.get("a"), undefined);
});

Deno.test("goesAgain takes slow_down and the server's internal, not an internal the client made", () => {
  const error = (code: "slow_down" | "internal" | "limit", re: number | null) =>
    ({ t: "error", re, code, text: "ERROR: ..." }) as const;
  assert.equal(goesAgain(error("slow_down", 3)), true);
  assert.equal(goesAgain(error("internal", 3)), true);
  assert.equal(goesAgain(error("internal", null)), false);
  assert.equal(goesAgain(error("limit", 3)), false);
  assert.equal(goesAgain({ t: "ok", re: 3, text: "" }), false);
});
