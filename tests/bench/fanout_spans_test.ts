import assert from "node:assert/strict";
import { fanoutSpans, SpanRecorder } from "../../bench/_fanout_spans.ts";

Deno.test("SpanRecorder keeps each message's first and last delivery", () => {
  const recorder = new SpanRecorder();
  recorder.add(100, 2);
  recorder.add(100, 1.5);
  recorder.add(100, 4.25);
  recorder.add(100, 3);
  recorder.add(105, 0.75);
  assert.deepEqual(recorder.spans(), [[100, 1.5, 4.25], [105, 0.75, 0.75]]);
});

Deno.test("fanoutSpans merges the load processes' views of a message before taking percentiles", () => {
  // Message 10 reached process A's recipients 1-3 ms after it was sent and
  // process B's 2-6 ms after: its first delivery is at 1, its last at 6.
  const spans = fanoutSpans([
    [[10, 1, 3], [20, 0.5, 1]],
    [[10, 2, 6], [20, 0.25, 2]],
  ]);
  assert.equal(spans.messages, 2);
  assert.equal(spans.firstP50, 0.25);
  assert.equal(spans.firstP99, 1);
  assert.equal(spans.lastP50, 2);
  assert.equal(spans.lastP99, 6);
  assert.equal(spans.widthP50, 1.75);
  assert.equal(spans.widthP99, 5);
});

Deno.test("fanoutSpans gives NaN without messages", () => {
  const spans = fanoutSpans([[], []]);
  assert.equal(spans.messages, 0);
  assert.ok(Number.isNaN(spans.lastP99));
});
