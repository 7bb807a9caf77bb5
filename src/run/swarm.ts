import type { Scheme } from '../schemes/scheme.js';
import type { Scenario } from './explore.js';
import type { ShardLimits, ShardReport, ShardSpec } from './shard.js';
export function exploreSwarm(sc: Scenario, scheme: Scheme, spec: ShardSpec, limits: ShardLimits): ShardReport {
  void [sc, scheme, spec, limits];
  throw new Error('not yet');
}
