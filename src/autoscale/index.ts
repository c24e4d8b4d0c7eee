// The autoscaler's public surface: pure decisions from recorded samples, no I/O (see README.md).
export { decide, sleepDue, type DecideInput } from './decider.ts';
export { sampleRegion, quantileOf, type Counters, type SampleInput, type Usage } from './sample.ts';
export { policyOf, isAutoscaled, quantilesOf, loadWatchOf, DEFAULT_SLEEP_SECONDS } from './targets.ts';
export { autoscaleConfigFromEnv, DEFAULT_AUTOSCALE_CONFIG, type AutoscaleConfig } from './config.ts';
export { sleepStep, nextSleepInMs, type SleepMode, type SleepStep } from './sleep.ts';
export * from './types.ts';
