import { defineErrors, domainError } from '@batchgate/platform/errors';

type Details = Record<string, unknown>;
const withDetails = (message: string, details?: Details) => ({ message, details });

/**
 * Every error kline-sync answers with (besides the platform's), each code defined once; the job
 * errors (SYNC.JOB_NOT_FOUND, .JOB_FINISHED, .NOTHING_TO_RETRY) are the job kit's, from SYNC_JOBS.
 */
export const klineSyncErrors = defineErrors({
  invalidSyncArgument: domainError('invalid_argument', 'SYNC.INVALID_ARGUMENT', withDetails),
  rangeTooLong: domainError(
    'invalid_argument',
    'SYNC.RANGE_TOO_LONG',
    (range: { startDate: string; endDate: string; kType: number; bars: number; maxBars: number }) => ({
      message: `${range.startDate}..${range.endDate} spans ${range.bars} bars of kType ${range.kType}; a job covers at most ${range.maxBars} bars per stock`,
      details: { bars: range.bars, maxBars: range.maxBars, kType: range.kType },
    }),
  ),
  noStocks: domainError('failed_precondition', 'SYNC.NO_STOCKS', (market: string | null) => ({
    message: 'No stocks to sync; import stocks first',
    details: { market },
  })),
  invalidStock: domainError('invalid_argument', 'STOCK.INVALID_ARGUMENT', withDetails),
  invalidKlineQuery: domainError('invalid_argument', 'KLINE.INVALID_ARGUMENT', (message: string) => message),
  invalidTriggers: domainError('invalid_argument', 'TRIGGER.INVALID_ARGUMENT', (message: string) => message),
});
