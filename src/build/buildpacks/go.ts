// The Go buildpack: built on the host with its own toolchain (modules from the Go module proxy), as one static
// binary. A Procfile that runs `bin/<name>` (Heroku's convention) gets every main package built into bin/; otherwise
// the module root is built into .pier/bin/app. What the build writes is kept in the image even when the app's
// .gitignore lists it (a `bin/` line is common).
import type { BuildPlan, StackContext } from '../plan.ts';

/**
 * The flags every default Go build uses. The compiled standard library Pier copies into a new service's cache
 * (go-std-cache.ts) is built with these too: Go reuses a compiled package only when its flags match.
 */
export const GO_BUILD_FLAGS = '-trimpath';

/** Where the Go builder puts the binary, relative to the app directory. */
export const GO_BINARY = '.pier/bin/app';

/** Plans a Go app. */
export function goPlan(c: StackContext): BuildPlan {
  const override = c.o.buildCommand?.trim();
  const run = c.chosen(`./${GO_BINARY}`, 'go');
  const heroku = /(^|[\s;&|])(\.\/)?bin\/[\w.-]+/.test(run);
  const host = override ? [override] : heroku ? [`go build ${GO_BUILD_FLAGS} -o bin/ ./...`] : [`go build ${GO_BUILD_FLAGS} -o ${GO_BINARY} .`];
  return {
    stack: 'go', runCommand: run, buildCommands: [], hostCommands: host, dependencyFiles: [], installCommands: [], runEnv: {},
    keepPaths: ['bin', '.pier/bin'],
  };
}
