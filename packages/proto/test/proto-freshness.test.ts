import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = join(__dirname, '..', '..', '..');
const protoDir = join(root, 'proto');
const committed = join(root, 'packages', 'proto', 'src', 'gen');
const buf = join(root, 'node_modules', '.bin', 'buf');

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe('generated code is fresh', () => {
  let tmp: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'intellifin-proto-'));
  });

  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('buf.gen.yaml writes to packages/proto/src/gen', () => {
    const template = readFileSync(join(protoDir, 'buf.gen.yaml'), 'utf8');
    expect(template).toMatch(/^\s*out: \.\.\/packages\/proto\/src\/gen\s*$/m);
  });

  it('regenerating from proto/ reproduces packages/proto/src/gen exactly', () => {
    // Same template, only `out` redirected into a temp dir.
    const template = readFileSync(join(protoDir, 'buf.gen.yaml'), 'utf8');
    const out = join(tmp, 'gen');
    const redirected = template.replace(/^(\s*out:).*$/m, `$1 ${out}`);
    expect(redirected).not.toBe(template);
    const templatePath = join(tmp, 'buf.gen.yaml');
    writeFileSync(templatePath, redirected);
    execFileSync(buf, ['generate', '--template', templatePath], { cwd: protoDir, stdio: 'pipe' });

    const fresh = listFiles(out);
    expect(fresh.length).toBeGreaterThan(0);
    expect(listFiles(committed)).toEqual(fresh);
    const stale = fresh.filter((f) => readFileSync(join(out, f), 'utf8') !== readFileSync(join(committed, f), 'utf8'));
    if (stale.length > 0) {
      throw new Error(`stale generated files (run \`npm run proto:gen\` and commit): ${stale.join(', ')}`);
    }
  });
});

describe('buf lint', () => {
  it('passes with exit code 0 and no findings', () => {
    const result = spawnSync(buf, ['lint'], { cwd: protoDir, encoding: 'utf8' });
    expect({ status: result.status, stdout: result.stdout, stderr: result.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('would fail on a lint violation (the check is real)', () => {
    const bad = mkdtempSync(join(tmpdir(), 'intellifin-proto-lint-'));
    try {
      writeFileSync(join(bad, 'buf.yaml'), readFileSync(join(protoDir, 'buf.yaml')));
      // wrong directory for its package, enum without an _UNSPECIFIED zero value
      writeFileSync(join(bad, 'bad.proto'), 'syntax = "proto3";\npackage intellifin.sync.v1;\nenum Color { RED = 0; }\n');
      const result = spawnSync(buf, ['lint'], { cwd: bad, encoding: 'utf8' });
      expect(result.status).not.toBe(0);
      expect(result.stdout + result.stderr).toMatch(/suffixed with "_UNSPECIFIED"/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
