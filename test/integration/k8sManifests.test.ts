/**
 * The Kubernetes manifests in k8s/ parse and say what the README promises:
 * migrations before the app (init container, or a Job before a rollout), the
 * database URL from a Secret, non-root pods, readiness on /readyz and
 * liveness on /healthz.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { PROJECT_ROOT } from '../helpers/processes.js';

const K8S = join(PROJECT_ROOT, 'k8s');

type Doc = Record<string, any>;

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: any }[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: any;
  livenessProbe?: any;
  securityContext?: any;
}

async function load(file: string): Promise<Doc[]> {
  const text = await readFile(join(K8S, file), 'utf8');
  const docs = YAML.parseAllDocuments(text);
  for (const doc of docs) {
    expect(doc.errors.map((e) => e.message)).toEqual([]);
  }
  return docs.map((d) => d.toJS() as Doc).filter((d) => d !== null);
}

function one(docs: Doc[], kind: string): Doc {
  const found = docs.filter((d) => d.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!;
}

function argv(c: Container): string[] {
  return [...(c.command ?? []), ...(c.args ?? [])];
}

/** The words after `migrate` in a container's command line (tini may come first). */
function migrateArgs(c: Container): string[] | null {
  const words = argv(c);
  const i = words.findIndex((w) => w === 'migrate' || w.endsWith('/migrate'));
  return i < 0 ? null : words.slice(i + 1);
}

/** Where tini runs migrate, it signals the whole process group (-g) before `--`. */
function expectTiniGroupSignals(c: Container): void {
  const words = argv(c);
  const i = words.findIndex((w) => w === 'tini' || w.endsWith('/tini'));
  if (i < 0) return;
  const dashes = words.indexOf('--', i);
  expect(dashes).toBeGreaterThan(i);
  expect(words.slice(i + 1, dashes)).toContain('-g');
}

function envVar(c: Container, name: string) {
  return c.env?.find((e) => e.name === name);
}

function expectDatabaseUrlFromSecret(c: Container, secretName: string): void {
  const v = envVar(c, 'DATABASE_URL');
  expect(v).toBeDefined();
  expect(v!.value).toBeUndefined();
  expect(v!.valueFrom?.secretKeyRef).toEqual({ name: secretName, key: 'DATABASE_URL' });
}

function expectHardened(c: Container): void {
  expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
  expect(c.securityContext?.capabilities?.drop).toContain('ALL');
  expect(c.securityContext?.runAsUser ?? 1000).not.toBe(0);
  expect(c.securityContext?.privileged ?? false).toBe(false);
}

function expectNonRootPod(podSpec: Doc): void {
  expect(podSpec.securityContext?.runAsNonRoot).toBe(true);
  // Numeric, so the kubelet can verify runAsNonRoot whatever USER the image names.
  expect(typeof podSpec.securityContext?.runAsUser).toBe('number');
  expect(podSpec.securityContext.runAsUser).toBeGreaterThan(0);
}

let secretName: string;

beforeAll(async () => {
  const secret = one(await load('secret.example.yaml'), 'Secret');
  secretName = secret.metadata.name;
});

test('every manifest in k8s/ parses, and each document has apiVersion, kind and a name', async () => {
  const files = (await readdir(K8S)).filter((f) => /\.ya?ml$/.test(f));
  expect(files.sort()).toEqual(
    expect.arrayContaining(['deployment.yaml', 'migration-job.yaml', 'secret.example.yaml']),
  );
  for (const file of files) {
    for (const doc of await load(file)) {
      expect(doc.apiVersion).toEqual(expect.any(String));
      expect(doc.kind).toEqual(expect.any(String));
      if (doc.kind !== 'Kustomization') expect(doc.metadata?.name).toEqual(expect.any(String));
    }
  }
});

test('the example Secret holds DATABASE_URL and no real password', async () => {
  const secret = one(await load('secret.example.yaml'), 'Secret');
  const url = String(secret.stringData?.DATABASE_URL ?? '');
  expect(url).toMatch(/^postgres(ql)?:\/\//);
  expect(url).toContain('change-me');
});

describe('deployment.yaml', () => {
  let docs: Doc[];
  let deployment: Doc;
  let pod: Doc;
  let init: Container;
  let app: Container;

  beforeAll(async () => {
    docs = await load('deployment.yaml');
    deployment = one(docs, 'Deployment');
    pod = deployment.spec.template.spec;
    expect(pod.initContainers).toHaveLength(1);
    expect(pod.containers).toHaveLength(1);
    init = pod.initContainers[0];
    app = pod.containers[0];
  });

  test('an init container runs `migrate auto` from the app image', () => {
    const args = migrateArgs(init);
    expect(args).not.toBeNull();
    expect(args![0]).toBe('auto');
    expect(init.image).toBe(app.image);
    expectTiniGroupSignals(init);
    expect(init.command?.[0]).toMatch(/tini$/);
  });

  test('the database URL comes from the Secret, in both containers', () => {
    expectDatabaseUrlFromSecret(init, secretName);
    expectDatabaseUrlFromSecret(app, secretName);
  });

  test('the app does not migrate again at start', () => {
    expect(envVar(app, 'RUN_MIGRATIONS')?.value).toBe('false');
    // It keeps the image's entrypoint (wait for the database, then exec the app).
    expect(app.command).toBeUndefined();
  });

  test('readiness on /readyz and liveness on /healthz, on the port the app listens on', () => {
    const port = app.ports?.[0];
    expect(port?.containerPort).toBe(3000);
    const envPort = envVar(app, 'PORT')?.value;
    if (envPort !== undefined) expect(Number(envPort)).toBe(port!.containerPort);
    for (const [probe, path] of [
      [app.readinessProbe, '/readyz'],
      [app.livenessProbe, '/healthz'],
    ] as const) {
      expect(probe?.httpGet?.path).toBe(path);
      expect([port!.name, port!.containerPort]).toContain(probe.httpGet.port);
    }
  });

  test('the pod runs as non-root and every container is hardened', () => {
    expectNonRootPod(pod);
    expectHardened(init);
    expectHardened(app);
  });

  test('the selector matches the pod labels, and the Service selects the pods', () => {
    const labels = deployment.spec.template.metadata.labels;
    expect(labels).toMatchObject(deployment.spec.selector.matchLabels);
    const service = one(docs, 'Service');
    expect(labels).toMatchObject(service.spec.selector);
  });
});

describe('migration-job.yaml', () => {
  let job: Doc;
  let pod: Doc;
  let container: Container;

  beforeAll(async () => {
    job = one(await load('migration-job.yaml'), 'Job');
    pod = job.spec.template.spec;
    expect(pod.containers).toHaveLength(1);
    container = pod.containers[0];
  });

  test('runs `migrate auto` once: bounded retries, cleaned up after it finishes', () => {
    expect(job.apiVersion).toBe('batch/v1');
    expect(migrateArgs(container)?.[0]).toBe('auto');
    expectTiniGroupSignals(container);
    expect(container.command?.[0]).toMatch(/tini$/);
    expect(typeof job.spec.backoffLimit).toBe('number');
    expect(job.spec.backoffLimit).toBeGreaterThanOrEqual(0);
    expect(job.spec.backoffLimit).toBeLessThanOrEqual(5);
    expect(typeof job.spec.ttlSecondsAfterFinished).toBe('number');
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(['Never', 'OnFailure']).toContain(pod.restartPolicy);
  });

  test('a refusal (exit 3) or a configuration error (exit 2) fails the Job at once', () => {
    const rules: Doc[] = job.spec.podFailurePolicy?.rules ?? [];
    const failJob = rules.find((r) => r.action === 'FailJob');
    expect(failJob?.onExitCodes?.operator).toBe('In');
    expect(failJob?.onExitCodes?.values).toEqual(expect.arrayContaining([2, 3]));
    expect(pod.restartPolicy).toBe('Never'); // podFailurePolicy requires it
  });

  test('same image as the Deployment', async () => {
    const deployment = one(await load('deployment.yaml'), 'Deployment');
    expect(container.image).toBe(deployment.spec.template.spec.containers[0].image);
  });

  test('the database URL comes from the Secret; non-root, hardened', () => {
    expectDatabaseUrlFromSecret(container, secretName);
    expectNonRootPod(pod);
    expectHardened(container);
  });
});

test('kustomization.yaml lists files that exist', async () => {
  const [kustomization] = await load('kustomization.yaml');
  const files = await readdir(K8S);
  for (const resource of kustomization!.resources as string[]) expect(files).toContain(resource);
});
