/** How documents are split into passages. */
export interface ChunkOptions {
  /** Longest passage, in characters (its heading included). */
  maxChars: number;
  /** Characters of trailing sentences repeated at the start of the next passage of a section. */
  overlapChars: number;
}

/** One passage of a document, in document order. */
export interface Passage {
  ordinal: number;
  /** The section's heading path (`Install › Linux`), or null before the first heading. */
  heading: string | null;
  /** What is stored, indexed and embedded: the heading line, then the passage's sentences. */
  text: string;
}

interface Section {
  heading: string | null;
  /** Sentences, list items, table rows and code lines, in order. */
  units: string[];
}

const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const LIST_ITEM = /^\s*(?:[-*+]|\d+[.)])\s+/;
const FENCE = /^\s*(```|~~~)/;
// a sentence ends at . ! ? (optionally closed by a quote or bracket) before whitespace and
// what looks like the start of the next one
const SENTENCE_END = /(?<=[.!?]["')\]]?)\s+(?=["'([]?[\p{Lu}\p{N}])/u;

/** The sentences of a paragraph (whitespace collapsed). */
export function sentencesOf(paragraph: string): string[] {
  const flat = paragraph.replace(/\s+/g, ' ').trim();
  if (!flat) return [];
  return flat
    .split(SENTENCE_END)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Splits Markdown (or plain text) into sections by headings, each a list of units. */
function sectionsOf(content: string): Section[] {
  const lines = content.replace(/\r\n?/g, '\n').split('\n');
  const sections: Section[] = [];
  const path: string[] = [];
  let current: Section = { heading: null, units: [] };
  let paragraph: string[] = [];
  let inCode = false;
  const flush = (): void => {
    if (paragraph.length) current.units.push(...sentencesOf(paragraph.join(' ')));
    paragraph = [];
  };
  for (const line of lines) {
    if (FENCE.test(line)) {
      flush();
      inCode = !inCode;
      continue;
    }
    if (inCode) {
      // code keeps its lines (a passage boundary may fall between two of them)
      if (line.trim()) current.units.push(line.replace(/\s+$/, ''));
      continue;
    }
    const h = HEADING.exec(line);
    if (h) {
      flush();
      if (current.units.length) sections.push(current);
      const level = (h[1] as string).length;
      path.length = Math.min(path.length, level - 1);
      path[level - 1] = (h[2] as string).trim();
      current = { heading: path.filter(Boolean).join(' › '), units: [] };
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    if (LIST_ITEM.test(line) || line.trim().startsWith('|')) {
      // a list item or a table row is a unit of its own
      flush();
      current.units.push(...sentencesOf(line));
      continue;
    }
    paragraph.push(line);
  }
  flush();
  if (current.units.length) sections.push(current);
  return sections;
}

/** Cuts a unit longer than `max` into word-aligned pieces of at most `max` characters. */
function cutLong(unit: string, max: number): string[] {
  if (unit.length <= max) return [unit];
  const out: string[] = [];
  let rest = unit;
  while (rest.length > max) {
    let cut = rest.lastIndexOf(' ', max);
    if (cut < max / 2) cut = max; // one very long word: cut it
    out.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest) out.push(rest);
  return out;
}

/**
 * Splits a document into passages: sections by Markdown headings, sentences (and list
 * items, table rows, code lines) within them, packed up to `maxChars` with the section's
 * heading first; the next passage of a section starts again with the last sentences of
 * the one before, up to `overlapChars`, so a fact spanning a boundary is whole in one of
 * them. Deterministic: the same content always gives the same passages.
 */
export function chunkDocument(content: string, opts: ChunkOptions): Passage[] {
  const passages: Passage[] = [];
  for (const section of sectionsOf(content)) {
    const head = section.heading ? `${section.heading}\n` : '';
    // a heading longer than half a passage is cut short, so sentences still fit
    const prefix = head.length > opts.maxChars / 2 ? `${head.slice(0, opts.maxChars / 2)}\n` : head;
    const room = opts.maxChars - prefix.length;
    const units = section.units.flatMap((u) => cutLong(u, room));
    let taken: string[] = [];
    let size = 0;
    const emit = (): void => {
      passages.push({
        ordinal: passages.length,
        heading: section.heading,
        text: prefix + taken.join(' '),
      });
    };
    let fresh = 0; // units in `taken` not carried over from the passage before
    for (const unit of units) {
      const added = (taken.length ? 1 : 0) + unit.length;
      if (taken.length && size + added > room) {
        emit();
        // carry the trailing sentences that fit in the overlap (never the whole passage)
        const carried: string[] = [];
        let carriedSize = 0;
        for (let i = taken.length - 1; i > 0; i--) {
          const u = taken[i] as string;
          if (carriedSize + u.length + 1 > opts.overlapChars) break;
          carried.unshift(u);
          carriedSize += u.length + 1;
        }
        taken = carried;
        size = carriedSize;
        // the overlap and the next unit must fit together, else the overlap goes
        if (size + unit.length + 1 > room) {
          taken = [];
          size = 0;
        }
        fresh = 0;
      }
      size += (taken.length ? 1 : 0) + unit.length;
      taken.push(unit);
      fresh++;
    }
    if (fresh > 0) emit();
  }
  return passages;
}
