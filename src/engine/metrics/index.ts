/**
 * Observer-comparison metrics: pure functions on typed arrays (no DOM, no tfjs), safe in a Web Worker.
 * Semantics follow MONAI HEAD (spec §5.10–5.11); see each module's header.
 */
export { type Box, type Grid, type PairScan, labelsPresent, scanPair } from './mask';
export { type OverlapMetrics, type OverlapOptions, overlapMetrics } from './overlap';
export { distanceTransform, squaredDistanceTransform } from './distance-transform';
export {
  type SurfaceDistances,
  averageSurfaceDistance,
  averageSymmetricSurfaceDistance,
  hausdorff,
  quantileLinear,
  surfaceDistances,
  surfaceVoxels,
} from './surface';
export { type CompareOptions, type LabelMapComparison, type PairMetrics, PAIR_METRIC_KEYS, compareLabelMaps, compareMasks } from './compare';
export { type StapleOptions, type StapleResult, staple } from './staple';
export { type VoteOptions, agreementCount, majorityVote } from './vote';
