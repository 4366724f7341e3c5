export * from './async-resource-bind';
