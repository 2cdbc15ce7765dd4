export { DEFAULTS, STAGE_NAMES, type StageName } from './schema.js';
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
