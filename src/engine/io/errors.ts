/**
 * The one error type readers and writers throw for bad input. Its message always names the
 * file and the reason in one line, so the UI and the CLIs can show it as is.
 */
export class InputError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'InputError';
  }
}
