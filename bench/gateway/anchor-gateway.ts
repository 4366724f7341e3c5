/**
 * The near side of the bench's bare hop: NestJS 11 on Fastify with one route that forwards one
 * grpc-js unary call (deadline set, as every product call has) and answers its result as JSON.
 * No auth, validation, logging or metrics: the floor the product's routes are measured against.
 * ANCHOR_HTTP_PORT to listen on, ANCHOR_GRPC_URL of anchor-service.
 */
import 'reflect-metadata';
import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { anchorService } from './anchor-proto';

type AnchorClient = Client & {
  getItem(request: { id: string }, options: { deadline: Date }, callback: (error: ServiceError | null, item: unknown) => void): void;
};

const Service = anchorService();
const client = new Service(String(process.env['ANCHOR_GRPC_URL']), credentials.createInsecure()) as unknown as AnchorClient;

@Controller()
class AnchorController {
  @Get('items/:id')
  item(@Param('id') id: string): Promise<unknown> {
    return new Promise((resolve, reject) =>
      client.getItem({ id }, { deadline: new Date(Date.now() + 10_000) }, (error, item) => (error ? reject(error) : resolve(item))),
    );
  }

  @Get('readyz')
  ready(): { status: string } {
    return { status: 'ok' };
  }
}

@Module({ controllers: [AnchorController] })
class AnchorModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(AnchorModule, new FastifyAdapter(), { logger: false });
  await app.listen(Number(process.env['ANCHOR_HTTP_PORT']), '127.0.0.1');
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

void main();
