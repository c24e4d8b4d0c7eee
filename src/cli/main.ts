// The `pier` command: the command table and the entry point bin/pier.mjs calls.
import { readFileSync } from 'node:fs';
import { dispatch, processIO, type CliIO, type Command } from './command.ts';
import { completionCommand } from './completion.ts';
import { appsCommand } from './commands/apps.ts';
import { backupCommand, restoreCommand } from './commands/backup.ts';
import { deployCommand } from './commands/deploy.ts';
import { doctorCommand } from './commands/doctor.ts';
import { deploymentsCommand, regionalDeploymentsCommand } from './commands/deployments.ts';
import { domainsCommand } from './commands/domains.ts';
import { edgeCommand } from './commands/edge.ts';
import { activitiesCommand, eventsCommand } from './commands/events.ts';
import { composeCommand } from './commands/compose.ts';
import { quotasCommand, usageCommand } from './commands/quotas.ts';
import { functionCommand } from './commands/function.ts';
import { instancesCommand } from './commands/instances.ts';
import { platformCommands } from './commands/platform.ts';
import { secretsCommand } from './commands/secrets.ts';
import { servicesCommand } from './commands/services.ts';
import { loginCommand, statusCommand } from './commands/status.ts';
import { organizationsCommand, rotateKeyCommand, tokensCommand } from './commands/tokens.ts';
import { snapshotsCommand, volumesCommand } from './commands/volumes.ts';

const versionCommand: Command = {
  name: 'version',
  summary: 'Print the version of pier',
  run: async (ctx) => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    ctx.out(`pier ${pkg.version}`);
  },
};

/** The whole command tree, mirroring the koyeb CLI's. */
export const ROOT: Command = {
  name: 'pier',
  summary: 'Pier: a self-hosted serverless platform with a Koyeb-compatible API',
  subcommands: [
    ...platformCommands, appsCommand, servicesCommand, deploymentsCommand, regionalDeploymentsCommand, instancesCommand,
    secretsCommand, versionCommand, deployCommand, tokensCommand, organizationsCommand, rotateKeyCommand,
    functionCommand, domainsCommand, edgeCommand, eventsCommand, activitiesCommand, composeCommand, quotasCommand, usageCommand, statusCommand, doctorCommand, loginCommand, backupCommand, restoreCommand,
    volumesCommand, snapshotsCommand,
    completionCommand(() => ROOT),
  ],
};

/** Runs the CLI with argv (without node and script) and returns the exit code. */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  return dispatch(ROOT, argv, { ...processIO(), ...io });
}
