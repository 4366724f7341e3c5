import { defineErrors, domainError } from '@batchgate/platform/errors';

type Details = Record<string, unknown>;
const withDetails = (message: string, details?: Details) => ({ message, details });

/** Every error kline-sync answers with (besides the platform's), each code defined once. */
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
  noTokens: domainError('failed_precondition', 'SYNC.NO_TOKENS', (provider: string) => `No usable ${provider} token`),
  jobNotFound: domainError('not_found', 'SYNC.JOB_NOT_FOUND', (id: string) => ({
    message: `Sync job ${id} does not exist`,
    details: { id },
  })),
  jobFinished: domainError('failed_precondition', 'SYNC.JOB_FINISHED', (id: string, status: string) => ({
    message: `Sync job ${id} has already finished (${status})`,
    details: { id, status },
  })),
  nothingToRetry: domainError('failed_precondition', 'SYNC.NOTHING_TO_RETRY', (id: string, status: string) => ({
    message: `Sync job ${id} has no failed or cancelled stocks to retry, or is still running`,
    details: { id, status },
  })),
  invalidStock: domainError('invalid_argument', 'STOCK.INVALID_ARGUMENT', withDetails),
  invalidKlineQuery: domainError('invalid_argument', 'KLINE.INVALID_ARGUMENT', (message: string) => message),
  invalidTriggers: domainError('invalid_argument', 'TRIGGER.INVALID_ARGUMENT', (message: string) => message),
});
