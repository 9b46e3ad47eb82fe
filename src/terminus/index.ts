// `nestjs-feathers-sync/terminus`: the only entry that imports @nestjs/terminus (an optional peer).
export {
  FeathersSyncHealthIndicator,
  FeathersSyncHealthModule,
  type FeathersSyncHealthDetails,
} from './feathers-sync.health.js';
