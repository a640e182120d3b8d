import assert from "node:assert/strict";
import { parseTarget, parseTargets } from "../../src/client/target.ts";

Deno.test("parseTarget accepts IPs, host names, host:port, IPv6 and ws:// URLs", () => {
  assert.equal(parseTarget("192.168.1.104"), "ws://192.168.1.104:8767");
  assert.equal(parseTarget("laptop.local"), "ws://laptop.local:8767");
  assert.equal(parseTarget("192.168.1.104:9000"), "ws://192.168.1.104:9000");
  assert.equal(parseTarget("192.168.1.104", 9000), "ws://192.168.1.104:9000");
  assert.equal(parseTarget("[::1]:9000"), "ws://[::1]:9000");
  assert.equal(parseTarget("::1"), "ws://[::1]:8767");
  assert.equal(parseTarget("ws://127.0.0.1:1234"), "ws://127.0.0.1:1234");
  assert.equal(parseTarget("ws://127.0.0.1"), "ws://127.0.0.1:8767");
  assert.equal(parseTarget("ws://127.0.0.1", 5000), "ws://127.0.0.1:5000");
});

Deno.test("parseTarget rejects garbage, other schemes, conflicting and out-of-range ports", () => {
  assert.throws(() => parseTarget(""), TypeError);
  assert.throws(() => parseTarget("http://x"), /Unsupported scheme/);
  assert.throws(() => parseTarget("a b"), TypeError);
  assert.throws(() => parseTarget("host:1", 2), /Two different ports/);
  assert.throws(() => parseTarget("host:70000"), /out of range/);
});

Deno.test("parseTarget keeps a port written in a ws:// URL, even the scheme's default", () => {
  assert.equal(parseTarget("ws://127.0.0.1:80"), "ws://127.0.0.1:80");
  assert.equal(parseTarget("ws://127.0.0.1:80", 80), "ws://127.0.0.1:80");
  assert.throws(
    () => parseTarget("ws://127.0.0.1:80", 9000),
    /Two different ports/,
  );
  assert.equal(parseTarget("ws://[::1]:9000"), "ws://[::1]:9000");
});

Deno.test("parseTargets reads addresses separated by commas, each with its own port or the default", () => {
  assert.deepEqual(parseTargets("10.0.0.5,10.0.0.6:9000"), [
    "ws://10.0.0.5:8767",
    "ws://10.0.0.6:9000",
  ]);
  assert.deepEqual(parseTargets(" a.example , [::1] ", 9000), [
    "ws://a.example:9000",
    "ws://[::1]:9000",
  ]);
  assert.deepEqual(parseTargets("chat.example"), ["ws://chat.example:8767"]);
});

Deno.test("parseTargets keeps one of a server written twice and refuses empty addresses", () => {
  assert.deepEqual(parseTargets("10.0.0.5:8767,10.0.0.5"), [
    "ws://10.0.0.5:8767",
  ]);
  assert.throws(() => parseTargets("10.0.0.5,,10.0.0.6"), /Empty address/);
  assert.throws(() => parseTargets("10.0.0.5,"), /Empty address/);
  assert.throws(() => parseTargets(""), /Missing server address/);
  assert.throws(
    () => parseTargets("10.0.0.5:9000,10.0.0.6", 8000),
    /Two different ports/,
  );
});
