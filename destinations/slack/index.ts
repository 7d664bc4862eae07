/**
 * The Slack destination: track events posted as messages to an incoming webhook, one message per
 * event, with a text template per event name (or the default one) and an optional allow-list of
 * event names. `username`, `iconEmoji` and `channel` are sent when set; Slack honours them only
 * for legacy webhooks (an app's webhook always posts as the app, to its own channel).
 */
import { z } from 'zod';
import { defineDestination, DestinationMappingError } from '../destination';
import { httpsUrl } from '../shared/config';
import { eventNameOf } from '../shared/events';
import { jsonRequest } from '../shared/requests';
import { compact } from '../shared/values';
import { renderTemplate } from './template';

/**
 * Error bodies of incoming webhooks (api.slack.com changelog 2016-05-17 and later): these mean
 * the message or the webhook is wrong and resending cannot help. Slack sends them with 4xx, but
 * older webhooks used 500, so the body decides.
 */
const TERMINAL_ERRORS = new Set([
  'invalid_payload',
  'user_not_found',
  'action_prohibited',
  'channel_not_found',
  'channel_is_archived',
  'posting_to_general_channel_denied',
  'no_text',
  'missing_text_or_fallback_or_attachments',
  'too_many_attachments',
  'invalid_token',
  'no_service',
  'no_service_id',
  'no_team',
  'team_disabled',
]);

export const SlackConfig = z.strictObject({
  /** The incoming webhook URL (it is the credential: keep it in an environment variable). */
  webhookUrl: httpsUrl(),
  /** Text per event name, with `{{field.path}}` placeholders. */
  templates: z.record(z.string().min(1), z.string().min(1)).default({}),
  /** Text for events without their own template. */
  defaultTemplate: z.string().min(1).default('{{userId | anonymousId}} did {{event}}'),
  /** Only these events are posted; absent: every track event. */
  eventNames: z.array(z.string().min(1)).optional(),
  username: z.string().min(1).optional(),
  iconEmoji: z
    .string()
    .regex(/^:[^:\s]+:$/, 'must look like :emoji:')
    .optional(),
  channel: z.string().min(1).optional(),
});

export type SlackConfig = z.infer<typeof SlackConfig>;

export const slack = defineDestination<SlackConfig>({
  type: 'slack',
  kind: 'tool',
  integrationName: 'Slack',
  configSchema: SlackConfig,
  supportedTypes: ['track'],
  transform(event, { config }) {
    const name = eventNameOf(event);
    if (config.eventNames && !config.eventNames.includes(name)) return [];
    const template = Object.hasOwn(config.templates, name)
      ? config.templates[name]
      : config.defaultTemplate;
    const text = renderTemplate(template, event);
    if (text.trim() === '') {
      throw new DestinationMappingError(`the template for "${name}" renders no text`);
    }
    const message = compact({
      text,
      username: config.username,
      icon_emoji: config.iconEmoji,
      channel: config.channel,
    });
    return [jsonRequest({ method: 'POST', url: config.webhookUrl, headers: {} }, message)];
  },
  // The webhook URL's path (/services/T…/B…/secret) is the credential.
  credentialsOf: (config) => [new URL(config.webhookUrl).pathname.replace(/^\/+/, '')],
  interpretResponse(response) {
    const code = response.body.trim();
    if (TERMINAL_ERRORS.has(code)) {
      return { outcome: 'abort', reason: `Slack refused the message: ${code}` };
    }
    if (code === 'rollup_error') {
      return { outcome: 'retry', reason: 'Slack: rollup_error (a transient Slack fault)' };
    }
    return undefined;
  },
});
