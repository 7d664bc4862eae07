/**
 * The configuration documents SDKs fetch before sending: Segment's project settings (for
 * analytics-next and the mobile SDKs) and RudderStack's sourceConfig (for its JS SDK). Both
 * point the SDK at this Sluice and switch the SDK's own telemetry off.
 */
import type { Source } from '../config/workspace';

/** `GET /v1/projects/<writeKey>/settings`: only the Segment.io integration, aimed at us. */
export function segmentSettings(source: Source, baseUrl: URL): Record<string, unknown> {
  const apiHost = `${baseUrl.host}${baseUrl.pathname.replace(/\/$/, '')}/v1`;
  const protocol = baseUrl.protocol.replace(':', '');
  return {
    integrations: {
      'Segment.io': {
        apiKey: source.writeKey,
        apiHost,
        protocol,
        unbundledIntegrations: [],
        addBundledMetadata: true,
        maybeBundledConfigIds: {},
        versionSettings: { version: '4.4.7', componentTypes: ['browser'] },
      },
    },
    plan: {
      track: { __default: { enabled: true, integrations: {} } },
      identify: { __default: { enabled: true } },
      group: { __default: { enabled: true } },
    },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    // Without this the SDKs post their own metrics to api.segment.io.
    metrics: { sampleRate: 0, host: apiHost },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}

/** `GET /sourceConfig`: what @rudderstack/analytics-js validates before it starts. */
export function rudderSourceConfig(source: Source): Record<string, unknown> {
  return {
    isHosted: false,
    source: {
      id: source.id,
      name: source.name ?? source.id,
      writeKey: source.writeKey,
      enabled: source.enabled,
      workspaceId: 'sluice',
      deleted: false,
      config: {
        statsCollection: {
          errors: { enabled: false },
          metrics: { enabled: false },
        },
      },
      // Device-mode destinations are not served: every event goes to this data plane.
      destinations: [],
    },
  };
}
