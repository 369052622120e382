import { describe } from 'vitest';
import { itRefusesBadArguments, runBundled } from './cli-errors.test-util';

// Options are checked before any work, so these runs are quick.
describe('experiment:lamp arguments', () => {
  itRefusesBadArguments((...args) => runBundled('experiment-lamp.ts', ...args), 'experiment:lamp', [
    [['--crop', '48'], "error: --crop must be a multiple of 32 (UNetPipe's size divisor), got 48"],
    [['--batch', '1', '--micro', '2'], 'error: --micro (2) must not exceed --batch (1)'],
    [['--validate', '8x50'], 'error: --validate must be NFxEDGE pairs (n_feat ≥ 2, edge a multiple of 32), e.g. 8x64,8x96; got "8x50"'],
    [['--budget-gb', 'lots'], 'error: --budget-gb must be a number in [0.01, 1024], got "lots"'],
    [['--dice', 'mean'], 'error: --dice must be patch (one Dice per crop) or pooled (one over the batch), got "mean"'],
  ]);
});
