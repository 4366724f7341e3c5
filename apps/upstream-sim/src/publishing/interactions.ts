import { hash32 } from '../faults/prng';

export interface Interactions {
  likes: number;
  comments: number;
  shares: number;
}

/**
 * Like / comment / share counts of an article `ageMs` after publishing: a deterministic function
 * that starts at 0 and only grows, at a per-article pace.
 */
export function interactionsAt(articleId: string, ageMs: number): Interactions {
  const seed = hash32(articleId);
  const minutes = Math.max(0, ageMs) / 60_000;
  const grow = (perMinute: number) => Math.floor(perMinute * minutes ** 0.9);
  return {
    likes: grow(2 + (seed % 7)),
    comments: grow(0.5 + ((seed >>> 3) % 3) / 2),
    shares: grow(0.2 + ((seed >>> 6) % 4) / 10),
  };
}
