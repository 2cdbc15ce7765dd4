import { type ServerResponse } from 'node:http';
import { type GatewayConfig } from '@heady/config';
import { ErrorCode, HeadyError } from '@heady/contracts';
import { CONFIG, LOGGER } from '@heady/runtime';
import { type Logger } from '@heady/telemetry';
import { Inject, Injectable } from '@nestjs/common';
import { type z } from 'zod';
import { openAiError } from '../problem/problem.filter.js';
import { toProblem } from '../problem/problem.js';
import { LiveTokensRepository } from '../runs/live-tokens.repository.js';
import { type RunView } from '../runs/runs.schema.js';
import { type RunStarter, RunsService } from '../runs/runs.service.js';
import { ModelsRepository } from './models.repository.js';
import {
  type ChatCompletionBody,
  type chatCompletion,
  type embeddingList,
  type embeddingsBody,
  type modelList,
} from './openai.schema.js';

/** The response header naming the run behind a `/v1` answer. */
export const RUN_ID_HEADER = 'Heady-Run-Id';
/** The model every deployment has: the group that serves `chat`. */
export const DEFAULT_MODEL = 'heady';
/** `heady-<group>`: the model name of a service group. */
const MODEL_PREFIX = 'heady-';

/** Actions `/v1` prefers in a group, by kind of request (else the group's first action). */
const PREFERRED: Record<'chat' | 'embed', string[]> = {
  chat: ['chat', 'complete', 'analyze'],
  embed: ['embed'],
};

interface RunResult {
  output?: unknown;
  model?: string | null;
  finishReason?: string | null;
  execution?: { usage?: { promptTokens?: number; completionTokens?: number } } | null;
}

const FINISH = new Set(['stop', 'length', 'content_filter']);

/** OpenAI's finish reason of a run's answer (`stop` unless the provider said otherwise). */
function finishOf(r: RunResult): 'stop' | 'length' | 'content_filter' {
  const f = r.finishReason ?? '';
  return FINISH.has(f) ? (f as 'stop' | 'length' | 'content_filter') : 'stop';
}

function action0(model: string): never {
  throw new HeadyError(ErrorCode.ModelNotFound, `The model \`${model}\` serves no action`, {
    model,
  });
}

function flatten(content: string | { text: string }[]): string {
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

/**
 * OpenAI's API over Heady's runs: each chat completion or embeddings request is a run (of
 * the action its model names), started as `POST /api/runs` would start it — same plans,
 * limits and audit — and answered when it ends; a streamed completion relays the run's
 * live tokens as `chat.completion.chunk`s.
 */
@Injectable()
export class OpenAiService {
  constructor(
    @Inject(RunsService) private readonly runs: RunsService,
    @Inject(ModelsRepository) private readonly models: ModelsRepository,
    @Inject(LiveTokensRepository) private readonly tokens: LiveTokensRepository,
    @Inject(CONFIG) private readonly config: GatewayConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** `heady` and one `heady-<group>` per enabled service group. */
  async list(): Promise<z.infer<typeof modelList>> {
    const groups = await this.models.groups();
    const created = Math.floor(
      Math.min(...groups.map((g) => g.createdAt.getTime()), Date.now()) / 1000,
    );
    return {
      object: 'list',
      data: [
        { id: DEFAULT_MODEL, object: 'model', created, owned_by: 'heady' },
        ...groups.map((g) => ({
          id: `${MODEL_PREFIX}${g.group}`,
          object: 'model' as const,
          created: Math.floor(g.createdAt.getTime() / 1000),
          owned_by: 'heady',
        })),
      ],
    };
  }

  /** The action a model name runs: `heady` → `chat`; `heady-<group>` → that group's. */
  async resolve(model: string, kind: 'chat' | 'embed'): Promise<string> {
    const groups = await this.models.groups();
    if (model === DEFAULT_MODEL) {
      const action = kind === 'chat' ? 'chat' : 'embed';
      if (groups.some((g) => g.actions.includes(action))) return action;
    }
    const g = model.startsWith(MODEL_PREFIX)
      ? groups.find((x) => x.group === model.slice(MODEL_PREFIX.length))
      : undefined;
    if (!g) {
      const known = [DEFAULT_MODEL, ...groups.map((x) => `${MODEL_PREFIX}${x.group}`)];
      throw new HeadyError(
        ErrorCode.ModelNotFound,
        `The model \`${model}\` does not exist; GET /v1/models lists them (${known.join(', ')})`,
        { model },
      );
    }
    // a group is listed only with an action routed to it
    return PREFERRED[kind].find((a) => g.actions.includes(a)) ?? g.actions[0] ?? action0(model);
  }

  private async startChat(body: ChatCompletionBody, by: RunStarter): Promise<string> {
    const action = await this.resolve(body.model, 'chat');
    const maxTokens = body.max_completion_tokens ?? body.max_tokens;
    const accepted = await this.runs.start(
      {
        action,
        input: {
          messages: body.messages.map((m) => ({
            role: m.role === 'developer' ? 'system' : m.role,
            content: flatten(m.content),
          })),
          ...(body.temperature == null ? {} : { temperature: body.temperature }),
          ...(maxTokens == null ? {} : { maxTokens }),
          ...(body.user ? { user: body.user } : {}),
          // OpenAI's API is stateless: the client sends the whole conversation, and an answer
          // drawn from the organization's memory would surprise it (and cost a search)
          memory: false,
        },
      },
      undefined,
      by,
    );
    return accepted.runId;
  }

  /** Longest a `/v1` answer is waited for: less than the gateway's request timeout. */
  private waitMs(): number {
    const t = this.config.http.requestTimeoutMs;
    return t > 0 ? Math.max(1_000, t - 1_000) : 600_000;
  }

  /** The run once it ended well; RUN_FAILED, or ANSWER_TIMEOUT past the wait. */
  private async answered(runId: string, orgId: string, signal?: AbortSignal): Promise<RunView> {
    const view = await this.runs.awaitEnd(runId, orgId, this.waitMs(), signal);
    if (!view) {
      throw new HeadyError(
        ErrorCode.AnswerTimeout,
        `run ${runId} did not answer within ${this.waitMs()} ms; it goes on (GET /api/runs/${runId})`,
        { runId },
      );
    }
    if (view.status !== 'SUCCEEDED') {
      throw new HeadyError(
        ErrorCode.RunFailed,
        `run ${runId} ended ${view.status}: ${view.error ?? 'no answer'}`,
        { runId, status: view.status },
      );
    }
    return view;
  }

  /** A non-streamed chat completion: the run's answer. Returns the run id with it. */
  async complete(
    body: ChatCompletionBody,
    by: RunStarter,
    onRun: (runId: string) => void,
  ): Promise<z.infer<typeof chatCompletion>> {
    const runId = await this.startChat(body, by);
    onRun(runId);
    const view = await this.answered(runId, by.principal.orgId);
    const r = view.result as RunResult;
    const prompt = r.execution?.usage?.promptTokens ?? 0;
    const completion = r.execution?.usage?.completionTokens ?? 0;
    return {
      id: `chatcmpl-${runId}`,
      object: 'chat.completion',
      created: Math.floor(Date.parse(view.createdAt) / 1000),
      model: r.model ?? body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: typeof r.output === 'string' ? r.output : '' },
          finish_reason: finishOf(r),
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
      },
    };
  }

  /**
   * A streamed chat completion, written to `out` as OpenAI's server-sent events: a first chunk
   * with the role, one chunk per text delta as the worker writes it, the rest of the final
   * answer should any delta have been lost (live tokens are at most once), a last chunk with
   * the finish reason (and usage when asked), then `[DONE]`. A client that goes away cancels
   * the run, which stops its provider call. An error after the head is sent as OpenAI does:
   * a `data:` line holding `error`.
   */
  async stream(body: ChatCompletionBody, by: RunStarter, out: ServerResponse): Promise<void> {
    const runId = await this.startChat(body, by);
    const live = this.tokens.subscribe(runId);
    const gone = new AbortController();
    out.on('close', () => {
      if (!out.writableFinished) gone.abort();
    });
    const id = `chatcmpl-${runId}`;
    const created = Math.floor(Date.now() / 1000);
    let model = body.model;
    const frame = (rest: Record<string, unknown>) =>
      out.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, ...rest })}\n\n`,
      );
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      frame({ choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }] });
    out.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      [RUN_ID_HEADER.toLowerCase()]: runId,
    });
    chunk({ role: 'assistant', content: '' }, null);
    let sent = '';
    let attempt: string | undefined;
    const relay = (async () => {
      for await (const t of live) {
        // one attempt's deltas only: a retried task starts its answer again
        attempt ??= t.attempt;
        if (t.attempt !== attempt || t.done || !t.text) continue;
        sent += t.text;
        chunk({ content: t.text }, null);
      }
    })().catch(() => undefined);
    try {
      const view = await this.answered(runId, by.principal.orgId, gone.signal).catch((e) => {
        if (gone.signal.aborted) return undefined;
        throw e;
      });
      live.close();
      await relay;
      if (!view) {
        // the client left: stop the run's work
        await this.runs.cancel(runId, by.principal.orgId).catch(() => undefined);
        return;
      }
      const r = view.result as RunResult;
      model = r.model ?? model;
      const text = typeof r.output === 'string' ? r.output : '';
      if (text.startsWith(sent) && text.length > sent.length)
        chunk({ content: text.slice(sent.length) }, null);
      const finish = finishOf(r);
      chunk({}, finish);
      if (body.stream_options?.include_usage) {
        const p = r.execution?.usage?.promptTokens ?? 0;
        const c = r.execution?.usage?.completionTokens ?? 0;
        frame({
          choices: [],
          usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c },
        });
      }
      out.write('data: [DONE]\n\n');
    } catch (err) {
      live.close();
      const p = toProblem(err);
      if (p.status >= 500 && p.status !== 502 && p.status !== 504)
        this.log.error({ err, run_id: runId }, 'chat completion stream failed');
      out.write(`data: ${JSON.stringify({ error: openAiError(p) })}\n\n`);
    } finally {
      out.end();
    }
  }

  /** Embeddings of `input` from the model's group. Returns the run id with them. */
  async embeddings(
    body: z.infer<typeof embeddingsBody>,
    by: RunStarter,
    onRun: (runId: string) => void,
  ): Promise<z.infer<typeof embeddingList>> {
    const action = await this.resolve(body.model, 'embed');
    const texts = typeof body.input === 'string' ? [body.input] : body.input;
    const { runId } = await this.runs.start({ action, input: { texts } }, undefined, by);
    onRun(runId);
    const view = await this.answered(runId, by.principal.orgId);
    const r = view.result as RunResult;
    const answers = Array.isArray(r.output) ? (r.output as { vectors?: number[][] }[]) : [];
    const vectors = answers[0]?.vectors ?? [];
    const prompt = r.execution?.usage?.promptTokens ?? 0;
    return {
      object: 'list',
      data: vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding:
          body.encoding_format === 'base64'
            ? Buffer.from(Float32Array.from(v).buffer).toString('base64')
            : v,
      })),
      model: r.model ?? body.model,
      usage: { prompt_tokens: prompt, total_tokens: prompt },
    };
  }
}
