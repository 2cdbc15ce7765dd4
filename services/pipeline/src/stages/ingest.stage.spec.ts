import { PermanentError } from '@heady/bus';
import {
  type ContextQuery,
  type ContextRetrieval,
  type RetrievedContext,
} from '../runner/context-retrieval.js';
import { type StageInput } from './stage.js';
import { describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES, ingest } from './ingest.stage.js';

const none: ContextRetrieval = { retrieve: () => Promise.resolve({ passages: [], sources: [] }) };
const input = (value: unknown) =>
  ({ run: { input: value, org_id: 'org-a' }, context: none }) as unknown as StageInput;

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

describe('ingest stage: context', () => {
  const retrieval = (answer: RetrievedContext) => {
    const asked: ContextQuery[] = [];
    const context: ContextRetrieval = {
      retrieve: (q) => {
        asked.push(q);
        return Promise.resolve(answer);
      },
    };
    return { asked, context };
  };
  const run = (input: unknown, extra: object = {}) => ({
    input,
    org_id: 'org-a',
    session_id: null,
    ...extra,
  });
  const passage = {
    kind: 'memory' as const,
    id: 'v1',
    source: 'memory',
    text: 'The launch is on Tuesday.',
    score: 0.8,
  };

  it("asks the run's organization and session for its question and keeps the passages", async () => {
    const { asked, context } = retrieval({
      passages: [passage],
      sources: [{ kind: 'memory', ok: true, passages: 1 }],
    });
    const r = await ingest.invoke({
      run: run({ message: 'When is the launch?' }, { session_id: 's1' }),
      context,
    } as unknown as StageInput);
    expect(asked).toEqual([{ orgId: 'org-a', question: 'When is the launch?', sessionId: 's1' }]);
    expect(r.output).toMatchObject({ context: [passage], contextSources: [{ ok: true }] });
  });
  it('asks nothing for a run without a question, or one that opts out', async () => {
    const { asked, context } = retrieval({ passages: [passage], sources: [] });
    for (const input of [{ texts: ['a'] }, { message: 'hi', memory: false }, { action: 1 }]) {
      const r = await ingest.invoke({ run: run(input), context } as unknown as StageInput);
      expect(r.output).toMatchObject({ context: [], contextSources: [] });
    }
    expect(asked).toEqual([]);
  });
  it('asks nothing for a run of no organization', async () => {
    const { asked, context } = retrieval({ passages: [passage], sources: [] });
    await ingest.invoke({
      run: run({ message: 'hi' }, { org_id: null }),
      context,
    } as unknown as StageInput);
    expect(asked).toEqual([]);
  });
});
