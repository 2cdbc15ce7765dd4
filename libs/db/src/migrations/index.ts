import type { Migration } from 'kysely';
import * as controlPlane from './1763800000000-ControlPlane.js';
import * as pipelineRuns from './1763800001000-PipelineRuns.js';
import * as routingTable from './1763800002000-RoutingTable.js';
import * as durableRuns from './1763900000000-DurableRuns.js';
import * as identity from './1764000000000-Identity.js';
import * as planChanges from './1764100000000-PlanChanges.js';
import * as apiKeyChanges from './1764200000000-ApiKeyChanges.js';
import * as compensationCommands from './1764300000000-CompensationCommands.js';
import * as runTenancy from './1764400000000-RunTenancy.js';
import * as taskRuns from './1764500000000-TaskRuns.js';
import * as taskLease from './1764600000000-TaskLease.js';
import * as modelProviders from './1764700000000-ModelProviders.js';
import * as providerRpm from './1764800000000-ProviderRpm.js';
import * as knowledgeVault from './1765000000000-KnowledgeVault.js';
import * as knowledgeRepos from './1765000001000-KnowledgeRepos.js';
import * as knowledgeSettings from './1765000002000-KnowledgeSettings.js';
import * as billing from './1765100000000-Billing.js';
import * as usage from './1765100001000-Usage.js';
import * as budgets from './1765100002000-Budgets.js';
import * as meterEvents from './1765100003000-MeterEvents.js';
import * as deviceSync from './1765200000000-DeviceSync.js';

/** Every migration, by name, in order. New files are added here as well. */
export const migrations: Record<string, Migration> = {
  '1763800000000-ControlPlane': controlPlane,
  '1763800001000-PipelineRuns': pipelineRuns,
  '1763800002000-RoutingTable': routingTable,
  '1763900000000-DurableRuns': durableRuns,
  '1764000000000-Identity': identity,
  '1764100000000-PlanChanges': planChanges,
  '1764200000000-ApiKeyChanges': apiKeyChanges,
  '1764300000000-CompensationCommands': compensationCommands,
  '1764400000000-RunTenancy': runTenancy,
  '1764500000000-TaskRuns': taskRuns,
  '1764600000000-TaskLease': taskLease,
  '1764700000000-ModelProviders': modelProviders,
  '1764800000000-ProviderRpm': providerRpm,
  '1765000000000-KnowledgeVault': knowledgeVault,
  '1765000001000-KnowledgeRepos': knowledgeRepos,
  '1765000002000-KnowledgeSettings': knowledgeSettings,
  '1765100000000-Billing': billing,
  '1765100001000-Usage': usage,
  '1765100002000-Budgets': budgets,
  '1765100003000-MeterEvents': meterEvents,
  '1765200000000-DeviceSync': deviceSync,
};
export { SEED_GROUPS } from './1763800002000-RoutingTable.js';
