import { describe, expect, it } from 'vitest';
import { chunkDocument, sentencesOf } from './chunker.js';

describe(sentencesOf.name, () => {
  it('splits at sentence ends, not at abbreviations followed by lower case', () => {
    expect(sentencesOf('The sky is blue. It rains! Does it? e.g. not here.')).toEqual([
      'The sky is blue.',
      'It rains!',
      'Does it? e.g. not here.',
    ]);
  });
});

describe(chunkDocument.name, () => {
  const opts = { maxChars: 120, overlapChars: 40 };

  it('starts a passage at each heading and puts the heading path first', () => {
    const md = '# Install\nRun the script. It is quick.\n## Linux\nUse apt.\n# Usage\nCall it.';
    const p = chunkDocument(md, opts);
    expect(p.map((x) => x.text)).toEqual([
      'Install\nRun the script. It is quick.',
      'Install › Linux\nUse apt.',
      'Usage\nCall it.',
    ]);
    expect(p.map((x) => x.ordinal)).toEqual([0, 1, 2]);
  });

  it('packs sentences up to the size and repeats the last ones in the next passage', () => {
    const sentences = Array.from({ length: 12 }, (_, i) => `Sentence number ${i} is here.`);
    const p = chunkDocument(sentences.join(' '), opts);
    expect(p.length).toBeGreaterThan(2);
    for (const x of p) expect(x.text.length).toBeLessThanOrEqual(opts.maxChars);
    // every sentence is in some passage, and consecutive passages share their boundary sentence
    for (const s of sentences) expect(p.some((x) => x.text.includes(s))).toBe(true);
    for (let i = 1; i < p.length; i++) {
      const last = (p[i - 1] as { text: string }).text.split(/(?<=\.) /).pop() as string;
      expect((p[i] as { text: string }).text.startsWith(last)).toBe(true);
    }
  });

  it('cuts a sentence longer than a passage at word boundaries', () => {
    const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const p = chunkDocument(long, { maxChars: 100, overlapChars: 0 });
    expect(p.length).toBeGreaterThan(3);
    for (const x of p) expect(x.text.length).toBeLessThanOrEqual(100);
    expect(p.map((x) => x.text).join(' ')).toBe(long);
  });

  it('keeps list items, table rows and code lines as units', () => {
    const md = '- first item\n- second item\n\n| a | b |\n\n```\nconst x = 1;\n```';
    const [only] = chunkDocument(md, { maxChars: 500, overlapChars: 0 });
    expect(only?.text).toBe('- first item - second item | a | b | const x = 1;');
  });

  it('gives nothing for whitespace', () => {
    expect(chunkDocument(' \n\n\t', opts)).toEqual([]);
  });
});
