/**
 * Jest transform: TypeScript → CommonJS with esbuild (the compiler tsx and `npm run build` use).
 * It only strips types; `npm run typecheck` (tsc) is what checks them.
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: filename.endsWith('.ts') ? 'ts' : 'js',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'external',
      sourcefile: filename,
    });
    return { code, map };
  },
};
