/** Option values of the CLIs, checked with one-line messages that name the option. */

/** A whole number in lo…hi; a missing value is "required" when `usage` is given. */
export function intArg(name: string, text: string | undefined, lo: number, hi: number, usage?: string): number {
  if (text === undefined && usage) throw new Error(`--${name} is required; ${usage}`);
  const v = Number(text);
  if (text === undefined || !/^\d+$/.test(text.trim()) || v < lo || v > hi) throw new Error(`--${name} must be an integer in ${lo}…${hi}, got "${text}"`);
  return v;
}

/** `count` positive numbers separated by commas (any count when null). */
export function positiveNumbers(name: string, text: string, count: number | null): number[] {
  const v = text.split(',').map((s) => Number(s.trim()));
  const what = count === 1 ? 'a positive number' : `${count ?? 'a list of'} positive numbers separated by commas`;
  if ((count !== null && v.length !== count) || v.some((x) => !(x > 0))) throw new Error(`--${name} must be ${what}, got "${text}"`);
  return v;
}
