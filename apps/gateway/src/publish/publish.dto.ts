import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '@batchgate/platform/paging';
import { PageQueryDto, PageView } from '../http/paging.dto';

/** The service refuses the same bounds (apps/publish/src/tasks/publish-tasks.service.ts ARTICLE_LIMITS). */
export const MAX_TITLE = 200;
export const MAX_CONTENT = 200_000;
export const MAX_BATCH = 100;
export const PUBLISH_TASK_STATUSES = ['pending', 'queued', 'running', 'success', 'failed', 'cancelled'] as const;
const NOT_BLANK = /\S/;

/** Seed 003's article: `{title, content, article_id}`. */
export class ArticleDto {
  @ApiProperty({ example: '文章标题', maxLength: MAX_TITLE })
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_TITLE)
  @Matches(NOT_BLANK, { message: 'title must not be blank' })
  title!: string;

  @ApiProperty({ example: '文章内容', maxLength: MAX_CONTENT })
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_CONTENT)
  @Matches(NOT_BLANK, { message: 'content must not be blank' })
  content!: string;

  @ApiProperty({ type: 'integer', example: 123, minimum: 1, description: "The caller's own id of the article" })
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  article_id!: number;
}

export class ArticleBatchDto {
  @ApiProperty({ type: [ArticleDto], minItems: 1, maxItems: MAX_BATCH })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH)
  @ValidateNested({ each: true })
  @Type(() => ArticleDto)
  articles!: ArticleDto[];
}

export class TaskListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: PUBLISH_TASK_STATUSES }) @IsOptional() @IsIn(PUBLISH_TASK_STATUSES) status?: string;
}

export class TaskEventsQueryDto {
  @ApiPropertyOptional({ type: 'integer', default: DEFAULT_PAGE_SIZE, minimum: 1, maximum: MAX_PAGE_SIZE, description: 'Tasks in the first event' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  size?: number;
}

// Answers, in the seed's snake_case.

export class SubmittedView {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ format: 'uuid' }) task_id!: string;
  @ApiProperty({ enum: ['queued', 'pending'], description: '`pending`: it waits until one of your running tasks has finished (at most PUBLISH_USER_MAX_RUNNING run at once)' })
  status!: string;
  @ApiProperty() message!: string;
}

export class BatchResultView {
  @ApiPropertyOptional({ format: 'uuid', description: 'Set when the article was accepted' }) task_id?: string;
  @ApiPropertyOptional({ enum: ['queued', 'pending'] }) status?: string;
  @ApiPropertyOptional({ description: 'Why the article was not accepted' }) error?: string;
  @ApiPropertyOptional({ example: 'PUBLISH.RATE_LIMITED' }) error_code?: string;
  @ApiPropertyOptional({ type: 'integer', description: 'For a rate-limited article: seconds until it may be submitted' }) retry_after?: number;
}

export class BatchSubmittedView {
  @ApiProperty({ description: 'Every article was accepted' }) success!: boolean;
  @ApiProperty({ type: 'integer' }) total!: number;
  @ApiProperty({ type: 'integer' }) success_count!: number;
  @ApiProperty({ type: 'integer' }) failed_count!: number;
  @ApiProperty({ type: [BatchResultView], description: 'One per article, in order' }) results!: BatchResultView[];
}

export class PublishTaskView {
  @ApiProperty({ format: 'uuid' }) task_id!: string;
  @ApiProperty({ enum: PUBLISH_TASK_STATUSES }) status!: string;
  @ApiProperty({ type: 'integer', minimum: 0, maximum: 100 }) progress!: number;
  @ApiProperty() article_title!: string;
  @ApiProperty({ type: 'integer', nullable: true }) article_id!: number | null;
  @ApiProperty({ type: 'string', nullable: true, description: "The article's URL once published" }) result_url!: string | null;
  @ApiProperty({ type: 'string', nullable: true, description: "Why it failed (the platform's message, or the verification's)" }) error_message!: string | null;
  @ApiProperty({ type: 'integer', description: 'Runs started so far' }) attempts!: number;
  @ApiProperty({ description: 'RFC 3339' }) created_at!: string;
  @ApiProperty({ type: 'string', nullable: true, description: 'RFC 3339' }) started_at!: string | null;
  @ApiProperty({ type: 'string', nullable: true, description: 'RFC 3339' }) finished_at!: string | null;
}

export class PublishTaskAnswerView {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: PublishTaskView }) task!: PublishTaskView;
}

export class PublishTaskListView extends PageView {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: [PublishTaskView], description: 'Newest first' }) tasks!: PublishTaskView[];
}

/** One event of the live list: the first holds the newest tasks, each later one a task that changed. */
export class PublishTaskListEventView {
  @ApiProperty({ type: [PublishTaskView] }) tasks!: PublishTaskView[];
}

export class ArticleInteractionsView {
  @ApiProperty({ format: 'uuid' }) task_id!: string;
  @ApiProperty({ type: 'integer', nullable: true }) article_id!: number | null;
  @ApiProperty() article_url!: string;
  @ApiProperty({ description: 'Whether the counts were fetched' }) success!: boolean;
  @ApiProperty({ type: 'integer' }) likes!: number;
  @ApiProperty({ type: 'integer' }) comments!: number;
  @ApiProperty({ type: 'integer' }) shares!: number;
  @ApiProperty({ type: 'string', nullable: true, description: 'Why the fetch failed' }) error!: string | null;
  @ApiProperty({ description: 'RFC 3339' }) fetched_at!: string;
}

export class InteractionsView {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: 'integer' }) total!: number;
  @ApiProperty({ type: 'integer' }) success_count!: number;
  @ApiProperty({ type: 'integer' }) failed_count!: number;
  @ApiProperty({ type: [ArticleInteractionsView], description: 'One per published article, newest first' }) results!: ArticleInteractionsView[];
}

export class PublishStatsView {
  @ApiProperty({ type: 'integer', description: 'Ended tasks counted (success or failed; the newest PUBLISH_STATS_WINDOW)' }) total!: number;
  @ApiProperty({ type: 'integer' }) succeeded!: number;
  @ApiProperty({ type: 'integer' }) failed!: number;
  @ApiProperty({ description: 'succeeded / total; 0 without ended tasks', minimum: 0, maximum: 1 }) success_rate!: number;
  @ApiProperty({ description: "Run time (first run's start to the end), ms" }) duration_p50_ms!: number;
  @ApiProperty() duration_p95_ms!: number;
  @ApiProperty() duration_p99_ms!: number;
}

export class PublishStatsAnswerView {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: PublishStatsView, description: "The caller's tasks" }) user!: PublishStatsView;
  @ApiProperty({ type: PublishStatsView, description: "Every task of the caller's tenant" }) overall!: PublishStatsView;
}
