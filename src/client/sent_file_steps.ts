// This module is browser compatible.

/**
 * The files a sender (file_sender.ts, the page's web_files.ts) is at, by
 * the number the user's file has (outgoing_files.ts, files_view.ts), from
 * the start of its send to its end. Between two steps (its key going out
 * before its offer is made, its transfer starting once taken) a file is
 * neither an offer nor a transfer: /cancel then stops it at its next step,
 * and /transfers keeps its number.
 *
 * @module
 */

/** Where a file stands in its send. */
export interface SentFileSteps {
  /** What /cancel stops it as: its offer, or (once taken) its transfer. */
  step: "offer" | "transfer";
  /** Stopped between two steps: it stops at the next. */
  stop: boolean;
  /**
   * Resolves once stopped: a step that waits on something that may not come
   * soon (its key's answer) ends there, not at the next step.
   */
  stopped: Promise<void>;
}

export class SentFiles {
  #files = new Map<number, SentFileSteps & { halt: () => void }>();

  /** File `fileNumber`'s send starts: where it stands, until `end`. */
  start(fileNumber: number): SentFileSteps {
    const halted = Promise.withResolvers<void>();
    const steps = {
      step: "offer" as "offer" | "transfer",
      stop: false,
      stopped: halted.promise,
      halt: () => halted.resolve(),
    };
    this.#files.set(fileNumber, steps);
    return steps;
  }

  /** Its send ended (a later send of the same file is left alone). */
  end(fileNumber: number, steps: SentFileSteps): void {
    if (this.#files.get(fileNumber) === steps) this.#files.delete(fileNumber);
  }

  /** The numbers of the files being sent. */
  numbers(): number[] {
    return [...this.#files.keys()];
  }

  /**
   * Stops file `fileNumber`, between two steps, at its next; what it is
   * stopped as, or null when it is not being sent or already stopping.
   */
  stop(fileNumber: number): "offer" | "transfer" | null {
    const steps = this.#files.get(fileNumber);
    if (steps === undefined || steps.stop) return null;
    steps.stop = true;
    steps.halt();
    return steps.step;
  }
}
