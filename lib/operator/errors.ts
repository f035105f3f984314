// What the operator's command refuses: a bad argument, an unknown account, a state that
// forbids the change. Each is said in one plain line on stderr with exit status 1 — the
// message is written for the operator, so it names the account and the rule, never a value
// read from the database beyond the account's state.
export class OperatorError extends Error {
  override name = 'OperatorError';
}

/** A bad argument: the line ends with a pointer to the usage text. */
export class UsageError extends OperatorError {
  override name = 'UsageError';
}
