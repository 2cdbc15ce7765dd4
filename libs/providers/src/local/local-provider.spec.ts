import { describe, expect, it } from 'vitest';
import { LOCAL_MODEL, LOCAL_PREFACE, LocalProvider } from './local-provider.js';

const context = [
  {
    source: 'steel-report',
    text:
      'The tariff on imported steel rose to 25 percent in March. ' +
      'Domestic mills welcomed the decision. Shipping costs were unchanged.',
  },
  {
    source: 'weather-note',
    text: 'Heavy rain flooded the harbour on Tuesday. The ferries stopped for a day.',
  },
];

describe(LocalProvider.name, () => {
  const local = new LocalProvider();

  it('answers by quoting the context sentences that match, with their sources', async () => {
    const r = await local.chat({
      messages: [{ role: 'user', content: 'What happened to the steel tariff?' }],
      context,
    });
    expect(r.model).toBe(LOCAL_MODEL);
    expect(r.provider).toBe('local');
    expect(r.text.startsWith(LOCAL_PREFACE)).toBe(true);
    expect(r.text).toContain('extractive');
    expect(r.text).toContain(
      '"The tariff on imported steel rose to 25 percent in March." (source: steel-report)',
    );
    expect(r.text).not.toContain('harbour');
    expect(r.usage.completionTokens).toBe(local.countTokens(r.text));
  });

  it('says it has nothing to quote when no passage shares a word with the question', async () => {
    const r = await local.chat({
      messages: [{ role: 'user', content: 'Who won the chess championship?' }],
      context,
    });
    expect(r.text).toContain('nothing to quote');
    expect(r.text).toContain('steel-report, weather-note');
  });

  it('without context, reports summary, keywords, entities and sentiment of the message', async () => {
    const r = await local.chat({
      messages: [
        {
          role: 'user',
          content: 'Maria Lopez loved the wonderful new library in Lisbon, opened on 3 March 2024.',
        },
      ],
    });
    expect(r.text).toContain('No context passages were given');
    expect(r.text).toContain('Sentiment: positive');
    expect(r.text).toMatch(/Keywords: .*library/);
    expect(r.text).toContain('3 March 2024 (DATE)');
  });

  it('streams the same answer in pieces, then done', async () => {
    const req = { messages: [{ role: 'user' as const, content: 'steel tariff?' }], context };
    const whole = await local.chat(req);
    let text = '';
    let done;
    for await (const ev of local.stream(req)) {
      if (ev.type === 'delta') text += ev.text;
      else done = ev;
    }
    expect(text).toBe(whole.text);
    expect(done).toMatchObject({ model: LOCAL_MODEL, text: whole.text, finishReason: 'stop' });
  });

  it('embeds with the hashing embedder: deterministic, unit length, one per text', async () => {
    const r = await new LocalProvider({ dimensions: 64 }).embed({
      texts: ['steel tariff', 'steel tariff', ''],
    });
    expect(r.vectors).toHaveLength(3);
    expect(r.vectors[0]).toHaveLength(64);
    expect(Array.from(r.vectors[0]!)).toEqual(Array.from(r.vectors[1]!));
    expect(r.vectors[0]!.reduce((s, x) => s + x * x, 0)).toBeCloseTo(1, 5);
    expect(r.vectors[2]!.every((x) => x === 0)).toBe(true);
  });

  it('refuses a call whose signal is already aborted', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(
      local.chat({ messages: [{ role: 'user', content: 'hi' }], signal: ctl.signal }),
    ).rejects.toMatchObject({ kind: 'aborted' });
  });

  it('analyzes a text: summary sentences come from the text, in its order', () => {
    const a = local.analyze(
      'Steel prices rose. Steel mills in Ohio hired workers because steel demand grew. The cat slept.',
      { sentences: 1 },
    );
    expect(a.summary).toEqual(['Steel mills in Ohio hired workers because steel demand grew.']);
    expect(a.keywords[0]).toBe('steel');
  });
});
