// Waiting in tests. A test never waits for time to pass (it moves time by writing
// timestamps in the database): it waits only for something to happen, polling for it
// with `until`, which gives up with the test's own message after a generous limit.

/** A pause between two polls; not a way to let time pass. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined or false,
 * and returns that value; throws `what` (a string or a function giving one) after
 * `limitMs`. The limit is a safety net for a hung run, never a measurement.
 */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string | (() => string),
  { everyMs = 20, limitMs = 60_000 } = {},
): Promise<T> {
  const giveUpAt = Date.now() + limitMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > giveUpAt) throw new Error(typeof what === 'string' ? what : what());
    await pause(everyMs);
  }
}
