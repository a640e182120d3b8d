import assert from "node:assert/strict";
import {
  type Asker,
  askFirstContact,
  FIRST_CONTACT_QUESTION,
  firstContactLines,
  firstContactRefusal,
  parseFirstContactAnswer,
  TYPED_AHEAD_NOTE,
} from "../../src/client/first_contact.ts";
import { ANSWER_GUARD_MS } from "../../src/client/offer_prompts.ts";

const FP = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
const OTHER = "SHA256:rB/WMu3IX0cdNkPCFb+HUN1RkEt+fBNXNdi0hBVsJAs";

/** An asker that answers from a list (null: end of input) and records everything. */
function scripted(answers: (string | null)[]): Asker & {
  printed: string[];
  asked: string[];
} {
  const printed: string[] = [];
  const asked: string[] = [];
  return {
    printed,
    asked,
    print: (line) => printed.push(line),
    question: (prompt) => {
      asked.push(prompt);
      if (answers.length === 0) {
        throw new Error(`unexpected question ${prompt}`);
      }
      return Promise.resolve(answers.shift()!);
    },
  };
}

/** A clock that moves on by ANSWER_GUARD_MS each time it is read: every answer comes late enough. */
let ticks = 0;
const late = () => (ticks += ANSWER_GUARD_MS);

Deno.test("askFirstContact takes no answer typed ahead, nor one within ANSWER_GUARD_MS of the question", async () => {
  const asker = Object.assign(scripted(["yes", "yes", "no"]), {
    discardTypedAhead: () => 2,
  });
  let clock = 0;
  const answers = [ANSWER_GUARD_MS - 1, ANSWER_GUARD_MS - 1, ANSWER_GUARD_MS];
  const now = () => {
    const at = clock;
    clock = answers.shift() ?? clock;
    return at;
  };
  assert.equal(await askFirstContact(asker, "h:1", FP, now), false);
  // Once for the lines dropped before the question, once per early answer.
  assert.deepEqual(asker.printed.slice(3), Array(3).fill(TYPED_AHEAD_NOTE));
  assert.deepEqual(asker.asked, Array(3).fill(FIRST_CONTACT_QUESTION));
});

Deno.test("parseFirstContactAnswer reads yes, no and fingerprints as ssh does", () => {
  const table: [string, string][] = [
    ["yes", "yes"],
    ["YES", "yes"],
    [" Yes ", "yes"],
    ["no", "no"],
    ["No", "no"],
    [FP, "yes"],
    [FP.slice("SHA256:".length), "yes"],
    [`${FP}=`, "yes"],
    [OTHER, "mismatch"],
    ["y", "unclear"],
    ["n", "unclear"],
    ["yes please", "unclear"],
    ["", "unclear"],
    ["SHA256:short", "unclear"],
  ];
  for (const [answer, kind] of table) {
    assert.equal(parseFirstContactAnswer(answer, FP).kind, kind, answer);
  }
});

Deno.test("askFirstContact shows the host and fingerprint and accepts yes", async () => {
  const asker = scripted(["yes"]);
  assert.equal(await askFirstContact(asker, "10.0.0.5:8767", FP, late), true);
  assert.deepEqual(asker.printed, [
    "The authenticity of host '10.0.0.5:8767' can't be established.",
    `Server key fingerprint is ${FP}.`,
    "Compare it with the fingerprint 'chat serve' printed on the server, or ask its operator.",
  ]);
  assert.deepEqual(asker.asked, [FIRST_CONTACT_QUESTION]);
  assert.equal(
    FIRST_CONTACT_QUESTION,
    "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
  );
});

Deno.test("askFirstContact refuses on no and at the end of input", async () => {
  assert.equal(await askFirstContact(scripted(["no"]), "h:1", FP, late), false);
  assert.equal(await askFirstContact(scripted([null]), "h:1", FP, late), false);
});

Deno.test("askFirstContact asks again until the answer is clear", async () => {
  const asker = scripted(["y", "", "sure", "yes"]);
  assert.equal(await askFirstContact(asker, "h:1", FP, late), true);
  assert.equal(asker.asked.length, 4);
  assert.deepEqual(
    asker.asked.slice(1),
    Array(3).fill("Please type 'yes', 'no' or the fingerprint: "),
  );
});

Deno.test("askFirstContact accepts the matching fingerprint and refuses another one", async () => {
  assert.equal(await askFirstContact(scripted([FP]), "h:1", FP, late), true);
  const asker = scripted([OTHER]);
  assert.equal(await askFirstContact(asker, "h:1", FP, late), false);
  assert.match(
    asker.printed.at(-1)!,
    /^That is not the fingerprint of the key h:1 presents \(SHA256:47DE.*\): someone may be intercepting the connection\.$/,
  );
});

Deno.test("firstContactLines and firstContactRefusal name the host and fingerprint; the refusal says what to pass", () => {
  assert.ok(firstContactLines("h:1", FP).some((line) => line.includes(FP)));
  const refusal = firstContactRefusal("10.0.0.5:8767", FP);
  assert.match(
    refusal,
    /^The authenticity of host '10\.0\.0\.5:8767' can't be established/,
  );
  assert.ok(refusal.includes(FP));
  assert.ok(refusal.includes("stdin is not a terminal"));
  assert.ok(
    refusal.endsWith(
      "pass the server's public key with --pub FILE, or --trust-first-use to trust the key it presents now",
    ),
  );
});
