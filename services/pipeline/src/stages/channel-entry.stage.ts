import { defineStage } from './stage.js';

/**
 * Stage 0. The conductor wrote the run PENDING (claiming its idempotency key) when it
 * accepted it; channel entry admits it into the pipeline: PENDING → RUNNING, start time,
 * and the seed and classification it will carry.
 */
export const channelEntry = defineStage(
  { name: 'channel-entry', retry: { maxAttempts: 5 }, timeoutMs: 10_000 },
  async ({ run, tx }) => {
    const admitted = await tx
      .updateTable('pipeline_runs')
      .set({ status: 'RUNNING', started_at: new Date(), updated_at: new Date() })
      .where('id', '=', run.id)
      .where('status', '=', 'PENDING')
      .returning(['started_at'])
      .executeTakeFirst();
    return {
      output: {
        admitted: !!admitted,
        seed: run.seed,
        classification: run.classification,
        idempotencyKey: run.request_id,
        sessionId: run.session_id,
      },
      // undo: let the idempotency key name a new run
      compensation: run.request_id ? { requestId: run.request_id } : null,
    };
  },
  async (data, { run, tx }) => {
    if (typeof data?.requestId !== 'string') return;
    await tx
      .updateTable('pipeline_runs')
      .set({ request_id: null, updated_at: new Date() })
      .where('id', '=', run.id)
      .where('request_id', '=', data.requestId)
      .execute();
  },
);
