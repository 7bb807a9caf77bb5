/**
 * iommu-model as a library (docs/api.md): the package's entry point. Everything a caller needs is
 * exported from here; the modules behind it are not part of the API.
 */
export { createModel, type Model, type ModelOptions } from './api/model.js';
export type { Applied } from './api/applied.js';
export { replay, check, explain } from './api/run.js';
export { timeline, type LogTimeline, type TimelineOptions, type GrepHit, type ObjectChange, type FieldChange, type Transition, type ObjectView } from './api/timeline.js';
export type { LogSource, ReplayOptions, ReplayResult, ScenarioSource, CheckOptions, CheckResult, CheckFinding, Explanation } from './api/run.js';
export type { StimulusRecord, StimulusRecord as Stimulus, ExpectRecord, Outcome, U64, ArgValue } from './api/records.js';
export { loadScheme, builtinScenarios } from './cli/resolve.js';
export { builtinSchemes } from './schemes/catalogue.js';
export { defineScheme, type Scheme } from './schemes/scheme.js';
export { PROPERTY_NAMES, GLOSS, type PropertyName } from './vocab/properties.js';
export { RELEASES, LATEST_RELEASE, type ReleaseName } from './vocab/releases.js';
export { ERRORS, InputError, ModelError, type ErrorCode } from './vocab/errors.js';
export type { Derived, Header, JsonValue, StimulusOp } from './vocab/records.js';
export type { Violation } from './checks/properties.js';
export type { LockScenario, ChainLink } from './checks/scenario.js';
export type { Divergence, ReplayReport } from './run/replay.js';
export type { ExploreReport, Finding } from './run/explore.js';
export type { Verdict } from './run/verdicts.js';
export type { World } from './core/world.js';
export { generate, COVER_KINDS, type CoverKind, type Coverage, type GeneratedLog, type Gap, type Target } from './run/gen/index.js';
export { conformAll, conformLog, firstDifference, describeDifference, type Implementation, type Observed, type StimulusLike, type Difference, type FieldDifference, type Verdict as ConformanceVerdict } from './run/gen/conformance.js';
