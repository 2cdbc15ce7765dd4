import { type RetrievedPassage } from '../runner/context-retrieval.js';
import { planTasks } from './plan-tasks.js';
import { defineStage, permanentFailure } from './stage.js';

/**
 * Stage 2. Turns the run's input into the tasks execute sends to the routed service group's
 * workers (`planTasks`: a chat for a message or a conversation, an embed for texts, or the
 * client's own list), with the group's weight and the workflow's cap on tasks in flight.
 * Chat tasks carry the client's `context` and then the passages ingest retrieved.
 * An input that asks for model work in a shape that cannot run fails the run here, before
 * any provider is called.
 */
export const plan = defineStage({ name: 'plan' }, async ({ run, cmd, reads, state }) => {
  // a RESTRICTED run's answer never travels on the (unsealed, unstored) live token subject
  const ingested = (await reads.succeededOutputs(cmd.iteration)).find(
    (r) => r.stage_name === 'ingest',
  )?.output as { context?: RetrievedPassage[] } | undefined;
  const retrieved = ingested?.context ?? [];
  const tasks = planTasks(run.input, cmd.group, {
    live: run.classification !== 'RESTRICTED',
    retrieved: retrieved.map((p) => ({ source: p.source, text: p.text })),
  });
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
