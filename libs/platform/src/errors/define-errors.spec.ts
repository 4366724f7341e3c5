import { defineErrors, domainError } from './define-errors';
import { DomainError } from './domain-error';

describe('defineErrors', () => {
  const errors = defineErrors({
    notFound: domainError('not_found', 'THING.NOT_FOUND', (id: number) => ({
      message: `Thing ${id} does not exist`,
      details: { id },
    })),
    busy: domainError('unavailable', 'THING.BUSY', () => ({
      message: 'Busy',
      retryAfterSeconds: 3,
    })),
    invalid: domainError(
      'invalid_argument',
      'THING.INVALID_ARGUMENT',
      (message: string) => message,
    ),
  });

  it('makes each entry with its kind, code, message and options', () => {
    expect(errors.notFound(7)).toMatchObject({
      kind: 'not_found',
      code: 'THING.NOT_FOUND',
      message: 'Thing 7 does not exist',
      details: { id: 7 },
    });
    expect(errors.busy()).toMatchObject({
      kind: 'unavailable',
      code: 'THING.BUSY',
      retryAfterSeconds: 3,
    });
    expect(errors.invalid('name is required')).toBeInstanceOf(DomainError);
    expect(errors.invalid('name is required')).toMatchObject({
      code: 'THING.INVALID_ARGUMENT',
      message: 'name is required',
      details: undefined,
    });
  });

  it('names kind and code without making an error, and recognises its own errors', () => {
    expect([errors.notFound.kind, errors.notFound.code]).toEqual(['not_found', 'THING.NOT_FOUND']);
    expect(errors.notFound.is(errors.notFound(1))).toBe(true);
    expect(errors.notFound.is(errors.busy())).toBe(false);
    expect(errors.notFound.is(new Error('THING.NOT_FOUND'))).toBe(false);
  });

  it('refuses a code defined twice', () => {
    expect(() =>
      defineErrors({
        first: domainError('not_found', 'THING.NOT_FOUND', () => 'a'),
        second: domainError('invalid_argument', 'THING.NOT_FOUND', () => 'b'),
      }),
    ).toThrow('error code THING.NOT_FOUND is defined twice (first and second)');
  });
});
