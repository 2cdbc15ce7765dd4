export { DEFAULTS, ENV_SCHEMAS, MAX_RUN_INPUT_BYTES } from './schema.js';
export {
  ConfigError,
  loadCliConfig,
  loadConductorConfig,
  loadGatewayConfig,
  loadPipelineConfig,
  loadVectorMemoryConfig,
  parseStageList,
  type CliConfig,
  type CommonConfig,
  type ConductorConfig,
  type GatewayConfig,
  type PipelineConfig,
  type VectorMemoryConfig,
} from './load.js';
