import { defineErrors, domainError } from '@batchgate/platform/errors';

/** Every error token-manager answers with (besides the platform's), each code defined once. */
export const tokenManagerErrors = defineErrors({
  tokenNotFound: domainError('not_found', 'TOKEN.NOT_FOUND', (id: number) => ({
    message: `Token ${id} does not exist`,
    details: { id },
  })),
  secretAlreadyStored: domainError(
    'already_exists',
    'TOKEN.ALREADY_EXISTS',
    (provider: string, id: string) => ({
      message: `This secret is already stored for ${provider} (token ${id})`,
      details: { provider, id: Number(id) },
    }),
  ),
  invalidTokenField: domainError(
    'invalid_argument',
    'TOKEN.INVALID_ARGUMENT',
    (field: string, rule: string) => ({
      message: `${field} ${rule}`,
      details: { field },
    }),
  ),
});
