import { describe, expect, it } from 'vitest';
import { type PlannedTask, planTasks, questionOf } from './plan-tasks.js';

describe('planTasks', () => {
  it('plans one chat task for a message, with context and budget on it', () => {
    const ctx = [{ source: 'doc', text: 'Paris is in France.' }];
    expect(planTasks({ message: 'where?', context: ctx, maxTokens: 50 }, 'g')).toEqual([
      {
        id: 'task-1',
        kind: 'chat',
        group: 'g',
        input: { messages: [{ role: 'user', content: 'where?' }], context: ctx },
        maxTokens: 50,
      },
    ]);
  });

  it('keeps a conversation as given, and prefers it to a prompt', () => {
    const messages = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hi' },
    ];
    const [t] = planTasks({ messages, prompt: 'ignored' }, 'g') as { input: unknown }[];
    expect(t!.input).toEqual({ messages });
  });

  it("plans the client's task list in order, numbering those without an id", () => {
    const tasks = planTasks(
      { tasks: [{ message: 'a' }, { id: 'vec', kind: 'embed', texts: ['x'] }, { message: 'c' }] },
      'g',
    ) as { id: string; kind: string }[];
    expect(tasks.map((t) => [t.id, t.kind])).toEqual([
      ['task-1', 'chat'],
      ['vec', 'embed'],
      ['task-3', 'chat'],
    ]);
  });

  it('plans an embed task for texts, and nothing for an input with no model work', () => {
    expect(planTasks({ texts: ['a', 'b'] }, 'g')).toEqual([
      { id: 'task-1', kind: 'embed', group: 'g', input: { texts: ['a', 'b'] } },
    ]);
    expect(planTasks({ n: 1 }, 'g')).toEqual([]);
    expect(planTasks(undefined, 'g')).toEqual([]);
  });

  it('says why an input that asks for model work cannot run', () => {
    expect(planTasks({ messages: [{ role: 'robot', content: 'x' }] }, 'g')).toHaveProperty('error');
    expect(planTasks({ tasks: [{ kind: 'embed' }] }, 'g')).toMatchObject({
      error: expect.stringContaining('embed task needs `texts`'),
    });
    expect(
      planTasks(
        {
          tasks: [
            { id: 'a', message: 'x' },
            { id: 'a', message: 'y' },
          ],
        },
        'g',
      ),
    ).toEqual({
      error: 'input.tasks: the id "a" is used twice',
    });
    expect(
      planTasks({ tasks: Array.from({ length: 51 }, () => ({ message: 'x' })) }, 'g'),
    ).toHaveProperty('error');
  });
});

describe('planTasks with live tokens', () => {
  it('marks chat tasks live when asked, and never embed tasks', () => {
    const tasks = planTasks({ tasks: [{ message: 'a' }, { kind: 'embed', texts: ['x'] }] }, 'g', {
      live: true,
    }) as { input: Record<string, unknown> }[];
    expect(tasks[0]!.input.live).toBe(true);
    expect(tasks[1]!.input).not.toHaveProperty('live');
  });

  it("hands chat tasks the client's context first, then the retrieved passages", () => {
    const own = [{ source: 'doc', text: 'Paris is in France.' }];
    const retrieved = [{ source: 'memory', text: 'Lyon is in France too.' }];
    const [t] = planTasks({ message: 'where?', context: own }, 'g', { retrieved }) as PlannedTask[];
    expect(t!.input.context).toEqual([...own, ...retrieved]);
  });
});

describe('questionOf', () => {
  it('is the message, the prompt, or the last user message of a conversation', () => {
    expect(questionOf({ message: ' when? ' })).toBe('when?');
    expect(questionOf({ prompt: 'why?' })).toBe('why?');
    const messages = [
      { role: 'user', content: 'first' },
      { role: 'user', content: 'second' },
      { role: 'assistant', content: 'answer' },
    ];
    expect(questionOf({ messages })).toBe('second');
  });

  it('is none for task lists, embeddings, an opt-out and inputs that do not parse', () => {
    expect(questionOf({ tasks: [{ message: 'a' }] })).toBeUndefined();
    expect(questionOf({ texts: ['a'] })).toBeUndefined();
    expect(questionOf({ message: 'a', memory: false })).toBeUndefined();
    expect(questionOf({ message: 7 })).toBeUndefined();
  });
});
