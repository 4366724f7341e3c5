import { Controller, Inject } from '@nestjs/common';
import {
  TokenManagerServiceControllerMethods,
  type CreateTokenRequest,
  type DeleteTokenRequest,
  type DeleteTokenResponse,
  type GetAvailableTokensRequest,
  type LeaseTokensRequest,
  type LeaseTokensResponse,
  type ListTokensRequest,
  type ListTokensResponse,
  type ReleaseUsageRequest,
  type ReleaseUsageResponse,
  type ReportUsageRequest,
  type ReportUsageResponse,
  type RetireTokenRequest,
  type Token,
  type TokenManagerServiceController,
  type UpdateTokenRequest,
} from '@batchgate/contracts/tokens/v1/tokens';
import { TokensService } from './tokens.service';

@Controller()
@TokenManagerServiceControllerMethods()
export class TokensGrpcController implements TokenManagerServiceController {
  constructor(@Inject(TokensService) private readonly tokens: TokensService) {}

  createToken(request: CreateTokenRequest): Promise<Token> {
    return this.tokens.create(request);
  }

  listTokens(request: ListTokensRequest): Promise<ListTokensResponse> {
    return this.tokens.list(request);
  }

  updateToken(request: UpdateTokenRequest): Promise<Token> {
    return this.tokens.update(request);
  }

  async deleteToken(request: DeleteTokenRequest): Promise<DeleteTokenResponse> {
    await this.tokens.softDelete(request.tenant, request.id);
    return { deleted: true };
  }

  async getAvailableTokens(request: GetAvailableTokensRequest): Promise<ListTokensResponse> {
    const rows = await this.tokens.available(request.tenant, request.provider);
    return { tokens: rows.map((row) => this.tokens.toMessage(row)), page: { page: 1, pageSize: rows.length, total: rows.length } };
  }

  async leaseTokens(request: LeaseTokensRequest): Promise<LeaseTokensResponse> {
    return { leases: await this.tokens.lease(request.tenant, request.provider, request.maxTokens) };
  }

  reportUsage(request: ReportUsageRequest): Promise<ReportUsageResponse> {
    return this.tokens.reportUsage(request.tenant, request.tokenId, request.count, request.partial, request.holder);
  }

  releaseUsage(request: ReleaseUsageRequest): Promise<ReleaseUsageResponse> {
    return this.tokens.releaseUsage(request.tenant, request.tokenId, request.count);
  }

  retireToken(request: RetireTokenRequest): Promise<Token> {
    return this.tokens.retire(request.tenant, request.tokenId, request.reason);
  }
}
