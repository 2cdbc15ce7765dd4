import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import Stripe from 'stripe';

/** One request the fake received (after its idempotency replay, if any). */
export interface FakeStripeRequest {
  method: string;
  path: string;
  /** The form body, nested as Stripe's bracket notation says (`metadata[orgId]`). */
  body: Record<string, unknown>;
  idempotencyKey: string | undefined;
  /** True when the answer was a replay of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

/** A running fake Stripe; {@link startFakeStripeServer}. */
export interface FakeStripeServer {
  /** `http://127.0.0.1:<port>`: what billing's HEADY_STRIPE_API_URL points at. */
  readonly url: string;
  /** The secret key the fake accepts (any other is 401, as Stripe answers). */
  readonly secretKey: string;
  /** The webhook signing secret {@link signedEvent} signs with. */
  readonly webhookSecret: string;
  /** Every request, in order. */
  readonly requests: FakeStripeRequest[];
  /** Customers by id (deleted ones are removed). */
  readonly customers: Map<string, Record<string, unknown>>;
  /** Checkout Sessions by id. */
  readonly checkoutSessions: Map<string, Record<string, unknown>>;
  /**
   * Billing meter events as Stripe counted them, in order: one per request that was not an
   * idempotent replay (recorded when the request arrives, before the answer is sent).
   */
  readonly meterEvents: Record<string, unknown>[];
  /** Holds every meter event's answer this long (to crash a client mid-report). */
  meterLatencyMs: number;
  /**
   * A Stripe event of `type` around `object`, as Stripe would post it, with a valid
   * `Stripe-Signature` (the SDK's `webhooks.generateTestHeaderString`): `created` (seconds)
   * defaults to now; `secret` to {@link webhookSecret}.
   */
  signedEvent(
    type: string,
    object: Record<string, unknown>,
    opts?: { id?: string; created?: number; secret?: string },
  ): { id: string; payload: string; signature: string };
  close(): Promise<void>;
}

/** Parses `a[b][0][c]=v` form encoding (what the Stripe SDK sends) into nested objects. */
export function parseStripeForm(raw: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const path = key.split(/\[|\]\[|\]/).filter((p) => p !== '');
    let node: Record<string, unknown> = out;
    path.forEach((p, i) => {
      if (i === path.length - 1) node[p] = value;
      else node = (node[p] ??= {}) as Record<string, unknown>;
    });
  }
  return out;
}

const id = (prefix: string): string => `${prefix}_${randomBytes(12).toString('hex')}`;
const now = (): number => Math.floor(Date.now() / 1000);

function error(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { type, message } }));
}

/**
 * A local HTTP server answering the Stripe API endpoints billing calls (customers,
 * Checkout Sessions, portal sessions), with Stripe's form-encoded requests, JSON answers,
 * Bearer authentication and `Idempotency-Key` replay, so the official SDK runs against it
 * unchanged. Tests and `npm start` (without STRIPE_SECRET_KEY) use it; nothing leaves the
 * machine.
 */
export async function startFakeStripeServer(
  opts: { secretKey?: string; webhookSecret?: string; port?: number } = {},
): Promise<FakeStripeServer> {
  const secretKey = opts.secretKey ?? 'sk_test_heady_fake';
  const webhookSecret = opts.webhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;
  const requests: FakeStripeRequest[] = [];
  const customers = new Map<string, Record<string, unknown>>();
  const checkoutSessions = new Map<string, Record<string, unknown>>();
  const replies = new Map<string, { status: number; body: string }>();
  const meterEvents: Record<string, unknown>[] = [];
  const state = { meterLatencyMs: 0 };
  let url = '';

  const route = (
    method: string,
    path: string,
    body: Record<string, unknown>,
  ): { status: number; body: unknown } => {
    const seg = path.split('/').filter(Boolean); // ['v1', 'customers', 'cus_…']
    if (method === 'POST' && path === '/v1/customers') {
      const c = {
        id: id('cus'),
        object: 'customer',
        created: now(),
        name: body.name ?? null,
        email: body.email ?? null,
        metadata: body.metadata ?? {},
        livemode: false,
      };
      customers.set(c.id, c);
      return { status: 200, body: c };
    }
    if (seg[1] === 'customers' && seg[2] && seg.length === 3) {
      const c = customers.get(seg[2]);
      if (!c)
        return {
          status: 404,
          body: {
            error: { type: 'invalid_request_error', message: `No such customer: '${seg[2]}'` },
          },
        };
      if (method === 'GET') return { status: 200, body: c };
      if (method === 'DELETE') {
        customers.delete(seg[2]);
        return { status: 200, body: { id: seg[2], object: 'customer', deleted: true } };
      }
    }
    if (method === 'POST' && path === '/v1/checkout/sessions') {
      const customer = body.customer as string | undefined;
      if (customer && !customers.has(customer))
        return {
          status: 400,
          body: {
            error: { type: 'invalid_request_error', message: `No such customer: '${customer}'` },
          },
        };
      const s = {
        id: id('cs_test'),
        object: 'checkout.session',
        created: now(),
        mode: body.mode,
        customer: customer ?? null,
        client_reference_id: body.client_reference_id ?? null,
        metadata: body.metadata ?? {},
        line_items: body.line_items,
        subscription_data: body.subscription_data ?? null,
        success_url: body.success_url,
        cancel_url: body.cancel_url,
        status: 'open',
        url: '',
        livemode: false,
      };
      s.url = `${url}/checkout/${s.id}`;
      checkoutSessions.set(s.id, s);
      return { status: 200, body: s };
    }
    if (method === 'POST' && path === '/v1/billing/meter_events') {
      const e = {
        object: 'billing.meter_event',
        event_name: body.event_name,
        identifier: body.identifier,
        payload: body.payload,
        timestamp: Number(body.timestamp),
        created: now(),
        livemode: false,
      };
      meterEvents.push(e);
      return { status: 200, body: e };
    }
    if (method === 'POST' && path === '/v1/billing_portal/sessions') {
      const customer = body.customer as string | undefined;
      if (!customer || !customers.has(customer))
        return {
          status: 400,
          body: {
            error: { type: 'invalid_request_error', message: `No such customer: '${customer}'` },
          },
        };
      const s = {
        id: id('bps'),
        object: 'billing_portal.session',
        customer,
        return_url: body.return_url ?? null,
        created: now(),
        livemode: false,
        url: '',
      };
      s.url = `${url}/portal/${s.id}`;
      return { status: 200, body: s };
    }
    return {
      status: 404,
      body: {
        error: {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${method}: ${path})`,
        },
      },
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      error(res, 401, 'invalid_request_error', 'Invalid API Key provided');
      return;
    }
    const body = parseStripeForm(raw);
    const key = req.headers['idempotency-key'] as string | undefined;
    const stored = key ? replies.get(`${method} ${path} ${key}`) : undefined;
    requests.push({ method, path, body, idempotencyKey: key, replayed: !!stored });
    if (stored) {
      res.writeHead(stored.status, {
        'content-type': 'application/json',
        'idempotent-replayed': 'true',
      });
      res.end(stored.body);
      return;
    }
    const r = route(method, path, body);
    const text = JSON.stringify(r.body);
    if (key) replies.set(`${method} ${path} ${key}`, { status: r.status, body: text });
    if (path === '/v1/billing/meter_events' && state.meterLatencyMs)
      await new Promise((resolve) => setTimeout(resolve, state.meterLatencyMs));
    res.writeHead(r.status, { 'content-type': 'application/json', 'request-id': id('req') });
    res.end(text);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => error(res, 500, 'api_error', String(e)));
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sdk = new Stripe(secretKey);

  return {
    url,
    secretKey,
    webhookSecret,
    requests,
    customers,
    checkoutSessions,
    meterEvents,
    get meterLatencyMs() {
      return state.meterLatencyMs;
    },
    set meterLatencyMs(ms: number) {
      state.meterLatencyMs = ms;
    },
    signedEvent(type, object, o = {}) {
      const eventId = o.id ?? id('evt');
      const payload = JSON.stringify(
        {
          id: eventId,
          object: 'event',
          api_version: '2025-10-29.clover',
          created: o.created ?? now(),
          livemode: false,
          pending_webhooks: 1,
          request: { id: null, idempotency_key: null },
          type,
          data: { object },
        },
        null,
        2,
      );
      const signature = sdk.webhooks.generateTestHeaderString({
        payload,
        secret: o.secret ?? webhookSecret,
      });
      return { id: eventId, payload, signature };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The environment that points a billing process at `fake` (for `startStack`'s `billing`). */
export function billingEnvFor(fake: FakeStripeServer): Record<string, string> {
  return {
    STRIPE_SECRET_KEY: fake.secretKey,
    HEADY_STRIPE_API_URL: fake.url,
    STRIPE_WEBHOOK_SECRET: fake.webhookSecret,
  };
}
