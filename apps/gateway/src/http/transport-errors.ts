import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from '@batchgate/platform/errors';
import { errorResponseFor } from './error-response';

const CLIENT_ERRORS: Record<string, { status: number; code: string; grpc: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'REQUEST.TIMEOUT', grpc: 'DEADLINE_EXCEEDED', message: 'The request was not received in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'REQUEST.HEADERS_TOO_LARGE', grpc: 'INVALID_ARGUMENT', message: 'Request headers larger than the server accepts' },
};
const MALFORMED = { status: 400, code: 'REQUEST.MALFORMED', grpc: 'INVALID_ARGUMENT', message: 'Malformed HTTP request' };

/**
 * Answers for what fails before any route runs, in the API's error body (Fastify's defaults have
 * their own shape): a path that is not a valid URL component (`%ZZ`), and requests Node's HTTP
 * parser refuses (a garbled request line, headers over the size limit, conflicting framing).
 */
export const transportErrorOptions = {
  frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const answer = errorResponseFor(error, request.id);
    void reply.status(answer.status).headers(answer.headers).send(answer.body);
  },
  clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket): void => {
    // A reset connection has nobody left to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const known = CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED;
    const body: ErrorBody = { error: { code: known.code, status: known.grpc, message: known.message } };
    const text = JSON.stringify(body);
    // As Node itself does: answer if the socket still takes data, then close it (the stream cannot be trusted).
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${known.status} ${STATUS_CODES[known.status]}\r\nContent-Length: ${Buffer.byteLength(text)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`,
      );
    }
    socket.destroy(error);
  },
};
