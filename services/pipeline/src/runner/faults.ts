import { PermanentError, RetryableError } from '@heady/bus';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';

/** One injected fault (`options.faults` on a run, honoured only with HEADY_FAULTS=1). */
export const faultSpec = z
  .object({
    stage: z.string().min(1),
    mode: z.enum([
      'transient',
      'permanent',
      'crash',
      'delay',
      'compensation',
      'compensation-crash',
    ]),
    /**
     * Attempts the fault hits (1..times); transient, crash, delay and compensation-crash default
     * to 1, permanent to every one. For `compensation`, times makes the first `times` attempts of
     * the compensation fail transiently; without it every attempt fails permanently.
     */
    times: z.number().int().min(1).max(100).optional(),
    ms: z.number().int().min(0).max(600_000).optional(),
    /** `delay` only: the sleep stops when the run is cancelled or past its deadline (a stage honouring its signal). */
    cancellable: z.boolean().optional(),
  })
  .strict();
export type FaultSpec = z.infer<typeof faultSpec>;
export const faultList = z.array(faultSpec).max(20);

/** The faults a run's options carry (an unreadable list is none: the gateway validated it). */
export function faultsOf(options: unknown): FaultSpec[] {
  const parsed = faultList.safeParse((options as { faults?: unknown } | null)?.faults);
  return parsed.success ? parsed.data : [];
}

/**
 * A crash fault: SIGKILLs this process when `mayKill` (NODE_ENV=test only), else fails the
 * attempt permanently, so no client request can kill a development or production process.
 */
function crash(mayKill: boolean, where: string): void {
  if (!mayKill)
    throw new PermanentError(
      `injected crash at ${where} refused: SIGKILL only under NODE_ENV=test`,
    );
  process.kill(process.pid, 'SIGKILL');
}

/**
 * Applies the faults aimed at `stage` on this attempt: throws, sleeps or kills the process
 * (the last only when `mayKill`, i.e. `config.faultsMayKill`).
 */
export async function injectFaults(
  faults: FaultSpec[],
  stage: string,
  attempt: number,
  signal?: AbortSignal,
  mayKill = false,
): Promise<void> {
  for (const f of faults) {
    if (f.stage !== stage) continue;
    switch (f.mode) {
      case 'transient':
        if (attempt <= (f.times ?? 1))
          throw new RetryableError(`injected transient fault (attempt ${attempt})`);
        break;
      case 'permanent':
        if (attempt <= (f.times ?? Number.MAX_SAFE_INTEGER))
          throw new PermanentError('injected permanent fault');
        break;
      case 'crash':
        if (attempt <= (f.times ?? 1)) crash(mayKill, stage);
        break;
      case 'delay':
        if (attempt <= (f.times ?? 1))
          await sleep(f.ms ?? 1_000, undefined, f.cancellable && signal ? { signal } : {});
        break;
      case 'compensation':
      case 'compensation-crash':
        // aimed at the stage's compensation, not its invoke
        break;
    }
  }
}

/**
 * Applies the faults aimed at `stage`'s compensation on its `attempt`-th attempt: `compensation`
 * fails it (transiently on attempts 1..times, permanently on every one without times),
 * `compensation-crash` SIGKILLs the process on attempts 1..times (default 1) when `mayKill`.
 */
export function injectCompensationFaults(
  faults: FaultSpec[],
  stage: string,
  attempt: number,
  mayKill = false,
): void {
  for (const f of faults) {
    if (f.stage !== stage) continue;
    if (f.mode === 'compensation') {
      if (f.times === undefined)
        throw new PermanentError(`injected compensation fault at ${stage}`);
      if (attempt <= f.times)
        throw new RetryableError(
          `injected transient compensation fault at ${stage} (attempt ${attempt})`,
        );
    } else if (f.mode === 'compensation-crash' && attempt <= (f.times ?? 1)) {
      crash(mayKill, `${stage}'s compensation`);
    }
  }
}
