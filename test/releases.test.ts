/**
 * The kernel releases the model knows and its table of version-dependent rules
 * (src/vocab/releases.ts): releases compare as numbers, each rule applies from its release on,
 * and docs/model.md lists every rule with its release and commit.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareReleases, KernelRelease, LATEST_RELEASE, RELEASES, VERSIONED_RULES, type RuleId } from '../src/vocab/releases.js';

describe('kernel releases', () => {
  it('compares "major.minor" numerically, so 6.5 is older than 6.18', () => {
    expect(compareReleases('6.5', '6.18')).toBeLessThan(0);
    expect(compareReleases('6.18', '6.5')).toBeGreaterThan(0);
    expect(compareReleases('6.10', '6.10')).toBe(0);
  });

  it('lists the known releases oldest first, ending with the latest', () => {
    expect([...RELEASES].sort(compareReleases)).toEqual([...RELEASES]);
    expect(RELEASES[RELEASES.length - 1]).toBe(LATEST_RELEASE);
  });

  it.each(Object.keys(VERSIONED_RULES) as RuleId[])('%s applies from its release on, not before', (id) => {
    const since = VERSIONED_RULES[id].since;
    const before = RELEASES[RELEASES.indexOf(since) - 1]!;
    expect(new KernelRelease(since).has(id)).toBe(true);
    expect(new KernelRelease(LATEST_RELEASE).has(id)).toBe(true);
    expect(new KernelRelease(before).has(id)).toBe(false);
  });
});

describe('docs/model.md', () => {
  const doc = readFileSync(new URL('../docs/model.md', import.meta.url), 'utf8');

  it.each(Object.entries(VERSIONED_RULES))('lists rule %s with its release, commit hash and title', (id, r) => {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${id}\` |`));
    expect(row).toBeDefined();
    expect(row).toContain(`| v${r.since} |`);
    expect(row).toContain(`\`${r.commit.hash}\` "${r.commit.title}"`);
  });

  it('names the releases the model knows', () => {
    expect(doc).toContain(`v${RELEASES[0]} to v${LATEST_RELEASE}`);
  });
});
