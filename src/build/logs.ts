// Build log lines of one deployment: stored with type build (so `pier service logs --type build` and the log stream
// with type=BUILD find them), written in small batches, and the tail kept for the error message of a failed build.
import { createRedactor } from '../domain/redact.ts';
import type { Deployment } from '../domain/types.ts';

/** A stored build line, in the shape of the log repository (src/store/logs.ts LogLine). */
export interface BuildLogLine {
  organization_id: string; app_id: string; service_id: string; deployment_id: string;
  regional_deployment_id: string; instance_id: string; type: 'build'; stream: 'stdout' | 'stderr' | 'koyeb';
  msg: string; created_at: string;
}

/** Where build lines go (platform.ts: appendLogLines on the store with the live bus). */
export type BuildLogSink = (lines: BuildLogLine[]) => Promise<void>;

/** The log of one build. */
export interface BuildLog {
  line(msg: string, stream?: 'stdout' | 'stderr' | 'koyeb'): void;
  /** The last n lines, for an error message. */
  tail(n: number): string[];
  /** Writes what is buffered; resolves when stored. */
  flush(): Promise<void>;
}

/** Longest stored line; longer lines are cut (a minified bundle printed by a build should not fill the database). */
export const MAX_BUILD_LINE = 4096;

/** Creates the build log of a deployment. Lines are redacted of `secrets` before they are kept anywhere. */
export function createBuildLog(d: Deployment, sink: BuildLogSink, secrets: string[] = []): BuildLog {
  const buffer: BuildLogLine[] = [];
  const recent: string[] = [];
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  // Also base64 and percent-encoded copies: builds print credentials inside URLs and Authorization headers.
  const redact = createRedactor(secrets, '***');
  const flush = () => {
    if (timer) { clearTimeout(timer); timer = undefined; }
    const batch = buffer.splice(0);
    if (batch.length) writing = writing.then(() => sink(batch)).catch(() => { /* a lost log line must not fail the build */ });
    return writing;
  };
  return {
    line(msg, stream = 'stdout') {
      const text = redact(msg).slice(0, MAX_BUILD_LINE);
      recent.push(text);
      if (recent.length > 50) recent.shift();
      buffer.push({
        organization_id: d.organization_id, app_id: d.app_id, service_id: d.service_id, deployment_id: d.id,
        regional_deployment_id: '', instance_id: '', type: 'build', stream, msg: text, created_at: new Date().toISOString(),
      });
      if (buffer.length >= 100) void flush();
      else timer ??= setTimeout(() => { void flush(); }, 100);
    },
    tail: (n) => recent.slice(-n),
    flush,
  };
}
