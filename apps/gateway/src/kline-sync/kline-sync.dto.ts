import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { PageQueryDto, PageView } from '../http/paging.dto';

/** iTick kTypes: 1 = 1 minute … 8 = day, 9 = week, 10 = month. */
export const K_TYPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
const MARKET = /^[A-Z]{2,10}$/;
const CODE = /^[A-Za-z0-9.]{1,20}$/;

export class StockDto {
  @ApiProperty({ example: '600000' }) @IsString() @Matches(CODE, { message: 'code must be 1-20 letters, digits or dots' }) code!: string;
  @ApiProperty({ example: 'SH' }) @IsString() @Matches(MARKET, { message: 'market must be 2-10 capital letters' }) market!: string;
  @ApiPropertyOptional({ example: '浦发银行' }) @IsOptional() @IsString() @MaxLength(100) name?: string;
}

export class ImportStocksDto {
  @ApiProperty({ type: [StockDto], maxItems: 5000 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(5_000)
  @ValidateNested({ each: true })
  @Type(() => StockDto)
  stocks!: StockDto[];
}

export class StartSyncJobDto {
  @ApiPropertyOptional({ example: 'SH', description: 'Only this market; all markets when omitted' })
  @IsOptional()
  @Matches(MARKET, { message: 'market must be 2-10 capital letters' })
  market?: string;

  @ApiProperty({ example: '2026-01-01' }) @IsISO8601({ strict: true }) startDate!: string;
  @ApiProperty({ example: '2026-03-31' }) @IsISO8601({ strict: true }) endDate!: string;

  @ApiPropertyOptional({ enum: K_TYPES, default: 8 })
  @IsOptional()
  @IsIn(K_TYPES)
  kType?: number;
}

export class RetryFailedQueryDto {
  @ApiPropertyOptional({ example: '600000' }) @IsOptional() @Matches(CODE) stockCode?: string;

  @ApiPropertyOptional({ default: 3, minimum: 1, maximum: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(20)
  maxRetryCount?: number;
}

export class FailureListQueryDto extends PageQueryDto {
  @ApiPropertyOptional() @IsOptional() @Matches(CODE) stockCode?: string;

  @ApiPropertyOptional({ enum: [0, 1, 2], description: '0 pending, 1 retried OK, 2 given up' })
  @IsOptional()
  @Type(() => Number)
  @IsIn([0, 1, 2])
  status?: number;
}

export const SYNC_JOB_STATUSES = ['queued', 'running', 'success', 'partial', 'failed', 'cancelled'] as const;

export class SyncJobListQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: SYNC_JOB_STATUSES }) @IsOptional() @IsIn(SYNC_JOB_STATUSES) status?: string;
}

export class KlineQueryDto {
  @ApiProperty({ example: 'SH' }) @Matches(MARKET) market!: string;
  @ApiProperty({ example: '600000' }) @Matches(CODE) code!: string;
  @ApiPropertyOptional({ enum: K_TYPES, default: 8 }) @IsOptional() @Type(() => Number) @IsIn(K_TYPES) kType?: number;
  @EpochMsBound() from?: number;
  @EpochMsBound() to?: number;
}

/** An optional bound of a kline range: epoch ms, inclusive, an integer gRPC's int64 carries exactly. */
function EpochMsBound(): PropertyDecorator {
  // In the order stacked decorators apply (bottom first), so a 400 lists its problems as for every other field.
  return applyDecorators(
    Max(Number.MAX_SAFE_INTEGER),
    Min(0),
    IsInt(),
    Type(() => Number),
    IsOptional(),
    ApiPropertyOptional({ type: 'integer', description: 'epoch ms, inclusive', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  );
}

export class TriggerConfigDto {
  @ApiProperty({ example: 'breakout-600000' }) @IsString() @MaxLength(100) id!: string;
  @ApiProperty({ example: 'SH' }) @Matches(MARKET) market!: string;
  @ApiProperty({ example: '600000' }) @Matches(CODE) code!: string;
  @ApiPropertyOptional({ enum: K_TYPES, default: 1 }) @IsOptional() @IsIn(K_TYPES) kType?: number;
  @ApiProperty({ example: 2.5, description: 'fires when |close change| over the last `bars` bars reaches this percentage' })
  @IsNumber()
  @Min(0)
  @Max(1_000)
  priceChangePercent!: number;
  @ApiProperty({ example: 5 }) @IsInt() @Min(1) @Max(500) bars!: number;
}

// Answers. The gateway passes kline-sync's messages through as they are (proto-loader's shapes:
// every field present, defaults for unset ones); these classes document them.

export class ImportStocksResultView {
  @ApiProperty({ type: 'integer', description: 'Stocks new to the list' }) inserted!: number;
  @ApiProperty({ type: 'integer', description: 'Stocks already listed (name updated)' }) updated!: number;
}

export class JobProgressView {
  @ApiProperty({ type: 'integer' }) total!: number;
  @ApiProperty({ type: 'integer' }) done!: number;
  @ApiProperty({ type: 'integer' }) succeeded!: number;
  @ApiProperty({ type: 'integer' }) failed!: number;
}

export class SyncPlanView {
  @ApiProperty({ type: 'integer', description: "seed 004: clamp(floor(tokens / SYNC_TOKENS_PER_THREAD), 1, SYNC_MAX_THREADS)" }) threads!: number;
  @ApiProperty({ type: 'integer', isArray: true, description: 'Tokens each thread owns' }) tokensPerThread!: number[];
  @ApiProperty({ type: 'integer' }) tokenCount!: number;
}

export class SyncJobView {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ enum: SYNC_JOB_STATUSES }) status!: string;
  @ApiProperty({ type: JobProgressView }) progress!: JobProgressView;
  @ApiProperty({ type: SyncPlanView }) plan!: SyncPlanView;
  @ApiProperty({ type: 'integer' }) elapsedMs!: number;
  @ApiProperty({ type: 'integer', description: 'Estimated time left; 0 when unknown or finished' }) etaMs!: number;
  @ApiProperty({ description: 'Empty: every market' }) market!: string;
  @ApiProperty({ example: '2026-01-01' }) startDate!: string;
  @ApiProperty({ example: '2026-03-31' }) endDate!: string;
  @ApiProperty({ type: 'integer', enum: K_TYPES }) kType!: number;
  @ApiProperty({ description: 'RFC 3339' }) createdAt!: string;
  @ApiProperty({ description: 'RFC 3339; empty while the job runs' }) finishedAt!: string;
  @ApiProperty({ type: 'integer', description: 'Stocks cancelled before they were pulled' }) cancelled!: number;
}

export class SyncJobListView extends PageView {
  @ApiProperty({ type: [SyncJobView] }) items!: SyncJobView[];
}

/** seed 004's `Result<T>` wrapper of its own routes. */
class SeedResultView {
  @ApiProperty({ enum: [200] }) code!: 200;
  @ApiProperty({ enum: ['success'] }) msg!: 'success';
}

export class RetryFailedResultView extends SeedResultView {
  @ApiProperty({ type: 'integer', description: 'Failures re-pulled successfully' }) data!: number;
}

export class SyncFailureView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() stockCode!: string;
  @ApiProperty() startDate!: string;
  @ApiProperty() endDate!: string;
  @ApiProperty() failureReason!: string;
  @ApiProperty({ type: 'integer' }) retryCount!: number;
  @ApiProperty({ type: 'integer', enum: [0, 1, 2], description: '0 pending, 1 retried OK, 2 given up' }) status!: number;
  @ApiProperty({ description: 'Empty before the first retry' }) lastRetryTime!: string;
  @ApiProperty() createTime!: string;
  @ApiProperty() updateTime!: string;
}

/** seed 004's page (MyBatis-Plus `Page`): `current` and `size` as asked, `pages` = ceil(total / size). */
export class FailurePageView {
  @ApiProperty({ type: [SyncFailureView] }) records!: SyncFailureView[];
  @ApiProperty({ type: 'integer' }) total!: number;
  @ApiProperty({ type: 'integer' }) size!: number;
  @ApiProperty({ type: 'integer' }) current!: number;
  @ApiProperty({ type: 'integer' }) pages!: number;
}

export class FailureListResultView extends SeedResultView {
  @ApiProperty({ type: FailurePageView }) data!: FailurePageView;
}

export class KlineBarView {
  @ApiProperty({ type: 'integer', description: 'Bar start, epoch ms' }) t!: number;
  @ApiProperty() o!: number;
  @ApiProperty() h!: number;
  @ApiProperty() l!: number;
  @ApiProperty() c!: number;
  @ApiProperty({ description: 'Volume' }) v!: number;
  @ApiProperty({ description: 'Turnover' }) tu!: number;
}

export class KlineView {
  @ApiProperty() market!: string;
  @ApiProperty() code!: string;
  @ApiProperty({ type: 'integer', enum: K_TYPES }) kType!: number;
  @ApiProperty({ type: [KlineBarView], description: 'Oldest first, at most 5,000' }) bars!: KlineBarView[];
  @ApiProperty({ type: 'integer', nullable: true, description: '`from` of the next page; null on the last' }) nextFrom!: number | null;
}

export class TriggerResultView {
  @ApiProperty() id!: string;
  @ApiProperty() fired!: boolean;
  @ApiProperty({ description: 'Close change over the last `bars` bars, percent' }) changePercent!: number;
  @ApiProperty({ description: 'Why the trigger could not be evaluated; empty when it was' }) error!: string;
}

export class TriggerResultsView {
  @ApiProperty({ enum: [true] }) success!: true;
  @ApiProperty({ type: [TriggerResultView] }) results!: TriggerResultView[];
}
