import { Body, Controller, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RoleServiceClient } from '@batchgate/contracts/role/v1/role';
import type { RequestContext } from '@batchgate/platform/context';
import type { WithRequestContext } from '@batchgate/platform/grpc';
import { RequirePermissions } from '../auth/auth.guard';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { CurrentRequestContext } from '../http/request-context';
import type { Principal } from '../auth/principal';
import { ApiEventStream, EventStreams } from '../http/event-stream';
import { ROLE_STREAM_CLIENT } from './role.client';
import { BatchGeneratePostsDto, PostStreamLineView, toPostStreamLine } from './role.dto';

@ApiTags('role')
@Controller('api/post')
export class PostsHttpController {
  constructor(
    @Inject(ROLE_STREAM_CLIENT) private readonly roleStream: WithRequestContext<RoleServiceClient>,
    @Inject(EventStreams) private readonly streams: EventStreams,
  ) {}

  /**
   * Seed 002: generates the posts (2 at once, 120 s each, by default) and streams each one as it
   * finishes, then a summary; a failed post is a line with its error. A client that disconnects
   * cancels the posts not yet finished. Server-sent events, or NDJSON with `Accept: application/x-ndjson`.
   */
  @Post('batch-generate-stream')
  @HttpCode(200)
  @RequirePermissions('post:generate')
  @ApiEventStream(
    PostStreamLineView,
    'Each post as it finishes (event `post`, completion order, `index` its place in the request), then one `summary`',
    ['sse', 'ndjson'],
  )
  batchGenerateStream(
    @Body() body: BatchGeneratePostsDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentRequestContext() context: RequestContext,
  ): Promise<void> {
    const posts = this.roleStream.batchGeneratePosts({
      posts: body.posts.map((post) => ({ roleId: post.role_id, topic: post.topic, stock: post.stock })),
      tenant: principal.tenant,
      userId: principal.sub,
    }, context);
    return this.streams.send(request, reply, posts, {
      event: (event) => (event.post ? 'post' : 'summary'),
      data: toPostStreamLine,
      formats: ['sse', 'ndjson'],
    });
  }
}
