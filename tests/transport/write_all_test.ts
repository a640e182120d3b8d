import assert from "node:assert/strict";
import { writeAll } from "../../src/transport/write_all.ts";

Deno.test("writeAll writes every byte to a writer that takes a few at a time", async () => {
  const taken: number[] = [];
  const writer = {
    write(bytes: Uint8Array): Promise<number> {
      const part = bytes.subarray(0, 3);
      taken.push(...part);
      return Promise.resolve(part.length);
    },
  };
  await writeAll(writer, Uint8Array.from({ length: 10 }, (_, i) => i));
  assert.deepEqual(taken, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});
