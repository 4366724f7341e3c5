import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

interface MediaType {
  /** For `text/event-stream`, `x-event-data` is the schema of each event's data. */
  schema?: { 'x-event-data'?: object };
}
interface DocumentedResponse {
  content?: Record<string, MediaType>;
  headers?: Record<string, unknown>;
}
interface Operation {
  responses: Record<string, DocumentedResponse>;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, object> };
}

interface DocumentedOperation {
  name: string;
  method: string;
  pattern: RegExp;
  /** Literal segments: the most specific template wins (`/jobs/{id}` is not `/jobs/{id}/cancel`). */
  literals: number;
  responses: Record<string, DocumentedResponse>;
}

export interface ReceivedResponse {
  method: string;
  /** Path and query as sent, e.g. `/api/tokens?size=1`. */
  url: string;
  status: number;
  headers: Headers;
  body: string;
}

const DOCUMENT_ID = 'openapi.json';
/** Streamed answers (apps/gateway/src/http/event-stream.ts), checked message by message. */
const STREAM_MEDIA_TYPES = ['text/event-stream', 'application/x-ndjson'];
/** Routes the document leaves out on purpose (ops endpoints and the document itself). */
const UNDOCUMENTED = /^\/(?:metrics|healthz|readyz)$|^\/api\/docs(?:\/|$)/;

/**
 * In the document an object lists its fields; an answer with a field it does not list (a leaked
 * secret, a renamed field) is as untrue as one missing a field, so objects without their own
 * `additionalProperties` are closed here.
 */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, closeObjects(value)])) as Record<string, unknown>;
  if (copy['properties'] !== undefined && copy['additionalProperties'] === undefined) copy['additionalProperties'] = false;
  return copy;
}

/**
 * Checks answers against the gateway's OpenAPI document: the status is documented for the
 * operation, and the body matches the documented schema (ajv, OpenAPI's `nullable` included).
 * Returns the problems, empty when the answer is what the document says.
 */
export class OpenApiResponses {
  private readonly operations: DocumentedOperation[];
  private readonly validators = new Map<object, ValidateFunction>();
  private readonly ajv: Ajv;

  constructor(document: OpenApiDocument) {
    this.ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: DOCUMENT_ID, components: closeObjects(document.components ?? {}) });
    this.operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => {
        const segments = path.split('/');
        const source = segments.map((s) => (s.startsWith('{') ? '[^/]+' : s.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/');
        return {
          name: `${method.toUpperCase()} ${path}`,
          method: method.toUpperCase(),
          pattern: new RegExp(`^${source}$`),
          literals: segments.filter((s) => !s.startsWith('{')).length,
          responses: operation.responses,
        };
      }),
    );
  }

  /** How many operations the document has. */
  get operationCount(): number {
    return this.operations.length;
  }

  problemsWith(received: ReceivedResponse): string[] {
    const path = received.url.split('?')[0] ?? '';
    if (UNDOCUMENTED.test(path)) return [];
    const operation = this.operations
      .filter((o) => o.method === received.method.toUpperCase() && o.pattern.test(path))
      .sort((a, b) => b.literals - a.literals)[0];
    if (!operation) {
      // An unknown route or method is not an operation; its 404/405 still has the error body.
      if (received.status !== 404 && received.status !== 405) return [`${received.method} ${path} is not in the document (answered ${received.status})`];
      return this.bodyProblems(`${received.method} ${path}`, received, { $ref: `${DOCUMENT_ID}#/components/schemas/ErrorBodyView` });
    }
    const documented = operation.responses[String(received.status)] ?? operation.responses['default'];
    if (!documented) {
      const listed = Object.keys(operation.responses).join(', ');
      return [`${operation.name} answered ${received.status}, which the document does not list (${listed}): ${received.body.slice(0, 300)}`];
    }
    const problems: string[] = [];
    for (const header of Object.keys(documented.headers ?? {})) {
      if (!received.headers.has(header)) problems.push(`${operation.name} ${received.status} has no ${header} header, which the document promises`);
    }
    const contentType = received.headers.get('content-type') ?? '';
    const stream = STREAM_MEDIA_TYPES.find((type) => contentType.startsWith(type) && documented.content?.[type]);
    if (stream) return [...problems, ...this.streamProblems(`${operation.name} ${received.status}`, stream, received.body, documented.content?.[stream]?.schema)];
    const schema = documented.content?.['application/json']?.schema;
    if (!schema) {
      if (received.body !== '') problems.push(`${operation.name} ${received.status} has a body the document does not describe: ${received.body.slice(0, 200)}`);
      return problems;
    }
    return [...problems, ...this.bodyProblems(`${operation.name} ${received.status}`, received, schema)];
  }

  /** Each SSE event's data, or each NDJSON line, against the documented schema (keep-alives skipped). */
  private streamProblems(name: string, mediaType: string, body: string, schema: MediaType['schema']): string[] {
    const itemSchema = mediaType === 'text/event-stream' ? schema?.['x-event-data'] : schema;
    if (!itemSchema) return [`${name}: ${mediaType} without a schema for its messages`];
    const items =
      mediaType === 'text/event-stream'
        ? body
            .split('\n\n')
            .map((event) => event.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n'))
            .filter((data) => data !== '')
        : body.split('\n').filter((line) => line !== '');
    const validate = this.validatorFor(itemSchema);
    const problems: string[] = [];
    for (const [index, item] of items.entries()) {
      let message: unknown;
      try {
        message = JSON.parse(item);
      } catch {
        problems.push(`${name}: message ${index} is not JSON: ${item.slice(0, 200)}`);
        continue;
      }
      if (!validate(message)) {
        const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '(message)'} ${e.message ?? ''}`);
        problems.push(`${name}: message ${index} does not match the document: ${errors.join('; ')} — ${item.slice(0, 300)}`);
      }
    }
    return problems;
  }

  private bodyProblems(name: string, received: ReceivedResponse, schema: object): string[] {
    const contentType = received.headers.get('content-type') ?? '';
    if (!contentType.startsWith('application/json')) return [`${name}: content-type "${contentType}", documented application/json`];
    let body: unknown;
    try {
      body = JSON.parse(received.body);
    } catch {
      return [`${name}: body is not JSON: ${received.body.slice(0, 200)}`];
    }
    const validate = this.validatorFor(schema);
    if (validate(body)) return [];
    const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
    return [`${name}: body does not match the document: ${errors.join('; ')} — body: ${received.body.slice(0, 300)}`];
  }

  private validatorFor(schema: object): ValidateFunction {
    let validate = this.validators.get(schema);
    if (!validate) {
      // Response schemas point into the components as `#/components/…`: resolved against the document.
      const rebased = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', `"${DOCUMENT_ID}#/components/`)) as object;
      validate = this.ajv.compile(closeObjects(rebased) as object);
      this.validators.set(schema, validate);
    }
    return validate;
  }
}

export interface CheckedFetch {
  /** A request to the gateway (`path` such as `/api/tokens?size=1`); rejects when the answer is not what the document says. */
  fetch: (path: string, init?: RequestInit) => Promise<Response>;
  responses: OpenApiResponses;
  /** How many answers have been checked. */
  checked: () => number;
  /**
   * The data of the first event of a server-sent event stream that goes on while the client
   * listens (a live list), read, checked against the document, then the client disconnects; the
   * status when the answer is not a 200 stream.
   */
  firstEvent: (path: string, init?: RequestInit) => Promise<{ status: number; data?: unknown }>;
}

/**
 * Requests to the gateway at `gatewayUrl` whose answers are checked against the document that
 * gateway serves: an undocumented status or a body that does not match its schema rejects,
 * failing the test that made the call. Every e2e request to a gateway goes through one.
 */
export async function checkedFetchFor(gatewayUrl: string): Promise<CheckedFetch> {
  const answer = await fetch(`${gatewayUrl}/api/docs/openapi.json`);
  const text = await answer.text();
  if (!answer.ok) throw new Error(`The gateway did not serve its OpenAPI document: ${answer.status} ${text.slice(0, 500)}`);
  const responses = new OpenApiResponses(JSON.parse(text) as OpenApiDocument);
  let checked = 0;
  return {
    responses,
    checked: () => checked,
    fetch: async (path, init = {}) => {
      const response = await fetch(`${gatewayUrl}${path}`, init);
      const body = await response.text();
      const problems = responses.problemsWith({ method: init.method ?? 'GET', url: path, status: response.status, headers: response.headers, body });
      if (problems.length > 0) throw new Error(`The answer is not what the OpenAPI document says:\n${problems.join('\n')}`);
      checked++;
      // The body was read for the check; the caller gets an unread copy.
      const empty = response.status === 204 || response.status === 304;
      return new Response(empty ? null : body, { status: response.status, statusText: response.statusText, headers: response.headers });
    },
    firstEvent: async (path, init = {}) => {
      const stop = new AbortController();
      const response = await fetch(`${gatewayUrl}${path}`, { ...init, signal: stop.signal });
      let text = '';
      if (response.status === 200 && response.body) {
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        while (!text.includes('\n\n')) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
        stop.abort();
        text = text.slice(0, text.indexOf('\n\n') + 2);
      } else {
        text = await response.text();
      }
      const problems = responses.problemsWith({ method: init.method ?? 'GET', url: path, status: response.status, headers: response.headers, body: text });
      if (problems.length > 0) throw new Error(`The answer is not what the OpenAPI document says:\n${problems.join('\n')}`);
      checked++;
      if (response.status !== 200) return { status: response.status };
      const data = text.split('\n').find((line) => line.startsWith('data: '))?.slice(6);
      return { status: 200, data: data === undefined ? undefined : (JSON.parse(data) as unknown) };
    },
  };
}
