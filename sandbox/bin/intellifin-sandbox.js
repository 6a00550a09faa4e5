#!/usr/bin/env node
'use strict';
// Runs the TypeScript CLI through tsx's CommonJS loader (no build step).
require('tsx/cjs');
require('../src/cli.ts')
  .main()
  .catch((err) => {
    process.stderr.write(`intellifin-sandbox: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
