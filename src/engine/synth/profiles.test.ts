import { describe, expect, it } from 'vitest';
import { InputError } from '../io/errors';
import { MODEL_DEFAULTS } from './observers';
import { DEFAULT_PROFILES, parseProfiles } from './profiles';

describe('parseProfiles', () => {
  it('reads an array or { profiles }, filling parameter defaults', () => {
    const text = JSON.stringify([{ name: 'quick', models: [{ kind: 'sliceSkip', every: 4 }, { kind: 'missSmall' }] }]);
    const [p] = parseProfiles(text, 'p.json');
    expect(p.name).toBe('quick');
    expect(p.models).toEqual([
      { kind: 'sliceSkip', every: 4, interpolation: 'shape' },
      { kind: 'missSmall', ...MODEL_DEFAULTS.missSmall },
    ]);
    expect(parseProfiles(JSON.stringify({ profiles: DEFAULT_PROFILES }), 'd.json')).toEqual(DEFAULT_PROFILES);
  });

  it.each([
    ['{', /p\.json: not valid JSON/],
    ['[]', /non-empty array/],
    ['[{"name":"a b","models":[]}]', /name must be/],
    ['[{"name":"a","models":[]},{"name":"a","models":[]}]', /duplicate name "a"/],
    ['[{"name":"a","models":[{"kind":"blur"}]}]', /profile "a" model 1: unknown kind "blur"/],
    ['[{"name":"a","models":[{"kind":"missSmall","probabilty":1}]}]', /unknown parameter "probabilty"/],
    ['[{"name":"a","models":[{"kind":"missSmall","probability":2}]}]', /probability must be a number in \[0, 1\], got 2/],
    ['[{"name":"a","models":[{"kind":"sliceSkip","every":2.5}]}]', /every must be an integer/],
    ['[{"name":"a","models":[{"kind":"sliceSkip","interpolation":"cubic"}]}]', /must be one of none, nearest, shape/],
    ['[{"name":"a","models":[{"kind":"boundaryBias","minMm":2,"maxMm":1}]}]', /minMm must not exceed maxMm/],
    ['[{"name":"a","models":[],"colour":"red"}]', /unknown field "colour"/],
  ])('rejects %s', (text, message) => {
    expect(() => parseProfiles(text, 'p.json')).toThrow(InputError);
    expect(() => parseProfiles(text, 'p.json')).toThrow(message);
  });
});
