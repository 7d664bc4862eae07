import { DestinationMappingError } from '../../destinations/destination';
import { slack } from '../../destinations/slack';
import { escapeSlack, renderTemplate } from '../../destinations/slack/template';
import { bodyOf, contextFor, onlyRequest, testConfigErrors, track, verdictOf } from './support';

const WEBHOOK = 'https://hooks.slack.com/services/T000/B000/XXXX';
const context = contextFor(slack, {
  webhookUrl: WEBHOOK,
  templates: { 'Order Completed': '{{traits.name | userId}} ordered for {{properties.revenue}} €' },
});

describe('slack config', () => {
  test('fills defaults', () => {
    expect(context.config).toEqual({
      webhookUrl: WEBHOOK,
      templates: {
        'Order Completed': '{{traits.name | userId}} ordered for {{properties.revenue}} €',
      },
      defaultTemplate: '{{userId | anonymousId}} did {{event}}',
    });
  });

  testConfigErrors('slack', [
    [{}, 'webhookUrl: required'],
    [
      { webhookUrl: 'http://hooks.slack.com/services/x' },
      'webhookUrl: Invalid URL (must be https)',
    ],
    [{ webhookUrl: WEBHOOK, iconEmoji: 'tada' }, 'iconEmoji: must look like :emoji:'],
    [{ webhookUrl: WEBHOOK, templates: { X: '' } }, 'templates.X: Too small'],
    [{ webhookUrl: WEBHOOK, eventNames: 'Order Completed' }, 'eventNames: Invalid input'],
  ]);
});

describe('slack mapping', () => {
  test('the event’s own template: the exact request', () => {
    const event = track('Order Completed', { revenue: 42.5 }, { userId: 'user-4711' });
    expect(onlyRequest(slack, context, event)).toEqual({
      method: 'POST',
      url: WEBHOOK,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'user-4711 ordered for 42.5 €' }),
    });
  });

  test('the default template, username, icon and channel', () => {
    const styled = contextFor(slack, {
      webhookUrl: WEBHOOK,
      username: 'Sluice',
      iconEmoji: ':ocean:',
      channel: '#sales',
    });
    const event = track('Signed Up', {}, { userId: undefined, anonymousId: 'anon-1' });
    expect(bodyOf(onlyRequest(slack, styled, event))).toEqual({
      text: 'anon-1 did Signed Up',
      username: 'Sluice',
      icon_emoji: ':ocean:',
      channel: '#sales',
    });
  });

  test('the allow-list: other events send nothing', () => {
    const listed = contextFor(slack, { webhookUrl: WEBHOOK, eventNames: ['Order Completed'] });
    expect(slack.transform(track('Page Scrolled'), listed)).toEqual([]);
    expect(slack.transform(track('Order Completed'), listed)).toHaveLength(1);
  });

  test('a template that renders no text fails the event', () => {
    const empty = contextFor(slack, {
      webhookUrl: WEBHOOK,
      defaultTemplate: '{{properties.none}}',
    });
    expect(() => slack.transform(track('X'), empty)).toThrow(DestinationMappingError);
  });

  test('only track events go to Slack', () => {
    expect(slack.supportedTypes).toEqual(['track']);
  });
});

describe('slack templates', () => {
  const event = {
    userId: 'u<1>',
    traits: { name: 'Ada & Co' },
    properties: { items: ['a', 'b'], revenue: 0, flag: false, nested: { deep: 1 } },
  };

  test('paths, alternatives and literals', () => {
    expect(renderTemplate('{{ traits.name }}', event)).toBe('Ada &amp; Co');
    expect(renderTemplate('{{traits.nickname | "someone"}}', event)).toBe('someone');
    expect(renderTemplate('{{missing}}!', event)).toBe('!');
    expect(renderTemplate('{{properties.revenue}} {{properties.flag}}', event)).toBe('0 false');
    expect(renderTemplate('{{properties.items}}', event)).toBe('["a","b"]');
    expect(renderTemplate('{{properties.nested.deep}}', event)).toBe('1');
  });

  test('inserted values are escaped; the template’s own markup is not', () => {
    expect(renderTemplate('<https://acme.example|{{userId}}>', event)).toBe(
      '<https://acme.example|u&lt;1&gt;>',
    );
    expect(escapeSlack('<!channel> & <@U123>')).toBe('&lt;!channel&gt; &amp; &lt;@U123&gt;');
  });

  test('nothing is executed or read from prototypes', () => {
    expect(renderTemplate('{{constructor}}{{__proto__}}{{toString}}', event)).toBe('');
    expect(renderTemplate('{{userId.constructor.name}}', event)).toBe('');
    expect(renderTemplate('{{ process.env.HOME }}', event)).toBe('');
  });

  test('text is cut to Slack’s 40,000 characters', () => {
    const long = renderTemplate('{{v}}', { v: 'x'.repeat(50_000) });
    expect(long).toHaveLength(40_000);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('slack responses', () => {
  test.each([
    [400, 'invalid_payload'],
    [404, 'channel_not_found'],
    [410, 'channel_is_archived'],
    [403, 'action_prohibited'],
    [500, 'invalid_payload'],
  ])('%i %s: abort, resending cannot help', (status, body) => {
    expect(verdictOf(slack, status, body)).toEqual({
      outcome: 'abort',
      reason: `Slack refused the message: ${body}`,
    });
  });

  test('rollup_error is transient; ok and rate limits follow the router’s rules', () => {
    expect(verdictOf(slack, 500, 'rollup_error')).toMatchObject({ outcome: 'retry' });
    expect(verdictOf(slack, 200, 'ok')).toBeUndefined();
    expect(verdictOf(slack, 429, 'rate limited')).toBeUndefined();
  });
});
