import { defineStage } from './stage.js';

/**
 * Stage 3. Records the planned tasks. Dispatch to `work.<group>` executors (bounded by
 * `maxConcurrentTasks`) arrives with the workers service; until then it says so.
 */
export const execute = defineStage({ name: 'execute' }, ({ run, config }) =>
  Promise.resolve({
    output: {
      dispatched: 0,
      maxConcurrentTasks: config.maxConcurrentTasks,
      note: `no executor for group "${run.service_group}" is installed in this build; nothing was sent to work.${run.service_group}`,
    },
  }),
);
