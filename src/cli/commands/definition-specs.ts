// The definition flags of `services create|update` and `apps init`, with koyeb's names and aliases, and the mapping
// from parsed argv to the pure DefinitionFlags that definition-flags.ts applies.
import type { FlagSpec, ParsedArgs } from '../args.ts';
import type { DefinitionFlags } from '../definition-flags.ts';

/** Every definition flag, in --help order. */
export const DEFINITION_FLAGS: FlagSpec[] = [
  { name: 'type', kind: 'string', placeholder: 'TYPE', help: 'Service type: web or worker', defaultText: 'web' },
  { name: 'docker', kind: 'string', placeholder: 'IMAGE', help: 'Docker image to deploy' },
  { name: 'docker-command', kind: 'string', placeholder: 'CMD', help: 'Docker CMD' },
  { name: 'docker-args', kind: 'list', aliases: ['docker-arg'], placeholder: 'ARG', help: 'Arguments of the Docker CMD' },
  { name: 'docker-entrypoint', kind: 'list', placeholder: 'ARG', help: 'Docker ENTRYPOINT' },
  { name: 'docker-private-registry-secret', kind: 'string', placeholder: 'SECRET', help: 'Registry secret to pull the image' },
  { name: 'git', kind: 'string', placeholder: 'REPOSITORY', help: 'Git repository to build, e.g. github.com/org/repo' },
  { name: 'git-branch', kind: 'string', placeholder: 'BRANCH', help: 'Git branch', defaultText: 'main' },
  { name: 'git-sha', kind: 'string', placeholder: 'SHA', help: "Git commit to build ('' unpins)" },
  { name: 'git-workdir', kind: 'string', placeholder: 'DIR', help: 'Sub-directory to build' },
  { name: 'git-builder', kind: 'string', placeholder: 'BUILDER', help: 'buildpack or docker', defaultText: 'buildpack' },
  { name: 'git-buildpack-build-command', kind: 'string', aliases: ['git-build-command'], placeholder: 'CMD', help: 'Buildpack build command' },
  { name: 'git-buildpack-run-command', kind: 'string', aliases: ['git-run-command'], placeholder: 'CMD', help: 'Buildpack run command' },
  { name: 'git-docker-dockerfile', kind: 'string', placeholder: 'PATH', help: 'Dockerfile path' },
  { name: 'git-docker-target', kind: 'string', placeholder: 'TARGET', help: 'Dockerfile build target' },
  { name: 'git-docker-command', kind: 'string', placeholder: 'CMD', help: 'Docker CMD of the built image' },
  { name: 'git-docker-entrypoint', kind: 'list', placeholder: 'ARG', help: 'Docker ENTRYPOINT of the built image' },
  { name: 'git-docker-args', kind: 'list', aliases: ['git-docker-arg'], placeholder: 'ARG', help: 'Arguments of the Docker CMD' },
  { name: 'git-no-deploy-on-push', kind: 'bool', help: 'Do not redeploy when the branch moves' },
  { name: 'regions', kind: 'list', split: true, aliases: ['region'], placeholder: 'REGION', help: "Region to run in; '!REGION' removes", defaultText: 'was' },
  { name: 'instance-type', kind: 'string', placeholder: 'TYPE', help: 'Instance type', defaultText: 'nano' },
  { name: 'scale', kind: 'int', placeholder: 'N', help: 'Set both min and max scale', defaultText: '1' },
  { name: 'min-scale', kind: 'int', placeholder: 'N', help: 'Min scale (0 = scale to zero)', defaultText: '1' },
  { name: 'max-scale', kind: 'int', placeholder: 'N', help: 'Max scale', defaultText: '1' },
  { name: 'autoscaling-average-cpu', kind: 'int', placeholder: 'PCT', help: 'Autoscale on average CPU % (0 disables)' },
  { name: 'autoscaling-average-mem', kind: 'int', placeholder: 'PCT', help: 'Autoscale on average memory % (0 disables)' },
  { name: 'autoscaling-requests-per-second', kind: 'int', placeholder: 'N', help: 'Autoscale on requests per second (0 disables)' },
  { name: 'autoscaling-concurrent-requests', kind: 'int', placeholder: 'N', help: 'Autoscale on concurrent requests (0 disables)' },
  { name: 'autoscaling-requests-response-time', kind: 'int', placeholder: 'MS', help: 'Autoscale on p95 response time in ms (0 disables)' },
  { name: 'light-sleep-delay', kind: 'string', placeholder: 'DURATION', help: 'Idle time before light sleep, e.g. 5m (needs --min-scale 0; 0 disables)' },
  { name: 'deep-sleep-delay', kind: 'string', placeholder: 'DURATION', help: 'Idle time before deep sleep, e.g. 1h (needs --min-scale 0; 0 disables)' },
  { name: 'deployment-strategy', kind: 'string', aliases: ['strategy'], placeholder: 'STRATEGY', help: 'rolling, blue-green or immediate' },
  { name: 'env', kind: 'list', placeholder: 'KEY=VALUE', help: "Env var: KEY=VALUE, KEY=@SECRET_NAME, or '!KEY' to delete" },
  { name: 'ports', kind: 'list', aliases: ['port'], placeholder: 'PORT[:PROTOCOL]', help: "Exposed port (http, http2 or tcp); '!PORT' deletes" },
  { name: 'routes', kind: 'list', aliases: ['route'], placeholder: 'PATH[:PORT]', help: "Public route (port default 8000); '!PATH' deletes" },
  {
    name: 'checks', kind: 'list', aliases: ['check', 'healthcheck', 'healthchecks', 'health-check', 'health-checks'],
    placeholder: 'PORT[:TYPE[:PATH]]', help: "Health check (type http or tcp; path default /); '!PORT' deletes",
  },
  { name: 'checks-grace-period', kind: 'list', placeholder: 'PORT=SECONDS', help: 'Grace period of the check on PORT' },
  { name: 'privileged', kind: 'bool', help: 'Run the container (or build) privileged' },
  { name: 'skip-cache', kind: 'bool', help: 'Build without the build cache' },
  { name: 'config-file', kind: 'list', placeholder: 'LOCAL:PATH[:PERM]', help: "Copy a local file into the instance; '!PATH' deletes" },
];

/** Reads the definition flags out of parsed argv; flags not given stay undefined. */
export function readDefinitionFlags(a: ParsedArgs): DefinitionFlags {
  const bool = (name: string): boolean | undefined => (a.has(name) ? a.bool(name) : undefined);
  return {
    type: a.str('type'),
    docker: a.str('docker'),
    dockerCommand: a.str('docker-command'),
    dockerArgs: a.list('docker-args'),
    dockerEntrypoint: a.list('docker-entrypoint'),
    dockerPrivateRegistrySecret: a.str('docker-private-registry-secret'),
    git: a.str('git'),
    gitBranch: a.str('git-branch'),
    gitSha: a.str('git-sha'),
    gitWorkdir: a.str('git-workdir'),
    gitBuilder: a.str('git-builder'),
    gitBuildpackBuildCommand: a.str('git-buildpack-build-command'),
    gitBuildpackRunCommand: a.str('git-buildpack-run-command'),
    gitDockerDockerfile: a.str('git-docker-dockerfile'),
    gitDockerTarget: a.str('git-docker-target'),
    gitDockerCommand: a.str('git-docker-command'),
    gitDockerEntrypoint: a.list('git-docker-entrypoint'),
    gitDockerArgs: a.list('git-docker-args'),
    gitNoDeployOnPush: bool('git-no-deploy-on-push'),
    regions: a.list('regions'),
    instanceType: a.str('instance-type'),
    scale: a.int('scale'),
    minScale: a.int('min-scale'),
    maxScale: a.int('max-scale'),
    autoscalingAverageCpu: a.int('autoscaling-average-cpu'),
    autoscalingAverageMem: a.int('autoscaling-average-mem'),
    autoscalingRequestsPerSecond: a.int('autoscaling-requests-per-second'),
    autoscalingConcurrentRequests: a.int('autoscaling-concurrent-requests'),
    autoscalingRequestsResponseTime: a.int('autoscaling-requests-response-time'),
    lightSleepDelay: a.str('light-sleep-delay'),
    deepSleepDelay: a.str('deep-sleep-delay'),
    deploymentStrategy: a.str('deployment-strategy'),
    env: a.list('env'),
    ports: a.list('ports'),
    routes: a.list('routes'),
    checks: a.list('checks'),
    checksGracePeriod: a.list('checks-grace-period'),
    privileged: bool('privileged'),
    skipCache: bool('skip-cache'),
    configFiles: a.list('config-file'),
  };
}

/** The --wait flags of commands that start a deployment. */
export const WAIT_FLAGS: FlagSpec[] = [
  { name: 'wait', kind: 'bool', help: 'Wait until the deployment is healthy (fails if it is degraded or unhealthy)' },
  { name: 'wait-timeout', kind: 'string', placeholder: 'DURATION', help: 'How long --wait waits', defaultText: '5m' },
];
