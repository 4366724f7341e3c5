import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
// The services refuse the same bounds (libs/platform/src/paging): one rule, declared once.
import { DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE } from '@batchgate/platform/paging';

/** `page` (from 1) and `size`, the paging parameters of every list of the API (seed 004's names). */
export class PageQueryDto {
  @ApiPropertyOptional({ type: 'integer', default: 1, minimum: 1, maximum: MAX_PAGE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE)
  page?: number;

  @ApiPropertyOptional({ type: 'integer', default: DEFAULT_PAGE_SIZE, minimum: 1, maximum: MAX_PAGE_SIZE })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  size?: number;
}

/** The page a query asks for, defaults applied. */
export function pageOf(query: PageQueryDto): { page: number; size: number } {
  return { page: query.page ?? 1, size: query.size ?? DEFAULT_PAGE_SIZE };
}

/** The paging fields of every list answer (beside its `items`), except seed 004's own page shape. */
export class PageView {
  @ApiProperty({ type: 'integer', example: 1 }) page!: number;
  @ApiProperty({ type: 'integer', example: DEFAULT_PAGE_SIZE }) size!: number;
  @ApiProperty({ type: 'integer', description: 'Items matching the query, on every page' }) total!: number;
}
