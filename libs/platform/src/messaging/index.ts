export * from './nats-connection';
export * from './event-bus';
export * from './outbox.entity';
export * from './outbox.migration';
export * from './outbox';
export * from './messaging.module';
export * from './work-queue';
export * from './jetstream-metrics';
