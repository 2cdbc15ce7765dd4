import { describe, expect, it } from 'vitest';
import { table } from './output.js';

describe('table', () => {
  it('pads every column to its widest cell', () => {
    expect(
      table(
        ['a', 'bb'],
        [
          ['xxx', 'y'],
          ['z', ''],
        ],
      ),
    ).toBe('a    bb\nxxx  y\nz');
  });
});
