import { TokenStatus, type Token } from '@batchgate/contracts/tokens/v1/tokens';
import type { TokenStatusName, TokenView } from './tokens.dto';

const NAME_BY_STATUS: Partial<Record<TokenStatus, TokenStatusName>> = {
  [TokenStatus.TOKEN_STATUS_ACTIVE]: 'active',
  [TokenStatus.TOKEN_STATUS_DISABLED]: 'disabled',
  [TokenStatus.TOKEN_STATUS_RETIRED]: 'retired',
};

export const STATUS_BY_NAME: Record<TokenStatusName, TokenStatus> = {
  active: TokenStatus.TOKEN_STATUS_ACTIVE,
  disabled: TokenStatus.TOKEN_STATUS_DISABLED,
  retired: TokenStatus.TOKEN_STATUS_RETIRED,
};

export function toTokenView(token: Token): TokenView {
  return {
    id: token.id,
    provider: token.provider,
    name: token.name,
    secretMask: token.secretMask,
    status: NAME_BY_STATUS[token.status] ?? 'disabled',
    dailyLimit: token.dailyLimit,
    dailyUsed: token.dailyUsed,
    rateLimitPerSecond: token.rateLimitPerSecond,
    expireTime: token.expireTime || null,
    lastError: token.lastError || null,
    createdAt: token.createdAt,
    updatedAt: token.updatedAt,
  };
}
