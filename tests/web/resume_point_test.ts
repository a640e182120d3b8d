import assert from "node:assert/strict";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import { resumePoint, sha256Hex } from "../../src/web/web_files.ts";

const SIZE = 1000;

async function fixture() {
  const bytes = crypto.getRandomValues(new Uint8Array(SIZE));
  const cipher = await FileCipher.create(newFileKey(), 7, SIZE);
  const keyed = (sha256: string) => cipher.keyedDigest(sha256);
  const claim = async (name: string, offset: number, of = bytes) => ({
    name,
    offset,
    sha256: await keyed(await sha256Hex(of.subarray(0, offset))),
  });
  return { bytes, keyed, claim };
}

Deno.test("resumePoint starts at the lowest part every recipient holds of our file", async () => {
  const { bytes, keyed, claim } = await fixture();
  assert.equal(
    await resumePoint(bytes, ["bob"], [await claim("bob", 600)], keyed),
    600,
  );
  assert.equal(
    await resumePoint(
      bytes,
      ["bob", "carol"],
      [await claim("bob", 600), await claim("carol", 200)],
      keyed,
    ),
    200,
  );
  // All of it there already: file_end at once.
  assert.equal(
    await resumePoint(bytes, ["bob"], [await claim("bob", SIZE)], keyed),
    SIZE,
  );
});

Deno.test("resumePoint starts at 0 when a recipient claims nothing, a part that is not ours, or past the end", async () => {
  const { bytes, keyed, claim } = await fixture();
  assert.equal(await resumePoint(bytes, ["bob"], [], keyed), 0);
  assert.equal(
    await resumePoint(
      bytes,
      ["bob", "carol"],
      [await claim("bob", 600)],
      keyed,
    ),
    0,
  );
  const other = crypto.getRandomValues(new Uint8Array(SIZE));
  assert.equal(
    await resumePoint(bytes, ["bob"], [await claim("bob", 600, other)], keyed),
    0,
  );
  assert.equal(
    await resumePoint(
      bytes,
      ["bob"],
      [{ ...(await claim("bob", 600)), offset: SIZE + 1 }],
      keyed,
    ),
    0,
  );
  // Accepted by those the header left out only (accepted_more): no claims.
  assert.equal(
    await resumePoint(bytes, [], [await claim("bob", 600)], keyed),
    0,
  );
});
