// The volume contract (issue #20): what the control plane needs from whatever keeps persistent volumes on a host.
// A volume is a filesystem of a fixed size that outlives instances; the runtime drivers bind its host path into the
// one instance that mounts it (InstanceSpec.volumes). Every implementation passes the volume cases of the conformance
// suite. Idempotent everywhere: a repeated create, mount or remove after a crash converges on the same state.

/** What the driver knows of one volume now. */
export interface VolumeInfo {
  /** Pier's volume id (a UUID). */
  volumeId: string;
  /** The enforced size: writes past it fail with ENOSPC inside the instance. */
  sizeBytes: number;
  /** Bytes in use (statfs of the mounted filesystem). */
  usedBytes: number;
  /** The mounted directory on the host that runtimes bind into instances (absolute). */
  hostPath: string;
  /** The node that keeps the volume, where the runtime must place the instance that mounts it (Swarm); absent on a single host. */
  node?: string;
}

/** How a snapshot was taken: from a volume no instance had mounted, or from a mounted one frozen for the copy. */
export type SnapshotConsistency = 'stopped' | 'frozen';

/** What the driver knows of one snapshot. A snapshot is independent of its source volume once taken. */
export interface SnapshotInfo {
  snapshotId: string;
  /** The volume it was taken from (may be deleted since). */
  volumeId: string;
  /** Bytes the snapshot holds on the host (what it costs). */
  storedBytes: number;
  /** The size of the source volume when taken: a volume restored from it is at least this large. */
  sizeBytes: number;
  consistency: SnapshotConsistency;
}

/** The contract every volume driver implements. */
export interface VolumeDriver {
  readonly name: string;
  /** Why volumes cannot work on this host (not root, no mkfs.ext4...), in words a person can act on; null when they can. */
  unavailable(): Promise<string | null>;
  /**
   * Creates the volume's filesystem of exactly sizeBytes (empty, or a copy of a snapshot) and mounts it. Idempotent.
   * `region`: the volume's region, for drivers that keep it on one node of that region (Swarm).
   */
  create(volumeId: string, sizeBytes: number, opts?: { fromSnapshotId?: string; signal?: AbortSignal; region?: string }): Promise<VolumeInfo>;
  /** Ensures the volume is mounted (after a restart or a host reboot) and answers where. Throws if it does not exist. */
  mount(volumeId: string): Promise<VolumeInfo>;
  /** The volume now, or null if the driver has no such volume. */
  inspect(volumeId: string): Promise<VolumeInfo | null>;
  /**
   * Grows the volume's filesystem to sizeBytes while it stays mounted (an instance keeps writing) and answers its new
   * state; a repeat with the same size is a no-op. Refuses a smaller size (`invalid_spec`: shrinking is never done)
   * and a growth the host's disk could not hold once full (`unavailable`, as create). Throws `not_found` if missing.
   */
  grow(volumeId: string, sizeBytes: number): Promise<VolumeInfo>;
  /** Unmounts and deletes the volume and its data. A no-op when already gone. Never called while an instance mounts it. */
  remove(volumeId: string): Promise<void>;
  /**
   * Copies the volume into a new snapshot. `attached`: an instance has it mounted now, so the filesystem is frozen for
   * the copy (consistency 'frozen'); otherwise the copy is of an unmounted-by-instances volume ('stopped').
   */
  snapshot(volumeId: string, snapshotId: string, opts: { attached: boolean; signal?: AbortSignal }): Promise<SnapshotInfo>;
  inspectSnapshot(snapshotId: string): Promise<SnapshotInfo | null>;
  /** Deletes a snapshot. A no-op when already gone. */
  removeSnapshot(snapshotId: string): Promise<void>;
  /** Every volume and snapshot id the driver holds (to reconcile against the store and collect garbage). */
  list(): Promise<{ volumes: string[]; snapshots: string[] }>;
}
