import { defineStage } from './stage.js';

/**
 * Stage 0. The conductor wrote the run PENDING (claiming its idempotency key) when it
 * accepted it; channel entry admits it into the pipeline: PENDING → RUNNING, start time,
 * and the seed and classification it will carry.
 */
export const channelEntry = defineStage(
  { name: 'channel-entry', retry: { maxAttempts: 5 }, timeoutMs: 10_000 },
  async ({ run, state }) => {
    const admitted = await state.admit();
    return {
      output: {
        admitted,
        seed: run.seed,
        classification: run.classification,
        idempotencyKey: run.request_id,
        sessionId: run.session_id,
      },
      // undo: let the idempotency key name a new run
      compensation: run.request_id ? { requestId: run.request_id } : null,
    };
  },
  async (data: { requestId: string } | null, { state }) => {
    if (typeof data?.requestId !== 'string') return;
    await state.releaseRequestId(data.requestId);
  },
);
