import { RunViewRepository, type RunStatus, type StageRun } from '@heady/db';
import { type Command } from 'commander';
import { withDb } from '../connect.js';
import { type Output, table } from '../output.js';

function ms(a: Date, b: Date | null): string {
  return b ? String(b.getTime() - a.getTime()) : '';
}

/**
 * The compensation steps of a run, in the order they took effect (latest stage first), with
 * their attempts, when, by which process, and a pending compensation's last error.
 */
function compensationTimeline(stages: StageRun[]): string[] {
  const steps = stages
    .filter((s) => s.compensation_attempts > 0 || s.compensated_at)
    .sort(
      (a, b) =>
        (a.compensated_at?.getTime() ?? Number.MAX_SAFE_INTEGER) -
          (b.compensated_at?.getTime() ?? Number.MAX_SAFE_INTEGER) || b.stage_num - a.stage_num,
    );
  if (!steps.length) return [];
  return [
    '',
    'compensation:',
    table(
      ['#', 'stage', 'iter', 'undone', 'attempts', 'at', 'by', 'error'],
      steps.map((s) => [
        String(s.stage_num),
        s.stage_name,
        String(s.iteration),
        s.status === 'COMPENSATED' ? 'yes' : 'no',
        String(s.compensation_attempts),
        s.compensated_at?.toISOString() ?? '-',
        s.compensated_by ?? '',
        s.compensation_error ?? '',
      ]),
    ),
  ];
}

/** `heady runs ls | show <id>`. */
export function runsCommands(program: Command, out: Output): void {
  const runs = program.command('runs').description('inspect runs');
  runs
    .command('show <runId>')
    .description('a run with the timeline of its stages, attempts and errors')
    .action(async (runId: string) => {
      // an operator sees every organization's runs (GET /api/runs/{id} reads the same, scoped)
      const found = await withDb((db) =>
        new RunViewRepository(db).findWithStages(runId, 'all-orgs'),
      ).catch((e: unknown) => {
        if ((e as { code?: string }).code === '22P02') return undefined; // not a uuid
        throw e;
      });
      if (!found) {
        out.fail(`run ${runId} not found`);
        return;
      }
      const { run, stages } = found;
      out.result(found, () =>
        [
          `run ${run.id}  ${run.status}`,
          `action ${run.action} → group ${run.service_group}   seed ${run.seed}   classification ${run.classification}`,
          `created ${run.created_at.toISOString()}   finished ${run.finished_at?.toISOString() ?? '-'}   ${run.trace_id ? `trace ${run.trace_id}` : ''}`,
          ...(run.error ? [`error: ${run.error}`] : []),
          '',
          table(
            ['#', 'stage', 'iter', 'status', 'attempts', 'ms', 'error'],
            stages.map((s) => [
              String(s.stage_num),
              s.stage_name,
              String(s.iteration),
              s.status,
              String(s.attempts),
              ms(s.started_at, s.finished_at),
              s.error ?? '',
            ]),
          ),
          ...compensationTimeline(stages),
          '',
          `result: ${JSON.stringify(run.result)}`,
        ].join('\n'),
      );
    });
  runs
    .command('ls')
    .description('most recent runs of every organization (operators see all)')
    .option('-n, --limit <n>', 'how many', '20')
    .option(
      '-s, --status <status>',
      'only runs in this status (PENDING, RUNNING, SUCCEEDED, FAILED, COMPENSATED, CANCELLED)',
    )
    .option('--org <name>', "only this organization's runs")
    .action(async (opts: { limit: string; status?: string; org?: string }) => {
      const rows = await withDb((db) =>
        new RunViewRepository(db).listRecent({
          limit: Math.min(Number(opts.limit) || 20, 1000),
          // not checked here: an unknown status lists no run
          ...(opts.status ? { status: opts.status.toUpperCase() as RunStatus } : {}),
          ...(opts.org ? { org: opts.org } : {}),
        }),
      );
      out.result(rows, (v) =>
        table(
          ['run', 'org', 'action', 'group', 'status', 'created', 'ms'],
          v.map((r) => [
            r.id,
            r.org ?? '-',
            r.action,
            r.service_group,
            r.status,
            r.created_at.toISOString(),
            ms(r.created_at, r.finished_at),
          ]),
        ),
      );
    });
}
