#!/usr/bin/env bash
# Prepares a machine to run Pier's instances: installs Docker, bubblewrap, static busybox, iproute2, iptables and
# HAProxy (the edge's native data plane, Pier's default when installed: docs/edge.md) when missing, and starts dockerd in the background when the engine does not answer (these machines have no systemd).
# `--tests` also installs what only the test suites use (a local registry, pebble, PostgreSQL's binaries).
# `--gvisor` (or PIER_RUNTIME=gvisor) also installs gVisor's runsc and registers it with the engine (daemon.json).
# `--microvm` (or PIER_RUNTIME=microvm) also installs QEMU, Debian's kernel (the guest's), xz and kmod.
# `--no-haproxy` (or PIER_EDGE_DATAPLANE=node) leaves HAProxy out: the Node edge then serves alone.
# `--bench` also installs what `npm run bench` measures with and against: wrk, nginx-light and HAProxy.
# `--no-cgroup-tuning` (or PIER_CGROUP_FAVORDYNMODS=0) leaves the cgroup2 mount's options as they are (step 2c).
# Idempotent; run as root. `--stop` stops only a dockerd this script started (by the PID it recorded).
# A dockerd this script starts keeps its data on xfs with project quotas where the kernel allows it (see
# prepare_data_root); an operator's own dockerd is never reconfigured.
set -euo pipefail

state_dir="${PIER_HOST_STATE_DIR:-/var/lib/pier-host}"
pid_file="$state_dir/dockerd.pid"
log_file="$state_dir/dockerd.log"
wait_seconds="${PIER_DOCKERD_WAIT:-60}"
data_root="$state_dir/docker"

say() { echo "setup-host: $*" >&2; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

our_dockerd_pid() {
  # Prints the recorded PID only if it is still a live dockerd; a stale file (PID reused) is ignored.
  [ -f "$pid_file" ] || return 1
  local pid; pid="$(cat "$pid_file")"
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = "dockerd" ] && echo "$pid"
}

stop_dockerd() {
  local pid
  if ! pid="$(our_dockerd_pid)"; then say "no dockerd started by this script is running"; rm -f "$pid_file"; return 0; fi
  say "stopping dockerd (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do [ -d "/proc/$pid" ] || break; sleep 0.5; done
  if [ -d "/proc/$pid" ]; then say "dockerd did not stop in 30 s; killing it"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pid_file"
}

# Prints dockerd's storage arguments for a data root where `--storage-opt size` (Pier's per-instance disk limit) is
# enforced exactly: overlay2 on xfs mounted with pquota, as a sparse loop file (PIER_DOCKER_DATA_SIZE, default 90% of
# the free space here) made once and mounted again after a reboot. Only where the kernel has XFS quotas; elsewhere it
# prints nothing and dockerd keeps its default data root, where Pier's driver gives each instance a size-limited
# ext4 upper layer instead (src/runtime/docker/upper-disk.ts). PIER_DOCKER_QUOTA=0 skips it.
prepare_data_root() {
  [ "${PIER_DOCKER_QUOTA:-1}" = "0" ] && return 0
  local img="$state_dir/docker-data.xfs" made=0
  if ! mountpoint -q "$data_root"; then
    mkdir -p "$data_root"
    if [ -f "$img" ]; then
      # Never remade over: it holds the engine's images and containers.
      mount -o loop,pquota "$img" "$data_root" || { say "WARNING: cannot mount $img: dockerd keeps its default data root"; return 0; }
    else
      command -v mkfs.xfs >/dev/null 2>&1 || return 0
      local size="${PIER_DOCKER_DATA_SIZE:-$(( $(df -B1 --output=avail "$state_dir" | tail -n 1) / 10 * 9 ))}"
      truncate -s "$size" "$img"; made=1
      mkfs.xfs -q "$img" >&2 && mount -o loop,pquota "$img" "$data_root" 2>/dev/null || true
    fi
  fi
  # A kernel without XFS quotas mounts it with "noquota": no limits there, so the default data root is as good.
  if mountpoint -q "$data_root" && findmnt -no OPTIONS "$data_root" | grep -q prjquota; then
    say "docker data root: $data_root (xfs with project quotas: --storage-opt size works)"
    printf '%s\n' --data-root "$data_root" --storage-driver overlay2
    return 0
  fi
  if [ "$made" = 1 ]; then umount "$data_root" 2>/dev/null || true; rm -f "$img"; fi
  say "this kernel has no XFS quotas: dockerd keeps its default data root (Pier limits disk with per-instance ext4 layers)"
}

if [ "${1:-}" = "--stop" ]; then stop_dockerd; exit 0; fi
for_tests=0
gvisor=0
microvm=0
haproxy=1
bench=0
cgroup_tuning=1
[ "${PIER_CGROUP_FAVORDYNMODS:-}" = "0" ] && cgroup_tuning=0
[ "${PIER_EDGE_DATAPLANE:-}" = "node" ] && haproxy=0
[ "${PIER_RUNTIME:-}" = "gvisor" ] && gvisor=1
[ "${PIER_RUNTIME:-}" = "microvm" ] && microvm=1
for arg in "$@"; do
  case "$arg" in
    --tests) for_tests=1 ;;
    --gvisor) gvisor=1 ;;
    --microvm) microvm=1 ;;
    --haproxy) haproxy=1 ;; # the default; kept so older command lines still work
    --no-haproxy) haproxy=0 ;;
    --bench) bench=1; haproxy=1 ;;
    --no-cgroup-tuning) cgroup_tuning=0 ;;
  esac
done
if [ "$(id -u)" != "0" ]; then say "must run as root"; exit 1; fi
mkdir -p "$state_dir"

# 1. Packages: one apt-get update, only when something is missing.
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || missing+=(busybox-static)
# The test image copies busybox into a FROM-scratch image, which only works with the static build.
if command -v busybox >/dev/null 2>&1 && ! dpkg -s busybox-static >/dev/null 2>&1; then missing+=(busybox-static); fi
command -v setsid >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v git >/dev/null 2>&1 || missing+=(git) # builds from a git source (src/build/git.ts), git push deploys
command -v iptables-restore >/dev/null 2>&1 || missing+=(iptables) # both runtimes: isolation between apps and from the host
if [ "${PIER_DOCKER_QUOTA:-1}" != "0" ] && ! engine_answers; then
  command -v mkfs.xfs >/dev/null 2>&1 || missing+=(xfsprogs) # a dockerd this script starts: xfs data root (prepare_data_root)
fi
command -v mkfs.ext4 >/dev/null 2>&1 || missing+=(e2fsprogs) # docker runtime: per-instance disk layers
# Python buildpack builds: the Python base image is made from the host's python3 and Debian's pip (docs/buildpacks.md).
[ -d /usr/lib/python3/dist-packages/pip ] || missing+=(python3-pip)
[ -x /usr/bin/python3 ] || missing+=(python3-minimal) # process runtime: instances exec (seccomp filter, pty helper)
if [ -n "${DATABASE_URL:-}" ]; then
  command -v pg_dump >/dev/null 2>&1 || missing+=(postgresql-client) # pier backup / restore of a PostgreSQL store
fi
# The edge's native data plane (docs/edge.md); the tests use it too (test/edge/haproxy.slow.test.ts, the edge suite)
{ [ "$haproxy" = 1 ] || [ "$for_tests" = 1 ]; } && { command -v haproxy >/dev/null 2>&1 || missing+=(haproxy); }
[ "$gvisor" = 1 ] && { command -v runsc >/dev/null 2>&1 || missing+=(runsc); } # PIER_RUNTIME=gvisor
if [ "$microvm" = 1 ]; then # PIER_RUNTIME=microvm: the VMM, the guest kernel and what unpacks it
  command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
  compgen -G '/boot/vmlinuz-*' >/dev/null || missing+=(linux-image-amd64)
  command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
  command -v modprobe >/dev/null 2>&1 || missing+=(kmod)
fi
if [ "$bench" = 1 ]; then # npm run bench: the load generator and the nginx baseline of the edge rows (bench/edge.ts)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
fi
if [ "$for_tests" = 1 ]; then
  { [ -x /usr/bin/docker-registry ] && command -v htpasswd >/dev/null 2>&1; } || missing+=(docker-registry apache2-utils) # test/registry, test/swarm
  command -v pebble >/dev/null 2>&1 || missing+=(pebble) # test/domains: a loopback ACME server
  [ -x /usr/bin/python3 ] || missing+=(python3) # test/security/process-sandbox: raw system calls from a sandbox
  # test/postgres: each suite runs its own throwaway cluster from these binaries (the package's own cluster stays unused).
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
fi
if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
else
  say "packages present (docker, bwrap, busybox-static)"
fi

# 2. cgroups: Docker and the process driver work on v1 and v2; v1 needs the controllers mounted.
cg_type="$(stat -fc %T /sys/fs/cgroup 2>/dev/null || echo unknown)"
if [ "$cg_type" = "cgroup2fs" ]; then
  say "cgroup v2 (unified)"
else
  say "cgroup v1 (or hybrid: $cg_type)"
  if [ ! -d /sys/fs/cgroup/memory ] && command -v cgroupfs-mount >/dev/null 2>&1; then
    say "mounting cgroup v1 hierarchies"; cgroupfs-mount
  fi
fi

# 2b. User namespaces: the process runtime runs each instance as root of its own user namespace, which is an
# unprivileged uid on the host; bubblewrap creates that namespace as the unprivileged uid, which the kernel must allow.
if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
  say "allowing unprivileged user namespaces (kernel.unprivileged_userns_clone=1; /etc/sysctl.d/60-pier-userns.conf)"
  echo 1 > /proc/sys/kernel/unprivileged_userns_clone
  mkdir -p /etc/sysctl.d && echo 'kernel.unprivileged_userns_clone = 1' > /etc/sysctl.d/60-pier-userns.conf
fi
if [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" = 0 ]; then
  say "allowing user namespaces (user.max_user_namespaces=15000; /etc/sysctl.d/60-pier-userns.conf)"
  echo 15000 > /proc/sys/user/max_user_namespaces
  mkdir -p /etc/sysctl.d && echo 'user.max_user_namespaces = 15000' >> /etc/sysctl.d/60-pier-userns.conf
fi
if [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0)" = 1 ]; then
  say "WARNING: AppArmor restricts unprivileged user namespaces; the process runtime needs bubblewrap allowed to create them"
fi

# 2c. Cgroup joins without an RCU grace period: every instance start moves a process into its cgroups (the process
# runtime's supervisor, runc for containers). Without `favordynmods` the first such move after a quiet spell waits for
# an RCU grace period (7-20 ms measured here, on every cold start and wake); with it the move takes ~0.05 ms. The
# option belongs to the cgroup2 mount (on a hybrid host, the `unified` one) and acts on every hierarchy. Its cost:
# forks and exits take a slower path of the same lock (the kernel's cgroup-v2 docs); on kernels from 6.18 it cannot
# be turned off again until a reboot. The mount's other options are kept; not persistent across reboots (run this
# again, or see docs/limits.md). Skipped on kernels without it (/sys/kernel/cgroup/features).
tune_cgroup_joins() {
  local mp opts
  read -r mp opts < <(awk '$3 == "cgroup2" { print $2, $4; exit }' /proc/mounts) || true
  [ -n "${mp:-}" ] || return 0
  case ",$opts," in *,favordynmods,*) say "cgroup2 favordynmods already on ($mp): instance starts join their cgroups at once"; return 0 ;; esac
  grep -qx favordynmods /sys/kernel/cgroup/features 2>/dev/null || return 0
  if mount -o "remount,$opts,favordynmods" "$mp" 2>/dev/null; then
    say "cgroup2 favordynmods on ($mp; was $opts): instance starts no longer wait for an RCU grace period to join their cgroups"
  else
    say "WARNING: could not remount $mp with favordynmods (instance starts still wait ~10 ms to join their cgroups)"
  fi
}
if [ "$cgroup_tuning" = 1 ]; then tune_cgroup_joins; fi

# 3. The Docker engine.
if engine_answers; then
  say "docker engine already answers"
else
  if pid="$(our_dockerd_pid)"; then
    say "dockerd (pid $pid) started earlier is not answering yet; waiting"
  else
    mapfile -t storage_args < <(prepare_data_root)
    say "starting dockerd ${storage_args[*]} (log: $log_file)"
    # setsid: dockerd must not die with this shell, and must not receive the terminal's signals.
    setsid dockerd "${storage_args[@]}" >>"$log_file" 2>&1 < /dev/null &
    echo $! > "$pid_file"
  fi
  for ((i = 0; i < wait_seconds * 2; i++)); do
    if engine_answers; then break; fi
    if ! our_dockerd_pid >/dev/null; then say "dockerd exited; last log lines:"; tail -n 20 "$log_file" >&2; exit 1; fi
    sleep 0.5
  done
  if ! engine_answers; then say "docker engine did not answer within ${wait_seconds}s; see $log_file"; exit 1; fi
  say "docker engine answers (dockerd pid $(cat "$pid_file"))"
fi

# 4. gVisor (PIER_RUNTIME=gvisor): the engine must know runsc as the "runsc" runtime. The entry is merged into
# daemon.json (every other key of the operator's file is kept; an existing runsc entry is never overwritten). A dockerd
# this script started re-reads it on SIGHUP (runtimes are reloadable: no restart, running containers untouched); an
# operator's own dockerd is never signalled: the script says what to do.
# The entry points at a wrapper: Debian's runsc (2022) decides it was started in the host's network namespace when
# /proc/sys/net/core/rmem_default exists, which recent kernels show in every namespace, and then refuses gVisor's own
# network stack ("cannot run with network enabled in root network namespace"). The wrapper runs runsc in a private
# mount namespace with /proc/sys/net hidden, so instances get gVisor's netstack (not the host's TCP/IP code).
# --platform=ptrace: works without a usable KVM (the kvm platform hangs on PVM hosts).
gvisor_wrapper=/usr/local/lib/pier/runsc
register_gvisor() {
  local conf="${PIER_DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}" runsc pid
  runsc="$(command -v runsc)" || { say "gvisor: runsc is not installed"; exit 1; }
  mkdir -p "$(dirname "$gvisor_wrapper")"
  printf '%s\n' '#!/bin/sh' \
    "# Written by Pier's scripts/setup-host.sh: runsc with /proc/sys/net hidden (see there why)." \
    "exec unshare --mount --propagation slave -- sh -c 'mount -t tmpfs -o size=4k,mode=0555 pier-hide /proc/sys/net && exec \"\$0\" \"\$@\"' $runsc \"\$@\"" \
    > "$gvisor_wrapper.tmp"
  chmod 755 "$gvisor_wrapper.tmp" && mv "$gvisor_wrapper.tmp" "$gvisor_wrapper"
  if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"'; then say "gvisor: the engine already has the runsc runtime"; return 0; fi
  mkdir -p "$(dirname "$conf")"
  node - "$conf" "$gvisor_wrapper" <<'JS' || exit 1
const fs = require('fs');
const [conf, path] = process.argv.slice(2);
let cfg = {};
if (fs.existsSync(conf)) {
  const text = fs.readFileSync(conf, 'utf8');
  try { cfg = text.trim() ? JSON.parse(text) : {}; } catch (e) {
    console.error(`setup-host: gvisor: ${conf} is not valid JSON (${e.message}); left as it is: add runtimes.runsc by hand`);
    process.exit(1);
  }
}
cfg.runtimes = cfg.runtimes || {};
if (cfg.runtimes.runsc) { console.error(`setup-host: gvisor: ${conf} already names runsc (kept as it is)`); process.exit(0); }
cfg.runtimes.runsc = { path, runtimeArgs: ['--platform=ptrace'] };
fs.writeFileSync(`${conf}.pier-tmp`, `${JSON.stringify(cfg, null, 2)}\n`);
fs.renameSync(`${conf}.pier-tmp`, conf);
console.error(`setup-host: gvisor: registered runsc in ${conf}`);
JS
  if pid="$(our_dockerd_pid)"; then
    say "gvisor: reloading dockerd (pid $pid, SIGHUP)"
    kill -HUP "$pid"
    for _ in $(seq 1 20); do
      docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && { say "gvisor: the engine has the runsc runtime"; return 0; }
      sleep 0.5
    done
    say "gvisor: dockerd did not pick up runsc; see $log_file"; exit 1
  fi
  say "gvisor: this dockerd was not started by Pier: reload it to read $conf (systemctl reload docker, or kill -HUP its pid)"
}
if [ "$gvisor" = 1 ]; then register_gvisor; fi
