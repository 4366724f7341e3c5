import { DomainError, type DomainErrorOptions, type ErrorKind } from './domain-error';

/** What a catalogue entry says for its arguments: the message alone, or the message and the error's options. */
export type ErrorText = string | ({ message: string } & DomainErrorOptions);

/**
 * One error of a service's catalogue: call it to make the error. Its kind and code are known
 * without making one, so a test or a document can name them from the catalogue.
 */
export interface DomainErrorFactory<A extends unknown[]> {
  (...args: A): DomainError;
  readonly kind: ErrorKind;
  readonly code: string;
  /** Whether `error` is this entry's error (its code). */
  is(error: unknown): error is DomainError;
}

/** An entry of a catalogue: `kind` and `code` fixed, the message (and details) from the arguments. */
export function domainError<A extends unknown[]>(
  kind: ErrorKind,
  code: string,
  describe: (...args: A) => ErrorText,
): DomainErrorFactory<A> {
  const make = (...args: A): DomainError => {
    const text = describe(...args);
    if (typeof text === 'string') return new DomainError(kind, code, text);
    const { message, ...options } = text;
    return new DomainError(kind, code, message, options);
  };
  return Object.assign(make, {
    kind,
    code,
    is: (error: unknown): error is DomainError =>
      error instanceof DomainError && error.code === code,
  });
}

/**
 * A service's errors catalogue (`<service>.errors.ts`): every error the service answers with,
 * each machine code defined once. A code used by two entries is refused when the module loads.
 */
export function defineErrors<C extends Record<string, DomainErrorFactory<never[]>>>(
  catalogue: C,
): C {
  const entryByCode = new Map<string, string>();
  for (const [entry, factory] of Object.entries(catalogue)) {
    const other = entryByCode.get(factory.code);
    if (other !== undefined)
      throw new Error(`error code ${factory.code} is defined twice (${other} and ${entry})`);
    entryByCode.set(factory.code, entry);
  }
  return catalogue;
}
