import { completionFor, countTokens, promptOf } from './completion';

describe('completionFor', () => {
  const prompt = promptOf([
    { role: 'system', content: 'You write personas.' },
    { role: 'user', content: [{ type: 'text', text: 'A cautious dividend investor' }] },
  ]);

  it('reads every message as role:content', () => {
    expect(prompt).toBe('system:You write personas.\nuser:A cautious dividend investor');
  });

  it('is deterministic, and its stream pieces add up to the text', () => {
    const completion = completionFor(prompt, 4_096);
    expect(completionFor(prompt, 4_096)).toEqual(completion);
    expect(completion.pieces.join('')).toBe(completion.content);
    expect(completion.finishReason).toBe('stop');
    expect(countTokens(completion.content)).toBeGreaterThanOrEqual(12);
    expect(completionFor(`${prompt}!`, 4_096).content).not.toBe(completion.content);
  });

  it('stops at max tokens with finish reason "length"', () => {
    const short = completionFor(prompt, 5);
    expect(short.finishReason).toBe('length');
    expect(short.content.split(' ')).toHaveLength(5);
  });

  it('answers JSON in JSON mode', () => {
    const json = completionFor(prompt, 4_096, true);
    expect(JSON.parse(json.content)).toEqual({
      title: expect.any(String),
      content: expect.any(String),
      tags: expect.any(Array),
    });
    expect(json.pieces.join('')).toBe(json.content);
  });

  it('counts CJK characters one token each', () => {
    expect(countTokens('创建角色 persona now')).toBe(6);
    expect(countTokens('')).toBe(0);
  });
});
