// deploy/observability: `promtool check rules` and `promtool test rules` (every alert has a
// unit test), `promtool check config` of the local scrape configuration, runbook links that
// resolve to a heading of docs/operations.md, and only metric names the code exports in the
// rules and the Grafana dashboards. ~5 s. Needs promtool (Debian's `prometheus`).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from './tools.js';

const ROOT = join(import.meta.dirname, '..', '..');
const OBS = join(ROOT, 'deploy', 'observability');
const read = (f: string): string => readFileSync(join(OBS, f), 'utf8');
const promtool = (...args: string[]): string =>
  execFileSync('promtool', args, { cwd: OBS, encoding: 'utf8', stdio: 'pipe' });

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: Record<string, string>;
}
const rules = (): Rule[] =>
  (parse(read('alerts.yml')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** Metric names the code registers (counter/gauge/histogram calls and prom-client names). */
function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.name === 'node_modules' || e.name === 'dist'
        ? []
        : e.isDirectory()
          ? walk(join(dir, e.name))
          : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')
            ? [join(dir, e.name)]
            : [],
    );
  for (const top of ['libs', 'services'])
    for (const pkg of readdirSync(join(ROOT, top))) {
      let files: string[] = [];
      try {
        files = walk(join(ROOT, top, pkg, 'src'));
      } catch {
        continue;
      }
      for (const f of files)
        for (const m of readFileSync(f, 'utf8').matchAll(/'(heady_[a-z_]+)'/g)) names.add(m[1]!);
    }
  return names;
}

/** The heady_* metric names an expression uses, histogram suffixes removed. */
const metricsIn = (expr: string): string[] =>
  [...expr.matchAll(/\b(heady_[a-z_]+)\b/g)].map((m) => m[1]!.replace(/_(bucket|count|sum)$/, ''));

/** GitHub's anchor of a markdown heading. */
const slug = (h: string): string =>
  h
    .trim()
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

describe('deploy/observability', () => {
  beforeAll(() => requireTool('promtool', 'prometheus'));

  it('promtool check rules and check config pass', () => {
    expect(promtool('check', 'rules', 'alerts.yml')).toMatch(/SUCCESS/);
    expect(promtool('check', 'config', 'prometheus-local.yml')).toMatch(/SUCCESS/);
  });

  it('promtool test rules passes, with a test for every alert', () => {
    expect(promtool('test', 'rules', 'alerts.test.yml')).toMatch(/SUCCESS/);
    const tested = new Set(
      [...read('alerts.test.yml').matchAll(/alertname: (\w+)/g)].map((m) => m[1]),
    );
    const alerts = rules().flatMap((r) => (r.alert ? [r.alert] : []));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });

  it('every alert links a runbook entry that exists in docs/operations.md', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    const anchors = new Set([...doc.matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!)));
    for (const r of rules().filter((x) => x.alert)) {
      const url = r.annotations?.runbook_url ?? '';
      expect(url, r.alert).toMatch(/^docs\/operations\.md#/);
      expect(anchors.has(url.split('#')[1]!), `${r.alert} → ${url}`).toBe(true);
    }
  });

  it('rules and dashboards use only metrics the code exports', () => {
    const exported = exportedMetrics();
    const used = rules().flatMap((r) => metricsIn(r.expr));
    const dashboards = readdirSync(join(OBS, 'grafana')).filter((f) => f.endsWith('.json'));
    expect(dashboards.length).toBeGreaterThanOrEqual(4);
    for (const f of dashboards) {
      const d = JSON.parse(read(join('grafana', f))) as {
        uid: string;
        panels: { targets: { expr: string }[] }[];
      };
      expect(d.uid).toMatch(/^heady-/);
      for (const p of d.panels) for (const t of p.targets) used.push(...metricsIn(t.expr));
    }
    expect(used.length).toBeGreaterThan(20);
    expect([...new Set(used)].filter((m) => !exported.has(m))).toEqual([]);
  });

  it('the cluster scrape configuration keeps Heady pods by annotation and labels their service', () => {
    const cfg = parse(read('prometheus.yml')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; relabel_configs: { target_label?: string }[] }[];
    };
    expect(cfg.rule_files).toEqual(['alerts.yml']);
    const heady = cfg.scrape_configs.find((s) => s.job_name === 'heady')!;
    expect(heady.relabel_configs.map((r) => r.target_label)).toContain('service');
    const otel = parse(read('otel-collector.yaml')) as {
      service: { pipelines: { traces: { receivers: string[] } } };
    };
    expect(otel.service.pipelines.traces.receivers).toEqual(['otlp']);
  });
});
