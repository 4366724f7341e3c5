// Lifted into libs/local-servers (npm start runs the same servers); re-exported for the tests.
export {
  startRestartableProcess,
  type RestartableProcess,
  type RestartableProcessOptions,
} from '@batchgate/local-servers';
