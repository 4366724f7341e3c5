/**
 * Shared settings of the property-based tests: 1,000 runs per property and a seed that is always
 * printed, so any failure can be replayed with `FC_SEED=<seed> npx jest -c libs/concurrency/jest.config.js`.
 */
// A dev dependency: the root eslint config lets the lib's tests import those; `src` only `node:*`.
import fc from 'fast-check';

export { fc };

export const NUM_RUNS = 1000;

/** The seed for this test process: `FC_SEED` when set, else random. */
export function propertySeed(): number {
  const fromEnv = process.env.FC_SEED;
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) | 0;
  return (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0;
}

/**
 * Checks `property` with {@link NUM_RUNS} runs, printing the seed first (fast-check also repeats
 * the seed and the shrunk counterexample in the failure message).
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(
  name: string,
  property: fc.IAsyncPropertyWithHooks<Ts> | fc.IPropertyWithHooks<Ts>,
  numRuns = NUM_RUNS,
): Promise<void> {
  const seed = propertySeed();
  console.log(`[property] ${name}: seed=${seed} numRuns=${numRuns} (replay: FC_SEED=${seed})`);
  const params: fc.Parameters<Ts> = { numRuns, seed, verbose: 1 };
  if (property.isAsync()) await fc.assert(property as fc.IAsyncPropertyWithHooks<Ts>, params);
  else fc.assert(property as fc.IPropertyWithHooks<Ts>, params);
}
