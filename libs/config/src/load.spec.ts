import { describe, expect, it } from 'vitest';
import { ConfigError, loadGatewayConfig, loadPipelineConfig, parseStageList } from './load.js';
import { STAGE_NAMES } from './schema.js';

describe('loadGatewayConfig', () => {
  it('applies the architecture defaults when nothing is set', () => {
    const c = loadGatewayConfig({});
    expect(c.nats.url).toBe('nats://127.0.0.1:4222');
    expect(c.database.url).toBe('postgres://postgres@127.0.0.1:5432/heady');
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.http.port).toBe(8080);
  });

  it('treats an empty variable as unset', () => {
    expect(loadGatewayConfig({ HEADY_GATEWAY_PORT: '' }).http.port).toBe(8080);
  });

  it('rejects a bad value and names the variable', () => {
    expect(() => loadGatewayConfig({ HEADY_GATEWAY_PORT: 'eighty' })).toThrow(ConfigError);
    try {
      loadGatewayConfig({ HEADY_GATEWAY_PORT: '70000', DATABASE_URL: 'not a url' });
    } catch (e) {
      expect((e as ConfigError).issues.join()).toMatch(/HEADY_GATEWAY_PORT/);
      expect((e as ConfigError).issues.join()).toMatch(/DATABASE_URL/);
    }
  });
});

describe('parseStageList', () => {
  it('expands all to the nine stages in order', () => {
    expect(parseStageList('all')).toEqual([...STAGE_NAMES]);
  });
  it('keeps itinerary order whatever order is given', () => {
    expect(parseStageList('monitor, plan')).toEqual(['plan', 'monitor']);
  });
  it('rejects an unknown stage', () => {
    expect(() => parseStageList('plan,deploy')).toThrow(/deploy/);
  });
  it('is applied by loadPipelineConfig', () => {
    expect(loadPipelineConfig({ HEADY_PIPELINE_STAGES: 'execute' }).stages).toEqual(['execute']);
  });
});

describe('signing configuration', () => {
  it('is on by default with keys under the data directory', () => {
    const c = loadGatewayConfig({ HEADY_DATA_DIR: '/tmp/h' });
    expect(c.signing).toMatchObject({
      enabled: true,
      keysDir: '/tmp/h/keys',
      rotationMs: 86_400_000,
    });
  });
  it('cannot be turned off in production', () => {
    expect(() => loadGatewayConfig({ NODE_ENV: 'production', HEADY_SIGNING: 'off' })).toThrow(
      /cannot be turned off in production/,
    );
    expect(
      loadGatewayConfig({ NODE_ENV: 'development', HEADY_SIGNING: 'off' }).signing.enabled,
    ).toBe(false);
  });

  it('turns fault injection on with HEADY_FAULTS=1 and refuses it in production', () => {
    expect(loadPipelineConfig({}).faults).toBe(false);
    expect(loadPipelineConfig({ HEADY_FAULTS: '1' }).faults).toBe(true);
    expect(() => loadGatewayConfig({ NODE_ENV: 'production', HEADY_FAULTS: '1' })).toThrow(
      /HEADY_FAULTS/,
    );
  });

  it("leaves each stage's attempts to the stage unless HEADY_STAGE_MAX_DELIVER is set", () => {
    expect(loadPipelineConfig({}).stageConsumer.maxDeliver).toBeUndefined();
    expect(loadPipelineConfig({ HEADY_STAGE_MAX_DELIVER: '3' }).stageConsumer.maxDeliver).toBe(3);
  });
});
