/** This package's version, the meter's and the tracer's (a unit test keeps it equal to package.json's). */
export const PACKAGE_VERSION = '0.1.0';
