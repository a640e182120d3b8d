import assert from "node:assert/strict";
import {
  ignoredLines,
  ignoringText,
  unignoredText,
} from "../../src/client/ignore_texts.ts";

const KEY = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

Deno.test("ignoredLines lists each user with how they are ignored", () => {
  assert.deepEqual(ignoredLines([]), ["You are not ignoring anyone"]);
  assert.deepEqual(
    ignoredLines([
      { server: KEY, fingerprint: KEY, name: "jojo" },
      { server: KEY, fingerprint: null, name: "ana" },
    ]),
    ["Ignored:", `  jojo (key ${KEY})`, "  ana (by name)"],
  );
});

Deno.test("ignoringText says by key or by name, and where the list is kept", () => {
  assert.equal(
    ignoringText("jojo", KEY, "remembered in this browser"),
    `Ignoring jojo (key ${KEY}): their messages are not shown, under any name (remembered in this browser). /unignore jojo to see them again`,
  );
  assert.match(ignoringText("ana", null, "x"), /^Ignoring ana by name/);
});

Deno.test("unignoredText says whether anyone was ignored", () => {
  assert.equal(unignoredText("jojo", 1), "jojo's messages are shown again");
  assert.equal(unignoredText("jojo", 0), "ERROR: You are not ignoring jojo");
});
