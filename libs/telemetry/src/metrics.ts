import {
  Counter,
  Gauge,
  Histogram,
  collectDefaultMetrics,
  register,
  type Metric,
} from 'prom-client';

/** prom-client's default registry: every metric made by the helpers below lives here. */
export const metricsRegistry = register;

/** Seconds buckets from 1 ms to 10 s, for request and stage durations. */
export const DEFAULT_SECONDS_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

let defaultsOn = false;

/**
 * Labels every metric of the registry with `service` and starts prom-client's Node
 * process metrics (CPU, memory, event-loop lag, GC) under the prefix `heady_`. Only the
 * first call in a process does anything.
 */
export function enableDefaultMetrics(service: string): void {
  if (defaultsOn) return;
  defaultsOn = true;
  register.setDefaultLabels({ service });
  collectDefaultMetrics({ prefix: 'heady_' });
}

/** The metric already registered under `name`, checked to be of the kind asked for. */
function existing<M extends Metric>(
  name: string,
  kind: abstract new (...args: never[]) => M,
): M | undefined {
  const found = register.getSingleMetric(name);
  if (found === undefined) return undefined;
  if (!(found instanceof kind)) {
    throw new TypeError(`metric ${name} is already registered as another kind than ${kind.name}`);
  }
  return found;
}

/**
 * The counter `name`, created in the default registry on first use; later calls return
 * the same instance (the help and labels of the first call stand). Throws a TypeError if
 * `name` is registered as another kind of metric.
 */
export function counter<L extends string = string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return existing<Counter<L>>(name, Counter) ?? new Counter({ name, help, labelNames });
}

/**
 * The histogram `name` (buckets in seconds, {@link DEFAULT_SECONDS_BUCKETS} unless
 * given), created on first use; later calls return the same instance.
 */
export function histogram<L extends string = string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS,
): Histogram<L> {
  return (
    existing<Histogram<L>>(name, Histogram) ??
    new Histogram({ name, help, labelNames, buckets: [...buckets] })
  );
}

/** The gauge `name`, created on first use; later calls return the same instance. */
export function gauge<L extends string = string>(
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Gauge<L> {
  return existing<Gauge<L>>(name, Gauge) ?? new Gauge({ name, help, labelNames });
}
