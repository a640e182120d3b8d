import assert from "node:assert/strict";
import {
  formatTransfers,
  type TransferEntry,
  TransferNumbers,
} from "../../src/client/transfers_view.ts";

const SENDING: TransferEntry = {
  kind: "sending",
  xfer: 3,
  name: "big.bin",
  to: "jojo",
  done: 512 * 1024,
  size: 1024 * 1024,
  resumedAt: 0,
};
const RECEIVING: TransferEntry = {
  kind: "receiving",
  xfer: 4,
  name: "photo\x1b[31m.jpg",
  from: "sophia",
  done: 3 * 1024 * 1024,
  size: 4 * 1024 * 1024,
  resumedAt: 2 * 1024 * 1024,
};
const RESUMABLE: TransferEntry = {
  kind: "resumable",
  key: "a".repeat(32),
  name: "old.iso",
  from: "nana",
  done: 1024,
  size: 4096,
  modified: 0,
};

Deno.test("formatTransfers lists each kind with progress, sanitised names and where it resumed", () => {
  const numbers = new TransferNumbers();
  assert.deepEqual(
    formatTransfers(numbers.number([SENDING, RECEIVING, RESUMABLE])),
    [
      "File transfers (/cancel N stops one):",
      "  1. sending big.bin to jojo: 512.0 KiB of 1.0 MiB (50%)",
      "  2. receiving photo^[[31m.jpg from sophia: 3.0 MiB of 4.0 MiB (75%), resumed at 2.0 MiB",
      "  3. resumable old.iso from nana: 1.0 KiB of 4.0 KiB (25%) kept; resumes when they send it again",
    ],
  );
  assert.deepEqual(formatTransfers(numbers.number([])), [
    "No file transfers.",
  ]);
});

Deno.test("TransferNumbers keeps a transfer's number while it is listed and never reuses one", () => {
  const numbers = new TransferNumbers();
  numbers.number([SENDING, RECEIVING]);
  const again = numbers.number([RECEIVING, RESUMABLE]);
  assert.deepEqual(again.map(([n, e]) => [n, e.kind]), [
    [2, "receiving"],
    [3, "resumable"],
  ]);
  assert.equal(numbers.get(1), undefined);
  assert.equal(numbers.get(3), RESUMABLE);
  assert.deepEqual(numbers.number([SENDING]).map(([n]) => n), [4]);
});
