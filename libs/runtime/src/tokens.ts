/** Injection token of the process's validated config object. */
export const CONFIG = Symbol('heady.config');
/** Injection token of the shared `Kysely<Database>`. */
export const DB = Symbol('heady.db');
/** Injection token of the process's pino logger. */
export const LOGGER = Symbol('heady.logger');
