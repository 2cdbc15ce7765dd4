import { MAX_RUN_INPUT_BYTES } from '@heady/config';
import { questionOf } from './plan-tasks.js';
import { defineStage, permanentFailure } from './stage.js';

/** Largest input a run may carry, in bytes of JSON (the gateway refuses larger ones first). */
export const MAX_INPUT_BYTES = MAX_RUN_INPUT_BYTES;

/**
 * Stage 1. Validates the payload (an object within the size limit) and retrieves the context
 * a chat run's question is answered from: the passages of the organization's vector memory
 * (the run's session only, when it has one) most similar to the question. Retrieval never
 * fails the run: a store that does not answer in time is named in `contextSources` and the
 * run goes on without it. What was retrieved is kept on the stage row, so a redelivered or
 * replayed run plans from the same passages.
 */
export const ingest = defineStage({ name: 'ingest' }, async ({ run, context }) => {
  const bytes = Buffer.byteLength(JSON.stringify(run.input));
  if (typeof run.input !== 'object' || Array.isArray(run.input)) {
    permanentFailure('run input must be a JSON object');
  }
  if (bytes > MAX_INPUT_BYTES) {
    permanentFailure(`run input is ${bytes} bytes; the limit is ${MAX_INPUT_BYTES}`);
  }
  const question = questionOf(run.input);
  const retrieved =
    question && run.org_id
      ? await context.retrieve({
          orgId: run.org_id,
          question,
          ...(run.session_id ? { sessionId: run.session_id } : {}),
        })
      : { passages: [], sources: [] };
  return {
    output: {
      inputBytes: bytes,
      fields: Object.keys(run.input).sort(),
      context: retrieved.passages,
      contextSources: retrieved.sources,
    },
    metrics: { inputBytes: bytes, contextPassages: retrieved.passages.length },
  };
});
