// Public surface of the edge: what the composition root and the control plane use.
export { createEdge } from './edge.ts';
export { createHaproxyEdge } from './haproxy/edge.ts';
export { startEdgeDataplane, type Dataplane, type DataplaneChoice } from './dataplane.ts';
export type { AccessLogEntry, AcmeChallenges, AppRoutes, Edge, EdgeCertificate, EdgeMetrics, EdgeOptions, RouteEntry, Upstream } from './types.ts';
export { createRemoteEdge } from './remote.ts';
export type { RemoteEdge, RemoteEdgeOptions } from './remote.ts';
