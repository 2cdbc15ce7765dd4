import { describe, expect, it } from 'vitest';
import { PLAN_ACTIONS, planAllows, requiredPlanFor } from './identity.js';

describe('PLAN_ACTIONS', () => {
  it('lets Free start basic chat, search and analyze, and nothing the Pro chat does', () => {
    for (const action of ['complete', 'search', 'query', 'analyze'])
      expect(planAllows('FREE', action), action).toBe(true);
    for (const action of ['chat', 'code', 'brain', 'monte_carlo'])
      expect(planAllows('FREE', action), action).toBe(false);
  });

  it('names the first plan that includes an action; actions outside the standard table are Enterprise', () => {
    expect(requiredPlanFor('analyze')).toBe('FREE');
    expect(requiredPlanFor('chat')).toBe('PRO');
    expect(requiredPlanFor('deploy')).toBe('PRO');
    expect(requiredPlanFor('custom_route')).toBe('ENTERPRISE');
    expect(planAllows('PRO', 'custom_route')).toBe(false);
    expect(planAllows('ENTERPRISE', 'custom_route')).toBe(true);
  });

  it('gives each plan every action of the plans before it', () => {
    const free = PLAN_ACTIONS.FREE;
    const pro = PLAN_ACTIONS.PRO;
    expect(free).not.toBe('*');
    expect(pro).not.toBe('*');
    if (free === '*' || pro === '*') return;
    for (const action of free) expect(pro).toContain(action);
  });
});
