// deploy/k8s: the committed manifests are the generator's output, every overlay renders with
// `kubectl kustomize`, every object validates against the Kubernetes schemas bundled in
// `kubernetes-models` (and KEDA's CRD schema in `@kubernetes-models/keda`), and every durable
// consumer the code declares has exactly one Deployment (and KEDA trigger) running it.
// ~8 s. Needs kubectl (deploy/local/up.mjs `ensureDeployTools` installs it on Debian).
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   the rendered objects are parsed YAML, checked against their schemas in the test itself */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compensationConsumer, stageConsumer, workConsumer } from '@heady/bus';
import { STAGE_NAMES } from '@heady/contracts';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from './tools.js';

const ROOT = join(import.meta.dirname, '..', '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const OVERLAYS = ['dev', 'staging', 'prod'] as const;

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  data?: Record<string, string>;
}

/** The kubernetes-models module of an apiVersion. */
function modelModule(apiVersion: string): string {
  if (apiVersion === 'keda.sh/v1alpha1') return '@kubernetes-models/keda/keda.sh/v1alpha1';
  return `kubernetes-models/${apiVersion}`;
}

function render(overlay: string): K8sObject[] {
  const out = execFileSync('kubectl', ['kustomize', join(K8S, 'overlays', overlay)], {
    encoding: 'utf8',
  });
  return parseAllDocuments(out).map((d) => d.toJS() as K8sObject);
}

/** Every durable consumer the code declares: the bus's own and the literals in the services. */
function consumersInCode(): string[] {
  const names = new Set<string>([
    ...STAGE_NAMES.flatMap((s) => [stageConsumer(s).durable, compensationConsumer(s).durable]),
    workConsumer().durable,
  ]);
  const services = join(ROOT, 'services');
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? walk(join(dir, e.name))
        : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts')
          ? [join(dir, e.name)]
          : [],
    );
  for (const svc of readdirSync(services))
    for (const f of walk(join(services, svc, 'src')))
      for (const m of readFileSync(f, 'utf8').matchAll(/durable:\s*'([^']+)'/g)) names.add(m[1]!);
  return [...names].sort();
}

describe('deploy/k8s', () => {
  const rendered: Record<string, K8sObject[]> = {};
  beforeAll(() => {
    requireTool('kubectl', 'kubectl');
    for (const o of OVERLAYS) rendered[o] = render(o);
  });

  it('the committed manifests are what deploy/k8s/generate.mjs writes', () => {
    execFileSync(process.execPath, [join(K8S, 'generate.mjs'), '--check'], { stdio: 'pipe' });
  });

  it.each(OVERLAYS)('%s renders and every object validates against its schema', async (o) => {
    const objs = rendered[o]!;
    expect(objs.length).toBeGreaterThan(50);
    const problems: string[] = [];
    for (const obj of objs) {
      const mod = (await import(modelModule(obj.apiVersion))) as Record<
        string,
        new (o: unknown) => { validate(): void }
      >;
      const Model = mod[obj.kind];
      if (!Model) {
        problems.push(`${obj.apiVersion} ${obj.kind}: no schema`);
        continue;
      }
      try {
        new Model(obj).validate();
      } catch (e) {
        problems.push(`${obj.kind}/${obj.metadata.name}: ${(e as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the validator does reject a wrong object (the check is not a no-op)', async () => {
    const { Deployment } = await import('kubernetes-models/apps/v1');
    const bad = structuredClone(rendered.dev!.find((x) => x.kind === 'Deployment')!);
    bad.spec.template.spec.containers[0].ports[0].containerPort = 'ops';
    expect(() => new Deployment(bad as never).validate()).toThrow(/containerPort/);
    const { ScaledObject } = await import('@kubernetes-models/keda/keda.sh/v1alpha1');
    const so = structuredClone(rendered.dev!.find((x) => x.kind === 'ScaledObject')!);
    delete so.spec.scaleTargetRef;
    expect(() => new ScaledObject(so as never).validate()).toThrow(/scaleTargetRef/);
  });

  it('every consumer in the code has exactly one Deployment, and each stage one KEDA trigger', () => {
    const deployments = rendered.prod!.filter((x) => x.kind === 'Deployment');
    const owned = deployments.flatMap((d) =>
      (d.metadata.annotations?.['heady.dev/consumers'] ?? '').split(',').filter(Boolean),
    );
    expect([...owned].sort()).toEqual(consumersInCode());
    // a stage's Deployment runs that stage alone, and its ScaledObject watches its consumers
    const scaled = rendered.prod!.filter((x) => x.kind === 'ScaledObject');
    for (const stage of STAGE_NAMES) {
      const d = deployments.find((x) => x.metadata.name === `pipeline-${stage}`)!;
      const env = d.spec.template.spec.containers[0].env as { name: string; value?: string }[];
      expect(env.find((e) => e.name === 'HEADY_PIPELINE_STAGES')?.value).toBe(stage);
      const so = scaled.filter((x) => x.spec.scaleTargetRef.name === d.metadata.name);
      expect(so).toHaveLength(1);
      expect(
        so[0]!.spec.triggers.map((t: { metadata: Record<string, string> }) => [
          t.metadata.stream,
          t.metadata.consumer,
        ]),
      ).toEqual([
        [stageConsumer(stage).stream, stageConsumer(stage).durable],
        [compensationConsumer(stage).stream, compensationConsumer(stage).durable],
      ]);
    }
    // every trigger names a consumer its target Deployment runs; every stage and the workers scale
    const triggers = scaled.flatMap((so) =>
      so.spec.triggers.map((t: { type: string; metadata: Record<string, string> }) => ({
        target: so.spec.scaleTargetRef.name as string,
        ...t,
      })),
    );
    for (const t of triggers) {
      expect(t.type).toBe('nats-jetstream');
      const d = deployments.find((x) => x.metadata.name === t.target)!;
      expect(d.metadata.annotations!['heady.dev/consumers']!.split(',')).toContain(
        t.metadata.consumer,
      );
    }
    expect(scaled.map((x) => x.spec.scaleTargetRef.name).sort()).toEqual(
      [...STAGE_NAMES.map((s) => `pipeline-${s}`), 'workers'].sort(),
    );
    expect(triggers.find((t) => t.target === 'workers')?.metadata).toMatchObject({
      stream: workConsumer().stream,
      consumer: workConsumer().durable,
    });
  });

  it('each Deployment: probes on the ops port, limits, PDB, own ServiceAccount and policy, its keys only', () => {
    for (const o of OVERLAYS) {
      const objs = rendered[o]!;
      const named = (kind: string, name: string) =>
        objs.filter((x) => x.kind === kind && x.metadata.name === name);
      for (const d of objs.filter((x) => x.kind === 'Deployment')) {
        const name = d.metadata.name;
        const pod = d.spec.template.spec;
        const c = pod.containers[0];
        expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'ops' });
        expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'ops' });
        expect(c.resources.requests.cpu && c.resources.limits.memory).toBeTruthy();
        expect(named('PodDisruptionBudget', name)).toHaveLength(1);
        expect(named('ServiceAccount', pod.serviceAccountName)).toHaveLength(1);
        expect(named('NetworkPolicy', name)).toHaveLength(1);
        // graceful termination longer than the consumers' ack wait (30 s by default)
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(30);
        const secrets = (pod.volumes as { secret?: { secretName: string } }[])
          .filter((v) => v.secret)
          .map((v) => v.secret!.secretName);
        expect(secrets.length).toBe(2);
        for (const s of secrets) expect(s).not.toMatch(/root/);
        expect(pod.securityContext.runAsNonRoot).toBe(true);
      }
      // only the gateway takes traffic from outside the namespace's monitoring
      const open = objs
        .filter((x) => x.kind === 'NetworkPolicy')
        .filter((p) =>
          (p.spec.ingress ?? []).some((r: { from?: unknown[] }) => r.from === undefined),
        )
        .map((p) => p.metadata.name);
      expect(open).toEqual(['gateway']);
      expect(objs.filter((x) => x.kind === 'Job').map((x) => x.metadata.name)).toEqual([
        'heady-migrate',
      ]);
      expect(objs.filter((x) => x.kind === 'HorizontalPodAutoscaler')).toHaveLength(1);
    }
  });

  it('stream replicas and replica counts differ per overlay as configured', () => {
    const cm = (o: string) => rendered[o]!.find((x) => x.kind === 'ConfigMap')!.data!;
    expect(cm('dev').HEADY_STREAM_REPLICAS).toBe('1');
    expect(cm('prod').HEADY_STREAM_REPLICAS).toBe('3');
    const max = (o: string) =>
      rendered[o]!.find((x) => x.kind === 'ScaledObject')!.spec.maxReplicaCount as number;
    expect(max('prod')).toBeGreaterThan(max('dev'));
  });
});
