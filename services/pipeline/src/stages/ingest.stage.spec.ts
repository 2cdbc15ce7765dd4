import { PermanentError } from '@heady/bus';
import { type StageInput } from './stage.js';
import { describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES, ingest } from './ingest.stage.js';

const input = (value: unknown) => ({ run: { input: value } }) as unknown as StageInput;

describe('ingest stage', () => {
  it('records the size and fields of a valid input', async () => {
    await expect(ingest.invoke(input({ b: 1, a: 'x' }))).resolves.toMatchObject({
      output: { fields: ['a', 'b'], inputBytes: 15 },
    });
  });
  it('fails permanently on an input over the size limit', async () => {
    await expect(ingest.invoke(input({ x: 'a'.repeat(MAX_INPUT_BYTES) }))).rejects.toBeInstanceOf(
      PermanentError,
    );
  });
  it('fails permanently on an input that is not an object', async () => {
    await expect(ingest.invoke(input([1, 2]))).rejects.toBeInstanceOf(PermanentError);
  });
});
