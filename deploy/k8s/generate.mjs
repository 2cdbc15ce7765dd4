#!/usr/bin/env node
// Writes deploy/k8s/base/ and the dev/staging/prod overlays from ONE table (SERVICES below)
// and the topology the code declares: the stage names (`@heady/contracts`) and the durable
// consumers (`@heady/bus`: stage-<stage>, compensate-<stage>, workers). Needs the build
// (`pnpm exec turbo run build`). `node deploy/k8s/generate.mjs` rewrites the files;
// `--check` exits 1 when a committed file differs (test/deploy/k8s.test.ts runs it).
//
// Adding a service is one entry in SERVICES (see docs/operations.md#kubernetes).
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compensationConsumer, stageConsumer, workConsumer } from '@heady/bus';
import { DEFAULTS } from '@heady/config';
import { STAGE_NAMES } from '@heady/contracts';
import { format, resolveConfig } from 'prettier';
import { stringify } from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
const NAMESPACE = 'heady';
const IMAGE = 'heady';
const PART_OF = { 'app.kubernetes.io/part-of': 'heady' };
/** The NATS Helm chart's release (nats-values.yaml): client port 4222, monitoring 8222. */
const NATS = { host: 'nats', clientPort: 4222, monitorPort: 8222 };
/** Seconds a pod keeps running after SIGTERM beyond its longest ack wait. */
const DRAIN_MARGIN_S = 15;

const stageSettings = (stage) => [stageConsumer(stage), compensationConsumer(stage)];

/**
 * Every Deployment: one per service, and one per pipeline stage (with its compensation
 * consumer). `identity` is the service whose keys it mounts; `consumers` the durable
 * consumers it runs (the test checks them against the code); `scale` how it autoscales:
 * `keda` on its first consumer's pending messages, `hpa` on CPU, none = fixed replicas.
 */
export const SERVICES = [
  {
    name: 'gateway',
    identity: 'gateway',
    opsPort: DEFAULTS.gatewayOpsPort,
    httpPort: DEFAULTS.gatewayPort,
    public: true,
    consumers: [{ stream: 'BILLING', durable: 'gateway-tiers', ackWaitMs: 30_000 }],
    scale: 'hpa',
    resources: { cpu: ['250m', '1'], memory: ['256Mi', '512Mi'] },
  },
  {
    name: 'conductor',
    identity: 'conductor',
    opsPort: DEFAULTS.conductorOpsPort,
    consumers: [{ stream: 'AUDIT', durable: 'audit-writer', ackWaitMs: 30_000 }],
    resources: { cpu: ['100m', '500m'], memory: ['192Mi', '384Mi'] },
  },
  {
    name: 'vector-memory',
    identity: 'vector-memory',
    opsPort: DEFAULTS.vectorMemoryOpsPort,
    consumers: [],
    resources: { cpu: ['100m', '1'], memory: ['256Mi', '1Gi'] },
  },
  {
    name: 'workers',
    identity: 'workers',
    opsPort: DEFAULTS.workersOpsPort,
    consumers: [workConsumer()],
    scale: 'keda',
    // model providers are reached over HTTPS
    egressHttps: true,
    resources: { cpu: ['250m', '1'], memory: ['384Mi', '1Gi'] },
  },
  {
    name: 'knowledge-vault',
    identity: 'knowledge-vault',
    opsPort: DEFAULTS.knowledgeVaultOpsPort,
    consumers: [{ stream: 'RUN_EVENTS', durable: 'knowledge-pipeline', ackWaitMs: 60_000 }],
    // an openai-compatible embedding provider is reached over HTTPS
    egressHttps: true,
    resources: { cpu: ['100m', '1'], memory: ['256Mi', '1Gi'] },
  },
  {
    name: 'billing',
    identity: 'billing',
    opsPort: DEFAULTS.billingOpsPort,
    consumers: [{ stream: 'RUN_EVENTS', durable: 'billing-usage', ackWaitMs: 30_000 }],
    // Stripe's API is reached over HTTPS
    egressHttps: true,
    resources: { cpu: ['100m', '500m'], memory: ['192Mi', '384Mi'] },
  },
  {
    name: 'device-sync',
    identity: 'device-sync',
    opsPort: DEFAULTS.deviceSyncOpsPort,
    consumers: [],
    resources: { cpu: ['100m', '500m'], memory: ['192Mi', '384Mi'] },
  },
  ...STAGE_NAMES.map((stage) => ({
    name: `pipeline-${stage}`,
    identity: 'pipeline',
    stage,
    opsPort: DEFAULTS.pipelineOpsPort,
    env: { HEADY_PIPELINE_STAGES: stage },
    consumers: stageSettings(stage),
    scale: 'keda',
    resources: { cpu: ['100m', '500m'], memory: ['192Mi', '384Mi'] },
  })),
];

/** Replicas per overlay: KEDA/HPA min and max, fixed replicas otherwise; stream replicas. */
export const ENVIRONMENTS = {
  dev: { min: 1, max: 2, fixed: 1, streamReplicas: 1, lagThreshold: 50 },
  staging: { min: 1, max: 4, fixed: 2, streamReplicas: 3, lagThreshold: 50 },
  prod: { min: 2, max: 20, fixed: 3, streamReplicas: 3, lagThreshold: 20 },
};

const labels = (s) => ({
  'app.kubernetes.io/name': s.name,
  'app.kubernetes.io/component': s.stage ? 'pipeline-stage' : s.name,
  ...PART_OF,
  // the service whose code runs here (a stage's Deployment runs the pipeline's)
  'heady.dev/service': s.identity,
  ...(s.stage ? { 'heady.dev/stage': s.stage } : {}),
});
const meta = (name, s, extra = {}) => ({
  name,
  namespace: NAMESPACE,
  labels: s ? labels(s) : { ...PART_OF },
  ...extra,
});
const longestAckWaitS = (s) =>
  Math.ceil(Math.max(30_000, ...s.consumers.map((c) => c.ackWaitMs)) / 1000);

function deployment(s) {
  const probe = (path, period) => ({
    httpGet: { path, port: 'ops' },
    periodSeconds: period,
    timeoutSeconds: 3,
    failureThreshold: 3,
  });
  const ports = [{ name: 'ops', containerPort: s.opsPort }];
  if (s.httpPort) ports.unshift({ name: 'http', containerPort: s.httpPort });
  const env = [
    ...Object.entries(s.env ?? {}).map(([name, value]) => ({ name, value })),
    {
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'heady-database', key: 'url' } },
    },
    { name: 'REDIS_URL', valueFrom: { secretKeyRef: { name: 'heady-redis', key: 'url' } } },
  ];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(s.name, s, {
      annotations: { 'heady.dev/consumers': s.consumers.map((c) => c.durable).join(',') },
    }),
    spec: {
      replicas: 1,
      selector: { matchLabels: { 'app.kubernetes.io/name': s.name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: labels(s),
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(s.opsPort),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: {
          serviceAccountName: s.name,
          automountServiceAccountToken: false,
          // longer than the longest ack wait: a delivery in hand is finished, not redelivered
          terminationGracePeriodSeconds: longestAckWaitS(s) + DRAIN_MARGIN_S,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: s.name,
              image: IMAGE,
              command: ['node', `/app/services/${s.identity}/dist/main.js`],
              ports,
              envFrom: [{ configMapRef: { name: 'heady-config' } }],
              env,
              readinessProbe: probe('/readyz', 5),
              livenessProbe: { ...probe('/healthz', 10), initialDelaySeconds: 10 },
              startupProbe: { ...probe('/healthz', 2), failureThreshold: 60 },
              resources: {
                requests: { cpu: s.resources.cpu[0], memory: s.resources.memory[0] },
                limits: { cpu: s.resources.cpu[1], memory: s.resources.memory[1] },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/heady' },
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'keys', mountPath: '/var/lib/heady/keys', readOnly: true },
                { name: 'nats', mountPath: '/var/lib/heady/nats', readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'data', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
            // this service's identity and the root PUBLIC key only (heady keys issue)
            {
              name: 'keys',
              secret: { secretName: `heady-${s.identity}-keys`, defaultMode: 0o400 },
            },
            // this service's nkey seed and the NATS CA
            {
              name: 'nats',
              secret: { secretName: `heady-${s.identity}-nats`, defaultMode: 0o400 },
            },
          ],
        },
      },
    },
  };
}

function service(s) {
  const ports = [{ name: 'ops', port: s.opsPort, targetPort: 'ops' }];
  if (s.httpPort) ports.unshift({ name: 'http', port: 80, targetPort: 'http' });
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(s.name, s),
    spec: { selector: { 'app.kubernetes.io/name': s.name }, ports },
  };
}

const serviceAccount = (s) => ({
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: meta(s.name, s),
  automountServiceAccountToken: false,
});

const pdb = (s) => ({
  apiVersion: 'policy/v1',
  kind: 'PodDisruptionBudget',
  metadata: meta(s.name, s),
  spec: { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/name': s.name } } },
});

function networkPolicy(s) {
  /** @type {Record<string, unknown>[]} */
  const ingress = [
    // Prometheus (namespace `monitoring`) scrapes the ops port
    {
      from: [
        {
          namespaceSelector: {
            matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
          },
        },
      ],
      ports: [{ protocol: 'TCP', port: s.opsPort }],
    },
  ];
  // only the gateway's API port is reachable, from anywhere (the ingress controller)
  if (s.public) ingress.push({ ports: [{ protocol: 'TCP', port: s.httpPort }] });
  const egress = [
    {
      to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nats' } } }],
      ports: [{ protocol: 'TCP', port: NATS.clientPort }],
    },
    // PostgreSQL and Redis are external services, reached by URL: their ports only
    { ports: [{ protocol: 'TCP', port: 5432 }] },
    { ports: [{ protocol: 'TCP', port: 6379 }] },
    // DNS
    {
      to: [{ namespaceSelector: {} }],
      ports: [
        { protocol: 'UDP', port: 53 },
        { protocol: 'TCP', port: 53 },
      ],
    },
  ];
  if (s.egressHttps) egress.push({ ports: [{ protocol: 'TCP', port: 443 }] });
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(s.name, s),
    spec: {
      podSelector: { matchLabels: { 'app.kubernetes.io/name': s.name } },
      policyTypes: ['Ingress', 'Egress'],
      ingress,
      egress,
    },
  };
}

function scaledObject(s, env) {
  return {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: meta(s.name, s),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: s.name },
      minReplicaCount: env.min,
      maxReplicaCount: env.max,
      pollingInterval: 15,
      cooldownPeriod: 300,
      triggers: s.consumers.map((c) => ({
        type: 'nats-jetstream',
        metadata: {
          natsServerMonitoringEndpoint: `${NATS.host}.${NAMESPACE}.svc.cluster.local:${NATS.monitorPort}`,
          account: '$G',
          stream: c.stream,
          consumer: c.durable,
          lagThreshold: String(env.lagThreshold),
          activationLagThreshold: '1',
        },
      })),
    },
  };
}

const hpa = (s, env) => ({
  apiVersion: 'autoscaling/v2',
  kind: 'HorizontalPodAutoscaler',
  metadata: meta(s.name, s),
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: s.name },
    minReplicas: Math.max(env.min, 2),
    maxReplicas: env.max,
    metrics: [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      },
    ],
  },
});

const namespace = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name: NAMESPACE, labels: { ...PART_OF } },
};

const configMap = (env) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: meta('heady-config'),
  data: {
    NATS_URL: `tls://${NATS.host}.${NAMESPACE}.svc.cluster.local:${NATS.clientPort}`,
    HEADY_NATS_CA_FILE: '/var/lib/heady/nats/ca.pem',
    HEADY_NATS_NKEY_FILE: '/var/lib/heady/nats/service.nk',
    HEADY_DATA_DIR: '/var/lib/heady',
    HEADY_GATEWAY_HOST: '0.0.0.0',
    HEADY_OPS_HOST: '0.0.0.0',
    HEADY_STREAM_REPLICAS: String(env.streamReplicas),
    NODE_ENV: 'production',
  },
});

/** Default deny: every pod's traffic is what its own NetworkPolicy allows. */
const denyAll = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta('default-deny'),
  spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
};

/** `heady db migrate` before a rollout (the CLI has the operator's NATS seed: not needed here). */
const migrationJob = {
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: meta('heady-migrate', undefined, {
    labels: { ...PART_OF, 'app.kubernetes.io/name': 'heady-migrate' },
  }),
  spec: {
    backoffLimit: 3,
    ttlSecondsAfterFinished: 3600,
    template: {
      metadata: { labels: { ...PART_OF, 'app.kubernetes.io/name': 'heady-migrate' } },
      spec: {
        restartPolicy: 'Never',
        serviceAccountName: 'heady-migrate',
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 },
        containers: [
          {
            name: 'migrate',
            image: IMAGE,
            command: ['node', '/app/libs/cli/dist/main.js', 'db', 'migrate'],
            env: [
              {
                name: 'DATABASE_URL',
                valueFrom: { secretKeyRef: { name: 'heady-database', key: 'url' } },
              },
            ],
            resources: {
              requests: { cpu: '100m', memory: '128Mi' },
              limits: { cpu: '500m', memory: '256Mi' },
            },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ['ALL'] },
            },
          },
        ],
      },
    },
  },
};
const migrationAccount = {
  apiVersion: 'v1',
  kind: 'ServiceAccount',
  metadata: meta('heady-migrate'),
  automountServiceAccountToken: false,
};
const migrationPolicy = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta('heady-migrate'),
  spec: {
    podSelector: { matchLabels: { 'app.kubernetes.io/name': 'heady-migrate' } },
    policyTypes: ['Ingress', 'Egress'],
    egress: [
      { ports: [{ protocol: 'TCP', port: 5432 }] },
      {
        to: [{ namespaceSelector: {} }],
        ports: [
          { protocol: 'UDP', port: 53 },
          { protocol: 'TCP', port: 53 },
        ],
      },
    ],
  },
};

const HEADER =
  '# Generated by deploy/k8s/generate.mjs from its SERVICES table and the code topology.\n' +
  '# Do not edit: change the generator and run `node deploy/k8s/generate.mjs`.\n';
const doc = (objs) => HEADER + objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');

/** Every generated file, path relative to deploy/k8s → content. */
export async function render() {
  const files = {};
  const base = ENVIRONMENTS.dev;
  const resources = ['namespace.yaml', 'config.yaml', 'migrate.yaml'];
  files['base/namespace.yaml'] = doc([namespace, denyAll]);
  files['base/config.yaml'] = doc([configMap(base)]);
  files['base/migrate.yaml'] = doc([migrationAccount, migrationPolicy, migrationJob]);
  for (const s of SERVICES) {
    /** @type {object[]} */
    const objs = [serviceAccount(s), deployment(s), service(s), pdb(s), networkPolicy(s)];
    if (s.scale === 'keda') objs.push(scaledObject(s, base));
    if (s.scale === 'hpa') objs.push(hpa(s, base));
    files[`base/${s.name}.yaml`] = doc(objs);
    resources.push(`${s.name}.yaml`);
  }
  files['base/kustomization.yaml'] =
    HEADER +
    stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources,
    });
  for (const [name, env] of Object.entries(ENVIRONMENTS)) {
    const patches = [
      {
        target: { kind: 'ConfigMap', name: 'heady-config' },
        patch: stringify([
          {
            op: 'replace',
            path: '/data/HEADY_STREAM_REPLICAS',
            value: String(env.streamReplicas),
          },
        ]),
      },
    ];
    for (const s of SERVICES) {
      if (s.scale === 'keda')
        patches.push({
          target: { kind: 'ScaledObject', name: s.name },
          patch: stringify([
            { op: 'replace', path: '/spec/minReplicaCount', value: env.min },
            { op: 'replace', path: '/spec/maxReplicaCount', value: env.max },
            ...s.consumers.map((_, i) => ({
              op: 'replace',
              path: `/spec/triggers/${i}/metadata/lagThreshold`,
              value: String(env.lagThreshold),
            })),
          ]),
        });
      else if (s.scale === 'hpa')
        patches.push({
          target: { kind: 'HorizontalPodAutoscaler', name: s.name },
          patch: stringify([
            { op: 'replace', path: '/spec/minReplicas', value: Math.max(env.min, 2) },
            { op: 'replace', path: '/spec/maxReplicas', value: env.max },
          ]),
        });
      else
        patches.push({
          target: { kind: 'Deployment', name: s.name },
          patch: stringify([{ op: 'replace', path: '/spec/replicas', value: env.fixed }]),
        });
    }
    files[`overlays/${name}/kustomization.yaml`] =
      HEADER +
      stringify(
        {
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          resources: ['../../base'],
          labels: [{ pairs: { 'heady.dev/environment': name } }],
          images: [{ name: IMAGE, newName: 'registry.example.com/heady', newTag: name }],
          patches,
        },
        { lineWidth: 0 },
      );
  }
  // formatted as `prettier --check .` wants it
  for (const [rel, text] of Object.entries(files))
    files[rel] = await format(text, {
      ...(await resolveConfig(join(HERE, rel))),
      filepath: join(HERE, rel),
    });
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  const stale = [];
  for (const [rel, content] of Object.entries(await render())) {
    const path = join(HERE, rel);
    const have = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (have === content) continue;
    if (check) stale.push(rel);
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
    }
  }
  if (stale.length) {
    process.stderr.write(
      `deploy/k8s is out of date (${stale.join(', ')}): run node deploy/k8s/generate.mjs\n`,
    );
    process.exit(1);
  }
}
