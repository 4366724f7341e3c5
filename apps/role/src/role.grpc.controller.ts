import { Controller, Inject } from '@nestjs/common';
import type { Observable } from 'rxjs';
import {
  RoleServiceControllerMethods,
  type BatchGeneratePostsEvent,
  type BatchGeneratePostsRequest,
  type CreateRoleRequest,
  type CreateRoleResponse,
  type GetRoleRequest,
  type ListRoleTasksRequest,
  type ListRoleTasksResponse,
  type Role,
  type RoleServiceController,
  type RoleTask,
  type RoleTaskRef,
} from '@batchgate/contracts/role/v1/role';
import { pageInfo, pageWindow } from '@batchgate/platform/paging';
import { RoleTasksService } from './personas/role-tasks.service';
import { PostGenerationService } from './posts/post-generation.service';

@Controller()
@RoleServiceControllerMethods()
export class RoleGrpcController implements RoleServiceController {
  constructor(
    @Inject(RoleTasksService) private readonly tasks: RoleTasksService,
    @Inject(PostGenerationService) private readonly posts: PostGenerationService,
  ) {}

  createRole(request: CreateRoleRequest): Promise<CreateRoleResponse> {
    return this.tasks.create(request);
  }

  getRoleTask(ref: RoleTaskRef): Promise<RoleTask> {
    return this.tasks.get(ref);
  }

  async listRoleTasks(request: ListRoleTasksRequest): Promise<ListRoleTasksResponse> {
    const window = pageWindow(request.page);
    const { tasks, total } = await this.tasks.list(request, window);
    return { tasks, page: pageInfo(window, total) };
  }

  cancelRoleTask(ref: RoleTaskRef): Promise<RoleTask> {
    return this.tasks.cancel(ref);
  }

  watchRoleTask(ref: RoleTaskRef): Observable<RoleTask> {
    return this.tasks.watch(ref);
  }

  getRole(request: GetRoleRequest): Promise<Role> {
    return this.tasks.getRole(request);
  }

  batchGeneratePosts(request: BatchGeneratePostsRequest): Observable<BatchGeneratePostsEvent> {
    return this.posts.generate(request);
  }
}
