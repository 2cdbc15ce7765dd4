export { createTestDatabase, TEST_PG_URL, type TestDatabase } from './postgres.js';
export { freePort } from './ports.js';
export { REPO_ROOT, ServiceProcess, startStack, type ServiceName, type Stack, type StackOptions } from './stack.js';
