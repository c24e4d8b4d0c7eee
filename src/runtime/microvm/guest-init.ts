// Pier's init inside each microVM (PID 1, from the initramfs). It loads the modules, reads the instance's settings
// from the second disk (/dev/vdb: a shell fragment of quoted assignments written by the host, never the kernel command
// line, which the host's `ps` shows), mounts the image's ext4 root, configures eth0, puts the app in a cgroup with the
// instance's memory and cpu, runs it chrooted with its environment, and writes to the serial console:
//   `B <epoch seconds> <uptime>`                 the guest's clock once (busybox date has no sub-second format)
//   `O <uptime> <line>` / `E <uptime> <line>`    one line of the app's stdout / stderr (uptime in 1/100 s)
//   `L <cpu.max> <memory.max>`                   the limits the guest kernel enforces
//   `X <exit code> <oom kills> <uptime>`         the app ended (what it left running is killed); then the VM powers
//                                                off (reboot=t + -no-reboot)
// The host writes `stop` or `kill` on the console to send SIGTERM or SIGKILL to the app, and `hosts`, `h <line>`...,
// `hosts.end` to replace the app's /etc/hosts (private names on an app network, appnet.ts; first set from PIER_HOSTS).
// Volumes (PIER_VOLUMES, one `<9p tag> ro|rw <path>` line each) are the host's mounts shared over virtio-9p.

/**
 * The guest's 9p mount options of a volume (besides ro/rw): virtio transport, Linux dialect, no client cache but for
 * shared writable mmap (SQLite's -shm), so every write() is a host write before it returns (ENOSPC and EROFS come
 * back at once, an fsfreeze snapshot sees it); permissions checked by the guest kernel against the modes and owners
 * of the host files (QEMU's passthrough sets them); 256 KiB messages; no setuid programs, no device files.
 */
export const VOLUME_MOUNT_OPTIONS = 'trans=virtio,version=9p2000.L,cache=mmap,access=client,msize=262144,nosuid,nodev';

/** The /init script (busybox sh). */
export const GUEST_INIT = `#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
con=/dev/ttyS0
stty -F $con -echo 2>/dev/null
say() { echo "$*" > $con; }
finish() { read up _ < /proc/uptime; say "X $1 $2 $up"; sync; reboot -f; sleep 5; }
while read -r m; do insmod /lib/modules/$m 2>/dev/null; done < /modules.order
[ -b /dev/vdb ] || finish 125 0
. /dev/vdb
mount -t ext4 /dev/vda /newroot || finish 125 0
for d in proc sys dev tmp; do mkdir -p /newroot/$d; done
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
if [ -n "$PIER_HOSTS" ]; then
  mkdir -p /newroot/etc
  rm -f /newroot/etc/hosts
  printf '%s' "$PIER_HOSTS" > /newroot/etc/hosts
fi
# Persistent volumes: one 9p share per volume (tag pv<i>), mounted by the image's own root (chroot: a symlink in the
# image resolves inside it, never onto the initramfs), ro or rw.
if [ -n "$PIER_VOLUMES" ]; then
  while IFS= read -r v; do
    tag=\${v%% *}; rest=\${v#* }; mode=\${rest%% *}; vp=\${rest#* }
    if ! chroot /newroot /.pier/busybox mkdir -p "$vp" || ! chroot /newroot /.pier/busybox mount -t 9p -o "$mode,${VOLUME_MOUNT_OPTIONS}" "$tag" "$vp"; then
      read up _ < /proc/uptime
      say "E $up pier: the volume could not be mounted at $vp"
      finish 125 0
    fi
  done <<VOLUMES
$PIER_VOLUMES
VOLUMES
fi
ip link set lo up
if [ -n "$PIER_ADDR" ]; then
  ip addr add "$PIER_ADDR" dev eth0
  ip link set eth0 up
  [ -n "$PIER_GATEWAY" ] && ip route add default via "$PIER_GATEWAY"
fi
[ -n "$PIER_HOSTNAME" ] && hostname "$PIER_HOSTNAME"
mkdir -p /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
echo "+memory +cpu +pids" > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/app
[ -n "$PIER_MEMORY" ] && echo "$PIER_MEMORY" > /sys/fs/cgroup/app/memory.max
[ -n "$PIER_CPU_MAX" ] && echo "$PIER_CPU_MAX" > /sys/fs/cgroup/app/cpu.max
[ -n "$PIER_PIDS" ] && echo "$PIER_PIDS" > /sys/fs/cgroup/app/pids.max
say "L $(cat /sys/fs/cgroup/app/cpu.max | tr ' ' /) $(cat /sys/fs/cgroup/app/memory.max)"
mkfifo /out /err
read up _ < /proc/uptime
say "B $(date +%s) $up"
stream() { while IFS= read -r l || [ -n "$l" ]; do read up _ < /proc/uptime; echo "$1 $up $l"; done < "$2" > $con; }
stream O /out & so=$!
stream E /err & se=$!
(echo 0 > /sys/fs/cgroup/app/cgroup.procs; exec chroot /newroot /.pier/busybox sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$PIER_WORKDIR" "$@") > /out 2> /err < /dev/null &
app=$!
(while :; do IFS= read -r cmd < $con; case "$cmd" in
  stop) say "A stop"; kill -TERM $app;;
  kill) say "A kill"; kill -KILL $app;;
  hosts) : > /hosts.new;;
  "h "*) printf '%s\\n' "\${cmd#h }" >> /hosts.new;;
  hosts.end) mkdir -p /newroot/etc && cp /hosts.new /newroot/etc/.pier-hosts && mv -f /newroot/etc/.pier-hosts /newroot/etc/hosts; say "A hosts";;
esac; done) &
ctl=$!
wait $app
code=$?
# The instance ends with its main process, as a container does: what it left running (holding the log pipes open,
# which kept this VM up until the host killed it) goes with it.
echo 1 > /sys/fs/cgroup/app/cgroup.kill 2>/dev/null || kill -KILL $(cat /sys/fs/cgroup/app/cgroup.procs) 2>/dev/null
wait $so
wait $se
kill $ctl 2>/dev/null
oom=$(grep '^oom_kill ' /sys/fs/cgroup/app/memory.events | cut -d' ' -f2)
finish $code "\${oom:-0}"
`;
