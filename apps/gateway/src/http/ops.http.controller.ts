import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Registry } from 'prom-client';
import { Readiness } from '@batchgate/platform/health';
import { answerOpsRequest } from '@batchgate/platform/observability';
import { Public } from '../auth/auth.guard';

/** /metrics, /healthz and /readyz on the gateway's own port. */
@ApiExcludeController()
@Public()
@Controller()
export class OpsHttpController {
  constructor(
    @Inject(Registry) private readonly registry: Registry,
    @Inject(Readiness) private readonly readiness: Readiness,
  ) {}

  @Get(['metrics', 'healthz', 'readyz'])
  async answer(@Res() reply: FastifyReply): Promise<void> {
    const path = reply.request.url.split('?')[0] ?? '';
    const answer = await answerOpsRequest(path, { registry: this.registry, readiness: this.readiness });
    if (!answer) return void reply.status(404).send();
    void reply.status(answer.status).header('content-type', answer.contentType).send(answer.body);
  }
}
