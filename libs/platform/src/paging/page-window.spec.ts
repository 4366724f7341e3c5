import { DomainError } from '../errors';
import { DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE, pageInfo, pageWindow } from './page-window';

describe('pageWindow', () => {
  it('reads the page asked for as LIMIT and OFFSET', () => {
    expect(pageWindow({ page: 3, pageSize: 25 })).toEqual({ page: 3, size: 25, offset: 50, limit: 25 });
    expect(pageWindow({ page: MAX_PAGE, pageSize: MAX_PAGE_SIZE })).toMatchObject({ size: MAX_PAGE_SIZE, offset: (MAX_PAGE - 1) * MAX_PAGE_SIZE });
  });

  it('takes unset (zero) fields and a missing request as the first page of the default size', () => {
    expect(pageWindow(undefined)).toEqual({ page: 1, size: DEFAULT_PAGE_SIZE, offset: 0, limit: DEFAULT_PAGE_SIZE });
    expect(pageWindow({ page: 0, pageSize: 0 })).toEqual({ page: 1, size: DEFAULT_PAGE_SIZE, offset: 0, limit: DEFAULT_PAGE_SIZE });
  });

  it.each([
    [{ page: 1, pageSize: MAX_PAGE_SIZE + 1 }, 'page.pageSize must be 1-100'],
    [{ page: 1, pageSize: -5 }, 'page.pageSize must be 1-100'],
    [{ page: -1, pageSize: 10 }, 'page.page must be 1-1000000'],
    [{ page: MAX_PAGE + 1, pageSize: 10 }, 'page.page must be 1-1000000'],
  ])('refuses %j rather than clamping it', (request, message) => {
    let thrown: unknown;
    try {
      pageWindow(request);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect(thrown).toMatchObject({ kind: 'invalid_argument', code: 'REQUEST.INVALID_PAGE', message });
  });
});

describe('pageInfo', () => {
  it('answers the window asked for with the total', () => {
    expect(pageInfo(pageWindow({ page: 2, pageSize: 5 }), 12)).toEqual({ page: 2, pageSize: 5, total: 12 });
  });
});
