// This module is browser compatible.

/**
 * The texts of the two `limit` refusals of a sign-in (PROTOCOL 5.8). Both
 * have the code `limit`, and their waits differ: a client reconnecting tells
 * them apart by the text, which the server keeps stable for that.
 *
 * @module
 */

/** A `register` of a name never seen, past its address's new-name rate. */
export const TOO_MANY_NEW_NAMES =
  "ERROR: Too many new names from your address; try again in a few minutes, or sign in with a name you have used before";

/**
 * A sign-in past its address's sign-in rate: each sign-in and its end are
 * news to everyone signed in.
 */
export const TOO_MANY_SIGN_INS =
  "ERROR: Too many sign-ins from your address; try again in a few seconds";
