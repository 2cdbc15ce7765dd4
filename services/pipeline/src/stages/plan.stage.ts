import { planTasks } from './plan-tasks.js';
import { defineStage, permanentFailure } from './stage.js';

/**
 * Stage 2. Turns the run's input into the tasks execute sends to the routed service group's
 * workers (`planTasks`: a chat for a message or a conversation, an embed for texts, or the
 * client's own list), with the group's weight and the workflow's cap on tasks in flight.
 * An input that asks for model work in a shape that cannot run fails the run here, before
 * any provider is called.
 */
export const plan = defineStage({ name: 'plan' }, async ({ run, cmd, reads, state }) => {
  // a RESTRICTED run's answer never travels on the (unsealed, unstored) live token subject
  const tasks = planTasks(run.input, cmd.group, { live: run.classification !== 'RESTRICTED' });
  if ('error' in tasks) permanentFailure(tasks.error);
  const weight = await reads.groupWeight(cmd.group);
  const maxConcurrentTasks = await reads.maxConcurrentTasks(run.workflow_id);
  await state.recordGroup(cmd.group);
  return {
    output: {
      group: cmd.group,
      weight: weight ?? null,
      maxConcurrentTasks: maxConcurrentTasks ?? null,
      tasks,
    },
    metrics: { tasks: tasks.length },
    // no usage budget is reserved yet; the reservation's release keys on the group
    compensation: { group: cmd.group },
  };
});
