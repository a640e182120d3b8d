import assert from "node:assert/strict";
import {
  formatTransfers,
  sentFileNumber,
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

Deno.test("formatTransfers says what a file waiting to be offered waits for: its place, its turn once it has its place, the connection, its next offer, or one of those under way at once to end", () => {
  const waiting = (
    id: number,
    why: "again" | "place" | "turn" | "many" | "connection",
  ): TransferEntry => ({
    kind: "resend",
    id,
    name: `photo${id}.jpg`,
    to: "nana",
    why,
  });
  assert.deepEqual(
    formatTransfers(
      new TransferNumbers().number([
        waiting(5, "turn"),
        waiting(6, "place"),
        waiting(7, "connection"),
        waiting(8, "again"),
        waiting(9, "many"),
      ]),
    ),
    [
      "File transfers (/cancel N stops one):",
      // Its place is free already. Before, it was listed as waiting for
      // one of the 4 under way to end, as photo6 is.
      "  1. sending photo5.jpg to nana: waiting to offer it, once the file sent before it to them is offered",
      "  2. sending photo6.jpg to nana: waiting to offer it, after one of the 4 under way to them ends",
      "  3. sending photo7.jpg to nana: waiting to offer it once reconnected",
      "  4. sending photo8.jpg to nana: waiting to offer it again, resuming where it stopped",
      // A --json bot's, past the files under way at once.
      "  5. sending photo9.jpg to nana: waiting to offer it, after one of the 8 files under way ends",
    ],
  );
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

Deno.test("TransferNumbers keeps a sent file's number from its wait through its offer and its transfer", () => {
  const numbers = new TransferNumbers();
  const waiting: TransferEntry = {
    kind: "resend",
    id: 7,
    name: "photo5.jpg",
    to: "nana",
    why: "place",
  };
  const n = numbers.number([SENDING, waiting])[1]![0];
  const offered: TransferEntry = {
    kind: "offered",
    offer: 40,
    fileNumber: 7,
    name: "photo5.jpg",
    to: "nana",
  };
  assert.deepEqual(numbers.number([offered]).map(([m]) => m), [n]);
  assert.equal(numbers.get(n), offered);
  const sending: TransferEntry = { ...SENDING, xfer: 9, fileNumber: 7 };
  const cutOff: TransferEntry = { ...waiting, why: "again" };
  assert.deepEqual(numbers.number([sending]).map(([m]) => m), [n]);
  assert.deepEqual(numbers.number([cutOff]).map(([m]) => m), [n]);
  // An offer without a file's number (a library's own) is numbered by itself.
  const unnumbered: TransferEntry = {
    kind: "offered",
    offer: 41,
    name: "notes.zip",
    to: "nana",
  };
  assert.deepEqual(
    numbers.number([cutOff, unnumbered]).map(([m]) => m),
    [n, n + 1],
  );
});

Deno.test("TransferNumbers keeps the number of a file sent between two steps, listed in neither", () => {
  const numbers = new TransferNumbers();
  const waiting: TransferEntry = {
    kind: "resend",
    id: 3,
    name: "photo5.jpg",
    to: "nana",
    why: "place",
  };
  assert.deepEqual(numbers.number([waiting]).map(([n]) => n), [1]);
  // Its key going out: no offer yet, and no longer waiting.
  assert.deepEqual(numbers.number([], [3]), []);
  assert.equal(numbers.get(1), waiting);
  assert.equal(sentFileNumber(numbers.get(1)!), 3);
  const offered: TransferEntry = {
    kind: "offered",
    offer: 12,
    fileNumber: 3,
    name: "photo5.jpg",
    to: "nana",
  };
  assert.deepEqual(numbers.number([offered], [3]).map(([n]) => n), [1]);
  // Ended: forgotten, its number given to no other.
  assert.deepEqual(numbers.number([]), []);
  assert.deepEqual(numbers.number([], [3]), []);
  assert.equal(numbers.get(1), undefined);
  assert.deepEqual(numbers.number([RECEIVING]).map(([n]) => n), [2]);
  assert.equal(sentFileNumber(RECEIVING), undefined);
});
