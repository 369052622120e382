import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../tests/shared';

/** Through scripts/run-ts.mjs, as `npm run experiment:lamp` does. Options are checked before any work. */
function run(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'scripts/run-ts.mjs'), 'src/cli/experiment-lamp.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
}

describe('experiment:lamp arguments', () => {
  it.each([
    [['--crop', '48'], "error: --crop must be a multiple of 32 (UNetPipe's size divisor), got 48"],
    [['--batch', '1', '--micro', '2'], 'error: --micro (2) must not exceed --batch (1)'],
    [['--validate', '8x50'], 'error: --validate must be NFxEDGE pairs (n_feat ≥ 2, edge a multiple of 32), e.g. 8x64,8x96; got "8x50"'],
    [['--budget-gb', 'lots'], 'error: --budget-gb must be a number in [0.01, 1024], got "lots"'],
  ])('%j → one line, exit 1', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${message}\n`);
  });

  it('an unknown option names itself and the usage on one line', () => {
    const r = run('--bogus');
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: Unknown option '--bogus'; usage: npm run experiment:lamp -- /);
  });
});
