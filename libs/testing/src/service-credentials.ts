import { DEVELOPMENT_SERVICE_AUTH_SECRET, ServiceCredentials } from '@batchgate/platform/grpc';

/** The credential of a test acting as a peer service (the services under test use the development secret). */
export const testServiceCredentials = new ServiceCredentials('test', DEVELOPMENT_SERVICE_AUTH_SECRET);
