// Suite fixtures: imported from `@heady/testing/fixtures`, apart from the main entry,
// because they register vitest hooks and benches import the main entry in plain Node.
import {
  createApiKey,
  createDb,
  type Database,
  ensureOrganization,
  type Kysely,
  type Plan,
  type Role,
} from '@heady/db';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { startNatsServer, type TestNatsServer } from './nats-server.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { type ServiceName, type Stack, type StackOptions, startStack } from './stack.js';

/** One organization's API key, as `heady apikeys dev` records it in credentials.json. */
export interface OrgCredentials {
  key: string;
  org: string;
  plan: Plan;
  role: Role;
}

/** An API key a suite wants: created (with its organization when missing) once started. */
export interface KeySpec {
  org: string;
  plan: Plan;
  role: Role;
  /** What the key is for (the `api_keys.name`); the organization's name unless given. */
  name?: string;
}

/** Options of {@link withSystem}: {@link StackOptions} without the infrastructure it makes. */
export interface SystemOptions<K extends string = never> extends Omit<
  StackOptions,
  'natsUrl' | 'nats' | 'databaseUrl'
> {
  /** Prefix of the suite's own database name (cloned from the migrated template). */
  database: string;
  /**
   * Starts the nats-server with nkey users only: every service connects as its own user
   * and `heady` as `operator` (`startNatsServer({ auth: true })`).
   */
  natsAuth?: boolean;
  /** API keys to create once the system is up, by the name the suite uses for each. */
  keys?: Record<K, KeySpec>;
  /** Opens {@link System.nc}, a NATS connection of the suite's own (as `operator`). */
  client?: boolean;
}

/** Options of {@link withGateway}. */
export type GatewayOptions<K extends string = never> = Omit<
  SystemOptions<K>,
  'services' | 'pipelines'
> & {
  /** Also runs vector-memory behind the gateway (the `/api/memory` routes answer). */
  memory?: boolean;
  /** Also runs the knowledge vault behind the gateway (the `/api/knowledge` routes answer). */
  knowledge?: boolean;
};

/** A gateway answer with its body read: `json` is `{}` when the body is not JSON. */
export interface GatewayAnswer {
  status: number;
  headers: Headers;
  type: string | null;
  text: string;
  json: Record<string, unknown>;
}

/** How {@link System.request} sends a request. */
export interface RequestOptions {
  /** `Authorization: Bearer <key>`; the admin key unless given, none with `null`. */
  key?: string | null;
  /** Sent as JSON (with `content-type: application/json`). */
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * A whole Heady system for one suite, registered by {@link withSystem}: its fields are
 * filled by the suite's `beforeAll` and throw when read before it ran.
 */
export interface System<K extends string = never> {
  /** The suite's own nats-server. */
  readonly nats: TestNatsServer;
  /** The suite's own database. */
  readonly pg: TestDatabase;
  /** A pool on the suite's database, closed after the suite. */
  readonly db: Kysely<Database>;
  readonly stack: Stack;
  readonly gatewayUrl: string;
  /** The suite's NATS connection (as `operator`) when asked for with `client`; closed first. */
  readonly nc: NatsConnection;
  /**
   * The two organizations of `heady apikeys dev`: an admin key of an Enterprise
   * organization (the stack's own, `stack`) and a member key of a Free one (`demo`).
   */
  readonly credentials: { readonly admin: OrgCredentials; readonly demo: OrgCredentials };
  /** The keys asked for with `keys`, by their names there. */
  readonly keys: Readonly<Record<K, string>>;
  /** Creates an API key (and its organization when missing) and returns it. */
  createKey(spec: KeySpec): Promise<string>;
  /**
   * Sends `method path` to the gateway and reads the answer; an event stream that opened
   * is cancelled at once (it would never end on its own: its head is the answer).
   */
  request(method: string, path: string, opts?: RequestOptions): Promise<GatewayAnswer>;
  /** Runs `heady --json <args>` against this system and returns the parsed output. */
  heady(args: string[], env?: Record<string, string>): Promise<unknown>;
}

interface Started<K extends string> {
  nats: TestNatsServer;
  pg: TestDatabase;
  db: Kysely<Database>;
  stack: Stack;
  credentials: { admin: OrgCredentials; demo: OrgCredentials };
  keys: Record<K, string>;
  nc?: NatsConnection;
}

/**
 * Registers with vitest a `beforeAll` that starts a nats-server, a database and the
 * services of `options` (all five unless `services` says otherwise) and creates the dev
 * credentials and `keys`, and an `afterAll` that stops and removes them all. Call it in a
 * `describe` (or at the top of a file); a suite's own hooks registered after it run after
 * the start and before the stop.
 */
export function withSystem<K extends string = never>(options: SystemOptions<K>): System<K> {
  let state: Partial<Started<K>> = {};
  const started = (): Started<K> => {
    const s = state;
    if (!s.nats || !s.pg || !s.db || !s.stack || !s.credentials || !s.keys)
      throw new Error('the system is not running: read it in a test or a hook after withSystem()');
    return s as Started<K>;
  };

  beforeAll(async () => {
    const { database, natsAuth, keys, client, ...stackOptions } = options;
    const nats = await startNatsServer(natsAuth ? { auth: true } : {});
    state.nats = nats;
    const pg = await createTestDatabase(database);
    state.pg = pg;
    const db = createDb({ url: pg.url, poolMax: 2 });
    state.db = db;
    const stack = await startStack({
      ...stackOptions,
      ...(natsAuth ? { nats } : { natsUrl: nats.url }),
      databaseUrl: pg.url,
    });
    state.stack = stack;
    const demo: KeySpec = { org: 'demo', plan: 'FREE', role: 'member' };
    state.credentials = {
      admin: { key: stack.apiKey, org: 'stack', plan: 'ENTERPRISE', role: 'admin' },
      demo: { key: await newKey(db, demo), ...demo },
    };
    const made = {} as Record<K, string>;
    for (const [name, spec] of Object.entries(keys ?? {}) as [K, KeySpec][])
      made[name] = await newKey(db, { name, ...spec });
    state.keys = made;
    if (client) state.nc = await connect(nats.connectOptions());
  });

  afterAll(async () => {
    const { nc, stack, db, pg, nats } = state;
    state = {};
    await nc?.close();
    await stack?.stop();
    await db?.destroy();
    await pg?.drop();
    await nats?.stop();
  });

  return {
    get nats() {
      return started().nats;
    },
    get pg() {
      return started().pg;
    },
    get db() {
      return started().db;
    },
    get stack() {
      return started().stack;
    },
    get gatewayUrl() {
      return started().stack.gatewayUrl;
    },
    get nc() {
      const { nc } = started();
      if (!nc) throw new Error('no NATS connection: ask for one with `client: true`');
      return nc;
    },
    get credentials() {
      return started().credentials;
    },
    get keys() {
      return started().keys;
    },
    createKey: (spec) => newKey(started().db, spec),
    request: (method, path, opts = {}) => {
      const { stack, credentials } = started();
      const key = opts.key === undefined ? credentials.admin.key : opts.key;
      return gatewayRequest(`${stack.gatewayUrl}${path}`, method, key, opts);
    },
    heady: (args, env) => started().stack.heady(args, env),
  };
}

/**
 * {@link withSystem} with the gateway alone (and vector-memory with `memory`), for suites
 * of the HTTP edge that need no conductor or pipeline behind it.
 */
export function withGateway<K extends string = never>(options: GatewayOptions<K>): System<K> {
  const { memory, knowledge, ...rest } = options;
  const services: ServiceName[] = [
    ...(memory ? (['vector-memory'] as const) : []),
    ...(knowledge ? (['knowledge-vault'] as const) : []),
    'gateway',
  ];
  return withSystem({ ...rest, services });
}

async function newKey(db: Kysely<Database>, spec: KeySpec): Promise<string> {
  const org = await ensureOrganization(db, spec.org, spec.plan);
  return (await createApiKey(db, { orgId: org.id, name: spec.name ?? spec.org, role: spec.role }))
    .key;
}

async function gatewayRequest(
  url: string,
  method: string,
  key: string | null,
  opts: RequestOptions,
): Promise<GatewayAnswer> {
  const { body, headers = {} } = opts;
  const res = await fetch(url, {
    method,
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const type = res.headers.get('content-type');
  const text = type?.startsWith('text/event-stream')
    ? (await res.body?.cancel(), '')
    : await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // not JSON: `text` has it
  }
  return { status: res.status, headers: res.headers, type, text, json };
}
