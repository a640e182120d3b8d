import assert from "node:assert/strict";
import {
  encodeNameBinding,
  MAX_ENTRY_CHARS,
  parseNameBinding,
} from "../../../src/server/cluster/name_binding.ts";

const FINGERPRINT = "SHA256:Zr4mG0v3b8sWcQ1nL6yKpTe2HxA9oJdU5fMiRt7NwYk";

Deno.test("encodeNameBinding writes a binding without a cut as version 1, the fingerprint alone, and parseNameBinding reads it back", () => {
  assert.equal(encodeNameBinding({ fingerprint: FINGERPRINT }), FINGERPRINT);
  assert.deepEqual(parseNameBinding(FINGERPRINT), {
    fingerprint: FINGERPRINT,
  });
});

Deno.test("encodeNameBinding writes a binding made after a release as version 2 (docs/PROTOCOL.md test vector), and parseNameBinding reads its cut back", () => {
  const binding = {
    fingerprint: FINGERPRINT,
    cut: { fingerprint: FINGERPRINT, after: 41, since: 1796000000000 },
  };
  const entry =
    '{"v":2,"fingerprint":"SHA256:Zr4mG0v3b8sWcQ1nL6yKpTe2HxA9oJdU5fMiRt7NwYk","after":41,"since":1796000000000}';
  assert.equal(encodeNameBinding(binding), entry);
  assert.deepEqual(parseNameBinding(entry), binding);
});

Deno.test("parseNameBinding refuses an entry it cannot read: another version, a bad cut or fingerprint, not JSON", () => {
  for (
    const entry of [
      "",
      "{",
      `{"v":3,"fingerprint":"${FINGERPRINT}","after":1,"since":1}`,
      `{"v":2,"after":1,"since":1}`,
      `{"v":2,"fingerprint":"","after":1,"since":1}`,
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":-1,"since":1}`,
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":1.5,"since":1}`,
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":"1","since":1}`,
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":1}`,
      `{"v":2,"fingerprint":"${"x".repeat(101)}","after":1,"since":1}`,
      // Not a fingerprint's form: a control character, a short one.
      `{"v":2,"fingerprint":"SHA256:\\u001b[2J${
        FINGERPRINT.slice(11)
      }","after":1,"since":1}`,
      `{"v":2,"fingerprint":"SHA256:abc","after":1,"since":1}`,
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":${
        Number.MAX_SAFE_INTEGER + 2
      },"since":1}`,
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":1,"since":-1}`,
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":1,"since":1e400}`,
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":null,"since":1}`,
      // Too long to parse, whatever it holds.
      `{"v":2,"fingerprint":"${FINGERPRINT}","after":1,"since":1,"x":"${
        " ".repeat(MAX_ENTRY_CHARS)
      }"}`,
    ]
  ) {
    assert.throws(() => parseNameBinding(entry), TypeError, entry);
  }
});
