/**
 * `scenarios`: lists the built-in scenarios, each with its header's description.
 */
import { EXIT_CLEAN, streamLog, type Io } from '../io.js';
import { renderScenarios } from '../render/text.js';
import { builtinScenarios, scenarioFile } from '../resolve.js';

export async function runScenarios(io: Io): Promise<number> {
  const scenarios: { name: string; description: string }[] = [];
  for (const name of builtinScenarios()) {
    let description = '';
    await streamLog(scenarioFile(name), (h) => {
      description = h.description ?? '';
    }, () => undefined);
    scenarios.push({ name, description });
  }
  io.stdout(renderScenarios(scenarios, io.term));
  return EXIT_CLEAN;
}
