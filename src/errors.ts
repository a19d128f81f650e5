// One error family for all of Turnout, with stable string codes that callers branch on
// (undici's style). Messages say what went wrong, where, and what to do about it.

export class TurnoutError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
