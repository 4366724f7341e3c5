import { personaPrompt } from './persona-prompt';

describe('personaPrompt', () => {
  it('puts every source and the strategy into the user message', () => {
    const [system, user] = personaPrompt(
      {
        baseInfo: { name: 'Ann', description: 'ten years on a research desk' },
        talkStyle: 'short sentences',
        knowledge: ['reads K-lines', 'follows banks'],
        products: [{ name: 'Daily brief', description: 'before the open' }],
      },
      'growth',
    );
    expect(system?.role).toBe('system');
    expect(user?.content).toContain('Name: Ann');
    expect(user?.content).toContain('Background: ten years on a research desk');
    expect(user?.content).toContain('Talking style: short sentences');
    expect(user?.content).toContain('Strategy: growth');
    expect(user?.content).toContain('- reads K-lines\n- follows banks');
    expect(user?.content).toContain('- Daily brief: before the open');
  });

  it('says what is missing instead of leaving a blank', () => {
    const [, user] = personaPrompt({ baseInfo: { name: 'Bo', description: 'new' }, talkStyle: undefined, knowledge: [], products: [] }, 's');
    expect(user?.content).toContain('Talking style: not given');
    expect(user?.content).toContain('Knowledge:\n- none given');
    expect(user?.content).toContain('Products:\n- none');
  });
});
