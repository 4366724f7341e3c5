import type { PageInfo, PageRequest } from '@batchgate/contracts/common/v1/common';
import { DomainError } from '../errors';

/** Size of a page when the caller names none. */
export const DEFAULT_PAGE_SIZE = 20;
/** Largest page any list call returns (the gateway validates `size` against the same bound). */
export const MAX_PAGE_SIZE = 100;
/** Highest page number a list call accepts (the gateway's bound of `page`), so offsets stay small. */
export const MAX_PAGE = 1_000_000;

/** The page a list call asks for, and the rows it reads: `LIMIT limit OFFSET offset`. */
export interface PageWindow {
  page: number;
  size: number;
  offset: number;
  limit: number;
}

const invalidPage = (field: 'page' | 'pageSize', max: number) =>
  new DomainError('invalid_argument', 'REQUEST.INVALID_PAGE', `page.${field} must be 1-${max}`, {
    details: { field: `page.${field}`, max },
  });

/**
 * The window of a list call's `PageRequest`. Zero (proto3's unset) means the default: page 1,
 * DEFAULT_PAGE_SIZE. A size or page outside its bounds is refused (INVALID_ARGUMENT), as the
 * gateway refuses it, never silently clamped: a caller asking for 1,000 rows must not believe
 * it saw them all.
 */
export function pageWindow(request: PageRequest | undefined): PageWindow {
  const page = request?.page || 1;
  const size = request?.pageSize || DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(page) || page < 1 || page > MAX_PAGE) throw invalidPage('page', MAX_PAGE);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) throw invalidPage('pageSize', MAX_PAGE_SIZE);
  return { page, size, offset: (page - 1) * size, limit: size };
}

/** The paging facts of a list answer: the window asked for and the rows matching the query. */
export function pageInfo(window: PageWindow, total: number): PageInfo {
  return { page: window.page, pageSize: window.size, total };
}
