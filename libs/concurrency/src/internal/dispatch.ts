import type { Clock } from '../clock';

/**
 * The time of the synchronous dispatch in progress. The batch runner reads the clock once when it
 * starts an item and publishes the value here while it synchronously enters the item's policies,
 * so the timeout, breaker and budget of that same instant need not read the clock again (a clock
 * read costs ~60 ns, a sizeable share of a trivial call). Only valid for the clock that set it
 * and only until the runner's synchronous call returns.
 * @internal
 */
export const dispatch: { clock: Clock | undefined; now: number } = { clock: undefined, now: 0 };

/** `clock.now()`, or the dispatch time when it is valid for `clock`. @internal */
export function nowOf(clock: Clock): number {
  return dispatch.clock === clock ? dispatch.now : clock.now();
}
