import { TokenStatus, type Token } from '@batchgate/contracts/tokens/v1/tokens';
import { ApiTokenStatus, type ApiTokenEntity } from './api-token.entity';

const PROTO_STATUS: Record<ApiTokenStatus, TokenStatus> = {
  [ApiTokenStatus.Disabled]: TokenStatus.TOKEN_STATUS_DISABLED,
  [ApiTokenStatus.Active]: TokenStatus.TOKEN_STATUS_ACTIVE,
  [ApiTokenStatus.Retired]: TokenStatus.TOKEN_STATUS_RETIRED,
};

export function toStoredStatus(status: TokenStatus): ApiTokenStatus | undefined {
  switch (status) {
    case TokenStatus.TOKEN_STATUS_ACTIVE:
      return ApiTokenStatus.Active;
    case TokenStatus.TOKEN_STATUS_DISABLED:
      return ApiTokenStatus.Disabled;
    case TokenStatus.TOKEN_STATUS_RETIRED:
      return ApiTokenStatus.Retired;
    default:
      return undefined;
  }
}

/** Calls used on `today`: a count from an earlier quota day has been reset. */
export function usedToday(row: ApiTokenEntity, today: string): number {
  return row.usageDay === today ? row.dailyUsed : 0;
}

/**
 * What a token's message shows of its row (the page reads only these columns; its id as a number,
 * its timestamps as ISO strings).
 */
export type ShownToken = Pick<ApiTokenEntity, 'provider' | 'name' | 'secretMask' | 'status' | 'dailyLimit' | 'rateLimitPerSecond' | 'lastError'> & {
  id: string | number;
  expireTime: string | null;
  createdAt: string;
  updatedAt: string;
};

/** The wire shape of a token: never the secret, only its mask. */
export function toTokenMessage(row: ApiTokenEntity, today: string): Token {
  return shownTokenMessage(
    { ...row, expireTime: row.expireTime?.toISOString() ?? null, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() },
    usedToday(row, today),
  );
}

/** The wire shape of a token whose calls on the current quota day are `dailyUsed`. */
export function shownTokenMessage(row: ShownToken, dailyUsed: number): Token {
  return {
    id: Number(row.id),
    provider: row.provider,
    name: row.name,
    secretMask: row.secretMask,
    status: PROTO_STATUS[row.status] ?? TokenStatus.TOKEN_STATUS_UNSPECIFIED,
    dailyLimit: row.dailyLimit,
    dailyUsed,
    rateLimitPerSecond: row.rateLimitPerSecond,
    expireTime: row.expireTime ?? '',
    lastError: row.lastError ?? '',
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
