// The scripted FakeRuntime (used by every fast control test) runs the runtime conformance suite as far as a double
// can: it emulates the test app's modes (serve, exit N, orphan, ignore-term, logs N S, sleep) with scripted behaviours, and the
// suite skips what needs a real workload (HTTP, enforced limits, OOM, stats, serving across a restart).
import { runRuntimeConformance } from '../../src/runtime/conformance.ts';
import type { InstanceSpec } from '../../src/runtime/contract.ts';
import { FakeRuntime, type Behaviour } from './fake-runtime.ts';

/** What the test app (src/runtime/testing/images.ts) does in each mode, as a FakeRuntime behaviour. */
export function testAppBehaviour(spec: InstanceSpec): Behaviour {
  const [mode = 'serve', a, b] = spec.command ?? [];
  switch (mode) {
    case 'exit':
      return { logs: [`exiting with ${a}`], stderr: ['goodbye from stderr'], exit: { code: Number(a) } };
    case 'orphan':
      // A double has no children: it just ends as the real app's main process does.
      return { logs: ['left a child behind'], exit: { code: 4 } };
    case 'ignore-term':
      return { logs: ['ready'], onStop: { line: 'ignoring SIGTERM', ignore: true } };
    case 'logs': {
      const n = Number(a ?? 3);
      const pauseMs = Number(b ?? 0) * 1000;
      const timeline = Array.from({ length: n }, (_, i) => [
        { afterMs: i * pauseMs, stream: 'stdout' as const, line: `out ${i + 1}` },
        { afterMs: i * pauseMs, stream: 'stderr' as const, line: `err ${i + 1}` },
      ]).flat();
      return { timeline, exitAfter: 0 };
    }
    case 'sleep':
      return { logs: ['sleeping'] };
    default:
      return {
        logs: [`starting on port ${spec.env.PORT ?? 8000}`, `GREETING=${spec.env.GREETING ?? ''}`],
        stderr: ['a line on stderr'],
        onStop: { line: 'got SIGTERM, exiting', exitCode: 0 },
      };
  }
}

const fake = new FakeRuntime();
fake.script = (spec) => testAppBehaviour(spec);

runRuntimeConformance('fake (emulated test app)', () => fake, {
  emulated: true,
  spec: (instanceId, args, over = {}): InstanceSpec => ({
    instanceId, labels: {}, image: 'pier-test/app', command: args, env: {}, ports: [8000], cpu: 0.25, memoryBytes: 128 * 1024 * 1024, ...over,
  }),
  enforcedLimits: async () => { throw new Error('a double enforces no limits'); },
  leftovers: async (runtimeId) => (fake.workloads.has(runtimeId) ? [`workload ${runtimeId}`] : []),
  startForeign: async () => { throw new Error('a double has no foreign workloads'); },
});
