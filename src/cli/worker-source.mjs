// The entry of a `check --workers` thread when iommu-model runs from its TypeScript sources
// (tests, tsx): tsx compiles worker.ts on load, as it does scheme files. Installed, the
// threads run the compiled dist/src/cli/worker.js instead (./workers.ts chooses).
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
