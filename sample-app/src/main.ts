import 'reflect-metadata';
import cluster from 'node:cluster';

// One entry for both roles: Node runs this file again in every worker it forks. The primary
// never loads the Nest modules: ConfigModule.forRoot() reads and validates the environment as
// soon as app.module is imported, and would pass its defaults on to every worker.
if (cluster.isPrimary) {
  import('./primary')
    .then(({ runPrimary }) => runPrimary())
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
} else {
  import('./instance')
    .then(({ runInstance }) => runInstance())
    .catch((error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    });
}
