import { defineStage } from './stage.js';

/**
 * Stage 2. Records the service group the conductor chose, with its weight and the
 * workflow's task budget, as a one-task graph. Monte Carlo readiness and usage budget
 * reservation arrive with durable runs.
 */
export const plan = defineStage({ name: 'plan' }, async ({ run, cmd, reads, state }) => {
  const weight = await reads.groupWeight(cmd.group);
  const maxConcurrentTasks = await reads.maxConcurrentTasks(run.workflow_id);
  await state.recordGroup(cmd.group);
  return {
    output: {
      group: cmd.group,
      weight: weight ?? null,
      maxConcurrentTasks: maxConcurrentTasks ?? 6,
      tasks: [{ id: 'task-1', action: run.action, group: cmd.group }],
    },
    // no usage budget is reserved yet; the reservation's release keys on the group
    compensation: { group: cmd.group },
  };
});
