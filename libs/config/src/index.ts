export { DEFAULTS, ENV_SCHEMAS, MAX_RUN_INPUT_BYTES, type ProviderSpec } from './schema.js';
export {
  ConfigError,
  loadCliConfig,
  loadConductorConfig,
  loadGatewayConfig,
  loadPipelineConfig,
  loadVectorMemoryConfig,
  loadWorkersConfig,
  parseStageList,
  type CliConfig,
  type CommonConfig,
  type ConductorConfig,
  type GatewayConfig,
  type PipelineConfig,
  type VectorMemoryConfig,
  type WorkersConfig,
} from './load.js';
