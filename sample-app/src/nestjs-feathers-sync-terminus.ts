// The sample compiles the package from its sources; in your app, import the same names from
// 'nestjs-feathers-sync/terminus'.
export * from '../../src/terminus/index';
