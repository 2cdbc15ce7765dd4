import {
  ErrorCode,
  HeadyError,
  IdempotencyConflictError,
  RunNotFoundError,
  UnavailableError,
  UnknownActionError,
} from '@heady/contracts';
import { PublishError, RemoteError } from '@heady/bus';
import { NotFoundException, HttpException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { toProblem, UNAVAILABLE_RETRY_AFTER_S } from './problem.js';

describe('toProblem', () => {
  it('maps domain errors to their status and keeps code and details', () => {
    expect(toProblem(new UnknownActionError('x', ['chat']))).toMatchObject({
      status: 422,
      code: 'UNKNOWN_ACTION',
      validActions: ['chat'],
      type: 'urn:heady:problem:unknown-action',
    });
    expect(toProblem(new IdempotencyConflictError('k', 'r'))).toMatchObject({
      status: 422,
      code: 'IDEMPOTENCY_CONFLICT',
      runId: 'r',
    });
    expect(toProblem(new RunNotFoundError('r'))).toMatchObject({
      status: 404,
      code: 'RUN_NOT_FOUND',
      title: 'Not Found',
    });
    expect(toProblem(new HeadyError(ErrorCode.MalformedBody, 'bad'))).toMatchObject({
      status: 400,
    });
  });

  it('maps a domain error that crossed the bus as a RemoteError by its code', () => {
    expect(
      toProblem(new RemoteError('UNKNOWN_ACTION', 'unknown action "x"', { action: 'x' })),
    ).toMatchObject({ status: 422, code: 'UNKNOWN_ACTION', action: 'x' });
  });

  it('answers 503 when the conductor cannot be reached or the bus refuses a publish', () => {
    expect(toProblem(new RemoteError('INTERNAL', 'boom'))).toMatchObject({
      status: 503,
      code: 'UNAVAILABLE',
    });
    expect(toProblem(new RemoteError('UNAVAILABLE', 'no responders'))).toMatchObject({
      status: 503,
    });
    expect(toProblem(new PublishError('s', 'down'))).toMatchObject({ status: 503 });
  });

  it('answers 503 with a retryAfter when a dependency is unreachable, typed or not', () => {
    expect(toProblem(new UnavailableError('postgres'))).toMatchObject({
      status: 503,
      code: 'UNAVAILABLE',
      type: 'urn:heady:problem:unavailable',
      detail: 'postgres is unavailable; retry later',
      retryAfter: UNAVAILABLE_RETRY_AFTER_S,
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    expect(toProblem(refused)).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
    expect(JSON.stringify(toProblem(refused))).not.toMatch(/5432/);
  });

  it('keeps the status of client HTTP errors', () => {
    expect(toProblem(new NotFoundException('Cannot GET /x'))).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });
    expect(toProblem(new HttpException('too big', 413))).toMatchObject({
      status: 413,
      code: 'CONTENT_TOO_LARGE',
    });
  });

  it('reveals nothing of an unexpected error', () => {
    const p = toProblem(new Error('password=hunter2 at db.ts:12'));
    expect(p.status).toBe(500);
    expect(JSON.stringify(p)).not.toMatch(/hunter2/);
  });
});
