import assert from "node:assert/strict";
import type { Reply } from "../../src/client/chat_client.ts";
import type { Command } from "../../src/client/commands.ts";
import {
  likelyNameForUnknown,
  withLikelyName,
  withLikelyRecipient,
} from "../../src/client/likely_name.ts";

const notOnline = (name: string): Reply => ({
  t: "error",
  re: 3,
  code: "no_such_user",
  text: `ERROR: User '${name}' is not online.`,
});

const noGroup = (name: string): Reply => ({
  t: "error",
  re: 3,
  code: "no_such_group",
  text: `ERROR: Group '${name}' does not exist.`,
});

const msg = (to: string): Command => ({ kind: "msg", to, text: "hi" });

const known = (users: string[], groups: string[] = []) => ({ users, groups });

Deno.test("withLikelyName adds the one name online a slip away to the server's not-online answer", () => {
  assert.deepEqual(
    withLikelyName(
      msg("jojp"),
      notOnline("jojp"),
      known(["sophia", "jojo"]),
      "sophia",
    ),
    {
      ...notOnline("jojp"),
      text: "ERROR: User 'jojp' is not online. Did you mean jojo?",
    },
  );
});

Deno.test("withLikelyName adds the one group a slip away to the server's no-such-group answer of /join, /group and /showgroupmembers", () => {
  const commands: Command[] = [
    { kind: "join", group: "hahq" },
    { kind: "gsay", group: "hahq", text: "hi" },
    { kind: "members", group: "hahq" },
  ];
  for (const command of commands) {
    assert.deepEqual(
      withLikelyName(
        command,
        noGroup("hahq"),
        known(["jojo"], ["haha", "team"]),
        "sophia",
      ),
      {
        ...noGroup("hahq"),
        text: "ERROR: Group 'hahq' does not exist. Did you mean haha?",
      },
      command.kind,
    );
  }
});

Deno.test("withLikelyName leaves the answer as the server said it when no one name is close", () => {
  const cases: [string, string[]][] = [
    ["jojp", ["jojo", "jojq"]], // two as close: no guess
    ["nobody", ["jojo", "nana"]], // none close
    ["sophai", ["sophia"]], // never oneself
    ["jojo", ["JOJO"]], // the name itself, listed though gone
  ];
  for (const [to, online] of cases) {
    const reply = notOnline(to);
    assert.equal(
      withLikelyName(msg(to), reply, known(online), "sophia"),
      reply,
      to,
    );
  }
  // Users are not suggested for groups, nor groups for users.
  const userTypo = notOnline("hahq");
  assert.equal(
    withLikelyName(msg("hahq"), userTypo, known([], ["haha"]), "sophia"),
    userTypo,
  );
  const groupTypo = noGroup("jojp");
  assert.equal(
    withLikelyName(
      { kind: "join", group: "jojp" },
      groupTypo,
      known(["jojo"], []),
      "sophia",
    ),
    groupTypo,
  );
  const other: Reply = {
    t: "error",
    re: 3,
    code: "bad_request",
    text: "ERROR: You cannot message yourself",
  };
  assert.equal(
    withLikelyName(msg("jojp"), other, known(["jojo"]), "sophia"),
    other,
  );
});

Deno.test("withLikelyRecipient adds the name meant to /file's and /groupfile's refusal, and nothing to other outcomes", () => {
  const refused = (
    target: { to: string } | { group: string },
    code: string,
    text: string,
  ) => ({
    type: "file_sent" as const,
    re: 4,
    target,
    outcome: { kind: "refused" as const, text, code },
  });
  const names = known(["sophia", "jojo"], ["haha"]);
  const textOf = (event: ReturnType<typeof refused>) => {
    const { outcome } = withLikelyRecipient(event, names, "sophia");
    return outcome.kind === "refused" ? outcome.text : null;
  };
  assert.equal(
    textOf(
      refused(
        { to: "jojp" },
        "no_such_user",
        "ERROR: User 'jojp' is not online.",
      ),
    ),
    "ERROR: User 'jojp' is not online. Did you mean jojo?",
  );
  assert.equal(
    textOf(
      refused(
        { group: "hahq" },
        "no_such_group",
        "ERROR: Group 'hahq' does not exist.",
      ),
    ),
    "ERROR: Group 'hahq' does not exist. Did you mean haha?",
  );
  // Another refusal, or a group's code for a user: as it was.
  assert.equal(
    textOf(refused({ to: "jojp" }, "too_large", "ERROR: Too large")),
    "ERROR: Too large",
  );
  assert.equal(
    textOf(refused({ to: "hahq" }, "no_such_group", "ERROR: x")),
    "ERROR: x",
  );
});

Deno.test("likelyNameForUnknown names the one name a slip away from a name not known, and none for a name known", () => {
  const names = known(["jojo", "sophia"], ["haha"]);
  assert.equal(likelyNameForUnknown({ to: "jojp" }, names, "sophia"), "jojo");
  assert.equal(
    likelyNameForUnknown({ group: "hahq" }, names, "sophia"),
    "haha",
  );
  // Known (in any case): the name typed is the one meant.
  assert.equal(likelyNameForUnknown({ to: "JOJO" }, names, "sophia"), null);
  assert.equal(likelyNameForUnknown({ group: "haha" }, names, "sophia"), null);
  // Never oneself, never a group for a user, never a guess between two.
  assert.equal(likelyNameForUnknown({ to: "sophiq" }, names, "sophia"), null);
  assert.equal(likelyNameForUnknown({ to: "hahq" }, names, "sophia"), null);
  assert.equal(
    likelyNameForUnknown({ to: "jojp" }, known(["jojo", "jojq"]), "x"),
    null,
  );
});
