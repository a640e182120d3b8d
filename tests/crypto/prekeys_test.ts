import assert from "node:assert/strict";
import { toBase64 } from "../../src/crypto/bytes.ts";
import {
  decodeBundle,
  encodeBundle,
  generatePrekeys,
  MAX_ONE_TIME_PREKEYS,
  PrekeyError,
  verifyBundle,
} from "../../src/crypto/prekeys.ts";
import { seededIdentity } from "../_helpers/e2e_keys.ts";

const BOB = await seededIdentity(0x0b);
const OTHER = await seededIdentity(0x0c);

Deno.test("generatePrekeys makes a bundle verifyBundle accepts", async () => {
  const { bundle, secrets } = await generatePrekeys(BOB, {
    signedId: 1,
    firstOneTimeId: 7,
    oneTimeCount: 3,
  });
  await verifyBundle(bundle);
  assert.deepEqual(bundle.oneTime.map((key) => key.id), [7, 8, 9]);
  assert.deepEqual([...secrets.oneTime.keys()], [7, 8, 9]);
  assert.deepEqual(bundle.signed.key, secrets.signed.pair.publicRaw);
  assert.deepEqual(bundle.dh.key, secrets.dh.publicRaw);
});

Deno.test("verifyBundle refuses a swapped key, id, kind or identity", async () => {
  const { bundle } = await generatePrekeys(BOB, {
    signedId: 1,
    firstOneTimeId: 7,
    oneTimeCount: 2,
  });
  const { bundle: other } = await generatePrekeys(OTHER, {
    signedId: 1,
    firstOneTimeId: 7,
    oneTimeCount: 2,
  });
  const swaps = [
    { ...bundle, signed: { ...bundle.signed, key: bundle.oneTime[0]!.key } },
    { ...bundle, signed: { ...bundle.signed, id: 2 } },
    // A one-time key's signature does not pass for the signed prekey.
    { ...bundle, signed: { ...bundle.oneTime[0]! } },
    { ...bundle, oneTime: [other.oneTime[0]!] },
    { ...bundle, identity: OTHER.publicRaw },
    { ...bundle, dh: other.dh },
  ];
  for (const swapped of swaps) {
    await assert.rejects(() => verifyBundle(swapped), PrekeyError);
  }
});

Deno.test("encodeBundle and decodeBundle round-trip through JSON", async () => {
  const { bundle } = await generatePrekeys(BOB, {
    signedId: 5,
    firstOneTimeId: 0xffff_fffe,
    oneTimeCount: 3,
  });
  assert.deepEqual(bundle.oneTime.map((key) => key.id), [
    0xffff_fffe,
    0xffff_ffff,
    0,
  ]);
  const json = JSON.parse(JSON.stringify(encodeBundle(bundle)));
  assert.equal(json.identity, toBase64(BOB.publicRaw));
  const decoded = decodeBundle(json);
  assert.deepEqual(decoded, bundle);
  await verifyBundle(decoded);
});

Deno.test("decodeBundle refuses malformed bundles with a reason", async () => {
  const { bundle } = await generatePrekeys(BOB, {
    signedId: 1,
    firstOneTimeId: 1,
    oneTimeCount: 1,
  });
  const good = encodeBundle(bundle);
  const bad: [unknown, RegExp][] = [
    [null, /must be an object/],
    [{ ...good, one_time: "x" }, /'one_time' must be an array/],
    [{ ...good, identity: "AAAA" }, /'identity' must be 32 bytes/],
    [{ ...good, signed: { ...good.signed, id: -1 } }, /'signed.id'/],
    [{ ...good, signed: { ...good.signed, id: 1.5 } }, /'signed.id'/],
    [{ ...good, dh: { ...good.dh, sig: good.dh.key } }, /'dh.sig' must be 64/],
    [{ ...good, one_time: [good.one_time[0], good.one_time[0]] }, /differ/],
    [
      {
        ...good,
        one_time: Array.from(
          { length: MAX_ONE_TIME_PREKEYS + 1 },
          (_, id) => ({ ...good.one_time[0]!, id }),
        ),
      },
      /at most 100/,
    ],
  ];
  for (const [value, message] of bad) {
    assert.throws(() => decodeBundle(value), (error: Error) => {
      assert.ok(error instanceof PrekeyError);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("generatePrekeys refuses more one-time keys than a bundle carries", async () => {
  await assert.rejects(
    () =>
      generatePrekeys(BOB, {
        signedId: 1,
        firstOneTimeId: 0,
        oneTimeCount: MAX_ONE_TIME_PREKEYS + 1,
      }),
    RangeError,
  );
});
