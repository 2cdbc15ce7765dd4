import { Counter, Gauge, Histogram, collectDefaultMetrics, register } from 'prom-client';

export { register as metricsRegistry };

let defaultsOn = false;

/** Turns on Node process metrics (prefix `heady_`) labelled with the service, once per process. */
export function enableDefaultMetrics(service: string): void {
  if (defaultsOn) return;
  defaultsOn = true;
  register.setDefaultLabels({ service });
  collectDefaultMetrics({ prefix: 'heady_' });
}

/** A counter, or the one already registered under `name`. */
export function counter<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return (
    (register.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames })
  );
}

/** A histogram (seconds buckets by default), or the one already registered under `name`. */
export function histogram<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets?: number[],
): Histogram<L> {
  return (
    (register.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram({
      name,
      help,
      labelNames,
      buckets: buckets ?? [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    })
  );
}

/** A gauge, or the one already registered under `name`. */
export function gauge<L extends string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Gauge<L> {
  return (
    (register.getSingleMetric(name) as Gauge<L> | undefined) ??
    new Gauge({ name, help, labelNames })
  );
}
