import { describe, expect, it } from 'vitest';
import { PublishError } from './errors.js';
import { BusPublisher } from './publisher.js';

// Nothing may leave: the connection throws if the grant check ever lets a message through.
const nowhere = {
  nc: {
    request: () => {
      throw new Error('sent');
    },
  },
  js: {
    publish: () => {
      throw new Error('sent');
    },
  },
} as unknown as ConstructorParameters<typeof BusPublisher>[0];

describe(BusPublisher.name, () => {
  it('refuses to publish a subject the catalog does not grant its service', async () => {
    const pub = new BusPublisher(nowhere, undefined, undefined, undefined, undefined, 'gateway');
    await expect(
      pub.publish('pipeline.stage.plan', { json: {} }, { msgId: 'm1' }),
    ).rejects.toBeInstanceOf(PublishError);
    await expect(
      pub.request('runs.r1.run.succeeded', { json: {} }, { timeoutMs: 10 }),
    ).rejects.toBeInstanceOf(PublishError);
  });

  it('sends what the catalog grants', async () => {
    const pub = new BusPublisher(nowhere, undefined, undefined, undefined, undefined, 'gateway');
    await expect(pub.request('memory.stats', { json: {} }, { timeoutMs: 10 })).rejects.toThrow(
      /sent|memory\.stats/,
    );
    await expect(
      pub.request('memory.stats', { json: {} }, { timeoutMs: 10 }),
    ).rejects.not.toBeInstanceOf(PublishError);
  });
});
