import assert from "node:assert/strict";
import type { Reply } from "../../src/client/chat_client.ts";
import { stillPending } from "../../src/client/answer_within.ts";
import { linesOwed } from "../../src/client/lines_owed.ts";
import type { unconfirmedChat } from "../../src/client/unconfirmed_chat.ts";

type Chats = ReturnType<typeof unconfirmedChat>;

/** Chats whose answers the test gives, one line at a time, oldest first. */
function scripted() {
  const answers: ((reply: Reply) => void)[] = [];
  let waiting = 0;
  const chats: Chats = {
    send: () => new Promise((resolve) => answers.push(resolve)),
    follow: () => new Promise((resolve) => answers.push(resolve)),
    retry: () => {},
    turn: () => ({ ready: Promise.resolve(), done: () => {} }),
    pending: () => 0,
    waiting: () => waiting,
    leave: () => {},
  };
  return {
    chats,
    answers,
    setWaiting: (n: number) => (waiting = n),
  };
}

const ok: Reply = { t: "ok", re: 1, text: "" };
const turned = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("linesOwed names a line pending until its answer comes, and the newest not answered as waiting", async () => {
  const { chats, answers, setWaiting } = scripted();
  const owed = linesOwed(chats);
  const command = { kind: "say", text: "x" } as const;
  void owed.send(command); // 1: on its way
  void owed.send(command); // 2: waits
  void owed.send(command); // 3: waits
  setWaiting(2);
  assert.deepEqual([...owed.owed()], [2, 3]);
  // 1 said pending, 2 on its way, 3 waits.
  const late = Promise.withResolvers<Reply>();
  answers[0]!(stillPending("jojo", late.promise));
  setWaiting(1);
  await turned();
  assert.deepEqual([...owed.owed()].sort(), [1, 3]);
  // 1 answered at last, 2 too, and a fourth typed: as many owed as
  // before, but 4 is not a line named then.
  late.resolve(ok);
  answers[1]!(ok);
  void owed.send(command);
  setWaiting(1);
  await turned();
  assert.deepEqual([...owed.owed()], [4]);
});
