import assert from "node:assert/strict";
import { watchReleases } from "../../src/server/released_keys.ts";
import type { Session } from "../../src/server/session.ts";
import type { Store } from "../../src/store/store.ts";

Deno.test("the release check survives a store that cannot be read, says so once, and ends released keys once it can read again", async () => {
  let reads = 0;
  // Fails on the 2nd to 4th look (the 1st is the starting point), then
  // reports a write from another process.
  const store = {
    changedElsewhere(): number {
      reads++;
      if (reads >= 2 && reads <= 4) throw new Error("disk I/O error");
      return reads >= 5 ? 2 : 1;
    },
    getUser: (nameKey: string) =>
      nameKey === "jojo" ? { fingerprint: "SHA256:new" } : undefined,
  } as unknown as Store;
  const jojo = { nameKey: "jojo", fingerprint: "SHA256:old" } as Session;
  const errors: string[] = [];
  const originalError = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  const ended = Promise.withResolvers<Session>();
  const watch = watchReleases(store, () => [jojo], ended.resolve, 2);
  try {
    assert.equal(await ended.promise, jojo);
  } finally {
    watch.stop();
    console.error = originalError;
  }
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /disk I\/O error/);
});
