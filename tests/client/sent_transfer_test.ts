import assert from "node:assert/strict";
import {
  cancelledByYou,
  freshTransfer,
  heardOfTransfer,
  isSettled,
  refusedOffer,
  transferOutcome,
} from "../../src/client/sent_transfer.ts";

Deno.test("heardOfTransfer keeps the highest ack, each verdict and the first reason to stop, waking the loop each time", () => {
  const transfer = freshTransfer(0);
  let woken = 0;
  transfer.wake = () => woken++;
  heardOfTransfer(transfer, { t: "file_progress", xfer: 1, acked: 10 });
  heardOfTransfer(transfer, { t: "file_progress", xfer: 1, acked: 5 });
  heardOfTransfer(transfer, {
    t: "file_result",
    xfer: 1,
    name: "bob",
    ok: false,
    reason: "bob disconnected",
    resumable: true,
  });
  heardOfTransfer(transfer, { t: "file_cancel", xfer: 1, reason: "first" });
  heardOfTransfer(transfer, { t: "file_cancel", xfer: 1, reason: "second" });
  assert.equal(transfer.acked, 10);
  assert.deepEqual(transfer.results.get("bob"), {
    name: "bob",
    ok: false,
    reason: "bob disconnected",
    resumable: true,
  });
  assert.equal(transfer.cancelled, "first");
  assert.equal(woken, 5);
});

Deno.test("cancelledByYou posts one file_cancel and marks the transfer stopped by this user; a second is refused", () => {
  const transfers = new Map([[7, freshTransfer(0)]]);
  const posted: unknown[] = [];
  assert.equal(cancelledByYou(transfers, 7, (m) => posted.push(m)), true);
  assert.equal(cancelledByYou(transfers, 7, (m) => posted.push(m)), false);
  assert.equal(cancelledByYou(transfers, 8, (m) => posted.push(m)), false);
  assert.deepEqual(posted, [{
    t: "file_cancel",
    xfer: 7,
    reason: "cancelled",
  }]);
  assert.equal(transfers.get(7)!.cancelled, "you cancelled it");
  assert.equal(transfers.get(7)!.byYou, true);
  assert.equal(isSettled(transfers.get(7)!, 1), true);
});

Deno.test("transferOutcome is finished once everyone answered, else cancelled with each recipient not heard from given the reason", () => {
  const done = freshTransfer(0);
  done.results.set("bob", { name: "bob", ok: true, reason: "" });
  done.results.set("zed", { name: "zed", ok: true, reason: "" });
  assert.deepEqual(
    transferOutcome(done, {
      name: "a.txt",
      size: 3,
      recipients: ["bob"],
      everyone: 2,
    }),
    {
      kind: "finished",
      name: "a.txt",
      size: 3,
      results: [
        { name: "bob", ok: true, reason: "" },
        { name: "zed", ok: true, reason: "" },
      ],
    },
  );
  const broken = freshTransfer(0);
  broken.cancelled = "disconnected";
  broken.broken = true;
  assert.deepEqual(
    transferOutcome(broken, {
      name: "a.txt",
      size: 3,
      recipients: ["bob"],
      everyone: 1,
    }),
    {
      kind: "cancelled",
      name: "a.txt",
      reason: "disconnected",
      results: [{ name: "bob", ok: false, reason: "disconnected" }],
      broken: true,
    },
  );
});

Deno.test("refusedOffer names the file by its real name and keeps the error's code", () => {
  assert.deepEqual(
    refusedOffer(
      {
        t: "error",
        re: 1,
        code: "no_such_user",
        text: "ERROR: (end-to-end) not sent",
      },
      "(end-to-end)",
      "a.txt",
    ),
    { kind: "refused", text: "ERROR: a.txt not sent", code: "no_such_user" },
  );
});
