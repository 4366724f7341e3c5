import { isUtf8 } from 'node:buffer';
import { UnsupportedMediaTypeException } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { DomainError } from '@batchgate/platform/errors';

/** Deeper than any request body of the API (the deepest is 3 levels); far below what overflows the validation pipe's recursion. */
export const MAX_JSON_DEPTH = 32;

/** A lone UTF-16 surrogate (`"\ud800"` in JSON): no character, and stored as U+FFFD if let through. */
const LONE_SURROGATE = /\p{Surrogate}/u;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

const invalidEncoding = (message: string) => new DomainError('invalid_argument', 'REQUEST.INVALID_ENCODING', message);

/**
 * The one body format of the API: `application/json` (charset utf-8 or none), strictly UTF-8,
 * nested at most MAX_JSON_DEPTH levels. Every other media type has no parser, so Fastify answers
 * 415 before any route runs (the form-encoded and text parsers Nest and Fastify register by
 * default are removed). Parsing stays Fastify's own (secure-json-parse: refuses `__proto__` and
 * `constructor.prototype`); only the checks around it are added here, because Fastify decodes
 * invalid UTF-8 as U+FFFD and has no depth limit.
 */
export function useStrictJsonBodies(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return done(new UnsupportedMediaTypeException(`Unsupported charset "${charset}": JSON bodies must be UTF-8`));
    }
    // No body at all, as clients send to routes that take none (seed 002's fetch-all-interactions):
    // the same as a request without a body; a route that needs one refuses it in validation.
    if (body.length === 0) return done(null, undefined);
    if (!isUtf8(body)) return done(invalidEncoding('Request body is not valid UTF-8'));
    parseJson(request, body.toString('utf8'), (error, value) => {
      if (error) return done(error);
      const problem = problemIn(value, 1);
      if (problem === 'depth') {
        return done(
          new DomainError('invalid_argument', 'REQUEST.TOO_DEEP', `Request body is nested deeper than ${MAX_JSON_DEPTH} levels`, {
            details: { maxDepth: MAX_JSON_DEPTH },
          }),
        );
      }
      if (problem === 'surrogate') return done(invalidEncoding('Request body contains an unpaired UTF-16 surrogate escape'));
      done(null, value);
    });
  });
}

/** Walks the parsed body once; the recursion is bounded by MAX_JSON_DEPTH because it stops there. */
function problemIn(value: unknown, depth: number): 'depth' | 'surrogate' | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? 'surrogate' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > MAX_JSON_DEPTH) return 'depth';
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = problemIn(item, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    if (LONE_SURROGATE.test(key)) return 'surrogate';
    const problem = problemIn(item, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}
