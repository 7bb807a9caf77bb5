/**
 * `scenarios`: lists the built-in scenarios, each with its header's description, one line per
 * scenario as it is read.
 */
import { EXIT_CLEAN, streamLog, type Io } from '../io.js';
import { renderScenarioLine } from '../render/text.js';
import { builtinScenarios, scenarioFile } from '../resolve.js';

export async function runScenarios(io: Io): Promise<number> {
  for (const name of builtinScenarios()) {
    let description = '';
    await streamLog(scenarioFile(name), (h) => {
      description = h.description ?? '';
    }, () => undefined);
    io.stdout(renderScenarioLine(name, description));
  }
  return EXIT_CLEAN;
}
