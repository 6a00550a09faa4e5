// Bundles each service's composition root (services/<name>/src/main.ts) and the sandbox CLI into
// one CommonJS file under its dist/: the workspace packages (@intellifin/*) are compiled in, third-
// party packages stay external and are installed from the lockfile in the image. Type-checking is
// done by `tsc` before this runs (esbuild only strips types).
import { build } from 'esbuild';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const entries = [];
for (const name of readdirSync(join(root, 'services'))) {
  const main = join(root, 'services', name, 'src', 'main.ts');
  if (existsSync(main)) entries.push({ in: main, out: join(root, 'services', name, 'dist', 'main.js') });
}
const cli = join(root, 'sandbox', 'src', 'cli.ts');
if (existsSync(cli)) entries.push({ in: cli, out: join(root, 'sandbox', 'dist', 'cli.js') });

const workspacePackages = /^@intellifin\//;
await Promise.all(
  entries.map((e) =>
    build({
      entryPoints: [e.in],
      outfile: e.out,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: true,
      logLevel: 'warning',
      plugins: [
        {
          name: 'externalize-third-party',
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, (args) =>
              workspacePackages.test(args.path) ? undefined : { path: args.path, external: true },
            );
          },
        },
      ],
    }),
  ),
);
// sync-api loads the .proto sources at run time for gRPC server reflection (src/grpc/descriptor.ts).
cpSync(join(root, 'proto'), join(root, 'services', 'sync-api', 'dist', 'proto'), {
  recursive: true,
  filter: (src) => !/\.(ya?ml|lock)$/.test(src),
});
console.log(`built ${entries.length} bundle(s):\n${entries.map((e) => `  ${e.out.replace(root, '')}`).join('\n')}`);
