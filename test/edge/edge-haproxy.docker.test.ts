// The edge conformance suite (edge-suite.ts) on HAProxy in front of the Node edge (PIER_EDGE_DATAPLANE=haproxy):
// the same steps and assertions as on the Node edge. Skipped, with the reason, when haproxy is not installed.
import { edgeSuite } from './edge-suite.ts';

edgeSuite('haproxy');
