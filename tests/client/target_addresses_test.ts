import assert from "node:assert/strict";
import {
  expandNames,
  type Resolve,
} from "../../src/client/target_addresses.ts";

/** A resolver that knows `records` (name -> type -> addresses), and asks. */
function resolver(
  records: Record<string, { A?: string[]; AAAA?: string[] }>,
  asked: string[] = [],
): Resolve {
  return (name, type) => {
    asked.push(`${name} ${type}`);
    const found = records[name]?.[type];
    return found === undefined
      ? Promise.reject(new Error(`no ${type} record for ${name}`))
      : Promise.resolve(found);
  };
}

Deno.test("expandNames turns a name with several addresses into one URL per address, IPv4 first", async () => {
  const resolve = resolver({
    "chat.example": { A: ["10.0.0.5", "10.0.0.6"], AAAA: ["fd00::7"] },
  });
  assert.deepEqual(await expandNames(["ws://chat.example:9000"], resolve), [
    "ws://10.0.0.5:9000",
    "ws://10.0.0.6:9000",
    "ws://[fd00::7]:9000",
  ]);
});

Deno.test("expandNames leaves addresses, names with one address or none, localhost and wss:// as they are", async () => {
  const asked: string[] = [];
  const resolve = resolver({
    "one.example": { A: ["10.0.0.5"] },
    "tls.example": { A: ["10.0.0.5", "10.0.0.6"] },
  }, asked);
  const urls = [
    "ws://10.0.0.9:8767",
    "ws://[::1]:8767",
    "ws://localhost:8767",
    "ws://one.example:8767",
    "ws://unknown.example:8767",
    "wss://tls.example:443",
  ];
  assert.deepEqual(await expandNames(urls, resolve), urls);
  assert.deepEqual(asked.sort(), [
    "one.example A",
    "one.example AAAA",
    "unknown.example A",
    "unknown.example AAAA",
  ]);
});

Deno.test("expandNames keeps one URL for an address reached twice", async () => {
  const resolve = resolver({ "chat.example": { A: ["10.0.0.5", "10.0.0.6"] } });
  assert.deepEqual(
    await expandNames(
      ["ws://10.0.0.6:8767", "ws://chat.example:8767"],
      resolve,
    ),
    ["ws://10.0.0.6:8767", "ws://10.0.0.5:8767"],
  );
});
