// What a runtime driver's failures mean to the control plane, in the runtime's own words: a workload that is not
// there, a name already taken, a spec the driver cannot run, a driver or engine that is unavailable, or an operation
// that failed. Not the API's HTTP errors: nothing a driver throws is an answer to an API request.

/** The kinds of runtime failures (stable; the control plane and tests match on them). */
export type RuntimeErrorCode = 'not_found' | 'conflict' | 'invalid_spec' | 'unavailable' | 'failed';

/** A failure of a runtime driver, with its kind. */
export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string) {
    super(message);
    this.name = 'RuntimeError';
    this.code = code;
  }
}

/** The workload `runtimeId` is not known to the driver (never started, or already removed). */
export function workloadNotFound(runtimeId: string): RuntimeError {
  return new RuntimeError('not_found', `instance not found: ${runtimeId}`);
}

/** Whether `err` says the workload is not there. */
export function isWorkloadNotFound(err: unknown): boolean {
  return err instanceof RuntimeError && err.code === 'not_found';
}
