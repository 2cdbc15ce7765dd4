import { type StageName } from '@heady/contracts';
import { channelEntry } from './channel-entry.stage.js';
import { execute } from './execute.stage.js';
import { finalize } from './finalize.stage.js';
import { ingest } from './ingest.stage.js';
import { monitor } from './monitor.stage.js';
import { optimize } from './optimize.stage.js';
import { plan } from './plan.stage.js';
import { recover } from './recover.stage.js';
import { selfCritique } from './self-critique.stage.js';
import { type StageDefinition } from './stage.js';

/** The nine stages by name. */
export const STAGES: Record<StageName, StageDefinition> = {
  'channel-entry': channelEntry,
  ingest,
  plan,
  execute,
  recover,
  'self-critique': selfCritique,
  optimize,
  finalize,
  monitor,
};
export type { StageDefinition, StageInput, StageResult } from './stage.js';
