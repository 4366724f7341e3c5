import { Controller, Inject } from '@nestjs/common';
import type { Observable } from 'rxjs';
import {
  PublishServiceControllerMethods,
  type FetchInteractionsRequest,
  type FetchInteractionsResponse,
  type GetPublishStatsRequest,
  type GetPublishTaskRequest,
  type ListPublishTasksRequest,
  type ListPublishTasksResponse,
  type PublishServiceController,
  type PublishTask,
  type PublishTaskList,
  type PublishStatsResponse,
  type PublishTaskRef,
  type SubmitArticleBatchRequest,
  type SubmitArticleBatchResponse,
  type SubmitArticleRequest,
  type SubmitArticleResponse,
  type WatchPublishTasksRequest,
} from '@batchgate/contracts/publish/v1/publish';
import { callerTenant, callerUser } from '@batchgate/platform/errors';
import type { JobOwner } from '@batchgate/platform/jobs';
import { pageInfo, pageWindow } from '@batchgate/platform/paging';
import { InteractionsService } from './interactions/interactions.service';
import { PublishStatsService } from './stats/publish-stats.service';
import { PublishTasksService } from './tasks/publish-tasks.service';

@Controller()
@PublishServiceControllerMethods()
export class PublishGrpcController implements PublishServiceController {
  constructor(
    @Inject(PublishTasksService) private readonly tasks: PublishTasksService,
    @Inject(InteractionsService) private readonly interactions: InteractionsService,
    @Inject(PublishStatsService) private readonly statistics: PublishStatsService,
  ) {}

  submitArticle(request: SubmitArticleRequest): Promise<SubmitArticleResponse> {
    return this.tasks.submit(ownerOf(request), request.article);
  }

  submitArticleBatch(request: SubmitArticleBatchRequest): Promise<SubmitArticleBatchResponse> {
    return this.tasks.submitBatch(ownerOf(request), request.articles);
  }

  getPublishTask(request: GetPublishTaskRequest): Promise<PublishTask> {
    return this.tasks.get(ownerOf(request), request.taskId);
  }

  async listPublishTasks(request: ListPublishTasksRequest): Promise<ListPublishTasksResponse> {
    const window = pageWindow(request.page);
    const { tasks, total } = await this.tasks.list(ownerOf(request), request.status, window);
    return { tasks, page: pageInfo(window, total) };
  }

  cancelPublishTask(request: PublishTaskRef): Promise<PublishTask> {
    return this.tasks.cancel(ownerOf(request), request.taskId);
  }

  retryPublishTask(request: PublishTaskRef): Promise<PublishTask> {
    return this.tasks.retry(ownerOf(request), request.taskId);
  }

  watchPublishTask(request: PublishTaskRef): Observable<PublishTask> {
    return this.tasks.watch(ownerOf(request), request.taskId);
  }

  async fetchInteractions(request: FetchInteractionsRequest): Promise<FetchInteractionsResponse> {
    return { articles: await this.interactions.fetchAll(ownerOf(request)) };
  }

  getPublishStats(request: GetPublishStatsRequest): Promise<PublishStatsResponse> {
    return this.statistics.stats(ownerOf(request));
  }

  watchPublishTasks(request: WatchPublishTasksRequest): Observable<PublishTaskList> {
    // The first message is a page of the list: the list's bounds.
    const { size } = pageWindow({ page: 1, pageSize: request.size });
    return this.tasks.watchAll(ownerOf(request), size);
  }
}

/** Every call names its owner; a task is only ever read or changed under it. */
function ownerOf(request: { tenant: string; userId: string }): JobOwner {
  return { tenant: callerTenant(request.tenant), userId: callerUser(request.userId) };
}
