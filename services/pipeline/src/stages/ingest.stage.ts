import { MAX_RUN_INPUT_BYTES } from '@heady/config';
import { defineStage, permanentFailure } from './stage.js';

/** Largest input a run may carry, in bytes of JSON (the gateway refuses larger ones first). */
export const MAX_INPUT_BYTES = MAX_RUN_INPUT_BYTES;

/**
 * Stage 1. Validates the payload: an object within the size limit. Schema checks per
 * action and context retrieval (vector memory, knowledge vault) arrive with those services.
 */
export const ingest = defineStage({ name: 'ingest' }, ({ run }) => {
  const bytes = Buffer.byteLength(JSON.stringify(run.input));
  if (typeof run.input !== 'object' || Array.isArray(run.input)) {
    permanentFailure('run input must be a JSON object');
  }
  if (bytes > MAX_INPUT_BYTES) {
    permanentFailure(`run input is ${bytes} bytes; the limit is ${MAX_INPUT_BYTES}`);
  }
  return Promise.resolve({
    output: { inputBytes: bytes, fields: Object.keys(run.input).sort(), contextSources: [] },
    metrics: { inputBytes: bytes },
  });
});
