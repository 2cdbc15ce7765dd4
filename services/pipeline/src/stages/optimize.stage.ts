import { defineStage } from './stage.js';

/** Stage 6. Bookkeeping: the pattern engine arrives later. */
export const optimize = defineStage({ name: 'optimize' }, () =>
  Promise.resolve({ output: { patternEngine: 'not installed' } }),
);
