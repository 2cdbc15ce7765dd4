import { isPermanentError, isRetryableError } from '@heady/bus';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { faultsOf, injectCompensationFaults, injectFaults } from './faults.js';

describe('injectFaults', () => {
  afterEach(() => vi.restoreAllMocks());

  it('never kills the process for a crash fault unless allowed (NODE_ENV=test): the attempt fails permanently', async () => {
    // a stand-in for the signal, so a regression fails this test instead of killing the runner
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => true);
    const faults = faultsOf({
      faults: [
        { stage: 'plan', mode: 'crash' },
        { stage: 'ingest', mode: 'compensation-crash' },
      ],
    });
    const err = await injectFaults(faults, 'plan', 1).catch((e: unknown) => e);
    expect(isPermanentError(err)).toBe(true);
    expect(String(err)).toMatch(/NODE_ENV=test/);
    expect(isPermanentError(catchSync(() => injectCompensationFaults(faults, 'ingest', 1)))).toBe(
      true,
    );
    expect(kill).not.toHaveBeenCalled();
    await injectFaults(faults, 'plan', 1, undefined, true);
    expect(kill).toHaveBeenCalledWith(process.pid, 'SIGKILL');
  });

  it('fails the first `times` attempts of its stage transiently, then lets it through', async () => {
    const faults = faultsOf({ faults: [{ stage: 'plan', mode: 'transient', times: 2 }] });
    for (const attempt of [1, 2]) {
      const err = await injectFaults(faults, 'plan', attempt).catch((e: unknown) => e);
      expect(isRetryableError(err)).toBe(true);
    }
    await expect(injectFaults(faults, 'plan', 3)).resolves.toBeUndefined();
    await expect(injectFaults(faults, 'ingest', 1)).resolves.toBeUndefined();
  });

  it('fails a permanent fault with a PermanentError on every attempt', async () => {
    const faults = faultsOf({ faults: [{ stage: 'execute', mode: 'permanent' }] });
    const err = await injectFaults(faults, 'execute', 7).catch((e: unknown) => e);
    expect(isPermanentError(err)).toBe(true);
  });

  it('reads no faults from options without a valid list', () => {
    expect(faultsOf({})).toEqual([]);
    expect(faultsOf({ faults: [{ stage: 'plan', mode: 'explode' }] })).toEqual([]);
  });
});

describe('cancellable delay', () => {
  it('stops sleeping when the stage signal is aborted; a plain delay ignores it', async () => {
    const stop = new AbortController();
    const cancellable = faultsOf({
      faults: [{ stage: 'execute', mode: 'delay', ms: 60_000, cancellable: true }],
    });
    const slept = injectFaults(cancellable, 'execute', 1, stop.signal);
    stop.abort(new Error('cancelled'));
    await expect(slept).rejects.toThrow();
    const plain = faultsOf({ faults: [{ stage: 'execute', mode: 'delay', ms: 20 }] });
    await expect(injectFaults(plain, 'execute', 1, stop.signal)).resolves.toBeUndefined();
  });
});

describe('injectCompensationFaults', () => {
  it('fails every compensation attempt permanently without times', () => {
    const faults = faultsOf({ faults: [{ stage: 'ingest', mode: 'compensation' }] });
    const err = catchSync(() => injectCompensationFaults(faults, 'ingest', 9));
    expect(isPermanentError(err)).toBe(true);
    expect(catchSync(() => injectCompensationFaults(faults, 'plan', 1))).toBeUndefined();
  });

  it('fails the first `times` compensation attempts transiently, then lets it through', () => {
    const faults = faultsOf({ faults: [{ stage: 'plan', mode: 'compensation', times: 2 }] });
    for (const attempt of [1, 2]) {
      expect(
        isRetryableError(catchSync(() => injectCompensationFaults(faults, 'plan', attempt))),
      ).toBe(true);
    }
    expect(catchSync(() => injectCompensationFaults(faults, 'plan', 3))).toBeUndefined();
  });

  it('leaves the stage invoke alone for compensation faults', async () => {
    const faults = faultsOf({
      faults: [
        { stage: 'plan', mode: 'compensation' },
        { stage: 'plan', mode: 'compensation-crash' },
      ],
    });
    await expect(injectFaults(faults, 'plan', 1)).resolves.toBeUndefined();
  });
});

function catchSync(fn: () => void): unknown {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e;
  }
}
