import assert from "node:assert/strict";
import { RemoteRecipients } from "../../src/server/remote_recipients.ts";

Deno.test("RemoteRecipients gives each user elsewhere one negative stand-in id, and knows who it stands for", () => {
  const recipients = new RemoteRecipients();
  const bob = recipients.idOf("Bob", "bob");
  const carol = recipients.idOf("carol", "carol");
  assert.ok(bob < 0 && carol < 0 && bob !== carol);
  assert.equal(recipients.idOf("BOB", "bob"), bob);
  assert.deepEqual(recipients.get(bob), { name: "BOB", nameKey: "bob" });
  assert.equal(recipients.byKey("carol"), carol);
  assert.equal(recipients.get(1), undefined);
  assert.equal(recipients.byKey("dave"), undefined);
});
