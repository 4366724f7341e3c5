import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiConflictResponse, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { lastValueFrom } from 'rxjs';
import { TokenStatus, type TokenManagerServiceClient } from '@batchgate/contracts/tokens/v1/tokens';
import type { RequestContext } from '@batchgate/platform/context';
import type { WithRequestContext } from '@batchgate/platform/grpc';
import { RequirePermissions } from '../auth/auth.guard';
import { pageOf } from '../http/paging.dto';
import { CurrentPrincipal } from '../auth/current-principal.decorator';
import { CurrentRequestContext } from '../http/request-context';
import type { Principal } from '../auth/principal';
import { TOKEN_MANAGER_CLIENT } from './token-manager.client';
import { CreateTokenDto, ListTokensQueryDto, TokenIdParamDto, TokenListView, TokenView, UpdateTokenDto } from './tokens.dto';
import { STATUS_BY_NAME, toTokenView } from './tokens.mapper';

@ApiTags('tokens')
@Controller('api/tokens')
export class TokensHttpController {
  constructor(@Inject(TOKEN_MANAGER_CLIENT) private readonly tokens: WithRequestContext<TokenManagerServiceClient>) {}

  @Post()
  @HttpCode(201)
  @RequirePermissions('tokens:admin')
  @ApiCreatedResponse({ type: TokenView, description: 'Stored; the secret is shown only as a mask' })
  @ApiConflictResponse({ description: 'The tenant already stored this secret for the provider (TOKEN.ALREADY_EXISTS)' })
  async create(@Body() body: CreateTokenDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<TokenView> {
    const token = await lastValueFrom(
      this.tokens.createToken({
        provider: body.provider,
        name: body.name ?? '',
        secret: body.secret,
        dailyLimit: body.dailyLimit ?? 0,
        rateLimitPerSecond: body.rateLimitPerSecond ?? 0,
        expireTime: body.expireTime ?? '',
        tenant: principal.tenant,
      }, context),
    );
    return toTokenView(token);
  }

  @Get()
  @RequirePermissions('tokens:admin')
  @ApiOkResponse({ type: TokenListView })
  async list(@Query() query: ListTokensQueryDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<TokenListView> {
    const { page, size } = pageOf(query);
    const answer = await lastValueFrom(
      this.tokens.listTokens({
        provider: query.provider ?? '',
        status: query.status ? STATUS_BY_NAME[query.status] : TokenStatus.TOKEN_STATUS_UNSPECIFIED,
        page: { page, pageSize: size },
        tenant: principal.tenant,
      }, context),
    );
    return { items: answer.tokens.map(toTokenView), page, size, total: answer.page?.total ?? 0 };
  }

  @Patch(':id')
  @RequirePermissions('tokens:admin')
  @ApiOkResponse({ type: TokenView })
  @ApiNotFoundResponse({ description: 'No such token' })
  async update(@Param() params: TokenIdParamDto, @Body() body: UpdateTokenDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<TokenView> {
    const token = await lastValueFrom(
      this.tokens.updateToken({
        id: params.id,
        status: body.status ? STATUS_BY_NAME[body.status] : undefined,
        dailyLimit: body.dailyLimit,
        rateLimitPerSecond: body.rateLimitPerSecond,
        expireTime: body.expireTime,
        tenant: principal.tenant,
      }, context),
    );
    return toTokenView(token);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermissions('tokens:admin')
  @ApiNoContentResponse({ description: 'Soft-deleted' })
  @ApiNotFoundResponse({ description: 'No such token' })
  async remove(@Param() params: TokenIdParamDto, @CurrentPrincipal() principal: Principal, @CurrentRequestContext() context: RequestContext): Promise<void> {
    await lastValueFrom(this.tokens.deleteToken({ id: params.id, tenant: principal.tenant }, context));
  }
}
