// wink-nlp's `its.*` are plain functions kept on an object and called by wink itself, with no
// `this`, but typed as methods.
/* eslint-disable @typescript-eslint/unbound-method */
import winkNLP, { type ItemSentence, type ItemToken, type ItsFunction } from 'wink-nlp';
import model from 'wink-eng-lite-web-model';

// Loading the model takes ~0.3 s: once per process, on first use.
let loaded: ReturnType<typeof winkNLP> | undefined;
function nlp(): ReturnType<typeof winkNLP> {
  return (loaded ??= winkNLP(model));
}

/** Loads the English model now (a process that will answer with `local` does so at start). */
export function loadLocalModel(): void {
  nlp();
}

/** A named entity: a wink-nlp entity (DATE, MONEY, ...) or a run of proper nouns. */
export interface Entity {
  text: string;
  /** wink-nlp's type (`DATE`, `MONEY`, `CARDINAL`, ...) or `PROPER_NOUN` for a name. */
  type: string;
}

/** What the extractive analysis finds in a text. */
export interface TextAnalysis {
  /** The highest-ranked sentences, in the text's order. */
  summary: string[];
  /** Content words (lemmas of nouns, proper nouns, adjectives) by frequency. */
  keywords: string[];
  entities: Entity[];
  /** wink-nlp's lexicon sentiment, -1 (negative) to 1 (positive). */
  sentiment: { score: number; label: 'positive' | 'negative' | 'neutral' };
}

/** A sentence with the content-word lemmas it contains. */
export interface Sentence {
  text: string;
  terms: string[];
}

// wink-nlp's typings declare `its.lemma` with a parameter list its own `out()` rejects
function lemma(): ItsFunction<string> {
  return nlp().its.lemma as unknown as ItsFunction<string>;
}

function terms(s: ItemSentence): string[] {
  const its = nlp().its;
  return s
    .tokens()
    .filter((t) => t.out(its.type) === 'word' && !t.out(its.stopWordFlag))
    .out(lemma())
    .map((l) => l.toLowerCase());
}

/** The sentences of a text with their content-word lemmas (stop words dropped). */
export function sentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  nlp()
    .readDoc(text)
    .sentences()
    .each((s: ItemSentence) => {
      out.push({ text: s.out().trim(), terms: terms(s) });
    });
  return out.filter((s) => s.text.length > 0);
}

/** The lowercased content-word lemmas of a text. */
export function contentTerms(text: string): string[] {
  return sentences(text).flatMap((s) => s.terms);
}

function label(score: number): TextAnalysis['sentiment']['label'] {
  if (score > 0.05) return 'positive';
  if (score < -0.05) return 'negative';
  return 'neutral';
}

/**
 * Summary by sentence ranking (a sentence scores the summed document frequency of its
 * content words, damped by its length), keywords, entities and sentiment of a text.
 */
export function analyze(text: string, opts: { sentences?: number; keywords?: number } = {}) {
  const { its } = nlp();
  const doc = nlp().readDoc(text);
  const all = sentences(text);
  const tf = new Map<string, number>();
  for (const t of all.flatMap((s) => s.terms)) tf.set(t, (tf.get(t) ?? 0) + 1);

  const want = opts.sentences ?? Math.min(3, Math.max(1, Math.ceil(all.length / 3)));
  const summary = all
    .map((s, i) => ({
      i,
      text: s.text,
      score: s.terms.reduce((n, t) => n + (tf.get(t) ?? 0), 0) / Math.sqrt(s.terms.length + 1),
    }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, want)
    .sort((a, b) => a.i - b.i)
    .map((s) => s.text);

  const kw = new Map<string, number>();
  doc
    .tokens()
    .filter((t) => ['NOUN', 'PROPN', 'ADJ'].includes(t.out(its.pos)) && !t.out(its.stopWordFlag))
    .each((t: ItemToken) => {
      const l = t.out(lemma()).toLowerCase();
      kw.set(l, (kw.get(l) ?? 0) + 1);
    });
  const keywords = [...kw.entries()] // Map keeps first-seen order, so ties go to the earlier word
    .sort((a, b) => b[1] - a[1])
    .slice(0, opts.keywords ?? 8)
    .map(([w]) => w);

  const entities: Entity[] = doc
    .entities()
    .out(its.detail)
    .map((e) => ({ text: (e as { value: string }).value, type: (e as { type: string }).type }));
  let run: string[] = [];
  const flush = (): void => {
    if (run.length > 0) entities.push({ text: run.join(' '), type: 'PROPER_NOUN' });
    run = [];
  };
  doc.tokens().each((t: ItemToken) => {
    if (t.out(its.pos) === 'PROPN') run.push(t.out());
    else flush();
  });
  flush();
  const seen = new Set<string>();
  const unique = entities.filter((e) => !seen.has(e.text) && seen.add(e.text));

  const score = doc.out(its.sentiment) as unknown as number;
  return { summary, keywords, entities: unique, sentiment: { score, label: label(score) } };
}
