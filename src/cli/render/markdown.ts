/**
 * demo --markdown: the verdict tables as Markdown, as docs/schemes.md carries them between its
 * generated-table markers. A pure function from the demo's summary to a string.
 */
import { NAMED_FOR_HAZARD } from '../../vocab/properties.js';
import type { DemoSummary, ScenarioRun } from '../../run/verdicts.js';
import { cellText, setupText, shortName } from './text.js';

function scenarioSection(r: ScenarioRun): string[] {
  const md = [`### ${r.name}`, ''];
  if (r.error !== undefined) return [...md, `error: ${r.error}`, ''];
  md.push(`| scheme | ${r.applicable.map(shortName).join(' | ')} |`, `|---|${r.applicable.map(() => '---').join('|')}|`);
  for (const row of r.rows) {
    const by = new Map(row.verdicts.map((v) => [v.property, v]));
    const cells = r.applicable.map((p) => (row.error !== undefined ? 'error' : cellText(by.get(p)!).replace(/ !$/, ' **!**')));
    md.push(`| ${row.scheme} | ${cells.join(' | ')} |`);
  }
  md.push('');
  for (const row of r.rows) if (row.setup !== null && row.setup !== undefined) md.push(`Not run under ${row.scheme}: ${setupText(row.setup)}.`, '');
  return md;
}

export function renderDemoMarkdown(s: DemoSummary): string {
  const md = [
    `Verdicts of \`iommu-model demo\`: ${s.scenarioCount} built-in scenarios under ${s.schemeCount} built-in schemes. Each cell: \`holds\`, \`violated (N)\` with N the steps of the shortest counterexample (0: the scenario's own records show it; \`none\` and \`found (N)\` for the properties named for their hazard, ${[...NAMED_FOR_HAZARD].join(', ')}), or \`not run\` when the scenario's set-up fails under the scheme (nothing exercised, nothing claimed); properties a scenario does not exercise are left out.`,
    '',
    ...s.runs.flatMap(scenarioSection),
    `Legend: ${s.exercised.map((p) => `${shortName(p)} \`${p}\``).join(', ')}. **!**: differs from the scheme's documented expectation.`,
  ];
  return `${md.join('\n')}\n`;
}
