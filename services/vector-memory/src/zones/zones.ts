/** A fitted projection of an organization's memory onto its three principal axes. */
export interface ZoneBasis {
  mean: Float32Array;
  axes: [Float32Array, Float32Array, Float32Array];
  /** Share of the sample's variance along each axis. */
  explained: [number, number, number];
  /** Vectors the fit used, and how many the organization held then. */
  sampleSize: number;
  fittedAtCount: number;
  fittedAt: string;
}

/** The 3D zone of a vector: its coordinates on the three axes and the octant they fall in. */
export interface Zone {
  /** 0–7: bit 0 set when x ≥ 0, bit 1 when y ≥ 0, bit 2 when z ≥ 0. */
  zone: number;
  coordinates: [number, number, number];
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function normalise(v: Float32Array): number {
  const n = Math.sqrt(dot(v, v));
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) / n;
  return n;
}

/** A deterministic pseudo-random unit vector (so fits are reproducible). */
function seeded(dim: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v[i] = ((x >>> 0) / 0xffffffff) * 2 - 1;
  }
  normalise(v);
  return v;
}

/**
 * PCA by power iteration with deflation: the three directions of largest variance of
 * the (centred) sample. Exact enough for a zone map, and O(iterations × n × d) without
 * forming the d×d covariance.
 */
export function fitZones(
  sample: Float32Array[],
  fittedAtCount: number,
  iterations = 40,
): ZoneBasis {
  const n = sample.length;
  const dim = sample[0]?.length ?? 0;
  if (n < 2 || dim < 3) throw new Error('zones need at least 2 vectors of at least 3 dimensions');
  const mean = new Float32Array(dim);
  for (const v of sample)
    for (let i = 0; i < dim; i++) mean[i] = (mean[i] as number) + (v[i] as number) / n;
  const centred = sample.map((v) => Float32Array.from(v, (x, i) => x - (mean[i] as number)));
  const total = centred.reduce((s, v) => s + dot(v, v), 0) / n;
  const axes: Float32Array[] = [];
  const explained: number[] = [];
  for (let c = 0; c < 3; c++) {
    let v = seeded(dim, 0x9e3779b9 + c);
    let eigen = 0;
    for (let it = 0; it < iterations; it++) {
      const next = new Float32Array(dim);
      for (const x of centred) {
        const p = dot(x, v);
        for (let i = 0; i < dim; i++) next[i] = (next[i] as number) + p * (x[i] as number);
      }
      // deflate: stay orthogonal to the axes already found
      for (const a of axes) {
        const p = dot(next, a);
        for (let i = 0; i < dim; i++) next[i] = (next[i] as number) - p * (a[i] as number);
      }
      eigen = normalise(next) / n;
      if (eigen === 0) break;
      v = next;
    }
    // a sign convention, so refits do not flip octants for no reason: the largest component is positive
    let big = 0;
    for (let i = 1; i < dim; i++)
      if (Math.abs(v[i] as number) > Math.abs(v[big] as number)) big = i;
    if ((v[big] as number) < 0) for (let i = 0; i < dim; i++) v[i] = -(v[i] as number);
    axes.push(v);
    explained.push(total > 0 ? eigen / total : 0);
  }
  return {
    mean,
    axes: axes as [Float32Array, Float32Array, Float32Array],
    explained: explained as [number, number, number],
    sampleSize: n,
    fittedAtCount,
    fittedAt: new Date().toISOString(),
  };
}

/** Projects `v` onto the basis and names its octant. */
export function zoneOf(basis: ZoneBasis, v: Float32Array): Zone {
  const c = Float32Array.from(v, (x, i) => x - (basis.mean[i] as number));
  const coordinates = basis.axes.map((a) => dot(c, a)) as [number, number, number];
  const zone =
    (coordinates[0] >= 0 ? 1 : 0) | (coordinates[1] >= 0 ? 2 : 0) | (coordinates[2] >= 0 ? 4 : 0);
  return { zone, coordinates };
}
