#!/usr/bin/env node
// The `pier` command: loads the TypeScript CLI through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';

// A reader that went away (`pier services logs x | head`) ends the command quietly, as it ends other Unix tools;
// any other stream error is a real one and still surfaces.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
