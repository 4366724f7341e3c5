import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Length, Matches, Max, MaxLength, Min, ValidateIf } from 'class-validator';
import { PageQueryDto, PageView } from '../http/paging.dto';

export const TOKEN_STATUSES = ['active', 'disabled', 'retired'] as const;
export type TokenStatusName = (typeof TOKEN_STATUSES)[number];

export class CreateTokenDto {
  @ApiProperty({ example: 'itick', description: 'Outside API the token belongs to' })
  @IsString()
  @Matches(/^[a-z0-9][a-z0-9_.-]{0,63}$/i, { message: 'provider must be 1-64 letters, digits, ".", "_" or "-"' })
  provider!: string;

  @ApiPropertyOptional({ example: 'team-a #1', maxLength: 100 })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  name?: string;

  @ApiProperty({ description: 'The token value; stored encrypted, never returned', writeOnly: true })
  @IsString()
  @Length(1, 512)
  secret!: string;

  @ApiPropertyOptional({ description: 'Calls per day; 0 = unlimited', default: 0, minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  dailyLimit?: number;

  @ApiPropertyOptional({ description: 'Calls per second; 0 = unlimited', default: 0, minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  rateLimitPerSecond?: number;

  @ApiPropertyOptional({ description: 'RFC 3339; omitted = never expires', example: '2027-01-01T00:00:00Z' })
  @IsOptional()
  @IsISO8601({ strict: true })
  expireTime?: string;
}

export class UpdateTokenDto {
  @ApiPropertyOptional({ enum: TOKEN_STATUSES })
  @IsOptional()
  @IsIn(TOKEN_STATUSES)
  status?: TokenStatusName;

  @ApiPropertyOptional({ description: 'Calls per day; 0 = unlimited', minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  dailyLimit?: number;

  @ApiPropertyOptional({ description: 'Calls per second; 0 = unlimited', minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  rateLimitPerSecond?: number;

  @ApiPropertyOptional({ description: 'RFC 3339; empty string = never expires', example: '2027-01-01T00:00:00Z' })
  @IsOptional()
  @ValidateIf((_o, value) => value !== '')
  @IsISO8601({ strict: true })
  expireTime?: string;
}

export class TokenIdParamDto {
  @ApiProperty({ type: 'integer', example: 1, minimum: 1, maximum: Number.MAX_SAFE_INTEGER })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(Number.MAX_SAFE_INTEGER)
  id!: number;
}

export class ListTokensQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ example: 'itick' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  provider?: string;

  @ApiPropertyOptional({ enum: TOKEN_STATUSES })
  @IsOptional()
  @IsIn(TOKEN_STATUSES)
  status?: TokenStatusName;
}

export class TokenView {
  @ApiProperty({ type: 'integer' }) id!: number;
  @ApiProperty() provider!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'At most the last 4 characters of the secret, never more than a quarter of it', example: '…5b4a' }) secretMask!: string;
  @ApiProperty({ enum: TOKEN_STATUSES }) status!: TokenStatusName;
  @ApiProperty({ type: 'integer', description: '0 = unlimited' }) dailyLimit!: number;
  @ApiProperty({ type: 'integer' }) dailyUsed!: number;
  @ApiProperty({ type: 'integer', description: '0 = unlimited' }) rateLimitPerSecond!: number;
  @ApiProperty({ nullable: true, type: String }) expireTime!: string | null;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty() createdAt!: string;
  @ApiProperty() updatedAt!: string;
}

export class TokenListView extends PageView {
  @ApiProperty({ type: [TokenView] }) items!: TokenView[];
}
