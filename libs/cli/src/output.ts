/** Prints either human text or, with `--json`, the value as JSON for scripts. */
export interface Output {
  result<T>(value: T, human: (v: T) => string): void;
  fail(message: string): void;
}

export function createOutput(json: () => boolean): Output {
  return {
    result(value, human) {
      process.stdout.write(
        `${json() ? JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) : human(value)}\n`,
      );
    },
    fail(message) {
      process.stderr.write(`heady: ${message}\n`);
      process.exitCode = 1;
    },
  };
}

/** Resolves once everything written to `stream` so far was handed to the OS. */
export function flushed(stream: NodeJS.WriteStream): Promise<void> {
  // writes complete in order: an empty write's callback runs after every earlier one
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

/**
 * Exits with `code` after stdout and stderr are flushed. `process.exit()` right after a
 * large write to a pipe loses what the pipe could not take yet (64 KiB on Linux), which
 * cut `heady --json … | jq` short.
 */
export async function exitAfterFlush(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** A plain-text table with columns padded to their widest cell. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
