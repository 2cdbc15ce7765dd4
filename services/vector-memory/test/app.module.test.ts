import 'reflect-metadata';
import { loadVectorMemoryConfig } from '@heady/config';
import { CONFIG, LOGGER } from '@heady/runtime';
import { createLogger } from '@heady/telemetry';
import { type DynamicModule, type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VectorMemoryModule } from '../src/app.module.js';
import { AnnIndex } from '../src/index/ann-index.js';
import { MemoryService } from '../src/memory/memory.service.js';
import { DimensionMismatchError } from '../src/memory/vectors.repository.js';

// The module as main.ts starts it, on a real DuckDB file and usearch graphs; only the bus
// and HTTP transports are left out (an application context, not a server).

@Module({})
class TestRuntime {}

function runtimeFor(dir: string, dimensions: number): DynamicModule {
  const config = loadVectorMemoryConfig({
    HEADY_MEMORY_DB: join(dir, 'memory.duckdb'),
    HEADY_MEMORY_DIMENSIONS: String(dimensions),
    LOG_LEVEL: 'silent',
  });
  return {
    module: TestRuntime,
    global: true,
    providers: [
      { provide: CONFIG, useValue: config },
      { provide: LOGGER, useValue: createLogger(config) },
    ],
    exports: [CONFIG, LOGGER],
  };
}

describe(VectorMemoryModule.name, () => {
  const dirs: string[] = [];
  const apps: INestApplicationContext[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close().catch(() => undefined);
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function start(dir: string, dimensions = 64): Promise<INestApplicationContext> {
    const app = await NestFactory.createApplicationContext(
      VectorMemoryModule.register(runtimeFor(dir, dimensions)),
      { logger: false, abortOnError: false },
    );
    apps.push(app);
    return app;
  }

  function tmp(): string {
    const dir = mkdtempSync(join(tmpdir(), 'heady-memory-module-'));
    dirs.push(dir);
    return dir;
  }

  const items = [
    { content: 'The tariff on imported steel rose again', sessionId: 's1' },
    { content: 'Wheat prices fell in the spring', sessionId: 's1' },
    { content: 'A new port opened on the coast', sessionId: 's2' },
  ];

  it('saves the index at shutdown, so the next start loads it instead of rebuilding', async () => {
    const dir = tmp();
    let app = await start(dir);
    const { ids } = await app.get(MemoryService).insert({ orgId: 'acme', items });
    await app.close();
    apps.splice(0);

    app = await start(dir);
    const index = app.get(AnnIndex);
    expect(index.status.lastRebuild).toBeNull();
    expect(index.size('acme')).toBe(3);
    const { results } = await app
      .get(MemoryService)
      .search({ orgId: 'acme', query: 'steel tariff', topK: 1 });
    expect(results[0]?.id).toBe(ids[0]);
  });

  it('rebuilds a cut-short saved index from DuckDB while starting', async () => {
    const dir = tmp();
    const app = await start(dir);
    await app.get(MemoryService).insert({ orgId: 'acme', items });
    await app.close();
    apps.splice(0);
    const hnsw = join(dir, 'memory.duckdb.hnsw');
    const file = join(hnsw, readdirSync(hnsw).find((f) => f.endsWith('.usearch')) ?? '');
    const saved = readFileSync(file);
    writeFileSync(file, saved.subarray(0, saved.length >> 1));

    const index = (await start(dir)).get(AnnIndex);
    expect(index.status.lastRebuildReason).toMatch(/corrupt/);
    expect(index.size('acme')).toBe(3);
  });

  it('does not start on a database of another dimension', async () => {
    const dir = tmp();
    await start(dir, 64);
    await apps.splice(0)[0]?.close();
    await expect(start(dir, 32)).rejects.toBeInstanceOf(DimensionMismatchError);
  });
});
