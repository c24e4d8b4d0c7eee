// Where persistent volumes come from (issue #20): the factory the composition root (src/platform.ts) calls.
// One driver today, ext4 images on loop devices under Pier's data directory (local.ts).
import type { VolumeDriver } from './contract.ts';
import { LocalVolumeDriver } from './local.ts';

export type { VolumeDriver, VolumeInfo, SnapshotInfo, SnapshotConsistency } from './contract.ts';
export { LocalVolumeDriver, MIN_VOLUME_BYTES, isMountPoint } from './local.ts';

/** The volume driver of this host: volumes in `<dataDir>/volumes`, snapshots in `<dataDir>/snapshots`. */
export function createVolumeDriver(opts: { dataDir: string; log?: (line: string) => void }): VolumeDriver {
  return new LocalVolumeDriver(opts);
}
