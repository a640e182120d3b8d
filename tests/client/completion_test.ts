import assert from "node:assert/strict";
import {
  completeLine,
  completePath,
  pathArgument,
  type PathEntry,
} from "../../src/client/completion.ts";

const tree: Record<string, PathEntry[]> = {
  ".": [
    { name: "notes.txt", isDirectory: false },
    { name: "now.png", isDirectory: false },
    { name: "docs", isDirectory: true },
    { name: ".hidden", isDirectory: false },
  ],
  "docs/": [{ name: "plan.md", isDirectory: false }],
  "/home/s/": [{ name: "photo.jpg", isDirectory: false }],
};
const list = (path: string) => {
  const entries = tree[path];
  if (entries === undefined) throw new Error("NotFound");
  return entries;
};

Deno.test("pathArgument finds the path after /file NAME and /groupfile GROUP", () => {
  assert.equal(pathArgument("/file jojo no"), "no");
  assert.equal(pathArgument("/GROUPFILE haha docs/p"), "docs/p");
  assert.equal(pathArgument("/file jojo "), "");
  assert.equal(pathArgument("/file jojo"), null);
  assert.equal(pathArgument("/msg jojo no"), null);
});

Deno.test("completePath lists matching entries, folders with a slash, hidden only when asked", () => {
  assert.deepEqual(completePath("no", list, null), [
    ["notes.txt", "now.png"],
    "no",
  ]);
  assert.deepEqual(completePath("d", list, null), [["docs/"], "d"]);
  assert.deepEqual(completePath("docs/p", list, null), [
    ["docs/plan.md"],
    "docs/p",
  ]);
  assert.deepEqual(completePath("", list, null)[0], [
    "docs/",
    "notes.txt",
    "now.png",
  ]);
  assert.deepEqual(completePath(".h", list, null)[0], [".hidden"]);
  assert.deepEqual(completePath("~/ph", list, "/home/s")[0], ["~/photo.jpg"]);
  assert.deepEqual(completePath("nope/x", list, null), [[], "nope/x"]);
});

Deno.test("completeLine completes paths for /file and names elsewhere", () => {
  const context = { users: ["jojo"], groups: ["haha"] };
  assert.deepEqual(completeLine("/file jojo no", context, list, null), [
    ["notes.txt", "now.png"],
    "no",
  ]);
  assert.deepEqual(completeLine("/file jo", context, list, null), [
    ["jojo "],
    "jo",
  ]);
  assert.deepEqual(completeLine("/groupfile haha d", context, list, null), [
    ["docs/"],
    "d",
  ]);
});

Deno.test("completeLine completes /query with users and #groups", () => {
  const context = { users: ["jojo", "hana"], groups: ["haha"] };
  assert.deepEqual(completeLine("/query #h", context, list, null), [
    ["#haha "],
    "#h",
  ]);
  assert.deepEqual(completeLine("/query h", context, list, null), [
    ["hana "],
    "h",
  ]);
});
