import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsInt, IsOptional, Max, Min } from 'class-validator';
import { PageQueryDto, PageView } from '../http/paging.dto';

/** SPEC §4: 1..1000 products a batch, max_threads 1..8 (default 8) or "auto". */
export const MAX_BATCH_PRODUCTS = 1_000;
export const MAX_THREADS = 8;
const THREAD_CHOICES = ['auto', ...Array.from({ length: MAX_THREADS }, (_, i) => i + 1)] as const;

export const OFFLINE_BATCH_STATUSES = ['pending', 'queued', 'running', 'success', 'partial', 'failed', 'cancelled'] as const;
export const OFFLINE_ITEM_STATUSES = ['pending', 'queued', 'running', 'success', 'failed', 'cancelled'] as const;

export class OfflineProductsDto {
  @ApiProperty({ type: 'integer', isArray: true, minItems: 1, maxItems: MAX_BATCH_PRODUCTS, uniqueItems: true, example: [123456, 789012, 345678] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_PRODUCTS)
  @ArrayUnique({ message: 'productIds must be unique' })
  @IsInt({ each: true, message: 'each of productIds must be an integer' })
  @Min(1, { each: true, message: 'each of productIds must be a positive integer' })
  @Max(Number.MAX_SAFE_INTEGER, { each: true, message: `each of productIds must be at most ${Number.MAX_SAFE_INTEGER}` })
  productIds!: number[];

  @ApiPropertyOptional({
    oneOf: [{ type: 'integer', minimum: 1, maximum: MAX_THREADS }, { type: 'string', enum: ['auto'] }],
    default: MAX_THREADS,
    description: 'Products de-listed at once (seed 000); "auto": an adaptive limit finds the marketplace\'s capacity',
  })
  @IsOptional()
  @IsIn(THREAD_CHOICES, { message: `max_threads must be an integer from 1 to ${MAX_THREADS}, or "auto"` })
  max_threads?: number | 'auto';
}

export class OfflineQueryDto {
  @ApiPropertyOptional({ enum: ['true', 'false'], description: 'Answer 202 with the batch at once; batches over OFFLINE_ASYNC_THRESHOLD products always do' })
  @IsOptional()
  @IsIn(['true', 'false'])
  async?: 'true' | 'false';
}

// Answers: seed 000's shape; the batch view adds the batch's id, state and progress.

export class ThreadInfoView {
  @ApiProperty({ type: 'integer' }) maxThreads!: number;
  @ApiProperty({ type: 'integer', description: 'min(maxThreads, productCount); with "auto", the limit it settled on' }) actualThreads!: number;
  @ApiProperty({ type: 'integer' }) productCount!: number;
}

export class OfflineDetailsView {
  @ApiProperty() productName!: string;
  @ApiProperty() productImg!: string;
  @ApiProperty({ description: "The marketplace's message id of the de-list; empty when none was started" }) offlineMsgId!: string;
  @ApiProperty({ type: 'integer', description: 'Polls until the marketplace reported the outcome' }) retryCount!: number;
}

export class OfflineItemView {
  @ApiProperty({ type: 'integer' }) productId!: number;
  @ApiProperty() success!: boolean;
  @ApiProperty({ example: '下架成功' }) message!: string;
  @ApiProperty({ type: OfflineDetailsView }) details!: OfflineDetailsView;
}

export class OfflineSummaryView {
  @ApiProperty({ type: 'integer' }) total!: number;
  @ApiProperty({ type: 'integer' }) success!: number;
  @ApiProperty({ type: 'integer' }) failed!: number;
}

/** Seed 000's answer, field for field. */
export class OfflineResultView {
  @ApiProperty() success!: boolean;
  @ApiProperty({ example: '批量下架完成，共处理 3 个商品，2 个下架成功' }) message!: string;
  @ApiProperty({ example: '448421445119357' }) parentMsgId!: string;
  @ApiProperty({ example: '2406230000031' }) toolId!: string;
  @ApiProperty({ description: 'The conversation and tool ids came from the cache' }) cacheUsed!: boolean;
  @ApiProperty({ type: ThreadInfoView }) threadInfo!: ThreadInfoView;
  @ApiProperty({ type: [OfflineItemView] }) results!: OfflineItemView[];
  @ApiProperty({ type: OfflineSummaryView }) summary!: OfflineSummaryView;
}

export class OfflineBatchItemView extends OfflineItemView {
  @ApiProperty({ enum: OFFLINE_ITEM_STATUSES }) status!: string;
}

export class OfflineProgressView {
  @ApiProperty({ type: 'integer' }) total!: number;
  @ApiProperty({ type: 'integer' }) done!: number;
  @ApiProperty({ type: 'integer' }) succeeded!: number;
  @ApiProperty({ type: 'integer' }) failed!: number;
  @ApiProperty({ type: 'integer' }) cancelled!: number;
}

/** A stored batch: seed 000's shape, with its id, state and progress. */
export class OfflineBatchView extends OfflineResultView {
  @ApiProperty({ format: 'uuid' }) batchId!: string;
  @ApiProperty({ enum: OFFLINE_BATCH_STATUSES }) status!: string;
  @ApiProperty({ type: OfflineProgressView }) progress!: OfflineProgressView;
  @ApiProperty({ type: [OfflineBatchItemView] }) declare results: OfflineBatchItemView[];
  @ApiProperty({ description: 'RFC 3339' }) createdAt!: string;
  @ApiProperty({ description: 'RFC 3339; empty until a product started' }) startedAt!: string;
  @ApiProperty({ description: 'RFC 3339; empty while the batch runs' }) finishedAt!: string;
}

export class OfflineBatchListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: OFFLINE_BATCH_STATUSES }) @IsOptional() @IsIn(OFFLINE_BATCH_STATUSES) status?: string;
}

export class OfflineBatchListView extends PageView {
  @ApiProperty({ type: [OfflineBatchView], description: 'Newest first; `results` is empty here (GET the batch for them)' }) items!: OfflineBatchView[];
}

export class InvalidateSessionView {
  @ApiProperty({ description: 'Whether the tenant had cached ids' }) invalidated!: boolean;
}
