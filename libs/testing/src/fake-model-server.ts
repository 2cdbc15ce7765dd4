import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';

/**
 * How the fake answers one request. Unset fields take the defaults: HTTP 200 at once,
 * the tokens `['Hello', ' from', ' the', ' fake']`, usage counted by words.
 */
export interface FakeReply {
  /** Wait this long before answering anything (headers included). */
  latencyMs?: number;
  /** Answer with this status and an error body in the API's shape (429, 500, 401, ...). */
  status?: number;
  /** The `Retry-After` header (seconds or an HTTP date) of a non-2xx answer. */
  retryAfter?: string;
  /** Never answer: hold the request open until the client goes away (recorded as aborted). */
  hang?: boolean;
  /** The answer's tokens, sent one per SSE chunk when streaming. */
  tokens?: string[];
  /** Wait this long between streamed tokens. */
  tokenDelayMs?: number;
  /** Leave usage out of the answer (the client must count tokens itself). */
  omitUsage?: boolean;
  /** The model name answered; the request's model if unset. */
  model?: string;
}

/** One request the fake received. */
export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** The parsed JSON body (undefined for none). */
  body: Record<string, unknown> | undefined;
  /** `X-Heady-Task-Id`, else the body's `user` (OpenAI) or `metadata.user_id` (Anthropic). */
  taskId: string | undefined;
  stream: boolean;
  /** True once the client went away before the answer was complete. */
  aborted: boolean;
}

/** A running fake; {@link startFakeModelServer}. */
export interface FakeModelServer {
  /** `http://127.0.0.1:<port>/v1`: the `baseURL` of an OpenAI-compatible client. */
  readonly openaiBaseURL: string;
  /** `http://127.0.0.1:<port>`: the `baseURL` of Anthropic's SDK. */
  readonly anthropicBaseURL: string;
  /** Every request received, in order. */
  readonly requests: FakeRequest[];
  /** Replies for the next requests, one each, before the {@link respond} script. */
  enqueue(...replies: FakeReply[]): void;
  /** The reply to any request the queue does not cover (the default: the plain answer). */
  respond(script: (req: FakeRequest) => FakeReply): void;
  /** Requests received per task id (header or user). */
  calls(taskId: string): number;
  /** The most requests that were open (received, not yet answered or aborted) at once. */
  peakInFlight(): number;
  /** The requests the client went away from before their answer was complete. */
  aborted(): FakeRequest[];
  /** Resolves once `n` requests were aborted; rejects after `timeoutMs` (5 s if unset). */
  waitForAborted(n: number, timeoutMs?: number): Promise<FakeRequest[]>;
  /** Closes the server, ending held requests. */
  close(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref?.());

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks).toString('utf8');
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
}

function promptWords(body: Record<string, unknown> | undefined): number {
  const msgs = (body?.messages ?? []) as { content?: unknown }[];
  const system = typeof body?.system === 'string' ? words(body.system) : 0;
  return msgs.reduce((n, m) => n + (typeof m.content === 'string' ? words(m.content) : 0), system);
}

/**
 * A scriptable fake of OpenAI's HTTP API (`POST /v1/chat/completions` plain and SSE,
 * `POST /v1/embeddings`, `GET /v1/models`) and of Anthropic's Messages API
 * (`POST /v1/messages`, plain and SSE), on a port of its own on 127.0.0.1. Each request's
 * answer comes from the queue ({@link FakeModelServer.enqueue}) or the script; every
 * request is recorded, with whether the client went away before its answer was complete.
 */
export async function startFakeModelServer(): Promise<FakeModelServer> {
  const requests: FakeRequest[] = [];
  const queue: FakeReply[] = [];
  let script: (req: FakeRequest) => FakeReply = () => ({});
  const sockets = new Set<import('node:net').Socket>();
  let open = 0;
  let peak = 0;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readJson(req).catch(() => undefined);
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    const header = req.headers['x-heady-task-id'];
    const meta = body?.metadata as { user_id?: unknown } | undefined;
    const user = typeof body?.user === 'string' ? body.user : meta?.user_id;
    const rec: FakeRequest = {
      method: req.method ?? 'GET',
      path,
      headers: req.headers,
      body,
      taskId: typeof header === 'string' ? header : typeof user === 'string' ? user : undefined,
      stream: body?.stream === true,
      aborted: false,
    };
    requests.push(rec);
    peak = Math.max(peak, ++open);
    res.on('close', () => {
      open--;
      if (!res.writableFinished) rec.aborted = true;
    });

    const reply = queue.shift() ?? script(rec);
    const anthropic = path === '/v1/messages';
    if (reply.latencyMs) await sleep(reply.latencyMs);
    if (reply.hang) return; // held until the client (or close()) ends the socket
    if (res.destroyed) return;

    if (reply.status && reply.status >= 400) {
      res.writeHead(reply.status, {
        'content-type': 'application/json',
        ...(reply.retryAfter ? { 'retry-after': reply.retryAfter } : {}),
      });
      const message = `fake error ${reply.status}`;
      res.end(
        JSON.stringify(
          anthropic
            ? {
                type: 'error',
                error: { type: reply.status === 429 ? 'rate_limit_error' : 'api_error', message },
              }
            : { error: { message, type: 'fake_error', code: reply.status } },
        ),
      );
      return;
    }

    const model = reply.model ?? (typeof body?.model === 'string' ? body.model : 'fake-model');
    const tokens = reply.tokens ?? ['Hello', ' from', ' the', ' fake'];
    const text = tokens.join('');
    const usage = { prompt: promptWords(body), completion: tokens.length };

    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          data: [{ id: model, object: 'model', owned_by: 'fake' }],
        }),
      );
      return;
    }
    if (path === '/v1/embeddings') {
      const input = body?.input;
      const texts = Array.isArray(input) ? (input as string[]) : [String(input)];
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          object: 'list',
          model,
          // a vector that depends on the text: [length, word count, 1]
          data: texts.map((t, index) => ({
            object: 'embedding',
            index,
            embedding: [t.length, words(t), 1],
          })),
          ...(reply.omitUsage
            ? {}
            : {
                usage: { prompt_tokens: texts.reduce((n, t) => n + words(t), 0), total_tokens: 0 },
              }),
        }),
      );
      return;
    }
    if (path !== '/v1/chat/completions' && !anthropic) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${path}` } }));
      return;
    }

    if (!rec.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          anthropic
            ? {
                id: 'msg_fake',
                type: 'message',
                role: 'assistant',
                model,
                content: [{ type: 'text', text }],
                stop_reason: 'end_turn',
                stop_sequence: null,
                usage: { input_tokens: usage.prompt, output_tokens: usage.completion },
              }
            : {
                id: 'chatcmpl-fake',
                object: 'chat.completion',
                created: 0,
                model,
                choices: [
                  {
                    index: 0,
                    message: { role: 'assistant', content: text },
                    finish_reason: 'stop',
                  },
                ],
                ...(reply.omitUsage
                  ? {}
                  : {
                      usage: {
                        prompt_tokens: usage.prompt,
                        completion_tokens: usage.completion,
                        total_tokens: usage.prompt + usage.completion,
                      },
                    }),
              },
        ),
      );
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (data: unknown, event?: string): void => {
      if (res.destroyed) return;
      res.write(
        `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
      );
    };
    if (anthropic) {
      send(
        {
          type: 'message_start',
          message: {
            id: 'msg_fake',
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: usage.prompt, output_tokens: 1 },
          },
        },
        'message_start',
      );
      send(
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
        'content_block_start',
      );
    }
    for (const [i, token] of tokens.entries()) {
      if (i > 0 && reply.tokenDelayMs) await sleep(reply.tokenDelayMs);
      if (res.destroyed) return;
      if (anthropic)
        send(
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: token } },
          'content_block_delta',
        );
      else
        send({
          id: 'chatcmpl-fake',
          object: 'chat.completion.chunk',
          model,
          choices: [{ index: 0, delta: { content: token }, finish_reason: null }],
        });
    }
    if (anthropic) {
      send({ type: 'content_block_stop', index: 0 }, 'content_block_stop');
      send(
        {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: usage.completion },
        },
        'message_delta',
      );
      send({ type: 'message_stop' }, 'message_stop');
    } else {
      send({
        id: 'chatcmpl-fake',
        object: 'chat.completion.chunk',
        model,
        choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      });
      const wantsUsage = (body?.stream_options as { include_usage?: boolean } | undefined)
        ?.include_usage;
      if (wantsUsage && !reply.omitUsage)
        send({
          id: 'chatcmpl-fake',
          object: 'chat.completion.chunk',
          model,
          choices: [],
          usage: {
            prompt_tokens: usage.prompt,
            completion_tokens: usage.completion,
            total_tokens: usage.prompt + usage.completion,
          },
        });
      send('[DONE]');
    }
    res.end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(e));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const aborted = (): FakeRequest[] => requests.filter((r) => r.aborted);

  return {
    openaiBaseURL: `http://127.0.0.1:${port}/v1`,
    anthropicBaseURL: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...replies) => void queue.push(...replies),
    respond: (s) => void (script = s),
    calls: (taskId) => requests.filter((r) => r.taskId === taskId).length,
    peakInFlight: () => peak,
    aborted,
    async waitForAborted(n, timeoutMs = 5_000) {
      const until = Date.now() + timeoutMs;
      while (aborted().length < n) {
        if (Date.now() > until)
          throw new Error(`fake model server: ${aborted().length} of ${n} requests aborted`);
        await sleep(10);
      }
      return aborted();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
