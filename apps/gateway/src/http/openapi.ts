import type { OpenAPIObject } from '@nestjs/swagger';
import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

export class ErrorView {
  @ApiProperty({ example: 'REQUEST.INVALID', description: 'Stable machine code; clients branch on it' }) code!: string;
  @ApiProperty({ example: 'INVALID_ARGUMENT', description: 'gRPC canonical status name' }) status!: string;
  @ApiProperty({ description: 'For humans' }) message!: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Machine-readable facts: bad fields, limits, missing permissions' })
  details?: Record<string, unknown>;
  @ApiPropertyOptional({ description: 'The x-request-id of the request, also on every log line it caused' }) requestId?: string;
}

/** The body of every error answer of the API. */
export class ErrorBodyView {
  @ApiProperty({ type: ErrorView }) error!: ErrorView;
}

const METHODS_WITH_BODY = new Set(['post', 'put', 'patch', 'delete']);
const RETRY_AFTER = { 'Retry-After': { description: 'Seconds after which the request may be repeated', schema: { type: 'integer' } } };

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request: bad or unknown fields or parameters, malformed JSON, invalid UTF-8, or nesting too deep',
  401: 'Missing, invalid or expired bearer token, or claims out of bounds',
  403: 'The token lacks a permission this route needs',
  404: 'No such resource for this caller',
  409: 'Conflicts with the current state',
  413: 'Request body larger than BODY_LIMIT_BYTES',
  415: 'Body is not application/json in UTF-8',
  429: 'Per-user request limit reached',
  503: 'A service or its database is unavailable or overloaded; nothing was written',
  504: 'The deadline passed before a service answered',
};

/**
 * The error answers of every operation, added in this one place rather than per route: what any
 * operation can answer (400, 503, 504), what a secured one can (401, 403, 429), one that may
 * carry a body (413, 415) and one addressing a resource by id (404). Routes declare only the
 * errors of their own (409 on a state conflict); every error answer, declared either way, gets
 * the error-body schema, and 429 and 503 the Retry-After header.
 */
export function documentErrorResponses(document: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (typeof operation !== 'object' || operation === null || !('responses' in operation)) continue;
      const statuses = new Set([400, 503, 504]);
      if ((operation.security ?? document.security ?? []).length > 0) [401, 403, 429].forEach((s) => statuses.add(s));
      if (METHODS_WITH_BODY.has(method)) [413, 415].forEach((s) => statuses.add(s));
      if (path.includes('{')) statuses.add(404);
      for (const status of Object.keys(operation.responses).map(Number)) if (status >= 400) statuses.add(status);
      for (const status of statuses) {
        const declared = operation.responses[status] as { description?: string } | undefined;
        operation.responses[status] = {
          description: declared?.description || DESCRIPTIONS[status] || 'Error',
          ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
          content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorBodyView) } } },
        };
      }
    }
  }
  return document;
}
