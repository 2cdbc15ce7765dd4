// A real Prometheus (Debian's `prometheus`, on a free port with a temporary data directory)
// scrapes a running stack with deploy/observability/alerts.yml; a service is stopped and
// HeadyServiceDown fires through Prometheus's API. The rule file is the committed one with
// only HeadyServiceDown's `for: 5m` shortened to 3 s, so the drill takes seconds.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@heady/testing';
import { withSystem } from '@heady/testing/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../deploy/tools.js';

const OBS = join(import.meta.dirname, '..', '..', 'deploy', 'observability');

interface Alert {
  labels: Record<string, string>;
  state: string;
}

describe('HeadyServiceDown through a real Prometheus', () => {
  const system = withSystem({
    database: 'heady_e2e_prometheus',
    services: ['conductor', 'pipeline', 'gateway'],
  });
  let prometheus: ChildProcess | undefined;
  let dir: string;
  let api: string;

  const alerts = async (): Promise<Alert[]> => {
    const r = await fetch(`${api}/api/v1/alerts`);
    return ((await r.json()) as { data: { alerts: Alert[] } }).data.alerts;
  };
  const until = async <T>(what: string, fn: () => Promise<T | undefined>, ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await fn().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  beforeAll(async () => {
    requireTool('prometheus', 'prometheus');
    dir = mkdtempSync(join(tmpdir(), 'heady-prometheus-'));
    const rules = readFileSync(join(OBS, 'alerts.yml'), 'utf8');
    const short = rules.replace(
      /(- alert: HeadyServiceDown\n\s+expr: [^\n]+\n\s+)for: 5m/,
      '$1for: 3s',
    );
    expect(short).not.toBe(rules);
    writeFileSync(join(dir, 'alerts.yml'), short);
    const { gateway, conductor, pipeline } = system.stack.services;
    const target = (url: string, service: string) => ({
      targets: [new URL(url).host],
      labels: { service },
    });
    writeFileSync(
      join(dir, 'prometheus.yml'),
      JSON.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: ['alerts.yml'],
        scrape_configs: [
          {
            job_name: 'heady',
            static_configs: [
              target(gateway.opsUrl, 'gateway'),
              target(conductor.opsUrl, 'conductor'),
              target(pipeline.opsUrl, 'pipeline'),
            ],
          },
        ],
      }),
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    // every target scraped and up
    await until(
      'three targets up',
      async () => {
        const r = await fetch(`${api}/api/v1/targets`);
        const t = (await r.json()) as { data: { activeTargets: { health: string }[] } };
        const up = t.data.activeTargets.filter((x) => x.health === 'up');
        return up.length === 3 ? true : undefined;
      },
      60_000,
    );
  });

  afterAll(() => {
    prometheus?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // 10 s in CI
  it('fires for the stopped service only', async () => {
    expect((await alerts()).filter((a) => a.labels.alertname === 'HeadyServiceDown')).toEqual([]);
    await system.stack.services.conductor.kill();
    const firing = await until(
      'HeadyServiceDown firing',
      async () => {
        const down = (await alerts()).filter(
          (a) => a.labels.alertname === 'HeadyServiceDown' && a.state === 'firing',
        );
        return down.length ? down : undefined;
      },
      60_000,
    );
    expect(firing.map((a) => a.labels.service)).toEqual(['conductor']);
    expect(firing[0]!.labels.severity).toBe('page');
  }, 90_000);
});
