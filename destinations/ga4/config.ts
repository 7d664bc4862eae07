/**
 * The GA4 destination's config: the streams it sends to (a web stream's measurement id, a
 * Firebase app stream's app id, each with one of its own Measurement Protocol API secrets),
 * where events hold the device ids, and the optional identify event and consent mapping.
 */
import { z } from 'zod';
import { secret } from '../shared/config';
import { Ga4ConsentConfig } from './consent';
import { INTEGRATION_NAME } from './session';

export const Ga4Config = z
  .strictObject({
    /** The web stream (gtag.js): its measurement id, and an API secret of that stream. */
    measurementId: z
      .string()
      .regex(/^G-[A-Z0-9]{4,20}$/, 'must be a GA4 measurement id (G-...)')
      .optional(),
    apiSecret: secret().optional(),
    /** The app stream (Firebase): its Firebase App ID, and an API secret of that stream. */
    firebaseAppId: z
      .string()
      .regex(/^\d+:\d+:[a-z]+:[0-9a-f]+$/i, 'must be a Firebase App ID (1:1234567890:android:...)')
      .optional(),
    firebaseApiSecret: secret().optional(),
    /** `eu`: collect in the EU (region1.google-analytics.com). */
    region: z.enum(['global', 'eu']).default('global'),
    /** Where the event holds the gtag client id (a dotted path): the web client's `_ga` id. */
    clientIdPath: z.string().min(1).default('anonymousId'),
    /** Where the event holds the Firebase SDK's app_instance_id (a dotted path). */
    appInstanceIdPath: z.string().min(1).default(`integrations.${INTEGRATION_NAME}.appInstanceId`),
    /** For events without a client id: use the userId as one instead of failing the event. */
    userIdAsClientId: z.boolean().default(false),
    /**
     * GA4 has no identify: when set, an identify sends this event carrying the traits as user
     * properties; unset, identify calls send nothing.
     */
    identifyEventName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, 'must be a valid GA4 event name')
      .optional(),
    /** Which consent categories grant GA4's ad_user_data and ad_personalization. */
    consent: Ga4ConsentConfig.optional(),
  })
  .superRefine((config, context) => {
    const issue = (field: string, message: string) =>
      context.addIssue({ code: 'custom', path: [field], message });
    if (!config.measurementId && !config.firebaseAppId) {
      issue('measurementId', 'required (or firebaseAppId, for an app stream)');
    }
    if (config.measurementId && !config.apiSecret)
      issue('apiSecret', 'required with measurementId');
    if (config.firebaseAppId && !config.firebaseApiSecret) {
      issue('firebaseApiSecret', 'required with firebaseAppId');
    }
  });

export type Ga4Config = z.infer<typeof Ga4Config>;
