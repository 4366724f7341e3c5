import { Body, Controller, Get, HttpCode, Inject, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiConflictResponse, ApiForbiddenResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { lastValueFrom } from 'rxjs';
import type { RoleServiceClient } from '@batchgate/contracts/role/v1/role';
import { DomainError } from '@batchgate/platform/errors';
import type { RequestContext } from '@batchgate/platform/context';
import type { WithRequestContext } from '@batchgate/platform/grpc';
import { RequirePermissions } from '../auth/auth.guard';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { CurrentRequestContext } from '../http/request-context';
import type { Principal } from '../auth/principal';
import { ApiEventStream, EventStreams } from '../http/event-stream';
import { pageOf } from '../http/paging.dto';
import { ROLE_CLIENT, ROLE_STREAM_CLIENT } from './role.client';
import {
  CreateRoleDto,
  CreateRoleResultView,
  RoleTaskListQueryDto,
  RoleTaskListView,
  RoleTaskView,
  RoleView,
  toRoleTaskView,
  toRoleView,
} from './role.dto';

@ApiTags('role')
@Controller('api/roles')
export class RoleHttpController {
  constructor(
    @Inject(ROLE_CLIENT) private readonly role: WithRequestContext<RoleServiceClient>,
    @Inject(ROLE_STREAM_CLIENT) private readonly roleStream: WithRequestContext<RoleServiceClient>,
    @Inject(EventStreams) private readonly streams: EventStreams,
  ) {}

  /** Seed 001: stored and queued before the answer; the persona is created in the background. */
  @Post()
  @HttpCode(202)
  @RequirePermissions('role:create')
  @ApiAcceptedResponse({ type: CreateRoleResultView, description: 'The task, stored and queued: poll GET /api/roles/tasks/{request_id}' })
  @ApiForbiddenResponse({ description: "Token lacks role:create, or tenant_id is not the caller's tenant (ROLE.TENANT_MISMATCH)" })
  async create(@Body() body: CreateRoleDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<CreateRoleResultView> {
    if (body.tenant_id !== principal.tenant) {
      throw new DomainError('permission_denied', 'ROLE.TENANT_MISMATCH', "tenant_id must be the caller's tenant", {
        details: { field: 'tenant_id' },
      });
    }
    const answer = await lastValueFrom(
      this.role.createRole({ tenantId: principal.tenant, taskId: body.task_id, strategyId: body.strategy_id, userId: principal.sub }, context),
    );
    return { success: answer.success, request_id: answer.requestId, status: answer.status };
  }

  /** The tasks of the caller's tenant, newest first. */
  @Get('tasks')
  @RequirePermissions('role:list')
  @ApiOkResponse({ type: RoleTaskListView })
  async listTasks(@Query() query: RoleTaskListQueryDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<RoleTaskListView> {
    const { page, size } = pageOf(query);
    const answer = await lastValueFrom(
      this.role.listRoleTasks({ tenant: principal.tenant, userId: principal.sub, status: query.status ?? '', page: { page, pageSize: size } }, context),
    );
    return { items: answer.tasks.map(toRoleTaskView), page, size, total: Number(answer.page?.total ?? 0) };
  }

  /** A task of the caller's tenant; another tenant's id is 404. */
  @Get('tasks/:request_id')
  @RequirePermissions('role:list')
  @ApiOkResponse({ type: RoleTaskView })
  async getTask(@Param('request_id', new ParseUUIDPipe()) requestId: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<RoleTaskView> {
    return toRoleTaskView(await lastValueFrom(this.role.getRoleTask({ requestId, tenant: principal.tenant, userId: principal.sub }, context)));
  }

  /** A queued task never runs; a running one has its AI call aborted (409 once it has ended). */
  @Post('tasks/:request_id/cancel')
  @HttpCode(200)
  @RequirePermissions('role:create')
  @ApiOkResponse({ type: RoleTaskView, description: 'The task, cancelled' })
  @ApiConflictResponse({ description: 'The task has already ended (ROLE.JOB_FINISHED)' })
  async cancelTask(@Param('request_id', new ParseUUIDPipe()) requestId: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<RoleTaskView> {
    return toRoleTaskView(await lastValueFrom(this.role.cancelRoleTask({ requestId, tenant: principal.tenant, userId: principal.sub }, context)));
  }

  /** Server-sent events: the task now, then after every state change, until it ends (404 for another tenant's). */
  @Get('tasks/:request_id/events')
  @RequirePermissions('role:list')
  @ApiEventStream(RoleTaskView, 'The task as it is, then after each change (event `task`); the stream ends after the task ends')
  taskEvents(
    @Param('request_id', new ParseUUIDPipe()) requestId: string,
    @CurrentPrincipal() principal: Principal,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
    @CurrentRequestContext() context: RequestContext,
  ): Promise<void> {
    const changes = this.roleStream.watchRoleTask({ requestId, tenant: principal.tenant, userId: principal.sub }, context);
    return this.streams.send(request, reply, changes, { event: () => 'task', data: toRoleTaskView });
  }

  /** A persona of the caller's tenant. */
  @Get(':id')
  @RequirePermissions('role:list')
  @ApiOkResponse({ type: RoleView })
  async getRole(@Param('id', new ParseUUIDPipe()) id: string, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<RoleView> {
    return toRoleView(await lastValueFrom(this.role.getRole({ id, tenant: principal.tenant }, context)));
  }
}
