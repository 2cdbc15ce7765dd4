import { createHash } from 'node:crypto';
import { equalBytes } from '@noble/curves/utils.js';

// RFC 6962-style domain separation: a leaf can never be passed off as an inner node.
const LEAF = Uint8Array.of(0);
const NODE = Uint8Array.of(1);

export function leafHash(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha512').update(LEAF).update(data).digest());
}

function nodeHash(l: Uint8Array, r: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha512').update(NODE).update(l).update(r).digest());
}

/** A leaf's path to the root: its index, the leaf count, and the sibling hashes bottom-up. */
export interface InclusionProof {
  index: number;
  count: number;
  siblings: Uint8Array[];
}

/** Builds the tree over `data` (each hashed as a leaf); returns the root and one proof per leaf. An odd node is promoted. */
export function merkleTree(data: Uint8Array[]): { root: Uint8Array; proofs: InclusionProof[] } {
  if (!data.length) throw new Error('merkle tree of nothing');
  let level = data.map(leafHash);
  const proofs: InclusionProof[] = data.map((_, index) => ({
    index,
    count: data.length,
    siblings: [],
  }));
  let positions = data.map((_, i) => i);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const l = level[i] as Uint8Array;
      const r = level[i + 1];
      next.push(r ? nodeHash(l, r) : l);
    }
    positions = positions.map((pos, leaf) => {
      const sibling = pos ^ 1;
      const s = level[sibling];
      if (s) proofs[leaf]?.siblings.push(s);
      return pos >> 1;
    });
    level = next;
  }
  return { root: level[0] as Uint8Array, proofs };
}

/** Recomputes the root from `data` and its proof; true when it equals `root`. */
export function verifyInclusion(
  data: Uint8Array,
  proof: InclusionProof,
  root: Uint8Array,
): boolean {
  if (proof.index < 0 || proof.index >= proof.count) return false;
  let hash = leafHash(data);
  let pos = proof.index;
  let width = proof.count;
  let k = 0;
  while (width > 1) {
    const hasSibling = (pos ^ 1) < width;
    if (hasSibling) {
      const s = proof.siblings[k++];
      if (!s) return false;
      hash = pos % 2 === 0 ? nodeHash(hash, s) : nodeHash(s, hash);
    }
    pos >>= 1;
    width = Math.ceil(width / 2);
  }
  return k === proof.siblings.length && equalBytes(hash, root);
}

/** `index.count.sib1.sib2…` with base64url siblings — compact enough for a NATS header. */
export function encodeProof(p: InclusionProof): string {
  return [
    String(p.index),
    String(p.count),
    ...p.siblings.map((s) => Buffer.from(s).toString('base64url')),
  ].join('.');
}

export function decodeProof(s: string): InclusionProof | undefined {
  const [i, c, ...sib] = s.split('.');
  const index = Number(i);
  const count = Number(c);
  if (!Number.isInteger(index) || !Number.isInteger(count) || count < 1 || count > 1_000_000)
    return undefined;
  const siblings = sib.map((x) => new Uint8Array(Buffer.from(x, 'base64url')));
  if (siblings.some((x) => x.length !== 64)) return undefined;
  return { index, count, siblings };
}
