// The sample runs from a clone of the repository, so it compiles the package from its sources.
// In your app, import the same names from 'nestjs-feathers-sync'.
export * from '../../src/index';
