import { defineStage } from './stage.js';

/** Stage 7. Packages the run's result from what the earlier stages recorded, and stores it on the run. */
export const finalize = defineStage(
  { name: 'finalize' },
  async ({ run, cmd, reads, state }) => {
    const rows = await reads.succeededOutputs(cmd.iteration);
    const outputs = Object.fromEntries(rows.map((r) => [r.stage_name, r.output]));
    const result = {
      action: run.action,
      group: run.service_group,
      seed: run.seed,
      plan: outputs.plan ?? null,
      execution: outputs.execute ?? null,
      output: null,
    };
    await state.setResult(result);
    return {
      output: { stored: true, resultBytes: Buffer.byteLength(JSON.stringify(result)) },
      compensation: { iteration: cmd.iteration },
    };
  },
  async (data: { iteration: number } | null, { state }) => {
    if (!data) return;
    // retract the stored result
    await state.retractResult();
  },
);
