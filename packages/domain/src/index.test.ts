import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as domain from './index';

describe('@intellifin/domain public API', () => {
  it('re-exports every module', () => {
    for (const name of [
      'DomainError',
      'CURRENCIES',
      'parseDecimalToMinor',
      'formatMinor',
      'addMoney',
      'moneyToJson',
      'PROVIDERS',
      'SYNC_TRIGGERS',
      'statusAfterRun',
      'shouldRunSync',
      'diffTransaction',
      'isModification',
      'transactionToJson',
      'canonicalJson',
      'addDays',
      'nextMonoWindow',
      'advanceMonoCursor',
      'parseCursor',
      'cursorToJson',
      'scopeCovers',
      'SYNC_MODES',
      'collectPages',
      'fullJitterDelayMs',
      'retryDelayMs',
      'parseRetryAfterMs',
    ]) {
      expect([name, typeof (domain as Record<string, unknown>)[name]]).not.toEqual([name, 'undefined']);
    }
  });

  it('has no runtime dependency outside the package', () => {
    // The package.json declares no dependencies: the domain is pure.
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(pkg.dependencies ?? {}).toEqual({});
  });

  it('imports nothing but its own modules (no I/O, no dependencies)', () => {
    const sources = readdirSync(__dirname).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    expect(sources.length).toBeGreaterThan(5);
    for (const file of sources) {
      const text = readFileSync(join(__dirname, file), 'utf8');
      const specifiers = [...text.matchAll(/(?:from|import|require\()\s*'([^']+)'/g)].map((m) => m[1]);
      for (const spec of specifiers) expect([file, spec]).toEqual([file, expect.stringMatching(/^\.\//)]);
    }
  });
});
