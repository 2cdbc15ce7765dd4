import { describe, expect, it } from 'vitest';
import { ConfigError, loadGatewayConfig, loadPipelineConfig, parseStageList } from './load.js';
import { STAGE_NAMES } from '@heady/contracts';

describe('loadGatewayConfig', () => {
  it('applies the architecture defaults when nothing is set', () => {
    const c = loadGatewayConfig({});
    expect(c.nats.url).toBe('nats://127.0.0.1:4222');
    expect(c.database.url).toBe('postgres://postgres@127.0.0.1:5432/heady');
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.http.port).toBe(8080);
  });

  it('ends idle run event streams after 5 min and caps them at 20 per API key unless told otherwise', () => {
    expect(loadGatewayConfig({}).eventStreams).toEqual({
      idleTimeoutMs: 300_000,
      keepAliveMs: 15_000,
      maxPerKey: 20,
    });
    const c = loadGatewayConfig({
      HEADY_SSE_IDLE_TIMEOUT_MS: '2000',
      HEADY_SSE_KEEPALIVE_MS: '500',
      HEADY_SSE_MAX_PER_KEY: '3',
    });
    expect(c.eventStreams).toEqual({ idleTimeoutMs: 2000, keepAliveMs: 500, maxPerKey: 3 });
    expect(() => loadGatewayConfig({ HEADY_SSE_MAX_PER_KEY: '0' })).toThrow(
      /HEADY_SSE_MAX_PER_KEY/,
    );
  });

  it('connects to NATS without credentials unless an nkey seed file is given, and resolves its path', () => {
    expect(loadGatewayConfig({}).nats).toMatchObject({
      nkeySeedFile: undefined,
      caFile: undefined,
    });
    const c = loadGatewayConfig({
      HEADY_NATS_NKEY_FILE: 'nats/gateway.nk',
      HEADY_NATS_CA_FILE: '/etc/heady/ca.pem',
    });
    expect(c.nats.nkeySeedFile).toMatch(/^\/.*\/nats\/gateway\.nk$/);
    expect(c.nats.caFile).toBe('/etc/heady/ca.pem');
  });

  it('keeps one replica of each stream and bucket unless HEADY_STREAM_REPLICAS says more', () => {
    expect(loadGatewayConfig({}).nats.streamReplicas).toBe(1);
    expect(loadGatewayConfig({ HEADY_STREAM_REPLICAS: '3' }).nats.streamReplicas).toBe(3);
    expect(() => loadGatewayConfig({ HEADY_STREAM_REPLICAS: '0' })).toThrow(
      /HEADY_STREAM_REPLICAS/,
    );
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
    // production is the default: off needs NODE_ENV=development or test said explicitly
    expect(() => loadGatewayConfig({ HEADY_SIGNING: 'off' })).toThrow(
      /cannot be turned off in production/,
    );
    expect(loadGatewayConfig({ NODE_ENV: 'test', HEADY_SIGNING: 'off' }).signing.enabled).toBe(
      false,
    );
    expect(
      loadGatewayConfig({ NODE_ENV: 'development', HEADY_SIGNING: 'off' }).signing.enabled,
    ).toBe(false);
  });

  it('turns fault injection on with HEADY_FAULTS=1 and refuses it in production', () => {
    expect(loadPipelineConfig({}).faults).toBe(false);
    expect(loadPipelineConfig({ NODE_ENV: 'development', HEADY_FAULTS: '1' }).faults).toBe(true);
    expect(() => loadGatewayConfig({ NODE_ENV: 'production', HEADY_FAULTS: '1' })).toThrow(
      /HEADY_FAULTS/,
    );
  });

  it('defaults NODE_ENV to production, so fault injection needs development or test said explicitly', () => {
    expect(loadPipelineConfig({}).env).toBe('production');
    expect(() => loadPipelineConfig({ HEADY_FAULTS: '1' })).toThrow(/HEADY_FAULTS/);
  });

  it('lets an injected crash kill the process only under NODE_ENV=test', () => {
    expect(loadPipelineConfig({ NODE_ENV: 'test', HEADY_FAULTS: '1' }).faultsMayKill).toBe(true);
    const dev = loadPipelineConfig({ NODE_ENV: 'development', HEADY_FAULTS: '1' });
    expect(dev.faults).toBe(true);
    expect(dev.faultsMayKill).toBe(false);
  });

  it("leaves each stage's attempts to the stage unless HEADY_STAGE_MAX_DELIVER is set", () => {
    expect(loadPipelineConfig({}).stageConsumer.maxDeliver).toBeUndefined();
    expect(loadPipelineConfig({ HEADY_STAGE_MAX_DELIVER: '3' }).stageConsumer.maxDeliver).toBe(3);
  });
});
