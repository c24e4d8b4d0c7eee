// A scripted Builder for control tests: each build asks `script` what to do (hand out an image or a directory, fail
// with a message, or wait until aborted). Held to the builder contract (test/build/builder-contract.ts).
import type { Deployment } from '../../src/domain/types.ts';
import type { Builder, BuildResult } from '../../src/control/ports.ts';

/** What one build does. */
export type BuildOutcome = BuildResult | { error: string } | { hang: true };

/** The double; records the deployments it was asked to build. */
export class FakeBuilder implements Builder {
  readonly built: string[] = [];
  constructor(public script: (d: Deployment) => BuildOutcome | Promise<BuildOutcome>) {}

  async build(d: Deployment, signal: AbortSignal): Promise<BuildResult> {
    this.built.push(d.id);
    if (signal.aborted) throw new Error('build canceled');
    const outcome = await this.script(d);
    if ('error' in outcome) throw new Error(outcome.error);
    if ('hang' in outcome) {
      // Like a real build stuck in a step: only the abort ends it.
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      throw new Error('build canceled');
    }
    if (signal.aborted) throw new Error('build canceled');
    return outcome;
  }
}
