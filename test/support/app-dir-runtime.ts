// Deployments cannot name a directory on the host, so process-runtime tests wrap the driver: every start runs the
// prepared test app directory instead of the deployment's image; everything else goes to the driver as it is.
import type { InstanceSpec, Runtime } from '../../src/runtime/contract.ts';

/** `inner` with start() running `app` (`serve`) for every instance; `overrides` replace more of the spec (e.g. network). */
export function appDirRuntime<R extends Runtime>(inner: R, app: { dir: string; entrypoint: string[] }, overrides: Partial<InstanceSpec> = {}): R {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'start') {
        return (spec: InstanceSpec, signal?: AbortSignal) =>
          target.start({ ...spec, image: undefined, appDir: app.dir, entrypoint: app.entrypoint, command: ['serve'], ...overrides }, signal);
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
