import 'reflect-metadata';
import type { ArgumentMetadata } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, ValidateBy } from 'class-validator';
import { DomainError } from '@batchgate/platform/errors';
import { requestValidationPipe } from './validation';

let checks = 0;

/** A check that counts how often class-validator runs it. */
function CountedCheck(): PropertyDecorator {
  return ValidateBy({ name: 'counted', validator: { validate: () => (checks++, true) } });
}

class SearchQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @CountedCheck()
  page?: number;

  @IsOptional()
  @IsString({ each: true })
  tags?: string[];
}

const asQuery: ArgumentMetadata = { type: 'query', metatype: SearchQueryDto };
const asBody: ArgumentMetadata = { type: 'body', metatype: SearchQueryDto };

describe('requestValidationPipe', () => {
  beforeEach(() => {
    checks = 0;
  });

  it('validates a query string once and gives each request its own DTO', async () => {
    const pipe = requestValidationPipe();
    const first = (await pipe.transform({ page: '2', tags: ['a'] }, asQuery)) as SearchQueryDto;
    const second = (await pipe.transform({ page: '2', tags: ['a'] }, asQuery)) as SearchQueryDto;

    expect(first).toBeInstanceOf(SearchQueryDto);
    expect(second).toEqual({ page: 2, tags: ['a'] });
    expect(checks).toBe(1);
    expect(second).not.toBe(first);
    first.page = 99;
    expect(second.page).toBe(2);
    expect(() => first.tags?.push('b')).toThrow(TypeError);
  });

  it('validates another query string, and every body, afresh', async () => {
    const pipe = requestValidationPipe();
    await pipe.transform({ page: '2' }, asQuery);
    await pipe.transform({ page: '3' }, asQuery);
    await pipe.transform({ page: 2 }, asBody);
    await pipe.transform({ page: 2 }, asBody);

    expect(checks).toBe(4);
  });

  it('refuses a bad query string each time it is asked, with the 400 it always had', async () => {
    const pipe = requestValidationPipe();
    for (let attempt = 0; attempt < 2; attempt++) {
      const refusal = await pipe.transform({ page: 'x', extra: '1' }, asQuery).catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(DomainError);
      expect(refusal).toMatchObject({ code: 'REQUEST.INVALID' });
      expect((refusal as DomainError).message).toMatch(/page: .*integer/);
      expect((refusal as DomainError).message).toMatch(/extra/);
    }
  });
});
