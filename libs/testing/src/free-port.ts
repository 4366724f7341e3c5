// Lifted into libs/local-servers (npm start picks ports too); re-exported for the tests.
export { freePort } from '@batchgate/local-servers';
