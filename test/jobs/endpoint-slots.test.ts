import { describe, expect, it } from 'vitest';
import { EndpointSlots } from '../../src/jobs/endpoint-slots.js';

describe('EndpointSlots', () => {
  it('starts every endpoint at perEndpoint and gives a fast one a slot more per fast delivery, up to the most', () => {
    const slots = new EndpointSlots({ perEndpoint: 4, maxPerEndpoint: 6, fastMs: 1_000 });
    expect(slots.limit('a')).toBe(4);
    slots.settle('a', 'delivered', 20);
    expect(slots.limit('a')).toBe(5);
    for (let i = 0; i < 5; i++) slots.settle('a', 'delivered', 20);
    expect(slots.limit('a')).toBe(6);
    expect(slots.limit('b')).toBe(4);
  });

  it('keeps the slots of a slow delivery and of an attempt that sent nothing; halves them, never below the start, on a failure', () => {
    const slots = new EndpointSlots({ perEndpoint: 4, maxPerEndpoint: 32, fastMs: 1_000 });
    for (let i = 0; i < 20; i++) slots.settle('a', 'delivered', 10);
    expect(slots.limit('a')).toBe(24);
    slots.settle('a', 'delivered', 5_000);
    slots.settle('a', 'skipped', 1);
    expect(slots.limit('a')).toBe(24);
    slots.settle('a', 'retry', 15_000);
    expect(slots.limit('a')).toBe(12);
    slots.fail('a');
    expect(slots.limit('a')).toBe(6);
    slots.settle('a', 'gone', 3);
    slots.settle('a', 'failed', 3);
    expect(slots.limit('a')).toBe(4);
  });

  it('never earns a hung endpoint more than the start: its attempts time out', () => {
    const slots = new EndpointSlots();
    for (let i = 0; i < 10; i++) slots.settle('hung', 'retry', 15_000);
    expect(slots.limit('hung')).toBe(4);
  });
});
