import assert from "node:assert/strict";
import { FileCipher, newFileKey } from "../../src/crypto/file_cipher.ts";
import {
  MAX_RESUME_PARTS,
  resumePoint,
  sha256Hex,
} from "../../src/web/web_files.ts";

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

Deno.test("resumePoint hashes the file at a few parts at most, whatever claims a hostile host names", async () => {
  const { bytes, keyed, claim } = await fixture();
  let hashed = 0;
  const counted = (sha256: string) => {
    hashed++;
    return keyed(sha256);
  };
  const made = (name: string, offset: number) => ({
    name,
    offset,
    sha256: "0".repeat(64),
  });
  // Claims for names that are not recipients, at 900 offsets: ignored.
  const strangers = Array.from({ length: 900 }, (_, i) => made(`m${i}`, i + 1));
  assert.equal(
    await resumePoint(
      bytes,
      ["bob"],
      [await claim("bob", 600), ...strangers],
      counted,
    ),
    600,
  );
  assert.equal(hashed, 1);
  // 900 recipients claiming as many parts: 0, nothing hashed.
  hashed = 0;
  assert.equal(
    await resumePoint(
      bytes,
      strangers.map((c) => c.name),
      strangers,
      counted,
    ),
    0,
  );
  assert.equal(hashed, 0);
  // A few parts, the lowest not ours: 0 at the first check.
  hashed = 0;
  const few = Array.from(
    { length: MAX_RESUME_PARTS },
    (_, i) => made(`m${i}`, 100 * (i + 1)),
  );
  assert.equal(
    await resumePoint(bytes, few.map((c) => c.name), few, counted),
    0,
  );
  assert.equal(hashed, 1);
  // As many parts as allowed, all ours: the lowest.
  hashed = 0;
  const ours = await Promise.all(
    few.map((c) => claim(c.name, c.offset)),
  );
  assert.equal(
    await resumePoint(bytes, ours.map((c) => c.name), ours, counted),
    100,
  );
  assert.equal(hashed, MAX_RESUME_PARTS);
});
