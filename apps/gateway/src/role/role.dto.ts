import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsOptional, IsString, IsUUID, Length, Matches, ValidateNested } from 'class-validator';
import type { BatchGeneratePostsEvent, Role, RoleTask } from '@batchgate/contracts/role/v1/role';
import { PageQueryDto, PageView } from '../http/paging.dto';

/** Ids of the caller's own systems (task, strategy), as role stores them. */
const EXTERNAL_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const EXTERNAL_ID_RULE = 'must be 1-64 letters, digits, ".", "_", ":" or "-"';
const TENANT = /^[A-Za-z0-9._-]{1,64}$/;

export const ROLE_TASK_STATUSES = ['pending', 'queued', 'running', 'success', 'failed', 'cancelled'] as const;

/** Seed 001's request body (snake_case, as the seed's clients send it). */
export class CreateRoleDto {
  @ApiProperty({ example: 'local', description: "Must be the caller's tenant (403 otherwise)" })
  @Matches(TENANT, { message: 'tenant_id must be 1-64 letters, digits, ".", "_" or "-"' })
  tenant_id!: string;

  @ApiProperty({ example: 'demo-task' }) @Matches(EXTERNAL_ID, { message: `task_id ${EXTERNAL_ID_RULE}` }) task_id!: string;
  @ApiProperty({ example: 'growth' }) @Matches(EXTERNAL_ID, { message: `strategy_id ${EXTERNAL_ID_RULE}` }) strategy_id!: string;
}

export class RoleTaskListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: ROLE_TASK_STATUSES }) @IsOptional() @IsIn(ROLE_TASK_STATUSES) status?: string;
}

export class CreateRoleResultView {
  @ApiProperty({ enum: [true] }) success!: boolean;
  @ApiProperty({ format: 'uuid', description: 'The task: GET /api/roles/tasks/{request_id}' }) request_id!: string;
  @ApiProperty({
    enum: ['accepted', 'running'],
    description: 'accepted: queued (new, or the open task of the same task_id and strategy_id); running: that open task has started',
  })
  status!: string;
}

export class RoleTaskView {
  @ApiProperty({ format: 'uuid' }) request_id!: string;
  @ApiProperty() tenant_id!: string;
  @ApiProperty() task_id!: string;
  @ApiProperty() strategy_id!: string;
  @ApiProperty({ description: 'The user who submitted it (the task is the tenant\'s)' }) submitted_by!: string;
  @ApiProperty({ enum: ROLE_TASK_STATUSES }) status!: string;
  @ApiProperty({ description: 'The persona (GET /api/roles/{id}) once the task succeeded; empty before' }) role_id!: string;
  @ApiProperty({ description: 'Why the task failed; empty otherwise' }) error_message!: string;
  @ApiProperty({ type: 'integer', description: 'Runs started (more than 1 after a crash or a failed run)' }) attempts!: number;
  @ApiProperty({ description: 'RFC 3339' }) created_at!: string;
  @ApiProperty({ description: 'RFC 3339; empty before the task starts' }) started_at!: string;
  @ApiProperty({ description: 'RFC 3339; empty while the task is open' }) finished_at!: string;
}

export class RoleTaskListView extends PageView {
  @ApiProperty({ type: [RoleTaskView] }) items!: RoleTaskView[];
}

export class RoleView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() tenant_id!: string;
  @ApiProperty() task_id!: string;
  @ApiProperty() strategy_id!: string;
  @ApiProperty({ format: 'uuid', description: 'The task that created it' }) request_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The persona the model wrote' }) persona!: string;
  @ApiProperty() model!: string;
  @ApiProperty({ type: 'integer' }) prompt_tokens!: number;
  @ApiProperty({ type: 'integer' }) completion_tokens!: number;
  @ApiProperty({ description: 'RFC 3339' }) created_at!: string;
}

export function toRoleTaskView(task: RoleTask): RoleTaskView {
  return {
    request_id: task.requestId,
    tenant_id: task.tenantId,
    task_id: task.taskId,
    strategy_id: task.strategyId,
    submitted_by: task.submittedBy,
    status: task.status,
    role_id: task.roleId,
    error_message: task.errorMessage,
    attempts: task.attempts,
    created_at: task.createdAt,
    started_at: task.startedAt,
    finished_at: task.finishedAt,
  };
}

export function toRoleView(role: Role): RoleView {
  return {
    id: role.id,
    tenant_id: role.tenantId,
    task_id: role.taskId,
    strategy_id: role.strategyId,
    request_id: role.requestId,
    name: role.name,
    persona: role.persona,
    model: role.model,
    prompt_tokens: role.promptTokens,
    completion_tokens: role.completionTokens,
    created_at: role.createdAt,
  };
}

/** Seed 002's bound on one batch request (role refuses more as well). */
export const MAX_POSTS_PER_BATCH = 50;

export class PostRequestDto {
  @ApiProperty({ format: 'uuid', description: 'A persona of the caller\'s tenant (GET /api/roles/{id})' }) @IsUUID() role_id!: string;
  @ApiProperty({ example: 'Q3 earnings', minLength: 1, maxLength: 500 }) @IsString() @Length(1, 500) topic!: string;
  @ApiProperty({ example: '600000', minLength: 1, maxLength: 500 }) @IsString() @Length(1, 500) stock!: string;
}

export class BatchGeneratePostsDto {
  @ApiProperty({ type: [PostRequestDto], minItems: 1, maxItems: MAX_POSTS_PER_BATCH })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_POSTS_PER_BATCH)
  @ValidateNested({ each: true })
  @Type(() => PostRequestDto)
  posts!: PostRequestDto[];
}

/** One line of the post stream: a post as it finished (`type: post`), or the summary after the last (`type: summary`). */
export class PostStreamLineView {
  @ApiProperty({ enum: ['post', 'summary'] }) type!: 'post' | 'summary';
  @ApiPropertyOptional({ type: 'integer', description: "post: its place in the request's `posts`" }) index?: number;
  @ApiPropertyOptional({ description: 'post: whether it was generated' }) success?: boolean;
  @ApiPropertyOptional({ description: 'post: the text; empty when it failed' }) content?: string;
  @ApiPropertyOptional({ description: 'post: why it failed; empty on success' }) error?: string;
  @ApiPropertyOptional({ description: 'post: the machine code of the failure (ROLE.NOT_FOUND, POST.TIMEOUT, …)' }) error_code?: string;
  @ApiPropertyOptional({ type: 'integer', description: 'post: its completion tokens' }) completion_tokens?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'summary: posts asked for' }) total?: number;
  @ApiPropertyOptional({ type: 'integer' }) succeeded?: number;
  @ApiPropertyOptional({ type: 'integer' }) failed?: number;
  @ApiProperty({ type: 'integer', description: 'post: its generation time; summary: the whole batch' }) duration_ms!: number;
}

export function toPostStreamLine(event: BatchGeneratePostsEvent): PostStreamLineView {
  if (event.post) {
    const { post } = event;
    return {
      type: 'post',
      index: post.index,
      success: post.success,
      content: post.content,
      error: post.error,
      error_code: post.errorCode,
      completion_tokens: post.completionTokens,
      duration_ms: Number(post.durationMs),
    };
  }
  const summary = event.summary;
  return {
    type: 'summary',
    total: summary?.total ?? 0,
    succeeded: summary?.succeeded ?? 0,
    failed: summary?.failed ?? 0,
    duration_ms: Number(summary?.durationMs ?? 0),
  };
}
