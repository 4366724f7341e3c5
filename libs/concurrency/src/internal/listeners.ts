import { reportListenerError } from '../metrics';

/** Removes the listener it was returned for. Calling it twice is harmless. */
export type Unsubscribe = () => void;

/**
 * A minimal typed event hub. Unlike `EventEmitter`, a listener that throws does not break the
 * emitter or the other listeners: the exception becomes a process warning.
 */
export class Listeners<Events extends { [K in keyof Events]: unknown }> {
  private readonly map = new Map<keyof Events, Set<(event: never) => void>>();

  on<K extends keyof Events>(event: K, listener: (payload: Events[K]) => void): Unsubscribe {
    let set = this.map.get(event);
    if (!set) {
      set = new Set();
      this.map.set(event, set);
    }
    set.add(listener as (event: never) => void);
    return () => {
      set.delete(listener as (event: never) => void);
    };
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.map.get(event);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        (listener as (e: Events[K]) => void)(payload);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }
}
