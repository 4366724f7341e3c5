export * from './processes';
export * from './render/deploy-files';
export { GENERATED_HEADER } from './render/generated-region';
export { K8S_BASE } from './render/kubernetes';
