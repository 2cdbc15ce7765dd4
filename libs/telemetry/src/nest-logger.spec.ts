import 'reflect-metadata';
import { Controller, Get, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { PinoNestLogger } from './nest-logger.js';

function capture(): { lines: Record<string, unknown>[]; nest: PinoNestLogger } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ service: 'nest', instanceId: 'nest-1', logLevel: 'trace' }, dest);
  return { lines, nest: new PinoNestLogger(logger) };
}

@Controller()
class FailingController {
  @Get('fail')
  fail(): never {
    throw new Error('kaput');
  }
}

@Module({ controllers: [FailingController] })
class AppModule {}

describe(PinoNestLogger.name, () => {
  it("writes Nest's own boot and exception lines as JSON with service and context", async () => {
    const { lines, nest } = capture();
    const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
      logger: nest,
    });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const res = await app.inject({ method: 'GET', url: '/fail' });
    await app.close();

    expect(res.statusCode).toBe(500);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        service: 'nest',
        instance: 'nest-1',
        context: 'RouterExplorer',
        msg: expect.stringContaining('/fail') as unknown,
      }),
    );
    const failure = lines.find((l) => l.context === 'ExceptionsHandler');
    expect(failure).toMatchObject({ level: 'error', msg: 'kaput', err: { message: 'kaput' } });
  });

  it('maps error(message, stack, context) and error(message, stack) to stack and context fields', () => {
    const { lines, nest } = capture();
    nest.error('failed', 'Error: x\n    at y', 'Ctx');
    nest.error('failed', 'Error: x\n    at y');
    expect(lines[0]).toMatchObject({
      level: 'error',
      msg: 'failed',
      context: 'Ctx',
      stack: 'Error: x\n    at y',
    });
    expect(lines[1]).toMatchObject({ msg: 'failed', stack: 'Error: x\n    at y' });
    expect(lines[1]).not.toHaveProperty('context');
  });

  it('maps verbose to trace, merges object messages, and serves a static Nest Logger', () => {
    const { lines, nest } = capture();
    nest.verbose('v', 'Ctx');
    nest.log({ event: 'thing', n: 2 }, 'Ctx');
    Logger.overrideLogger(nest);
    new Logger('Static').warn('careful');
    Logger.overrideLogger(false);
    expect(lines[0]).toMatchObject({ level: 'trace', msg: 'v', context: 'Ctx' });
    expect(lines[1]).toMatchObject({ level: 'info', event: 'thing', n: 2, context: 'Ctx' });
    expect(lines[2]).toMatchObject({ level: 'warn', msg: 'careful', context: 'Static' });
  });
});
