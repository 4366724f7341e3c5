import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { errorResponseFor } from './error-response';

/** Renders every error of a route as the machine-readable error body (see errorResponseFor). */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const response = errorResponseFor(exception, request.id);
    if (response.status >= 500) this.logger.error({ err: exception, requestId: request.id }, 'request failed');
    void reply.status(response.status).headers(response.headers).send(response.body);
  }
}
