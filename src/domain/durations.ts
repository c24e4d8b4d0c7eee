// Durations as operators and Koyeb's API write them: a whole number of seconds, minutes or hours (`15s`, `5m`, `1h`).

/** Milliseconds of `15s` / `5m` / `1h` (1 to 999999 units); undefined when malformed. */
export function parseShortDuration(text: string): number | undefined {
  const m = /^(\d{1,6})([smh])$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  if (n < 1) return undefined;
  return n * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000);
}
