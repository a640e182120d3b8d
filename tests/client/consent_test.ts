import assert from "node:assert/strict";
import {
  answerTimeoutMs,
  decideOffer,
  offerQuestion,
  parseAnswer,
  senderKey,
} from "../../src/client/consent.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

const KEY = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
const OFFER: FileOfferNotice = {
  t: "file_offer",
  xfer: 1,
  from: "sophia",
  name: "big.bin",
  size: 20 * 1024 * 1024,
  fingerprint: KEY,
  timeout: 90_000,
};

Deno.test("offerQuestion asks in the issue's words, with always as a whole word", () => {
  assert.equal(
    offerQuestion(OFFER),
    "sophia wants to send you big.bin (20.0 MiB) (.bin: will be saved, not opened). Accept? [y]es / [n]o / always from sophia",
  );
  assert.equal(
    offerQuestion({ ...OFFER, name: "photo.jpg" }),
    "sophia wants to send you photo.jpg (20.0 MiB). Accept? [y]es / [n]o / always from sophia",
  );
  assert.equal(
    offerQuestion({ ...OFFER, group: "team", size: 5 }),
    "sophia wants to send group team big.bin (5 B) (.bin: will be saved, not opened). Accept? [y]es / [n]o / always from sophia",
  );
});

Deno.test("offerQuestion offers always only with a well-formed sender key", () => {
  const { fingerprint: _, ...noKey } = OFFER;
  assert.match(offerQuestion(noKey), /\[n\]o$/);
  assert.match(offerQuestion({ ...OFFER, fingerprint: "x" }), /\[n\]o$/);
  assert.equal(senderKey({ ...OFFER, fingerprint: "SHA256:short" }), null);
  assert.equal(parseAnswer("always", noKey), null);
});

Deno.test("offerQuestion shows the name the file is saved under, and when its kind is not opened", () => {
  // Padding pushes ".exe" off the screen in the offered name; the saved
  // name has none of it.
  const blank = "\u2800".repeat(40);
  assert.equal(
    offerQuestion({ ...OFFER, name: `photo.jpg${blank}.exe`, size: 3 }),
    "sophia wants to send you photo.jpg.exe (3 B) (.exe: will be saved, not opened). Accept? [y]es / [n]o / always from sophia",
  );
  assert.match(
    offerQuestion({ ...OFFER, name: "../../.bashrc" }),
    /send you bashrc \(20\.0 MiB\) \(no extension: will be saved, not opened\)\. /,
  );
  assert.match(
    offerQuestion({ ...OFFER, name: "notes.txt\u202e" }),
    /send you notes\.txt \(20\.0 MiB\)\. Accept/,
  );
});

Deno.test("offerQuestion sanitises what the sender chose", () => {
  const question = offerQuestion({
    ...OFFER,
    name: "\x1b[2Jevil\u202egpj.exe",
  });
  assert.ok(!question.includes("\x1b") && !question.includes("\u202e"));
});

Deno.test("parseAnswer takes y, n, their words and always in any case, and nothing else", () => {
  for (
    const [line, answer] of [
      ["y", "yes"],
      [" YES ", "yes"],
      ["n", "no"],
      ["No", "no"],
      ["always", "always"],
      [" Always ", "always"],
    ] as const
  ) {
    assert.equal(parseAnswer(line, OFFER), answer, line);
  }
  // A single `a` would trust a key for good on one stray keystroke.
  for (const line of ["", "yeah", "ok", "/file x y", "y please", "a", "A"]) {
    assert.equal(parseAnswer(line, OFFER), null, line);
  }
});

Deno.test("decideOffer follows --accept-files, with remembered keys accepted under ask and trusted", () => {
  assert.deepEqual(decideOffer(OFFER, "ask", false), { kind: "ask" });
  assert.equal(decideOffer(OFFER, "ask", true).kind, "accept");
  assert.equal(decideOffer(OFFER, "trusted", true).kind, "accept");
  assert.equal(decideOffer(OFFER, "trusted", false).kind, "decline");
  assert.deepEqual(decideOffer(OFFER, "all", false), {
    kind: "accept",
    note: null,
  });
  assert.deepEqual(decideOffer(OFFER, "none", true), {
    kind: "decline",
    note:
      "Declined big.bin (20.0 MiB) from sophia (--accept-files none; use --accept-files ask to be asked)",
  });
});

Deno.test("decideOffer says 'a file' for an offer whose name has not come (end to end with its key)", () => {
  const hidden = { ...OFFER, name: "(end-to-end)" };
  assert.deepEqual(decideOffer(hidden, "none", false, false), {
    kind: "decline",
    note:
      "Declined a file (20.0 MiB) from sophia (--accept-files none; use --accept-files ask to be asked)",
  });
  const trusted = decideOffer(hidden, "trusted", false, false);
  assert.equal(
    trusted.kind === "decline" ? trusted.note : "",
    "Declined a file (20.0 MiB) from sophia: not a sender you always accept (--accept-files trusted)",
  );
});

Deno.test("decideOffer takes an offer from a server that does not ask only under all", () => {
  const { timeout: _, ...unasked } = OFFER;
  assert.equal(decideOffer(unasked, "all", false).kind, "accept");
  for (const policy of ["ask", "trusted", "none"] as const) {
    const decision = decideOffer(unasked, policy, true);
    assert.equal(decision.kind, "decline", policy);
    assert.match(
      decision.kind === "decline" ? decision.note : "",
      /sends files without asking first/,
    );
  }
});

Deno.test("answerTimeoutMs gives two thirds of the server's wait, at most 60 s", () => {
  assert.equal(answerTimeoutMs({ ...OFFER, timeout: 3000 }), 2000);
  assert.equal(answerTimeoutMs(OFFER), 60_000);
});
