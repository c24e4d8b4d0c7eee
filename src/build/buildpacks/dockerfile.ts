// The Dockerfile of a buildpack image, in two stages. The build stage gets the build's files (BUILD_FILES_DIR: the
// service's env, secrets included, and the operator's CA bundle), installs dependencies in a layer keyed by the
// manifest files, builds and prunes. The final stage copies only /app (and, for Python, /usr/local where pip
// installed) from it, so neither the env file nor the CA bundle is left in the image the instances run.
import type { BuildPlan } from '../plan.ts';
import { execPrefixed } from '../plan.ts';

/** The context directory the builder writes the build's env file, CA bundle and step script into. */
export const BUILD_FILES_DIR = '.pier-build';

/** Quotes a string for a JSON-form Dockerfile instruction. */
function json(args: string[]): string { return JSON.stringify(args); }

/** A build step: the step script loads the build's env, then runs the app's command with sh -c. */
function step(cmd: string): string { return `RUN ${json(['/bin/sh', '/pier-build/step', cmd])}`; }

/** The Dockerfile that builds a plan into an image on top of the stack's base image. */
export function planDockerfile(plan: BuildPlan, baseImage: string): string {
  const env = (vars: Record<string, string>) => Object.entries(vars).map(([k, v]) => `ENV ${k}=${JSON.stringify(v)}`);
  const lines = [`FROM ${baseImage} AS build`, 'WORKDIR /app', ...env({ ...plan.runEnv, ...plan.buildEnv })];
  // late.env (per-deployment values) arrives with the source, after the install, so the install layer stays cached.
  lines.push(`COPY ${json([`${BUILD_FILES_DIR}/env`, `${BUILD_FILES_DIR}/step`, `${BUILD_FILES_DIR}/ca.crt`, '/pier-build/'])}`);
  if (plan.dependencyFiles.length && plan.installCommands.length) lines.push(`COPY ${json([...plan.dependencyFiles, '/app/'])}`);
  for (const c of plan.installCommands) lines.push(step(c));
  lines.push('COPY . /app/');
  for (const c of [...plan.buildCommands, ...plan.pruneCommands ?? []]) lines.push(step(c));
  lines.push(`RUN ${json(['/bin/rm', '-rf', `/app/${BUILD_FILES_DIR}`, '/app/Dockerfile.pier'])}`);
  lines.push(`FROM ${baseImage}`, 'WORKDIR /app', ...env(plan.runEnv));
  if (plan.stack === 'python') lines.push('COPY --from=build /usr/local /usr/local');
  lines.push('COPY --from=build /app /app');
  lines.push(`CMD ${json(['/bin/sh', '-c', execPrefixed(plan.runCommand)])}`);
  return lines.join('\n') + '\n';
}
