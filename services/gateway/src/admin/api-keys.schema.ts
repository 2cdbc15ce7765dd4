import { ROLES } from '@heady/db';
import { z } from 'zod';
import { UNSTORABLE_TEXT, storableText } from '../problem/pg-text.js';

/** Body of `POST /api/admin/api-keys`. */
export const createApiKeyBody = z
  .object({
    name: z.string().min(1).max(100).refine(storableText, UNSTORABLE_TEXT),
    role: z.enum(ROLES as ['viewer', 'member', 'developer', 'admin']).default('member'),
  })
  .strict();
export type CreateApiKeyBody = z.infer<typeof createApiKeyBody>;

export const apiKeyId = z.uuid();
