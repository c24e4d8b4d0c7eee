// The seccomp filter of process-runtime sandboxes (instances and builds): a classic BPF program assembled here, with
// no native dependency, and handed to bubblewrap as raw bytes (`--seccomp FD`). It is at least as strict as Docker's
// default profile for a container without capabilities (moby profiles/seccomp/default.json), plus a few calls
// Docker allows that a tenant's web app has no use for (ptrace and friends, io_uring, time adjustments).
//
// Decision order, for every system call the sandboxed process makes:
//   1. not the x86_64 ABI (i386 via int 0x80, anything else)  -> kill the process (no i386 table is maintained)
//   2. the x32 ABI (nr has bit 30 set)                         -> ENOSYS, as a kernel built without x32 answers
//   3. nr above the last call of our table                     -> ENOSYS, like runc: libc then falls back to an
//                                                                 older call (e.g. fchmodat2 -> fchmodat)
//   4. a denied call                                           -> EPERM (clone3: ENOSYS, so libc uses clone)
//   5. clone with a namespace flag, personality other than Docker's five personas, socket(AF_VSOCK) -> EPERM
//   6. anything else                                           -> allowed
import { Buffer } from 'node:buffer';

/**
 * x86_64 system call names in number order, from `/usr/include/x86_64-linux-gnu/asm/unistd_64.h` (linux-libc-dev
 * 6.1; the same numbers as the kernel's arch/x86/entry/syscalls/syscall_64.tbl). Numbers 0-334 are contiguous;
 * 335-423 are unused on x86_64; 424 onwards are the calls shared by every architecture.
 */
const LOW = `read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction rt_sigprocmask
rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield mremap msync mincore madvise
shmget shmat shmctl dup dup2 pause nanosleep getitimer alarm setitimer getpid sendfile socket connect accept
sendto recvfrom sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt
clone fork vfork execve exit wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock
fsync fdatasync truncate ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink symlink
readlink chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage sysinfo times ptrace getuid
syslog getgid setuid setgid geteuid getegid setpgid getppid getpgrp setsid setreuid setregid getgroups
setgroups setresuid getresuid setresgid getresgid getpgid setfsuid setfsgid getsid capget capset rt_sigpending
rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend sigaltstack utime mknod uselib personality ustat statfs fstatfs
sysfs getpriority setpriority sched_setparam sched_getparam sched_setscheduler sched_getscheduler
sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock munlock mlockall munlockall vhangup
modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot sync acct settimeofday mount umount2
swapon swapoff reboot sethostname setdomainname iopl ioperm create_module init_module delete_module
get_kernel_syms query_module quotactl nfsservctl getpmsg putpmsg afs_syscall tuxcall security gettid readahead
setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr
lremovexattr fremovexattr tkill time futex sched_setaffinity sched_getaffinity set_thread_area io_setup
io_destroy io_getevents io_submit io_cancel get_thread_area lookup_dcookie epoll_create epoll_ctl_old
epoll_wait_old remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 timer_create
timer_settime timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime clock_getres
clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes vserver mbind set_mempolicy get_mempolicy mq_open
mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr kexec_load waitid add_key request_key keyctl
ioprio_set ioprio_get inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat
fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll
unshare set_robust_list get_robust_list splice tee sync_file_range vmsplice move_pages utimensat epoll_pwait
signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2
epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo perf_event_open recvmmsg fanotify_init
fanotify_mark prlimit64 name_to_handle_at open_by_handle_at clock_adjtime syncfs sendmmsg setns getcpu
process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr renameat2 seccomp getrandom
memfd_create kexec_file_load bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2
pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq`;
const HIGH_BASE = 424;
const HIGH = `pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree move_mount fsopen fsconfig fsmount
fspick pidfd_open clone3 close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr
quotactl_fd landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret process_mrelease
futex_waitv set_mempolicy_home_node`;

function table(): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  LOW.split(/\s+/).forEach((name, nr) => { out[name] = nr; });
  HIGH.split(/\s+/).forEach((name, i) => { out[name] = HIGH_BASE + i; });
  return Object.freeze(out);
}

/** x86_64 system call numbers by name (the table the filter is built from). */
export const X86_64_SYSCALLS = table();

/** The highest call number the filter knows; anything above answers ENOSYS. */
export const LAST_KNOWN_SYSCALL = Math.max(...Object.values(X86_64_SYSCALLS));

/**
 * Calls that answer EPERM. The first group is every x86_64 call Docker's default profile refuses to a container
 * without capabilities (its allow-list's complement over the table above; computed, then checked by the unit test
 * against a copy of that allow-list). The second group Docker allows, and Pier refuses on purpose.
 */
export const DENIED_SYSCALLS: readonly string[] = Object.freeze([
  // Refused by Docker's default profile without CAP_SYS_ADMIN, CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_TIME, ...
  'syslog', 'uselib', 'ustat', 'sysfs', 'vhangup', 'pivot_root', '_sysctl', 'chroot', 'acct', 'settimeofday', 'mount',
  'umount2', 'swapon', 'swapoff', 'reboot', 'sethostname', 'setdomainname', 'iopl', 'ioperm', 'create_module',
  'init_module', 'delete_module', 'get_kernel_syms', 'query_module', 'quotactl', 'nfsservctl', 'getpmsg', 'putpmsg',
  'afs_syscall', 'tuxcall', 'security', 'lookup_dcookie', 'clock_settime', 'vserver', 'mbind', 'set_mempolicy',
  'get_mempolicy', 'kexec_load', 'add_key', 'request_key', 'keyctl', 'migrate_pages', 'unshare', 'move_pages',
  'perf_event_open', 'fanotify_init', 'open_by_handle_at', 'setns', 'kcmp', 'finit_module', 'kexec_file_load', 'bpf',
  'userfaultfd', 'open_tree', 'move_mount', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'pidfd_getfd',
  'process_madvise', 'mount_setattr', 'quotactl_fd', 'set_mempolicy_home_node',
  // Allowed by Docker, refused here: reading or writing other processes' memory (Docker allows these on kernels
  // >= 4.8), file handles (the other half of open_by_handle_at), clock adjustment (a timex pointer cannot be
  // inspected by BPF, so reads go too), and io_uring (a large kernel surface; libuv and others fall back).
  'ptrace', 'process_vm_readv', 'process_vm_writev', 'name_to_handle_at', 'adjtimex', 'clock_adjtime',
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
]);

// Linux constants (include/uapi/linux/{filter,bpf_common,seccomp,audit}.h, asm-generic/errno*.h).
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGT_K = 0x25;
const BPF_JMP_JGE_K = 0x35;
const BPF_JMP_JSET_K = 0x45;
const BPF_RET_K = 0x06;
const RET_KILL_PROCESS = 0x80000000;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (little endian: low word first).
const OFF_NR = 0;
const OFF_ARCH = 4;
const argLow = (i: number) => 16 + 8 * i;

// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET: Docker's mask.
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
// PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26, and 0xffffffff (query): the personas Docker allows.
const ALLOWED_PERSONAS = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];
const AF_VSOCK = 40;

/** One `struct sock_filter`: opcode, jump-if-true and jump-if-false offsets (relative, forward), constant. */
interface Insn { code: number; jt: number; jf: number; k: number }

const stmt = (code: number, k: number): Insn => ({ code, jt: 0, jf: 0, k: k >>> 0 });
const jump = (code: number, k: number, jt: number, jf: number): Insn => ({ code, jt, jf, k: k >>> 0 });
const ret = (value: number) => stmt(BPF_RET_K, value);
const errno = (e: number) => ret(RET_ERRNO | e);

/** A self-contained block run when nr matches: it loads what it needs and always returns. */
function argumentCheck(name: string): Insn[] {
  if (name === 'clone') {
    return [stmt(BPF_LD_W_ABS, argLow(0)), jump(BPF_JMP_JSET_K, CLONE_NAMESPACE_FLAGS, 0, 1), errno(EPERM), ret(RET_ALLOW)];
  }
  if (name === 'personality') {
    const n = ALLOWED_PERSONAS.length;
    // Each JEQ jumps over the remaining ones and the EPERM to the final ALLOW.
    return [stmt(BPF_LD_W_ABS, argLow(0)), ...ALLOWED_PERSONAS.map((p, i) => jump(BPF_JMP_JEQ_K, p, n - i, 0)), errno(EPERM), ret(RET_ALLOW)];
  }
  if (name === 'socket') {
    return [stmt(BPF_LD_W_ABS, argLow(0)), jump(BPF_JMP_JEQ_K, AF_VSOCK, 0, 1), errno(EPERM), ret(RET_ALLOW)];
  }
  throw new Error(`no argument check for ${name}`);
}

/** What happens to one call number range: a plain return, or an argument check. */
interface Rule { lo: number; hi: number; action: Insn[] }

function rules(): Rule[] {
  const byNr = new Map<number, Insn[]>();
  const nr = (name: string) => {
    const n = X86_64_SYSCALLS[name];
    if (n === undefined) throw new Error(`unknown x86_64 system call ${name}`);
    return n;
  };
  for (const name of DENIED_SYSCALLS) byNr.set(nr(name), [errno(EPERM)]);
  byNr.set(nr('clone3'), [errno(ENOSYS)]); // Docker's choice: glibc falls back to clone, which is checked below
  for (const name of ['clone', 'personality', 'socket']) byNr.set(nr(name), argumentCheck(name));
  // Merge neighbours with the same single-instruction action into ranges (fewer comparisons per call).
  const out: Rule[] = [];
  for (const n of [...byNr.keys()].sort((a, b) => a - b)) {
    const action = byNr.get(n)!;
    const last = out.at(-1);
    if (last && last.hi === n - 1 && action.length === 1 && last.action.length === 1 && last.action[0].k === action[0].k) last.hi = n;
    else out.push({ lo: n, hi: n, action });
  }
  out.push({ lo: LAST_KNOWN_SYSCALL + 1, hi: X32_SYSCALL_BIT - 1, action: [errno(ENOSYS)] });
  return out;
}

/**
 * The program. Rules are sorted by number and checked in order; since numbers below a rule's start matched no
 * earlier rule, `nr < lo` allows at once (the most frequent calls, read/write/mmap..., leave after a comparison
 * or two). Every jump is short and forward, as classic BPF requires.
 */
function assemble(): Insn[] {
  const prog: Insn[] = [
    stmt(BPF_LD_W_ABS, OFF_ARCH),
    jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
    ret(RET_KILL_PROCESS),
    stmt(BPF_LD_W_ABS, OFF_NR),
    jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
    errno(ENOSYS),
  ];
  for (const r of rules()) {
    prog.push(jump(BPF_JMP_JGE_K, r.lo, 1, 0), ret(RET_ALLOW));
    prog.push(jump(BPF_JMP_JGT_K, r.hi, r.action.length, 0), ...r.action);
  }
  prog.push(ret(RET_ALLOW));
  for (const insn of prog) if (insn.jt > 255 || insn.jf > 255) throw new Error('seccomp: jump too long');
  return prog;
}

let cached: Buffer | undefined;

/**
 * The filter as bubblewrap's `--seccomp FD` reads it: consecutive 8-byte `struct sock_filter` entries
 * (u16 code, u8 jt, u8 jf, u32 k; host byte order, little endian on x86_64). A fresh copy on every call.
 */
export function seccompFilter(): Buffer {
  if (!cached) {
    const prog = assemble();
    cached = Buffer.alloc(prog.length * 8);
    prog.forEach((insn, i) => {
      cached!.writeUInt16LE(insn.code, i * 8);
      cached!.writeUInt8(insn.jt, i * 8 + 2);
      cached!.writeUInt8(insn.jf, i * 8 + 3);
      cached!.writeUInt32LE(insn.k, i * 8 + 4);
    });
  }
  return Buffer.from(cached);
}

/** Whether the filter can run on this machine (it is written for the x86_64 system call table). */
export function seccompSupported(): boolean {
  return process.arch === 'x64';
}
