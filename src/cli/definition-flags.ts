// Pure: applies the service definition flags (koyeb CLI §7.3 formats) to a DeploymentDefinition. Create starts from
// `{}` and gets the koyeb CLI's defaults; update starts from the latest deployment's definition and only what the
// flags name changes. No I/O: local config files are read through the `readFile` callback.
import type {
  DeploymentDefinition, DeploymentScaling, DeploymentScalingTarget, DockerBuilder, StrategyType,
} from '../domain/types.ts';
import { formatDuration, parseDurationMs } from './duration.ts';
import { CliError } from './errors.ts';
import {
  applyListOps, type ListOp, checkPort, parseCheckFlag, parseConfigFileFlag, parseEnvFlag, parsePortFlag, parseProxyPortFlag, parseRegionFlag,
  parseRouteFlag,
} from './list-flags.ts';

/** The definition flags as given on the command line; `undefined` means "not given". */
export interface DefinitionFlags {
  type?: string;
  docker?: string;
  dockerCommand?: string;
  dockerArgs?: string[];
  dockerEntrypoint?: string[];
  dockerPrivateRegistrySecret?: string;
  git?: string;
  gitBranch?: string;
  gitSha?: string;
  gitWorkdir?: string;
  gitBuilder?: string;
  gitBuildpackBuildCommand?: string;
  gitBuildpackRunCommand?: string;
  gitDockerDockerfile?: string;
  gitDockerTarget?: string;
  gitDockerCommand?: string;
  gitDockerEntrypoint?: string[];
  gitDockerArgs?: string[];
  gitNoDeployOnPush?: boolean;
  regions?: string[];
  instanceType?: string;
  scale?: number;
  minScale?: number;
  maxScale?: number;
  autoscalingAverageCpu?: number;
  autoscalingAverageMem?: number;
  autoscalingRequestsPerSecond?: number;
  autoscalingConcurrentRequests?: number;
  autoscalingRequestsResponseTime?: number;
  lightSleepDelay?: string;
  deepSleepDelay?: string;
  deploymentStrategy?: string;
  env?: string[];
  ports?: string[];
  /** `PORT[:tcp]` or `!PORT` (koyeb's --proxy-ports): a public TCP proxy port; an undeclared port is added as tcp. */
  proxyPorts?: string[];
  routes?: string[];
  checks?: string[];
  checksGracePeriod?: string[];
  privileged?: boolean;
  skipCache?: boolean;
  configFiles?: string[];
  /** `VOLUME:PATH` (a volume name or id: commands resolve names to ids afterwards) or `!VOLUME` (koyeb's --volumes). */
  volumes?: string[];
}

/** The built definition plus warnings to print (never errors: those throw CliError). */
export interface DefinitionResult {
  definition: DeploymentDefinition;
  warnings: string[];
}

/** Defaults the koyeb CLI applies when a definition has no value yet. */
export const DEFINITION_DEFAULTS = { type: 'WEB', region: 'was', instanceType: 'nano', scale: 1, port: 8000 } as const;

const STRATEGIES: Record<string, StrategyType> = {
  rolling: 'DEPLOYMENT_STRATEGY_TYPE_ROLLING',
  'blue-green': 'DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN',
  immediate: 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE',
};

const noFileReader = (path: string): string => {
  throw new Error(`no file reader available for ${path}`);
};

/** Applies `flags` to a copy of `current` and returns the whole new definition. Throws CliError on bad input. */
export function applyDefinitionFlags(
  current: DeploymentDefinition,
  flags: DefinitionFlags,
  readFile: (path: string) => string = noFileReader,
): DefinitionResult {
  const def: DeploymentDefinition = structuredClone(current);
  const warnings: string[] = [];

  applyType(def, flags);
  def.env = applyListOps(def.env ?? [], (flags.env ?? []).map(parseEnvFlag), (e) => e.key);
  if (flags.instanceType !== undefined) def.instance_types = [{ type: flags.instanceType }];
  else if (!def.instance_types?.length) def.instance_types = [{ type: DEFINITION_DEFAULTS.instanceType }];
  applyPortsAndRoutes(def, flags);
  applyScalings(def, flags, warnings);
  applyChecks(def, flags);
  applyRegions(def, flags, warnings);
  applySource(def, flags);
  if (flags.deploymentStrategy !== undefined) {
    const type = STRATEGIES[flags.deploymentStrategy];
    if (!type) throw new CliError(`--deployment-strategy must be one of ${Object.keys(STRATEGIES).join(', ')}`);
    def.strategy = { type };
  }
  if (flags.skipCache !== undefined) def.skip_cache = flags.skipCache;
  if (flags.configFiles) {
    const ops = flags.configFiles.map((v) => parseConfigFileFlag(v, readFile));
    def.config_files = applyListOps(def.config_files ?? [], ops, (f) => f.path);
  }
  if (flags.volumes) def.volumes = applyListOps(def.volumes ?? [], flags.volumes.map(parseVolumeFlag), (v) => v.id);
  return { definition: def, warnings };
}

function applyType(def: DeploymentDefinition, flags: DefinitionFlags): void {
  if (flags.type !== undefined) {
    const t = flags.type.toUpperCase();
    if (t !== 'WEB' && t !== 'WORKER') throw new CliError(`--type must be "web" or "worker", not "${flags.type}"`);
    def.type = t;
  } else if (!def.type || def.type === 'INVALID') {
    def.type = DEFINITION_DEFAULTS.type;
  }
}

function applyPortsAndRoutes(def: DeploymentDefinition, flags: DefinitionFlags): void {
  def.ports = applyListOps(def.ports ?? [], (flags.ports ?? []).map(parsePortFlag), (p) => String(p.port));
  def.routes = applyListOps(def.routes ?? [], (flags.routes ?? []).map(parseRouteFlag), (r) => r.path);
  // Left out of the definition unless given or already there (the request body stays as before for everyone else).
  const proxyPorts = applyListOps(def.proxy_ports ?? [], (flags.proxyPorts ?? []).map(parseProxyPortFlag), (p) => String(p.port));
  if (flags.proxyPorts?.length || def.proxy_ports !== undefined) def.proxy_ports = proxyPorts;
  if (def.type !== 'WEB') {
    if (proxyPorts.length) {
      const fix = proxyPorts.map((p) => `--proxy-ports '!${p.port}'`).join(' ');
      throw new CliError(`a ${def.type?.toLowerCase()} service cannot have proxy ports; use --type web, or remove them: ${fix}`);
    }
    if (def.ports.length) {
      const fix = def.ports.map((p) => `--ports '!${p.port}'`).join(' ');
      throw new CliError(`a ${def.type?.toLowerCase()} service cannot expose ports; use --type web, or remove them: ${fix}`);
    }
    if (def.routes.length) {
      const fix = def.routes.map((r) => `--routes '!${r.path}'`).join(' ');
      throw new CliError(`a ${def.type?.toLowerCase()} service cannot have routes; use --type web, or remove them: ${fix}`);
    }
    return;
  }
  // A proxy port given now that the service does not expose yet is exposed as tcp (the only protocol the TCP proxy
  // carries); one kept from before whose port was removed is left for the API to refuse, naming the fix.
  const given = (flags.proxyPorts ?? []).filter((v) => !v.startsWith('!')).map((v) => Number(v.split(':')[0]));
  for (const pp of proxyPorts) {
    if (given.includes(pp.port) && !def.ports.some((p) => p.port === pp.port)) def.ports.push({ port: pp.port, protocol: 'tcp' });
  }
  const port = DEFINITION_DEFAULTS.port;
  if (def.ports.length === 0 && def.routes.length === 0) {
    def.ports = [{ port, protocol: 'http' }];
    def.routes = [{ path: '/', port }];
  } else if (def.routes.length === 0) {
    const http = def.ports.filter((p) => (p.protocol ?? 'http') !== 'tcp');
    if (http.length === 1) def.routes = [{ path: '/', port: http[0]!.port }];
    if (http.length > 1) {
      throw new CliError(
        `the service has ${http.length} HTTP ports (${http.map((p) => p.port).join(', ')}) but no routes; ` +
          'add one --routes PATH:PORT per public port',
      );
    }
  } else if (def.ports.length === 0) {
    if (def.routes.length > 1) {
      throw new CliError(`the service has ${def.routes.length} routes but no ports; add one --ports PORT[:PROTOCOL] per route`);
    }
    def.ports = [{ port: def.routes[0]!.port, protocol: 'http' }];
  }
  for (const route of def.routes) {
    const target = def.ports.find((p) => p.port === route.port);
    if (!target) {
      throw new CliError(`route ${route.path} points to port ${route.port}, which is not exposed; add --ports ${route.port}:http`);
    }
    if (target.protocol === 'tcp') {
      throw new CliError(`route ${route.path} points to port ${route.port}, which is tcp; routes need an http or http2 port`);
    }
  }
}

const TARGET_FLAGS: [keyof DefinitionFlags, keyof DeploymentScalingTarget, string, number][] = [
  ['autoscalingAverageCpu', 'average_cpu', '--autoscaling-average-cpu', 100],
  ['autoscalingAverageMem', 'average_mem', '--autoscaling-average-mem', 100],
  ['autoscalingRequestsPerSecond', 'requests_per_second', '--autoscaling-requests-per-second', 1e9],
  ['autoscalingConcurrentRequests', 'concurrent_requests', '--autoscaling-concurrent-requests', 1e9],
  ['autoscalingRequestsResponseTime', 'requests_response_time', '--autoscaling-requests-response-time', 1e9],
];

function applyScalings(def: DeploymentDefinition, flags: DefinitionFlags, warnings: string[]): void {
  const min = flags.minScale ?? flags.scale;
  const max = flags.maxScale ?? flags.scale;
  for (const [name, v] of [['--scale', flags.scale], ['--min-scale', flags.minScale], ['--max-scale', flags.maxScale]] as const) {
    if (v !== undefined && v < 0) throw new CliError(`${name} cannot be negative`);
  }
  if (!def.scalings?.length) {
    def.scalings = [{ min: min ?? DEFINITION_DEFAULTS.scale, max: max ?? DEFINITION_DEFAULTS.scale }];
  } else {
    for (const s of def.scalings) {
      if (min !== undefined) s.min = min;
      if (max !== undefined) s.max = max;
    }
  }
  for (const s of def.scalings) {
    if (s.min > s.max) throw new CliError(`min scale (${s.min}) is greater than max scale (${s.max})`);
    applyTargets(s, flags, warnings);
    applySleepDelays(s, flags);
  }
}

function applyTargets(s: DeploymentScaling, flags: DefinitionFlags, warnings: string[]): void {
  // Fixed scaling has nothing to autoscale on, so stale targets are dropped (koyeb CLI setScalingsTargets).
  if (!s.targets || s.min === s.max) s.targets = [];
  for (const [flag, field, name, limit] of TARGET_FLAGS) {
    const value = flags[flag] as number | undefined;
    if (value === undefined) continue;
    if (!(value >= 0 && value <= limit)) throw new CliError(`${name} must be between 0 (off) and ${limit}`);
    if (s.min === s.max && value > 0) warnings.push(`${name} has no effect while min scale equals max scale`);
    const target: DeploymentScalingTarget =
      field === 'requests_response_time' ? { [field]: { value, quantile: 95 } } : { [field]: { value } };
    const idx = s.targets.findIndex((t) => t[field] !== undefined);
    if (value === 0) {
      if (idx !== -1) s.targets.splice(idx, 1);
    } else if (idx === -1) {
      s.targets.push(target);
    } else {
      s.targets[idx] = target;
    }
  }
}

function sleepSeconds(text: string, name: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new CliError(`${name} "${text}" is not a duration (e.g. 5m, 1h, 0 to disable)`);
  return Math.round(ms / 1000);
}

function applySleepDelays(s: DeploymentScaling, flags: DefinitionFlags): void {
  if (flags.lightSleepDelay === undefined && flags.deepSleepDelay === undefined) return;
  if (s.min !== 0) {
    throw new CliError('--light-sleep-delay and --deep-sleep-delay need scale-to-zero: add --min-scale 0');
  }
  const targets = (s.targets ??= []);
  const idx = targets.findIndex((t) => t.sleep_idle_delay !== undefined);
  const delay = { ...(idx === -1 ? {} : targets[idx]!.sleep_idle_delay) };
  delete delay.value; // deprecated synonym of deep_sleep_value
  if (flags.lightSleepDelay !== undefined) {
    const secs = sleepSeconds(flags.lightSleepDelay, '--light-sleep-delay');
    if (secs > 0) delay.light_sleep_value = secs;
    else delete delay.light_sleep_value;
  }
  if (flags.deepSleepDelay !== undefined) {
    const secs = sleepSeconds(flags.deepSleepDelay, '--deep-sleep-delay');
    if (secs > 0) delay.deep_sleep_value = secs;
    else delete delay.deep_sleep_value;
  }
  const empty = delay.light_sleep_value === undefined && delay.deep_sleep_value === undefined;
  if (idx !== -1) targets.splice(idx, 1);
  if (!empty) targets.splice(idx === -1 ? targets.length : idx, 0, { sleep_idle_delay: delay });
}

function applyChecks(def: DeploymentDefinition, flags: DefinitionFlags): void {
  def.health_checks = applyListOps(def.health_checks ?? [], (flags.checks ?? []).map(parseCheckFlag), checkPort);
  if (def.type !== 'WEB' && def.health_checks.length) {
    const fix = def.health_checks.map((c) => `--checks '!${checkPort(c)}'`).join(' ');
    throw new CliError(`health checks are only for web services; use --type web, or remove them: ${fix}`);
  }
  for (const grace of flags.checksGracePeriod ?? []) {
    const m = /^(\d+)=(\d+)$/.exec(grace);
    if (!m) throw new CliError(`--checks-grace-period "${grace}": expected PORT=SECONDS, e.g. 8000=10`);
    const check = def.health_checks.find((c) => checkPort(c) === m[1]);
    if (!check) throw new CliError(`--checks-grace-period "${grace}": no health check on port ${m[1]}; add --checks ${m[1]}`);
    check.grace_period = Number(m[2]);
  }
}

function applyRegions(def: DeploymentDefinition, flags: DefinitionFlags, warnings: string[]): void {
  let regions = def.regions ?? [];
  if (flags.regions) regions = applyListOps(regions, flags.regions.map(parseRegionFlag), (r) => r);
  else if (!regions.length) regions = [DEFINITION_DEFAULTS.region];
  if (!regions.length) throw new CliError('the service needs at least one region; add --regions REGION');
  if (flags.regions && regions.length >= 2) {
    warnings.push(`the service will run in ${regions.length} regions (${regions.join(', ')}); remove one with --regions '!REGION'`);
  }
  def.regions = regions;
  // Env, scalings and instance types are scoped per region; keep their scopes in step with the region list.
  for (const list of [def.env, def.scalings, def.instance_types]) {
    for (const item of list ?? []) item.scopes = rescope(item.scopes ?? [], regions);
  }
}

/** Keeps non-region scopes and still-present regions, drops removed regions, adds new ones (koyeb setRegions). */
export function rescope(scopes: string[], regions: string[]): string[] {
  const kept = scopes.filter((s) => !s.startsWith('region:') || regions.includes(s.slice('region:'.length)));
  const missing = regions.filter((r) => !kept.includes(`region:${r}`)).map((r) => `region:${r}`);
  return [...kept, ...missing];
}

function anyGiven(...values: unknown[]): boolean {
  return values.some((v) => v !== undefined);
}

function applySource(def: DeploymentDefinition, flags: DefinitionFlags): void {
  const dockerGiven = anyGiven(flags.docker, flags.dockerCommand, flags.dockerArgs, flags.dockerEntrypoint, flags.dockerPrivateRegistrySecret);
  const gitGiven = anyGiven(
    flags.git, flags.gitBranch, flags.gitSha, flags.gitWorkdir, flags.gitBuilder, flags.gitBuildpackBuildCommand,
    flags.gitBuildpackRunCommand, flags.gitDockerDockerfile, flags.gitDockerTarget, flags.gitDockerCommand,
    flags.gitDockerEntrypoint, flags.gitDockerArgs, flags.gitNoDeployOnPush,
  );
  if (dockerGiven && gitGiven) {
    throw new CliError('--docker* and --git* flags cannot be combined: a service deploys either an image or a repository');
  }
  if (dockerGiven || (!gitGiven && def.docker)) {
    const docker = { ...(def.docker ?? { image: '' }) };
    if (flags.docker !== undefined) docker.image = flags.docker;
    if (flags.dockerCommand !== undefined) docker.command = flags.dockerCommand;
    if (flags.dockerArgs !== undefined) docker.args = flags.dockerArgs;
    if (flags.dockerEntrypoint !== undefined) docker.entrypoint = flags.dockerEntrypoint;
    if (flags.dockerPrivateRegistrySecret !== undefined) docker.image_registry_secret = flags.dockerPrivateRegistrySecret;
    if (flags.privileged !== undefined) docker.privileged = flags.privileged;
    if (!docker.image) throw new CliError('the Docker source needs an image: add --docker IMAGE');
    def.docker = docker;
    delete def.git;
    delete def.archive;
  } else if (gitGiven || def.git) {
    applyGitSource(def, flags);
  } else if (def.archive) {
    const builder = def.archive.docker ?? def.archive.buildpack;
    if (builder && flags.privileged !== undefined) builder.privileged = flags.privileged;
  } else if (!def.database) {
    throw new CliError('the service needs a source: add --docker IMAGE or --git REPOSITORY');
  }
}

function applyGitSource(def: DeploymentDefinition, flags: DefinitionFlags): void {
  const git = { ...(def.git ?? { repository: '' }) };
  if (flags.git !== undefined) git.repository = flags.git;
  if (flags.gitBranch !== undefined) git.branch = flags.gitBranch;
  if (flags.gitSha !== undefined) {
    if (flags.gitSha === '') delete git.sha; // `--git-sha ''` unpins, as in the koyeb CLI
    else git.sha = flags.gitSha;
  }
  if (flags.gitWorkdir !== undefined) git.workdir = flags.gitWorkdir;
  if (flags.gitNoDeployOnPush !== undefined) git.no_deploy_on_push = flags.gitNoDeployOnPush;
  if (!git.repository) throw new CliError('the git source needs a repository: add --git REPOSITORY');
  if (!git.branch && !git.sha && !git.tag) git.branch = 'main';

  if (flags.gitBuilder !== undefined && flags.gitBuilder !== 'buildpack' && flags.gitBuilder !== 'docker') {
    throw new CliError(`--git-builder must be "buildpack" or "docker", not "${flags.gitBuilder}"`);
  }
  const dockerFlags = anyGiven(flags.gitDockerDockerfile, flags.gitDockerTarget, flags.gitDockerCommand, flags.gitDockerEntrypoint, flags.gitDockerArgs);
  const buildpackFlags = anyGiven(flags.gitBuildpackBuildCommand, flags.gitBuildpackRunCommand);
  const builder = flags.gitBuilder ?? (git.docker ? 'docker' : git.buildpack ? 'buildpack' : dockerFlags ? 'docker' : 'buildpack');
  if (builder === 'buildpack' && dockerFlags) {
    throw new CliError('--git-docker-* flags configure the Dockerfile builder: add --git-builder docker');
  }
  if (builder === 'docker' && buildpackFlags) {
    throw new CliError('--git-buildpack-* flags configure the buildpack builder: add --git-builder buildpack');
  }
  if (builder === 'docker') {
    const docker: DockerBuilder = { ...(git.docker ?? {}) };
    if (flags.gitDockerDockerfile !== undefined) docker.dockerfile = flags.gitDockerDockerfile;
    if (flags.gitDockerTarget !== undefined) docker.target = flags.gitDockerTarget;
    if (flags.gitDockerCommand !== undefined) docker.command = flags.gitDockerCommand;
    if (flags.gitDockerEntrypoint !== undefined) docker.entrypoint = flags.gitDockerEntrypoint;
    if (flags.gitDockerArgs !== undefined) docker.args = flags.gitDockerArgs;
    if (flags.privileged !== undefined) docker.privileged = flags.privileged;
    git.docker = docker;
    delete git.buildpack;
  } else {
    const buildpack = { ...(git.buildpack ?? {}) };
    if (flags.gitBuildpackBuildCommand !== undefined) buildpack.build_command = flags.gitBuildpackBuildCommand;
    if (flags.gitBuildpackRunCommand !== undefined) buildpack.run_command = flags.gitBuildpackRunCommand;
    if (flags.privileged !== undefined) buildpack.privileged = flags.privileged;
    git.buildpack = buildpack;
    delete git.docker;
  }
  def.git = git;
  delete def.docker;
  delete def.archive;
}

/** Human text for a sleep delay in seconds, for describe output. */
export function describeSleep(seconds: number | undefined): string {
  return seconds ? formatDuration(seconds * 1000) : 'off';
}

/** `--volumes VOLUME:PATH` mounts a volume (name or id) at PATH; `'!VOLUME'` removes it (koyeb's flag). */
export function parseVolumeFlag(value: string): ListOp<{ id: string; path: string }> {
  if (value.startsWith('!')) return { key: value.slice(1), delete: true };
  const i = value.indexOf(':');
  const id = i > 0 ? value.slice(0, i) : '';
  const path = i > 0 ? value.slice(i + 1) : '';
  if (!id || !path.startsWith('/')) throw new CliError(`--volumes takes VOLUME:PATH with an absolute path, e.g. data:/data, or '!VOLUME' to remove one; got "${value}"`);
  return { key: id, delete: false, item: { id, path } };
}
