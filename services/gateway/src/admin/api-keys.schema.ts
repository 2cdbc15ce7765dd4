import { ROLES } from '@heady/contracts';
import { type ApiKeyInfo } from '@heady/db';
import { z } from 'zod';
import { UNSTORABLE_TEXT, storableText } from '../problem/pg-text.js';

/** Body of `POST /api/admin/api-keys`. */
export const createApiKeyBody = z
  .object({
    name: z.string().min(1).max(100).refine(storableText, UNSTORABLE_TEXT),
    role: z.enum(ROLES).default('member'),
  })
  .strict();
export type CreateApiKeyBody = z.infer<typeof createApiKeyBody>;

export const apiKeyId = z.uuid();

const role = z.enum(ROLES as ['viewer', 'member', 'developer', 'admin']);

/** An API key's record (never the key itself). */
export const apiKeyInfo = z.object({
  id: z.uuid(),
  orgId: z.uuid(),
  orgName: z.string(),
  name: z.string(),
  /** `hk_` and the key's first 8 characters. */
  prefix: z.string(),
  role,
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
}) satisfies z.ZodType<ApiKeyInfo>;

/** What `POST /api/admin/api-keys` answers: the key, shown this once, with its record. */
export const createdApiKey = apiKeyInfo.extend({ key: z.string() });

/** What `GET /api/admin/api-keys` answers. */
export const apiKeyList = z.object({ items: z.array(apiKeyInfo) });
