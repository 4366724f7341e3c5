import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { DomainError } from '@batchgate/platform/errors';

interface FieldProblem {
  field: string;
  problems: string[];
}

function flatten(errors: ValidationError[], prefix = ''): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    const own = error.constraints ? [{ field, problems: Object.values(error.constraints) }] : [];
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/**
 * Request validation for every route: unknown fields are rejected (not silently dropped), values
 * are converted to their declared types, and the 400 body lists each bad field.
 */
export function requestValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const fields = flatten(errors);
      const message = fields.map((f) => `${f.field}: ${f.problems.join(', ')}`).join('; ');
      return new DomainError('invalid_argument', 'REQUEST.INVALID', message || 'Invalid request', {
        details: { fields },
      });
    },
  });
}
