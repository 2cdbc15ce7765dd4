import { type ModelPrice, priceFor, taskCostMicros } from '@heady/contracts';
import { type TaskRun } from '@heady/db';
import { type RetrievedPassage } from '../runner/context-retrieval.js';
import { defineStage } from './stage.js';

/** A task's answer as the run's result carries it: the text of a chat, the vectors of an embed. */
function answerOf(r: TaskRun) {
  const out = r.output ?? {};
  return {
    taskId: r.task_id,
    kind: r.kind,
    ...(r.kind === 'embed'
      ? { vectors: out.vectors ?? [], dimensions: out.dimensions ?? 0 }
      : { text: out.text ?? '', finishReason: out.finishReason ?? null }),
    provider: r.provider,
    model: r.model,
  };
}

/** What the result says of each retrieved passage: where it is and how close it was. */
function sourcesOf(ingest: unknown) {
  const passages = (ingest as { context?: RetrievedPassage[] } | undefined)?.context ?? [];
  return passages.map(({ kind, id, source, score }) => ({ kind, id, source, score }));
}

interface ExecutedTask {
  provider: string | null;
  model: string | null;
  promptTokens: number;
  completionTokens: number;
}

/** Execute's output with each task's cost (micro-dollars, from the price table) and their sum. */
function withCosts(execution: unknown, prices: readonly ModelPrice[]): unknown {
  const e = execution as { tasks?: ExecutedTask[] } | null;
  if (!e?.tasks) return execution ?? null;
  const tasks = e.tasks.map((t) => ({
    ...t,
    costMicros: t.provider
      ? taskCostMicros(
          {
            provider: t.provider,
            model: t.model ?? '',
            promptTokens: t.promptTokens,
            completionTokens: t.completionTokens,
          },
          priceFor(prices, t.provider, t.model ?? ''),
        )
      : 0,
  }));
  return { ...e, tasks, costMicros: tasks.reduce((n, t) => n + t.costMicros, 0) };
}

/**
 * Stage 7. Packages the run's result from what the earlier stages recorded and the answers
 * the workers kept in `task_runs`, and stores it on the run. `output` is the answer: the text
 * when the run had one chat task, else every task's answer in plan order (null for a run
 * with no model work).
 */
export const finalize = defineStage(
  { name: 'finalize' },
  async ({ run, cmd, reads, state }) => {
    const rows = await reads.succeededOutputs(cmd.iteration);
    const outputs = Object.fromEntries(rows.map((r) => [r.stage_name, r.output]));
    const planned = ((outputs.plan as { tasks?: { id: string }[] } | undefined)?.tasks ?? []).map(
      (t) => t.id,
    );
    const byId = new Map((await reads.tasks(cmd.iteration)).map((r) => [r.task_id, r]));
    const answers = planned.flatMap((id) => {
      const r = byId.get(id);
      return r?.status === 'SUCCEEDED' ? [answerOf(r)] : [];
    });
    const only = answers.length === 1 ? answers[0] : undefined;
    const result = {
      action: run.action,
      group: run.service_group,
      seed: run.seed,
      plan: outputs.plan ?? null,
      execution: withCosts(outputs.execute, await reads.prices()),
      recovery: outputs.recover ?? null,
      // the passages the answer was given to work from, attributed (not their text)
      sources: sourcesOf(outputs.ingest),
      model: only?.model ?? null,
      finishReason: only && 'finishReason' in only ? only.finishReason : null,
      output: only && 'text' in only ? only.text : answers.length ? answers : null,
    };
    await state.setResult(result);
    return {
      output: {
        stored: true,
        answers: answers.length,
        resultBytes: Buffer.byteLength(JSON.stringify(result)),
      },
      compensation: { iteration: cmd.iteration },
    };
  },
  async (data: { iteration: number } | null, { state }) => {
    if (!data) return;
    // retract the stored result
    await state.retractResult();
  },
);
