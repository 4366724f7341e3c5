import { Body, Controller, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiOkResponse, ApiTags, ApiTooManyRequestsResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { lastValueFrom } from 'rxjs';
import type { PublishServiceClient } from '@batchgate/contracts/publish/v1/publish';
import type { RequestContext } from '@batchgate/platform/context';
import type { WithRequestContext } from '@batchgate/platform/grpc';
import { RequirePermissions } from '../auth/auth.guard';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { CurrentRequestContext } from '../http/request-context';
import type { Principal } from '../auth/principal';
import { ApiEventStream, EventStreams } from '../http/event-stream';
import { pageOf } from '../http/paging.dto';
import { PUBLISH_CLIENT, PUBLISH_LONG_CLIENT, PUBLISH_STREAM_CLIENT } from './publish.client';
import {
  ArticleBatchDto,
  ArticleDto,
  BatchSubmittedView,
  InteractionsView,
  PublishStatsAnswerView,
  PublishTaskAnswerView,
  PublishTaskListEventView,
  PublishTaskListView,
  PublishTaskView,
  SubmittedView,
  TaskEventsQueryDto,
  TaskListQueryDto,
  type PublishTaskAnswerView as TaskAnswer,
} from './publish.dto';
import { toBatchView, toInteractionsView, toStatsAnswerView, toTaskView } from './publish.mapper';

const RATE_LIMITED = 'Over the per-user limit of accepted tasks per minute (PUBLISH.RATE_LIMITED; Retry-After)';

/** Seed 003's publishing routes (paths kept from the seed), served by publish. */
@ApiTags('publish')
@Controller('api')
export class PublishHttpController {
  constructor(
    @Inject(PUBLISH_CLIENT) private readonly publish: WithRequestContext<PublishServiceClient>,
    @Inject(PUBLISH_LONG_CLIENT) private readonly publishLong: WithRequestContext<PublishServiceClient>,
    @Inject(PUBLISH_STREAM_CLIENT) private readonly publishStream: WithRequestContext<PublishServiceClient>,
    @Inject(EventStreams) private readonly streams: EventStreams,
  ) {}

  /** Stores the task and answers at once; the publish runs in the background. */
  @Post('publish_zhihu')
  @HttpCode(202)
  @RequirePermissions('publish:run')
  @ApiAcceptedResponse({ type: SubmittedView, description: 'Stored and queued (or waiting for a running slot): follow GET /api/publish_task/{task_id}' })
  @ApiTooManyRequestsResponse({ description: RATE_LIMITED })
  async submit(@Body() body: ArticleDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<SubmittedView> {
    const answer = await lastValueFrom(
      this.publish.submitArticle({
        article: { title: body.title, content: body.content, articleId: String(body.article_id) },
        userId: principal.sub,
        tenant: principal.tenant,
      }, context),
    );
    return { success: true, task_id: answer.taskId, status: answer.status, message: answer.message };
  }

  /** One task per article; over the per-minute limit, what fits is accepted and the rest reported per article. */
  @Post('publish_zhihu_batch')
  @HttpCode(202)
  @RequirePermissions('publish:run')
  @ApiAcceptedResponse({ type: BatchSubmittedView })
  @ApiTooManyRequestsResponse({ description: `${RATE_LIMITED}: not one article fits` })
  async submitBatch(@Body() body: ArticleBatchDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<BatchSubmittedView> {
    const answer = await lastValueFrom(
      this.publish.submitArticleBatch({
        articles: body.articles.map((article) => ({ title: article.title, content: article.content, articleId: String(article.article_id) })),
        userId: principal.sub,
        tenant: principal.tenant,
      }, context),
    );
    return toBatchView(answer);
  }

  /** Only the task's owner sees it; anybody else gets 404. */
  @Get('publish_task/:task_id')
  @RequirePermissions('publish:list')
  @ApiOkResponse({ type: PublishTaskAnswerView })
  async get(@Param('task_id', new ParseUUIDPipe()) taskId: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<TaskAnswer> {
    const task = await lastValueFrom(this.publish.getPublishTask({ taskId, userId: principal.sub, tenant: principal.tenant }, context));
    return { success: true, task: toTaskView(task) };
  }

  /** The caller's own tasks, newest first. */
  @Get('publish_tasks')
  @RequirePermissions('publish:list')
  @ApiOkResponse({ type: PublishTaskListView })
  async list(@Query() query: TaskListQueryDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<PublishTaskListView> {
    const { page, size } = pageOf(query);
    const answer = await lastValueFrom(
      this.publish.listPublishTasks({ userId: principal.sub, tenant: principal.tenant, status: query.status ?? '', page: { page, pageSize: size } }, context),
    );
    return { success: true, tasks: answer.tasks.map(toTaskView), page, size, total: answer.page?.total ?? 0 };
  }

  /**
   * Server-sent events of the caller's tasks (the task monitor's live list): first the newest
   * `size`, then each task that changes, for as long as the client listens.
   */
  @Get('publish_tasks/events')
  @RequirePermissions('publish:list')
  @ApiEventStream(PublishTaskListEventView, 'First event: the newest tasks; then one event per change of any of the caller\'s tasks, until the client disconnects')
  listEvents(
    @Query() query: TaskEventsQueryDto,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentRequestContext() context: RequestContext,
  ): Promise<void> {
    return this.streams.send(request, reply, this.publishStream.watchPublishTasks({ userId: principal.sub, tenant: principal.tenant, size: query.size ?? 0 }, context), {
      event: () => 'tasks',
      data: (list) => ({ tasks: list.tasks.map(toTaskView) }),
    });
  }

  @Post('publish_task/:task_id/cancel')
  @HttpCode(200)
  @RequirePermissions('publish:run')
  @ApiOkResponse({ type: PublishTaskAnswerView, description: 'The task, cancelled' })
  @ApiConflictResponse({ description: 'Only pending and queued tasks are cancelled: it is running (PUBLISH.JOB_RUNNING) or has ended (PUBLISH.JOB_FINISHED)' })
  async cancel(@Param('task_id', new ParseUUIDPipe()) taskId: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<TaskAnswer> {
    const task = await lastValueFrom(this.publish.cancelPublishTask({ taskId, userId: principal.sub, tenant: principal.tenant }, context));
    return { success: true, task: toTaskView(task) };
  }

  @Post('publish_task/:task_id/retry')
  @HttpCode(202)
  @RequirePermissions('publish:run')
  @ApiAcceptedResponse({ type: PublishTaskAnswerView, description: 'The task, to run again (its article is not published twice)' })
  @ApiConflictResponse({ description: 'Only failed and cancelled tasks are retried (PUBLISH.NOTHING_TO_RETRY)' })
  @ApiTooManyRequestsResponse({ description: RATE_LIMITED })
  async retry(@Param('task_id', new ParseUUIDPipe()) taskId: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<TaskAnswer> {
    const task = await lastValueFrom(this.publish.retryPublishTask({ taskId, userId: principal.sub, tenant: principal.tenant }, context));
    return { success: true, task: toTaskView(task) };
  }

  /** Server-sent events: the task now, then after each change of state or progress, until it ends. */
  @Get('publish_task/:task_id/events')
  @RequirePermissions('publish:list')
  @ApiEventStream(PublishTaskView, 'The task now, then after every change of its state or progress; the stream ends with the task')
  events(
    @Param('task_id', new ParseUUIDPipe()) taskId: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentRequestContext() context: RequestContext,
  ): Promise<void> {
    return this.streams.send(request, reply, this.publishStream.watchPublishTask({ taskId, userId: principal.sub, tenant: principal.tenant }, context), {
      event: () => 'task',
      data: toTaskView,
    });
  }

  /** Seed 002: the like / comment / share counts of the caller's published articles, 3 at once, 30 s each; a failed fetch is an article's result. */
  @Post('interactions/fetch-all-interactions')
  @HttpCode(200)
  @RequirePermissions('publish:list')
  @ApiOkResponse({ type: InteractionsView })
  async fetchInteractions(@CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<InteractionsView> {
    const answer = await lastValueFrom(this.publishLong.fetchInteractions({ userId: principal.sub, tenant: principal.tenant }, context));
    return toInteractionsView(answer);
  }

  /** Seed 003's statistics report: success rate and run-time percentiles, the caller's and the tenant's. */
  @Get('publish_stats')
  @RequirePermissions('publish:list')
  @ApiOkResponse({ type: PublishStatsAnswerView })
  async stats(@CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<PublishStatsAnswerView> {
    return toStatsAnswerView(await lastValueFrom(this.publish.getPublishStats({ userId: principal.sub, tenant: principal.tenant }, context)));
  }
}
