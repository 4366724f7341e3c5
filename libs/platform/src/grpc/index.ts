export * from './proto-loader-options';
export * from './grpc-metrics';
export * from './grpc-errors';
export * from './grpc-server';
export * from './grpc-client';
export * from './service-credentials';
export * from './peer-authentication';
