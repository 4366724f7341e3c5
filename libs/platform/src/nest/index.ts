export * from './tokens';
export * from './platform.module';
export * from './service-env';
export * from './run-grpc-service';
