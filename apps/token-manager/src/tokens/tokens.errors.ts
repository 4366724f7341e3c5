import { DomainError } from '@batchgate/platform/errors';

export const tokenNotFound = (id: number) =>
  new DomainError('not_found', 'TOKEN.NOT_FOUND', `Token ${id} does not exist`, { details: { id } });

export const secretAlreadyStored = (provider: string, id: string) =>
  new DomainError('already_exists', 'TOKEN.ALREADY_EXISTS', `This secret is already stored for ${provider} (token ${id})`, {
    details: { provider, id: Number(id) },
  });

export const invalidTokenField = (field: string, rule: string) =>
  new DomainError('invalid_argument', 'TOKEN.INVALID_ARGUMENT', `${field} ${rule}`, { details: { field } });
