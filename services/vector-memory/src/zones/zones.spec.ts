import { describe, expect, it } from 'vitest';
import { fitZones, zoneOf } from './zones.js';

/** Points spread 10 : 5 : 2 along three orthogonal directions of an 8-dimensional space, plus noise. */
function cloud(n: number): Float32Array[] {
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  return Array.from({ length: n }, () => {
    const v = new Float32Array(8);
    v[2] = 10 * rnd() + 3; // axis 1 (offset: the mean is removed)
    v[5] = 5 * rnd();
    v[0] = 2 * rnd();
    for (let i = 0; i < 8; i++) v[i] = (v[i] ?? 0) + 0.05 * rnd();
    return v;
  });
}

describe('zones (PCA to 3D octants)', () => {
  const basis = fitZones(cloud(2000), 2000);

  it('finds the directions of largest variance, in order', () => {
    expect(Math.abs(basis.axes[0][2] ?? 0)).toBeGreaterThan(0.99);
    expect(Math.abs(basis.axes[1][5] ?? 0)).toBeGreaterThan(0.99);
    expect(Math.abs(basis.axes[2][0] ?? 0)).toBeGreaterThan(0.99);
    expect(basis.explained[0]).toBeGreaterThan(basis.explained[1]);
    expect(basis.explained[1]).toBeGreaterThan(basis.explained[2]);
  });

  it('names the octant from the signs of the coordinates', () => {
    const sign = (i: 0 | 1 | 2): number => Math.sign(basis.axes[i][[2, 5, 0][i] ?? 0] ?? 1);
    const at = (x: number, y: number, z: number): Float32Array => {
      const v = Float32Array.from(basis.mean);
      v[2] = (v[2] ?? 0) + x * sign(0);
      v[5] = (v[5] ?? 0) + y * sign(1);
      v[0] = (v[0] ?? 0) + z * sign(2);
      return v;
    };
    expect(zoneOf(basis, at(1, 1, 1)).zone).toBe(7);
    expect(zoneOf(basis, at(-1, -1, -1)).zone).toBe(0);
    expect(zoneOf(basis, at(1, -1, 1)).zone).toBe(5);
    const z = zoneOf(basis, at(4, -2, 0.5));
    expect(z.coordinates[0]).toBeCloseTo(4, 1);
    expect(z.coordinates[1]).toBeCloseTo(-2, 1);
  });

  it('is reproducible', () => {
    const again = fitZones(cloud(2000), 2000);
    expect(Array.from(again.axes[0])).toEqual(Array.from(basis.axes[0]));
  });
});
