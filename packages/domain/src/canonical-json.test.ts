import { canonicalJson, jsonEquals } from './canonical-json';

describe('canonicalJson', () => {
  it('sorts keys at every depth', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('ignores key order but not values, array order or types', () => {
    expect(jsonEquals({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(jsonEquals({ a: 1, b: [1, 2] }, { a: 1, b: [2, 1] })).toBe(false);
    expect(jsonEquals({ a: 1 }, { a: '1' })).toBe(false);
    expect(jsonEquals({ a: null }, {})).toBe(false);
  });

  it('drops undefined properties, maps bigint to strings and dates to ISO', () => {
    expect(canonicalJson({ a: undefined, n: 12n, d: new Date('2025-01-02T03:04:05.000Z') })).toBe(
      '{"d":"2025-01-02T03:04:05.000Z","n":"12"}',
    );
    expect(canonicalJson([undefined, 1])).toBe('[null,1]');
  });

  it('allows shared references but rejects cycles', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cyclic/);
  });
});
