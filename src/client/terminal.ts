/**
 * The only code that touches stdin and stdout on the client.
 *
 * On a terminal: a readline prompt with history and tab completion, and
 * incoming lines printed above the prompt, which is then redrawn with the
 * partial input intact. Otherwise: plain lines in, plain lines out, so scripts
 * and tests can drive the client.
 */

import process from "node:process";
import readline from "node:readline";

export type Completer = (line: string) => [string[], string];

export interface Terminal {
  /** True when a person is typing (stdin is a terminal). */
  readonly interactive: boolean;
  /** True when output may carry ANSI colour. */
  readonly color: boolean;
  /** Prints a line without garbling what the user is typing. */
  print(line: string): void;
  /** Shows `prompt` and resolves with the next line, or null at end of input. */
  question(prompt: string): Promise<string | null>;
  /** The prompt shown while reading chat input. */
  setPrompt(prompt: string): void;
  /**
   * A status shown in front of the prompt (transfer progress), or null for
   * none. Living in the prompt, it is redrawn with the input, never over it.
   */
  setStatus(status: string | null): void;
  /** Resolves with the next input line, or null at end of input. */
  nextLine(): Promise<string | null>;
  setCompleter(completer: Completer): void;
  close(): void;
}

export function openTerminal(): Terminal {
  const interactive = Deno.stdin.isTerminal();
  const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
  return new ReadlineTerminal(interactive, color);
}

class ReadlineTerminal implements Terminal {
  readonly interactive: boolean;
  readonly color: boolean;
  #rl: readline.Interface;
  #lines: string[] = [];
  #waiting: ((line: string | null) => void) | null = null;
  #ended = false;
  #prompting = false;
  #completer: Completer = (line) => [[], line];
  #prompt = "";
  #status: string | null = null;

  constructor(interactive: boolean, color: boolean) {
    this.interactive = interactive;
    this.color = color;
    this.#rl = readline.createInterface({
      input: process.stdin,
      output: interactive ? process.stdout : undefined,
      terminal: interactive,
      historySize: 1000,
      removeHistoryDuplicates: true,
      completer: (line: string) => this.#completer(line),
    });
    // Lines are queued from the start: a script's whole input may arrive while
    // the client is still connecting.
    this.#rl.on("line", (line) => this.#push(line));
    this.#rl.on("close", () => this.#end());
    this.#rl.on("SIGINT", () => this.#rl.close());
  }

  print(line: string): void {
    if (!this.interactive) {
      process.stdout.write(`${line}\n`);
      return;
    }
    readline.clearLine(process.stdout, 0);
    readline.cursorTo(process.stdout, 0);
    process.stdout.write(`${line}\n`);
    if (this.#prompting) this.#rl.prompt(true);
  }

  question(prompt: string): Promise<string | null> {
    if (this.interactive) {
      this.#rl.setPrompt(prompt);
    } else {
      process.stdout.write(`${prompt}\n`);
    }
    return this.nextLine();
  }

  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    this.#applyPrompt();
  }

  setStatus(status: string | null): void {
    if (!this.interactive || status === this.#status) return;
    this.#status = status;
    this.#applyPrompt();
    if (this.#prompting) this.#rl.prompt(true);
  }

  #applyPrompt(): void {
    this.#rl.setPrompt(
      this.#status === null
        ? this.#prompt
        : `[${this.#status}] ${this.#prompt}`,
    );
  }

  nextLine(): Promise<string | null> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.#ended) return Promise.resolve(null);
    if (this.interactive) {
      this.#prompting = true;
      this.#rl.prompt(true);
    }
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  setCompleter(completer: Completer): void {
    this.#completer = completer;
  }

  close(): void {
    if (this.#prompting) {
      // Leave no dangling prompt behind the last line printed.
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
    }
    this.#prompting = false;
    this.#rl.close();
    // readline leaves stdin referenced; unref it so the process can end.
    process.stdin.pause();
  }

  #push(line: string): void {
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = null;
      this.#prompting = false;
      waiting(line);
    } else {
      this.#lines.push(line);
    }
  }

  #end(): void {
    this.#ended = true;
    this.#prompting = false;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.(null);
  }
}
