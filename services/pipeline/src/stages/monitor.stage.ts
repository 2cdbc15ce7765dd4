import { defineStage } from './stage.js';

/** Stage 8. Measures the run (total and per-stage time), then closes it SUCCEEDED. Drift baselines arrive later. */
export const monitor = defineStage({ name: 'monitor' }, async ({ run, reads, state }) => {
  const now = new Date();
  const rows = await reads.succeededTimings();
  const stageMs = Object.fromEntries(
    rows.map((r) => [
      r.stage_name,
      (r.finished_at?.getTime() ?? now.getTime()) - r.started_at.getTime(),
    ]),
  );
  const totalMs = now.getTime() - run.created_at.getTime();
  await state.succeed();
  return { output: { totalMs, stageMs }, metrics: { totalMs } };
});
