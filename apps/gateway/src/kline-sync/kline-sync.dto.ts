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

export class FailureListQueryDto {
  @ApiPropertyOptional() @IsOptional() @Matches(CODE) stockCode?: string;

  @ApiPropertyOptional({ enum: [0, 1, 2], description: '0 pending, 1 retried OK, 2 given up' })
  @IsOptional()
  @Type(() => Number)
  @IsIn([0, 1, 2])
  status?: number;

  @ApiPropertyOptional({ default: 1 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1_000_000) page?: number;
  @ApiPropertyOptional({ default: 20 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100) size?: number;
}

export const SYNC_JOB_STATUSES = ['queued', 'running', 'success', 'partial', 'failed', 'cancelled'] as const;

export class SyncJobListQueryDto {
  @ApiPropertyOptional({ enum: SYNC_JOB_STATUSES }) @IsOptional() @IsIn(SYNC_JOB_STATUSES) status?: string;
  @ApiPropertyOptional({ default: 1 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1_000_000) page?: number;
  @ApiPropertyOptional({ default: 20 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100) size?: number;
}

export class KlineQueryDto {
  @ApiProperty({ example: 'SH' }) @Matches(MARKET) market!: string;
  @ApiProperty({ example: '600000' }) @Matches(CODE) code!: string;
  @ApiPropertyOptional({ enum: K_TYPES, default: 8 }) @IsOptional() @Type(() => Number) @IsIn(K_TYPES) kType?: number;
  @ApiPropertyOptional({ description: 'epoch ms, inclusive' }) @IsOptional() @Type(() => Number) @IsInt() @Min(0) from?: number;
  @ApiPropertyOptional({ description: 'epoch ms, inclusive' }) @IsOptional() @Type(() => Number) @IsInt() @Min(0) to?: number;
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
