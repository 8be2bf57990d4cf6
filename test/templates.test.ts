import { describe, expect, it } from 'vitest';
import { checkTemplates, MAX_NESTING, MAX_STEPS, renderTemplate, TemplateRenderError } from '../src/modules/notifications/templates.ts';

const check = (source: string) => checkTemplates([{ field: 'body', source, kind: 'text' }]);

describe('template limits', () => {
  it('bounds a render by work: a loop over more than MAX_STEPS iterations fails, whatever the wall clock', async () => {
    const items = Array.from({ length: MAX_STEPS + 10 }, (_, i) => i);
    const error = await renderTemplate('{% for i in items %}{{ i }}{% endfor %}', 'text', { items }, 'body').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TemplateRenderError);
    expect((error as Error).message).toMatch(/^body: template work limit exceeded \(more than 10000 steps\)/);
    // Within the budget it renders.
    const fine = await renderTemplate('{% for i in items %}{{ i }},{% endfor %}', 'text', { items: items.slice(0, 1_000) }, 'body');
    expect(fine.split(',')).toHaveLength(1_001);
  });

  it('bounds memory: a string doubled in a loop fails', async () => {
    const error = await renderTemplate('{% assign s = x %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}', 'text', { x: 'x' }, 'body').catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/memory alloc limit exceeded/);
  });

  it('lets the event loop run during a long render (it yields between slices)', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      const items = Array.from({ length: MAX_STEPS - 100 }, (_, i) => i);
      await renderTemplate('{% for i in items %}{{ i | times: 2 }}{% endfor %}', 'text', { items }, 'body');
    } finally {
      clearInterval(timer);
    }
    // Without yielding, the whole render runs in one macrotask and no timer fires during it.
    expect(ticks).toBeGreaterThan(0);
  });

  it('refuses pathological templates when a version is saved', async () => {
    expect(await check('Hello {{ user.firstName }}{% for item in data.items %}{{ item }}{% endfor %}')).toEqual([]);
    const [loop] = await check('{% for i in (1..50000) %}x{% endfor %}');
    expect(loop).toEqual({ field: 'body', message: expect.stringMatching(/^template work limit exceeded .* when rendered with no data$/) });
    const [doubling] = await check('{% assign s = "x" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}');
    expect(doubling?.message).toMatch(/memory alloc limit exceeded/);
    const [deep] = await check('{% if a %}'.repeat(MAX_NESTING + 1) + 'x' + '{% endif %}'.repeat(MAX_NESTING + 1));
    expect(deep?.message).toMatch(/nested more than 32 deep/);
    const [long] = await check('x'.repeat(100_001));
    expect(long?.message).toMatch(/longer than 100000 characters/);
    const [syntax] = await check('{% if %}');
    expect(syntax?.message).toMatch(/^template syntax error at line 1, column \d+: /);
  });

  it('parses a template once: the same source renders the same way from the cache', async () => {
    const source = `Hi {{ name }} ${Math.random()}`;
    const first = await renderTemplate(source, 'text', { name: 'Ada' }, 'body');
    const second = await renderTemplate(source, 'text', { name: 'Bob' }, 'body');
    expect(first.startsWith('Hi Ada')).toBe(true);
    expect(second.startsWith('Hi Bob')).toBe(true);
    // Kinds do not share an entry: html escapes, text does not.
    expect(await renderTemplate('{{ v }}', 'html', { v: '<b>' }, 'html')).toBe('&lt;b&gt;');
    expect(await renderTemplate('{{ v }}', 'text', { v: '<b>' }, 'text')).toBe('<b>');
  });
});
