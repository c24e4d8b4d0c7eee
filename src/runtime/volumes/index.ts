// Where persistent volumes come from (issue #20): the factory the composition root (src/platform.ts) calls.
// On one host, ext4 images on loop devices under Pier's data directory (local.ts); on the swarm runtime, the same
// images kept on one node of each volume's region (../swarm/volumes.ts).
import type { VolumeDriver } from './contract.ts';
import { LocalVolumeDriver } from './local.ts';
import { SwarmVolumeDriver, type SwarmVolumeOptions } from '../swarm/volumes.ts';

export type { VolumeDriver, VolumeInfo, SnapshotInfo, SnapshotConsistency } from './contract.ts';
export { LocalVolumeDriver, MIN_VOLUME_BYTES, isMountPoint } from './local.ts';

/**
 * The volume driver of this installation: with `swarm` (the swarm runtime's settings) volumes live on Swarm nodes;
 * otherwise in `<dataDir>/volumes`, snapshots in `<dataDir>/snapshots`.
 */
export function createVolumeDriver(opts: { dataDir: string; log?: (line: string) => void; swarm?: Omit<SwarmVolumeOptions, 'log'> }): VolumeDriver {
  if (opts.swarm) return new SwarmVolumeDriver({ ...opts.swarm, log: opts.log });
  return new LocalVolumeDriver(opts);
}
