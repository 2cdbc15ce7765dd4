import { defineStage } from './stage.js';

/** Stage 5. Bookkeeping: with no model output there is nothing to score yet. */
export const selfCritique = defineStage({ name: 'self-critique' }, ({ cmd }) =>
  Promise.resolve({ output: { scored: false, iteration: cmd.iteration } }),
);
