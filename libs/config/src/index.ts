export { DEFAULTS, STAGE_NAMES, type StageName } from './schema.js';
export {
  ConfigError,
  loadCliConfig,
  loadConductorConfig,
  loadGatewayConfig,
  loadPipelineConfig,
  parseStageList,
  type CommonConfig,
  type ConductorConfig,
  type GatewayConfig,
  type PipelineConfig,
} from './load.js';
