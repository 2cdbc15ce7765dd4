import { type StageCommand, type StageName } from '@heady/contracts';
import { type Database, type PipelineRun, type Transaction } from '@heady/db';
import { type PipelineConfig } from '@heady/config';

/** What a stage's invoke receives: its run, its command, and the transaction its effects join. */
export interface StageInput {
  run: PipelineRun;
  cmd: StageCommand;
  /** The stage's effects and its SUCCEEDED mark commit together, so a redelivery finds the work done. */
  tx: Transaction<Database>;
  config: PipelineConfig;
}

/** What a stage returns: its output (kept on the stage row) and metrics. */
export interface StageResult {
  output: Record<string, unknown>;
  metrics?: Record<string, number>;
}

/** One of the nine stages: a name, its settings and its work. */
export interface StageDefinition {
  name: StageName;
  invoke(input: StageInput): Promise<StageResult>;
}

/** Declares a stage (Medusa-style, one per file); compensation and retry policies arrive with durable runs. */
export function defineStage(name: StageName, invoke: StageDefinition['invoke']): StageDefinition {
  return {
    name,
    // A stage that throws synchronously fails like one that rejects.
    invoke(input) {
      try {
        return invoke(input);
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)));
      }
    },
  };
}
