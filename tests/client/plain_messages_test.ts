import assert from "node:assert/strict";
import {
  PlainGroupWarnings,
  plainLookalikeWarning,
  PlainLookalikeWarnings,
  plainPrivateRefusal,
} from "../../src/client/plain_messages.ts";

/** alice uses end-to-end keys; carol is not known to. */
const known = (name: string) => name.toLowerCase() === "alice";

Deno.test("plainPrivateRefusal refuses a plain private message with someone known to use end-to-end keys, either way", () => {
  assert.equal(
    plainPrivateRefusal({ t: "private", from: "alice", ts: 1 }, known),
    "ERROR: A private message from alice came without end-to-end encryption, though alice uses end-to-end keys: the server may have written it, and it is not shown. If alice did send it, it came from a client without their end-to-end keys: ask alice to send it again from one with them",
  );
  // From history: when it was sent says which line it was.
  assert.match(
    plainPrivateRefusal(
      { t: "private", from: "alice", ts: 1, history: true },
      known,
    ) ?? "",
    /^ERROR: A private message from alice \(sent \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\) came without/,
  );
  assert.match(
    plainPrivateRefusal(
      { t: "private", from: "bob", to: "Alice", ts: 1, history: true },
      known,
    ) ?? "",
    /^ERROR: A private message to Alice \(sent [^)]*\) came without .*If you did send it, it went from a client without your end-to-end keys$/,
  );
  assert.equal(
    plainPrivateRefusal({ t: "private", from: "carol", ts: 1 }, known),
    null,
  );
  // Between two others (never sent by an honest server): alice's name on
  // it is checked, whoever the other is.
  assert.equal(
    plainPrivateRefusal(
      { t: "private", from: "alice", to: "carol", ts: 1 },
      known,
      "bob",
    ),
    "ERROR: A private message from alice to carol came without end-to-end encryption, though alice uses end-to-end keys: the server may have written it, and it is not shown",
  );
  // A note to oneself (the viewer, alice, with keys): worded for the viewer.
  assert.equal(
    plainPrivateRefusal({ t: "private", from: "Alice", ts: 1 }, known, "alice"),
    "ERROR: A private message from you to yourself came without end-to-end encryption, though you use end-to-end keys: the server may have written it, and it is not shown. If you did send it, it went from a client without your end-to-end keys",
  );
  assert.equal(
    plainPrivateRefusal({ t: "public", from: "alice", ts: 1 }, known),
    null,
  );
  assert.equal(
    plainPrivateRefusal(
      { t: "group", group: "team", from: "alice", ts: 1 },
      known,
    ),
    null,
  );
});

Deno.test("PlainGroupWarnings warns of a plain group message from a member known to use end-to-end keys, once for each group and member", () => {
  const warnings = new PlainGroupWarnings();
  const group = (from: string, group = "team") =>
    ({ t: "group", group, from, ts: 1 }) as const;
  assert.equal(
    warnings.after(group("alice"), known),
    "WARNING: That message from alice in team came without end-to-end encryption, though alice uses end-to-end keys: the host of the server can read it, and could have written it or any plain one from alice in team after it (said once)",
  );
  // The next ones in that group from her are covered by it, in any case.
  assert.equal(warnings.after(group("alice"), known), null);
  assert.equal(warnings.after(group("ALICE", "Team"), known), null);
  // Another group, or another member with keys, is warned of once too.
  assert.match(warnings.after(group("alice", "crew"), known) ?? "", /in crew/);
  assert.equal(warnings.after(group("carol"), known), null);
  assert.equal(
    warnings.after({ t: "private", from: "alice", ts: 1 }, known),
    null,
  );
});

Deno.test("PlainLookalikeWarnings warns before a plain private or group message from a name that reads like one known by a key, once for each name", () => {
  const warnings = new PlainLookalikeWarnings();
  /** alice is known by a key; a1ice and ALlCE read like her. */
  const lookalikeOf = (name: string) =>
    /^a[1li]{2}ce$/i.test(name) && name.toLowerCase() !== "alice"
      ? "alice"
      : null;
  assert.equal(
    plainLookalikeWarning("a1ice", "alice"),
    "WARNING: a1ice looks like alice, whom this client knows by an identity key, and a1ice's messages come without end-to-end encryption, so no key shows who wrote them: a server gives nobody but alice a name that reads like alice's, so unless alice took a1ice too, the host of this one may be posing as alice. Check with alice before taking a1ice for them (said once)",
  );
  assert.equal(
    warnings.before({ t: "private", from: "a1ice", ts: 1 }, known, lookalikeOf),
    plainLookalikeWarning("a1ice", "alice"),
  );
  // Once for a name, in a group or in private, in any casing.
  assert.equal(
    warnings.before(
      { t: "group", group: "team", from: "A1ICE", ts: 1 },
      known,
      lookalikeOf,
    ),
    null,
  );
  // One bob sent (history): the other side is the look-alike.
  assert.equal(
    warnings.before(
      { t: "private", from: "bob", to: "ALlCE", ts: 1, history: true },
      known,
      lookalikeOf,
    ),
    plainLookalikeWarning("ALlCE", "alice"),
  );
  assert.match(
    warnings.before(
      { t: "group", group: "team", from: "ai1ce", ts: 1 },
      known,
      lookalikeOf,
    ) ?? "",
    /^WARNING: ai1ce looks like alice/,
  );
  // alice herself is refused or warned of otherwise; carol reads like no
  // one; the public room is the host's word under any name.
  for (
    const message of [
      { t: "private", from: "alice", ts: 1 },
      { t: "private", from: "carol", ts: 1 },
      { t: "public", from: "al1ce", ts: 1 },
    ] as const
  ) {
    assert.equal(warnings.before(message, known, lookalikeOf), null);
  }
  // A `to` added under a look-alike's name (the viewer's own, or anyone's)
  // does not pass the sender over.
  for (const to of ["bob", "carol"]) {
    const fresh = new PlainLookalikeWarnings();
    assert.equal(
      fresh.before(
        { t: "private", from: "a1ice", to, ts: 1 },
        (name) => known(name) || name === "bob",
        lookalikeOf,
      ),
      plainLookalikeWarning("a1ice", "alice"),
      to,
    );
  }
  // A name known by a key of its own was checked when it was met.
  assert.equal(
    warnings.before(
      { t: "private", from: "a11ce", ts: 1 },
      (name) => name === "a11ce",
      lookalikeOf,
    ),
    null,
  );
});
