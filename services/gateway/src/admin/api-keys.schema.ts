import { ROLES } from '@heady/db';
import { z } from 'zod';

/** Body of `POST /api/admin/api-keys`. */
export const createApiKeyBody = z
  .object({
    name: z.string().min(1).max(100),
    role: z.enum(ROLES as ['viewer', 'member', 'developer', 'admin']).default('member'),
  })
  .strict();
export type CreateApiKeyBody = z.infer<typeof createApiKeyBody>;

export const apiKeyId = z.uuid();
