import { type KnowledgeReceipt } from '@heady/contracts';
import { Inject, Injectable } from '@nestjs/common';
import { IngestService } from '../documents/ingest.service.js';
import { type FinishedRun, FinishedRunsRepository } from './finished-runs.repository.js';
import { KnowledgeSettingsRepository } from './knowledge-settings.repository.js';

/** The run's question and answer as a document's text: strings as they are, anything else as JSON. */
export function runText(run: Pick<FinishedRun, 'input' | 'result'>): string {
  const show = (v: unknown): string =>
    typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v, null, 2);
  const input = run.input as { prompt?: unknown; text?: unknown; messages?: unknown };
  const question = show(input.prompt ?? input.text ?? input.messages ?? run.input);
  const answer = show(run.result.output);
  return answer ? `# Question\n${question}\n\n# Answer\n${answer}` : '';
}

/**
 * PIPELINE documents: each succeeded run of an organization that opted in
 * (`knowledge_settings.pipeline_results`) is stored as a document (source id = run id, title =
 * action, metadata = run id, action, finished at). RESTRICTED runs are never stored, whatever
 * the opt-in: their answers must not leave the run.
 */
@Injectable()
export class PipelineResultsService {
  constructor(
    @Inject(FinishedRunsRepository) private readonly runs: FinishedRunsRepository,
    @Inject(KnowledgeSettingsRepository) private readonly settings: KnowledgeSettingsRepository,
    @Inject(IngestService) private readonly ingestion: IngestService,
  ) {}

  /** Stores a succeeded run's result when its organization opted in; the receipt, or why not. */
  async take(runId: string): Promise<KnowledgeReceipt | 'not-found' | 'skipped'> {
    const run = await this.runs.find(runId);
    if (!run?.orgId) return 'not-found';
    if (run.status !== 'SUCCEEDED' || run.classification === 'RESTRICTED') return 'skipped';
    if (!(await this.settings.get(run.orgId)).pipelineResults) return 'skipped';
    const [receipt] = await this.ingestion.ingestEach(run.orgId, 'PIPELINE', [
      {
        sourceId: run.id,
        title: run.action,
        content: runText(run),
        metadata: {
          runId: run.id,
          action: run.action,
          finishedAt: run.finishedAt?.toISOString() ?? null,
        },
      },
    ]);
    return receipt as KnowledgeReceipt;
  }

  settingsOf(orgId: string): Promise<{ pipelineResults: boolean }> {
    return this.settings.get(orgId);
  }

  async change(orgId: string, pipelineResults: boolean): Promise<void> {
    await this.settings.set(orgId, pipelineResults);
  }
}
