import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DeadlineExceededError, withDeadline } from './deadline.js';

/** Keeps the event loop busy for `ms` (a process behind on a loaded core). */
function block(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* busy */
  }
}

describe('withDeadline', () => {
  it('resolves with the answer that comes in time', async () => {
    await expect(withDeadline(Promise.resolve(7), 50)).resolves.toBe(7);
  });

  it('passes on the error of the work', async () => {
    await expect(withDeadline(Promise.reject(new Error('boom')), 50)).rejects.toThrow('boom');
  });

  it('gives up when no answer comes', async () => {
    await expect(withDeadline(new Promise<never>(() => {}), 20)).rejects.toBeInstanceOf(
      DeadlineExceededError,
    );
  });

  it('takes an answer that arrived while the process was behind, past the deadline', async () => {
    // The answer is real I/O (a child's output on a pipe, 50 ms in) that lands while this
    // process is busy for 300 ms. libuv then runs the due timers before it reads the pipe
    // again, exactly as when a gateway is behind on a burst and its Redis reply waits in the
    // socket: the answer that is there must still win over the 20 ms deadline.
    const child = spawn('/bin/sh', ['-c', 'sleep 0.05; echo late but there']);
    const answer = new Promise<string>((resolve) => {
      child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()));
    });
    const guarded = withDeadline(answer, 20);
    setImmediate(() => block(300));
    await expect(guarded).resolves.toBe('late but there');
  });
});
