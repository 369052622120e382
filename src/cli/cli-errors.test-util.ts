/** Shared by the CLI tests: running a CLI as its npm script does, and what a refused run must look like. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from '../../tests/shared';

type CliRun = Pick<SpawnSyncReturns<string>, 'status' | 'stdout' | 'stderr'>;

/** Runs `src/cli/<entry>` through scripts/run-ts.mjs, as its npm script does (tfjs gradients need the esbuild bundle). */
export function runBundled(entry: string, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(ROOT, 'scripts/run-ts.mjs'), `src/cli/${entry}`, ...args], { cwd: ROOT, encoding: 'utf8' });
}

/**
 * A refused run (the CLIs' `runCli`): exit 1, nothing on stdout, and one line on stderr — exactly
 * `expected` (with its newline) when a string, matching it when a pattern.
 */
export function expectOneLineError(r: CliRun, expected: string | RegExp): void {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  if (typeof expected === 'string') expect(r.stderr).toBe(`${expected}\n`);
  else expect(r.stderr).toMatch(expected);
}

/**
 * Registers the argument tests every option-parsing CLI shares: each case's arguments are refused with
 * its exact one-line message, and an unknown option names itself and the usage of `npm run <npmScript>`.
 */
export function itRefusesBadArguments(run: (...args: string[]) => CliRun, npmScript: string, cases: [string[], string][]): void {
  it.each(cases)('%j → one line, exit 1', (args, message) => {
    expectOneLineError(run(...args), message);
  });

  it('an unknown option names itself and the usage on one line', () => {
    expectOneLineError(run('--bogus'), new RegExp(`^error: Unknown option '--bogus'; usage: npm run ${npmScript} -- `));
  });
}
