// The builder contract: what the controller relies on from any Builder (src/control/ports.ts). Run by the real
// builder (test/build/builder-contract.slow.test.ts, directory builds) and by the double the control tests use
// (test/control/fake-builder.test.ts), so the double cannot promise what no builder does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Deployment } from '../../src/domain/types.ts';
import type { Builder } from '../../src/control/ports.ts';

/** Deployments a builder under test is given. */
export interface BuilderContractFixtures {
  /** One that builds; `sha` is the commit it must report, when the builder reports commits. */
  buildable(): { deployment: Deployment; sha?: string } | Promise<{ deployment: Deployment; sha?: string }>;
  /** One that cannot build (nothing to run, a bad source...). */
  broken(): Deployment | Promise<Deployment>;
  /** One whose build takes long enough to be canceled midway. */
  slow(): Deployment | Promise<Deployment>;
  /** Whether a resolved `image` must exist on this machine (a `dir:` path) or is a tag the engine holds. */
  check?(image: string): void | Promise<void>;
}

const TIMEOUT_MS = 180_000;

/** Registers the contract's tests for one builder. */
export function runBuilderContract(name: string, builder: Builder, fixtures: BuilderContractFixtures): void {
  test(`${name}: a buildable source resolves with what to run and the commit built`, { timeout: TIMEOUT_MS }, async () => {
    const { deployment, sha } = await fixtures.buildable();
    const out = await builder.build(deployment, new AbortController().signal);
    assert.equal(typeof out.image, 'string');
    assert.ok(out.image.length > 0, 'an image tag or a dir: path');
    if (sha) assert.equal(out.commit?.sha, sha);
    await fixtures.check?.(out.image);
  });

  test(`${name}: a source that cannot build rejects with a message a person reads`, { timeout: TIMEOUT_MS }, async () => {
    const d = await fixtures.broken();
    await assert.rejects(builder.build(d, new AbortController().signal), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(err.message.trim().length > 0);
      assert.doesNotMatch(err.message, /^\s+at /m, 'no stack trace in the message');
      return true;
    });
  });

  test(`${name}: aborting the signal cancels a build in progress`, { timeout: TIMEOUT_MS }, async () => {
    const d = await fixtures.slow();
    const ac = new AbortController();
    const building = builder.build(d, ac.signal);
    setTimeout(() => ac.abort(), 300);
    let abortedWhenRejected: boolean | undefined;
    await assert.rejects(building.catch((err: unknown) => { abortedWhenRejected = ac.signal.aborted; throw err; }));
    assert.equal(abortedWhenRejected, true, 'the build was still running when the signal aborted it');
  });

  test(`${name}: a build aborted before it starts never resolves`, { timeout: TIMEOUT_MS }, async () => {
    const { deployment } = await fixtures.buildable();
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(builder.build(deployment, ac.signal));
  });
}
