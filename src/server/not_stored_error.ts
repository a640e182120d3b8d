// This module is browser compatible.

/**
 * Why a publish failed when the record is certainly not in the log:
 * JetStream answered that it did not store it. Any other failure leaves
 * that unknown: the record may be stored all the same (its acknowledgement
 * lost when NATS went away), so its sender must not be told to type it
 * again.
 */
export class NotStoredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotStoredError";
  }
}
