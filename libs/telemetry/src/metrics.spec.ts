import { describe, expect, it } from 'vitest';
import { counter, enableDefaultMetrics, gauge, histogram, metricsRegistry } from './metrics.js';

describe('metric helpers', () => {
  it('return the same counter when asked twice', () => {
    const a = counter('heady_test_same_total', 'x', ['kind']);
    expect(counter('heady_test_same_total', 'x', ['kind'])).toBe(a);
  });

  it('return the same histogram when asked twice', () => {
    const a = histogram('heady_test_same_seconds', 'x');
    expect(histogram('heady_test_same_seconds', 'x')).toBe(a);
  });

  it('return the same gauge when asked twice', () => {
    const a = gauge('heady_test_same_gauge', 'x');
    expect(gauge('heady_test_same_gauge', 'x')).toBe(a);
  });

  it('refuse a name already registered as another kind of metric', () => {
    counter('heady_test_kind_total', 'x');
    expect(() => gauge('heady_test_kind_total', 'x')).toThrow(TypeError);
  });
});

describe(enableDefaultMetrics.name, () => {
  it('labels every metric with the service and collects process metrics under heady_', async () => {
    enableDefaultMetrics('metrics-test');
    enableDefaultMetrics('ignored-second-call');
    counter('heady_test_labelled_total', 'x').inc();
    const text = await metricsRegistry.metrics();
    expect(text).toContain('heady_test_labelled_total{service="metrics-test"} 1');
    expect(text).toMatch(/^heady_process_cpu_user_seconds_total\{service="metrics-test"\}/m);
    expect(text).not.toContain('ignored-second-call');
  });
});
