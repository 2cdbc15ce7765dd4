import { type ConsumerSpec } from '@heady/bus';
import { RUN_SUCCEEDED_PATTERN } from './pipeline-results.controller.js';

/** `knowledge-pipeline` on RUN_EVENTS: succeeded runs, retried on failure, then DLQ. */
export const PIPELINE_RESULTS_CONSUMER: ConsumerSpec = {
  stream: 'RUN_EVENTS',
  durable: 'knowledge-pipeline',
  filterSubject: RUN_SUCCEEDED_PATTERN,
  ackWaitMs: 60_000,
  maxDeliver: 8,
  backoffMs: [500, 2_000, 10_000, 30_000],
};
