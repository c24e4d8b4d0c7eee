// Runs the assembled seccomp program in a small classic-BPF interpreter over sample `struct seccomp_data`, and checks
// it against Docker's default allow-list (a copy below) and the host's own system call header when installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { DENIED_SYSCALLS, LAST_KNOWN_SYSCALL, X86_64_SYSCALLS, seccompFilter } from './seccomp.ts';

const X86_64 = 0xc000003e;
const I386 = 0x40000003;
const ALLOW = 0x7fff0000;
const KILL_PROCESS = 0x80000000;
const EPERM = 0x00050000 | 1;
const ENOSYS = 0x00050000 | 38;

/** Executes the program the way the kernel does (only the opcodes a seccomp program may use), returning its verdict. */
function run(prog: Buffer, data: { nr: number; arch?: number; args?: bigint[] }): number {
  const mem = Buffer.alloc(64);
  mem.writeInt32LE(data.nr, 0);
  mem.writeUInt32LE(data.arch ?? X86_64, 4);
  (data.args ?? []).forEach((a, i) => mem.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps < 4096; steps++) {
    assert.ok(pc * 8 < prog.length, `pc ${pc} ran off the program`);
    const code = prog.readUInt16LE(pc * 8);
    const jt = prog.readUInt8(pc * 8 + 2);
    const jf = prog.readUInt8(pc * 8 + 3);
    const k = prog.readUInt32LE(pc * 8 + 4);
    pc++;
    switch (code) {
      case 0x20: assert.ok(k % 4 === 0 && k < 64, `aligned load inside seccomp_data: ${k}`); a = mem.readUInt32LE(k); break;
      case 0x06: return k;
      case 0x05: pc += k; break; // JA
      case 0x15: pc += a === k ? jt : jf; break;
      case 0x25: pc += a > k ? jt : jf; break;
      case 0x35: pc += a >= k ? jt : jf; break;
      case 0x45: pc += (a & k) !== 0 ? jt : jf; break;
      default: assert.fail(`unexpected opcode 0x${code.toString(16)} at ${pc - 1}`);
    }
  }
  return assert.fail('program did not return');
}

const prog = seccompFilter();
const nr = (name: string) => { const n = X86_64_SYSCALLS[name]; assert.ok(n !== undefined, name); return n; };
const verdict = (name: string, args: bigint[] = []) => run(prog, { nr: nr(name), args });

test('the program is whole 8-byte instructions, within the kernel limit, and every caller gets a fresh copy', () => {
  assert.equal(prog.length % 8, 0);
  assert.ok(prog.length / 8 < 4096, `${prog.length / 8} instructions`);
  const again = seccompFilter();
  assert.deepEqual(again, prog);
  again[0] ^= 0xff;
  assert.notDeepEqual(seccompFilter(), again, 'callers cannot corrupt the shared program');
});

test('every call number gets an answer: ordinary calls allowed, denied ones EPERM, unknown ones ENOSYS', () => {
  const denied = new Set([...DENIED_SYSCALLS]);
  for (const [name, n] of Object.entries(X86_64_SYSCALLS)) {
    const v = run(prog, { nr: n });
    if (denied.has(name)) assert.equal(v, EPERM, name);
    else if (name === 'clone3') assert.equal(v, ENOSYS, name);
    else assert.equal(v, ALLOW, `${name} (${n}) with zero arguments`);
  }
  for (const n of [335, 400, 423, LAST_KNOWN_SYSCALL + 1, 452 /* fchmodat2 */, 0x3fffffff]) assert.equal(run(prog, { nr: n }), n <= 423 ? ALLOW : ENOSYS, `nr ${n}`);
});

test('another architecture is killed and the x32 ABI is refused', () => {
  assert.equal(run(prog, { nr: 1, arch: I386 }), KILL_PROCESS);
  assert.equal(run(prog, { nr: 0x40000000 | 1 }), ENOSYS, 'x32 write');
  assert.equal(run(prog, { nr: -1 }), ENOSYS, 'nr -1 (what a tracer uses to skip a call)');
});

test('the host-escape calls the issue names are refused with EPERM', () => {
  for (const name of ['mount', 'umount2', 'pivot_root', 'unshare', 'setns', 'keyctl', 'add_key', 'request_key', 'bpf', 'perf_event_open',
    'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot', 'swapon', 'swapoff', 'acct',
    'settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex', 'open_by_handle_at', 'name_to_handle_at', 'userfaultfd',
    'lookup_dcookie', 'iopl', 'ioperm', 'quotactl', 'syslog', 'kcmp', 'process_vm_readv', 'process_vm_writev', 'ptrace',
    'get_kernel_syms', 'query_module', 'uselib', 'ustat', 'sysfs', 'nfsservctl', '_sysctl', 'move_pages', 'mbind',
    'set_mempolicy', 'get_mempolicy', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'open_tree', 'move_mount', 'mount_setattr',
    'create_module']) {
    assert.equal(verdict(name), EPERM, name);
  }
  assert.equal(verdict('clone3'), ENOSYS);
});

test('clone is refused with any namespace flag, allowed for threads and fork', () => {
  const CLONE_THREAD_FLAGS = 0x3d0f00n; // VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
  assert.equal(verdict('clone', [CLONE_THREAD_FLAGS]), ALLOW);
  assert.equal(verdict('clone', [0x11n /* SIGCHLD: fork */]), ALLOW);
  for (const flag of [0x00020000n, 0x02000000n, 0x04000000n, 0x08000000n, 0x10000000n, 0x20000000n, 0x40000000n]) {
    assert.equal(verdict('clone', [0x11n | flag]), EPERM, `flag 0x${flag.toString(16)}`);
  }
});

test('personality allows only Docker\'s personas, socket refuses AF_VSOCK', () => {
  for (const p of [0x0n, 0x8n, 0x20000n, 0x20008n, 0xffffffffn]) assert.equal(verdict('personality', [p]), ALLOW, `persona 0x${p.toString(16)}`);
  for (const p of [0x0400000n /* READ_IMPLIES_EXEC */, 0x0040000n /* ADDR_NO_RANDOMIZE */, 0x1n]) assert.equal(verdict('personality', [p]), EPERM);
  assert.equal(verdict('socket', [2n /* AF_INET */]), ALLOW);
  assert.equal(verdict('socket', [1n /* AF_UNIX */]), ALLOW);
  assert.equal(verdict('socket', [40n]), EPERM);
});

// moby profiles/seccomp/default.json: the calls it allows on amd64 to a container with no capabilities (the
// unconditional list, the amd64 entries, ptrace & co. for kernels >= 4.8, and the argument-checked ones).
const DOCKER_ALLOWS = `accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown clock_adjtime clock_getres
clock_gettime clock_nanosleep close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchownat fcntl fdatasync
fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstatfs fsync ftruncate futex futex_waitv futimesat getcpu
getcwd getdents getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid getpgrp getpid getppid
getpriority getrandom getresgid getresuid getrlimit get_robust_list getrusage getsid getsockname getsockopt
get_thread_area gettid gettimeofday getuid getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
io_cancel ioctl io_destroy io_getevents io_pgetevents ioprio_get ioprio_set io_setup io_submit io_uring_enter
io_uring_register io_uring_setup kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lgetxattr
link linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat madvise membarrier memfd_create memfd_secret
mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedsend mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep
newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
ppoll prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recvfrom recvmmsg recvmsg remap_file_pages removexattr rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
rt_sigtimedwait rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop sendfile sendmmsg sendmsg sendto setfsgid
setfsuid setgid setgroups setitimer setpgid setpriority setregid setresgid setresuid setreuid setrlimit set_robust_list
setsid setsockopt set_thread_area set_tid_address setuid setxattr shmat shmctl shmdt shmget shutdown sigaltstack
signalfd signalfd4 socketpair splice stat statfs statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
time timer_create timer_delete timer_getoverrun timer_gettime timer_settime timerfd_create timerfd_gettime
timerfd_settime times tkill truncate umask uname unlink unlinkat utime utimensat utimes vfork vmsplice wait4 waitid
write writev arch_prctl modify_ldt process_vm_readv process_vm_writev ptrace socket personality clone`.split(/\s+/);

test('at least as strict as Docker\'s default profile: whatever Docker refuses on amd64 is refused here', () => {
  const allowed = new Set(DOCKER_ALLOWS);
  for (const [name, n] of Object.entries(X86_64_SYSCALLS)) {
    if (allowed.has(name)) continue;
    assert.notEqual(run(prog, { nr: n }), ALLOW, `${name} (${n}) is refused by Docker but allowed here`);
  }
});

test('the table matches the host\'s unistd_64.h (when linux-libc-dev is installed)', (t) => {
  const header = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
  if (!existsSync(header)) return t.skip('no unistd_64.h on this host');
  const fromHeader = new Map<string, number>();
  for (const m of readFileSync(header, 'utf8').matchAll(/^#define __NR_(\w+) (\d+)$/gm)) fromHeader.set(m[1], Number(m[2]));
  for (const [name, n] of Object.entries(X86_64_SYSCALLS)) assert.equal(fromHeader.get(name), n, name);
  for (const [name, n] of fromHeader) if (n <= LAST_KNOWN_SYSCALL) assert.equal(X86_64_SYSCALLS[name], n, `${name} missing from the table`);
});
