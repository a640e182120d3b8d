/** A `chat connect --json` client driven by commands answered by id (--json mode). */

import assert from "node:assert/strict";
import type { ChatProcess } from "./process.ts";

export type JsonEvent = Record<string, unknown>;

/** A `chat connect --json` client and its commands, answered by id. */
export class Bot {
  readonly chat: ChatProcess;
  #next = 0;

  constructor(chat: ChatProcess) {
    this.chat = chat;
  }

  events(): JsonEvent[] {
    return this.chat.stdout.split("\n").filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as JsonEvent);
  }

  /** Sends a command and resolves with its answering event of `type`. */
  async ask(command: JsonEvent, type: string): Promise<JsonEvent> {
    const id = `q${++this.#next}`;
    await this.chat.write(`${JSON.stringify({ ...command, id })}\n`);
    const answer = new RegExp(
      `^\\{"type":"(${type}|error)","re":"${id}".*$`,
      "m",
    );
    const line = (await this.chat.waitFor(answer))[0];
    const event = JSON.parse(line) as JsonEvent;
    assert.equal(event.type, type, line);
    return event;
  }

  async listed(): Promise<string[]> {
    const users = (await this.ask({ cmd: "list" }, "users")).users as {
      name: string;
    }[];
    return users.map((user) => user.name).sort();
  }

  /** Asks for the list until `wanted` holds, for at most `ms`. */
  async waitForList(
    wanted: (names: string[]) => boolean,
    ms: number,
  ): Promise<string[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const names = await this.listed();
      if (wanted(names)) return names;
      if (Date.now() > deadline) {
        assert.fail(`the list stayed ${JSON.stringify(names)}`);
      }
      // Each answer is a round trip: waiting for the next one is the pace.
    }
  }
}
