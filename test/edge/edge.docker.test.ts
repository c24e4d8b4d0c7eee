// The edge conformance suite (edge-suite.ts) on the Node edge alone (PIER_EDGE_DATAPLANE=node).
import { edgeSuite } from './edge-suite.ts';

edgeSuite('node');
