// Offline checks of the deployment files: the Knative/Kubernetes manifests under knative/,
// skaffold.yaml, the Dockerfile and .dockerignore. Each check returns a list of problems
// (empty when all is well), each naming the file and object, so a failing test says what
// to fix. The rules are the ones the API server and the Knative webhook would enforce at
// `kubectl apply` time but a schema does not catch, plus this project's own.
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Service as KnativeService } from '@kubernetes-models/knative/serving.knative.dev/v1';
import { Broker, Trigger } from '@kubernetes-models/knative/eventing.knative.dev/v1';
import { PingSource, SinkBinding } from '@kubernetes-models/knative/sources.knative.dev/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import type { ValidateFunction } from 'ajv';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const KNATIVE_DIR = path.join(ROOT, 'knative');
export const BASE_DIR = path.join(KNATIVE_DIR, 'base');
export const OVERLAYS_DIR = path.join(KNATIVE_DIR, 'overlays');

/** Where the functions read their secret files (lib/config.ts), and the seed's secret names. */
export const SECRETS_DIR = '/var/run/secrets/cofrap';
export const SECRET_NAMES = ['db-credentials-username', 'db-credentials-password', 'encryption-key'] as const;
/** The owner role's secrets (contract §8): the migration Job's alone. */
export const ADMIN_SECRET_NAMES = ['db-admin-username', 'db-admin-password'] as const;
/** The command of the migration Job's container. */
export const MIGRATE_SCRIPT = 'dist/bin/migrate.js';
/** The event types employee-events handles: the HR system's and the IT helpdesk's (contract §7). */
export const EMPLOYEE_EVENT_TYPES = [
  'fr.cofrap.hr.employee.created',
  'fr.cofrap.hr.employee.departed',
  'fr.cofrap.hr.employee.rehired',
  'fr.cofrap.it.credentials.reset-requested',
] as const;
/** The types employee-events replies with, which the broker filter posts back into the broker. */
export const REPLY_TYPE_PREFIX = 'fr.cofrap.identity.';
/** Images the manifests may use without building them: pinned third-party images. */
export const THIRD_PARTY_IMAGES = ['postgres:16', 'ghcr.io/cloudnative-pg/pgbouncer:1.23.0'] as const;

export const rel = (file: string): string => path.relative(ROOT, file) || '.';

// ---------------------------------------------------------------------------------------
// Reading parsed YAML safely

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function at(value: unknown, ...keys: Array<string | number>): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof key === 'number') current = Array.isArray(current) ? current[key] : undefined;
    else current = isObject(current) ? current[key] : undefined;
  }
  return current;
}

export const objectAt = (value: unknown, ...keys: Array<string | number>): JsonObject | undefined => {
  const found = at(value, ...keys);
  return isObject(found) ? found : undefined;
};
export const listAt = (value: unknown, ...keys: Array<string | number>): unknown[] => {
  const found = at(value, ...keys);
  return Array.isArray(found) ? found : [];
};
export const stringAt = (value: unknown, ...keys: Array<string | number>): string | undefined => {
  const found = at(value, ...keys);
  return typeof found === 'string' ? found : undefined;
};

export interface K8sObject extends JsonObject {
  apiVersion: string;
  kind: string;
}

/** An object and where it came from (a file, or a rendered overlay). */
export interface Located {
  object: K8sObject;
  source: string;
}

export const nameOf = (o: K8sObject): string => stringAt(o, 'metadata', 'name') ?? '(no name)';
export const describeObject = (l: Located): string => `${l.object.kind} ${nameOf(l.object)} (${l.source})`;
export const isA = (o: K8sObject, apiVersion: string, kind: string): boolean =>
  o.apiVersion === apiVersion && o.kind === kind;
export const isKnativeService = (o: K8sObject): boolean => isA(o, 'serving.knative.dev/v1', 'Service');

// ---------------------------------------------------------------------------------------
// YAML

/**
 * Every document of a YAML stream, parsed as Kubernetes reads manifests (YAML 1.1: `yes`,
 * `on` and `0644` are not strings there), with duplicate keys refused. Throws on the first
 * error or warning, naming the file and line.
 */
export function parseYamlStream(text: string, source: string, version: '1.1' | '1.2' = '1.1'): unknown[] {
  const documents = parseAllDocuments(text, { version, uniqueKeys: true, prettyErrors: true });
  const values: unknown[] = [];
  for (const document of documents) {
    const trouble = [...document.errors, ...document.warnings];
    if (trouble.length > 0) throw new Error(`${source}: ${trouble.map((e) => e.message).join('; ')}`);
    const value: unknown = document.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

export function parseYamlFile(file: string, version: '1.1' | '1.2' = '1.1'): unknown[] {
  return parseYamlStream(readFileSync(file, 'utf8'), rel(file), version);
}

/** The Kubernetes objects of a manifest file; anything that is not one is an error. */
export function objectsOf(values: unknown[], source: string): Located[] {
  return values.map((value, index) => {
    if (!isObject(value) || typeof value.apiVersion !== 'string' || typeof value.kind !== 'string') {
      throw new Error(`${source}: document ${index + 1} is not a Kubernetes object (apiVersion and kind)`);
    }
    return { object: value as K8sObject, source };
  });
}

export function listFiles(dir: string, test: (name: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listFiles(full, test));
    else if (test(entry.name)) found.push(full);
  }
  return found.sort();
}

export const isYamlName = (name: string): boolean => /\.ya?ml$/.test(name);

// ---------------------------------------------------------------------------------------
// Models (kubernetes-models, @kubernetes-models/knative)

interface Validatable {
  validate(): void;
}
type ModelConstructor = new (data: object) => Validatable;

const require = createRequire(import.meta.url);
const CRD_DIR = path.join(ROOT, 'test', 'fixtures', 'knative');

/**
 * A CRD's openAPIV3Schema as a JSON Schema that, like the API server's strict field
 * validation (kubectl's default), refuses a field the schema does not name, except where
 * the CRD keeps unknown fields (x-kubernetes-preserve-unknown-fields).
 */
export function strictSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictSchema);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-') || key === 'description' || key === 'format') continue;
    out[key] =
      key === 'properties' && isObject(value)
        ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strictSchema(v)]))
        : strictSchema(value);
  }
  if (isObject(node.properties) && node['x-kubernetes-preserve-unknown-fields'] !== true)
    out.additionalProperties = false;
  return out;
}

const crdValidators = new Map<string, ValidateFunction>();

/** The validator of one version of a CRD vendored in test/fixtures/knative (its source is in the file). */
export function crdValidator(file: string, version: string): ValidateFunction {
  const key = `${file}@${version}`;
  const cached = crdValidators.get(key);
  if (cached !== undefined) return cached;
  const [crd] = parseYamlFile(path.join(CRD_DIR, file), '1.2');
  const served = listAt(crd, 'spec', 'versions').find((v) => stringAt(v, 'name') === version);
  const schema = objectAt(served, 'schema', 'openAPIV3Schema');
  if (schema === undefined) throw new Error(`${file}: no schema for version ${version}`);
  const root = strictSchema(schema) as JsonObject;
  // The API server checks these itself; the CRD's schema leaves them out.
  root.properties = {
    ...(objectAt(root, 'properties') ?? {}),
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object' },
  };
  const { Ajv } = require('ajv') as typeof import('ajv');
  const validate = new Ajv({ strict: false, allErrors: true }).compile(root);
  crdValidators.set(key, validate);
  return validate;
}

/** A model that validates against a vendored CRD, and against a kubernetes-models class when there is one. */
function crdModel(file: string, version: string, model?: ModelConstructor): ModelConstructor {
  return class {
    constructor(private readonly data: object) {}
    validate(): void {
      if (model !== undefined) new model(this.data).validate();
      const validate = crdValidator(file, version);
      if (!validate(this.data)) {
        throw new Error(
          `${file} schema: ${(validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})` : ''}`).join('; ')}`,
        );
      }
    }
  };
}

const MODELS: Record<string, ModelConstructor> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'serving.knative.dev/v1/Service': KnativeService,
  'eventing.knative.dev/v1/Broker': Broker,
  // @kubernetes-models/knative's Trigger predates subscriber.audience and lets unknown
  // fields through; Knative Eventing's own CRD does not.
  'eventing.knative.dev/v1/Trigger': crdModel('trigger-crd.yaml', 'v1', Trigger),
  'eventing.knative.dev/v1alpha1/EventPolicy': crdModel('eventpolicy-crd.yaml', 'v1alpha1'),
  // The same for the sources: Knative Eventing's CRDs name sink.audience, and refuse a field they do not name.
  'sources.knative.dev/v1/PingSource': crdModel('pingsource-crd.yaml', 'v1', PingSource),
  'sources.knative.dev/v1/SinkBinding': crdModel('sinkbinding-crd.yaml', 'v1', SinkBinding),
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Builds the object's model and runs its schema validation; a kind without a model is a problem too. */
export function modelProblems(l: Located): string[] {
  const Model = MODELS[`${l.object.apiVersion}/${l.object.kind}`];
  if (Model === undefined)
    return [
      `${describeObject(l)}: no model for ${l.object.apiVersion} ${l.object.kind} (add it to MODELS in test/helpers/manifests.ts)`,
    ];
  const problems: string[] = [];
  const name = stringAt(l.object, 'metadata', 'name');
  // Services (both kinds) and Namespaces need a DNS label: their names become host names.
  const label = l.object.kind === 'Service' || l.object.kind === 'Namespace';
  if (name === undefined || !(label ? DNS_LABEL : DNS_SUBDOMAIN).test(name))
    problems.push(`${describeObject(l)}: metadata.name must be a DNS-1123 ${label ? 'label' : 'subdomain'}`);
  try {
    new Model(l.object).validate();
  } catch (error) {
    problems.push(`${describeObject(l)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Pods

export interface PodTemplate {
  owner: Located;
  metadata: JsonObject;
  spec: JsonObject;
  knative: boolean;
}

export function podTemplateOf(l: Located): PodTemplate | undefined {
  const o = l.object;
  let template: unknown;
  if (isKnativeService(o)) template = at(o, 'spec', 'template');
  else if (
    ['apps/v1/Deployment', 'apps/v1/StatefulSet', 'apps/v1/DaemonSet', 'batch/v1/Job'].includes(
      `${o.apiVersion}/${o.kind}`,
    )
  )
    template = at(o, 'spec', 'template');
  else if (isA(o, 'batch/v1', 'CronJob')) template = at(o, 'spec', 'jobTemplate', 'spec', 'template');
  else if (isA(o, 'v1', 'Pod')) template = o;
  else return undefined;
  return {
    owner: l,
    metadata: objectAt(template, 'metadata') ?? {},
    spec: objectAt(template, 'spec') ?? {},
    knative: isKnativeService(o),
  };
}

export const containersOf = (spec: JsonObject): JsonObject[] =>
  [...listAt(spec, 'initContainers'), ...listAt(spec, 'containers')].filter(isObject);

export function imagesOf(objects: Located[]): Map<string, string[]> {
  const images = new Map<string, string[]>();
  for (const l of objects) {
    const pod = podTemplateOf(l);
    if (pod === undefined) continue;
    for (const container of containersOf(pod.spec)) {
      const image = stringAt(container, 'image') ?? '(no image)';
      images.set(image, [...(images.get(image) ?? []), describeObject(l)]);
    }
  }
  return images;
}

/** Our own images: cofrap/<function>, built by skaffold from the Dockerfile. */
export const isOwnImage = (image: string): boolean => image.startsWith('cofrap/');
/** Our images that open no database and so must not see the secrets: the portal serves files. */
export const IMAGES_WITHOUT_SECRETS = ['cofrap/portal'];

const QUANTITY = /^(\d+(?:\.\d+)?)(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;
const FACTORS: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  Ki: 1024,
  M: 1e6,
  Mi: 1024 ** 2,
  G: 1e9,
  Gi: 1024 ** 3,
  T: 1e12,
  Ti: 1024 ** 4,
};

export function quantity(value: unknown): number | undefined {
  const match = QUANTITY.exec(String(value));
  if (match === null || typeof value === 'boolean') return undefined;
  return Number(match[1]) * (FACTORS[match[2] ?? ''] ?? Number.NaN);
}

/**
 * The rules for every pod: the restricted Pod Security Standard plus a read-only root file
 * system, requests and limits on every container, no Secret in the environment, every
 * mount backed by a volume and every volume mounted, no unpinned image.
 */
export function podProblems(pod: PodTemplate): string[] {
  const problems: string[] = [];
  const where = describeObject(pod.owner);
  const podSecurity = objectAt(pod.spec, 'securityContext') ?? {};
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC'])
    if (at(pod.spec, key) === true) problems.push(`${where}: ${key} is set`);
  if (at(pod.spec, 'enableServiceLinks') !== false)
    problems.push(
      `${where}: enableServiceLinks must be false (a Service named postgres would inject POSTGRES_PORT=tcp://…)`,
    );
  if (at(pod.spec, 'automountServiceAccountToken') !== false)
    problems.push(`${where}: automountServiceAccountToken must be false (the functions never call the Kubernetes API)`);

  const volumes = new Map<string, JsonObject>();
  for (const volume of listAt(pod.spec, 'volumes').filter(isObject)) {
    const name = stringAt(volume, 'name') ?? '';
    if (volumes.has(name)) problems.push(`${where}: volume ${name} is declared twice`);
    volumes.set(name, volume);
    if (at(volume, 'hostPath') !== undefined) problems.push(`${where}: volume ${name} is a hostPath`);
  }
  const mounted = new Set<string>();

  const containers = containersOf(pod.spec);
  if (listAt(pod.spec, 'containers').length === 0) problems.push(`${where}: no containers`);
  for (const container of containers) {
    const c = `${where} container ${stringAt(container, 'name') ?? '(no name)'}`;
    const image = stringAt(container, 'image');
    if (image === undefined || image === '') problems.push(`${c}: no image`);
    else if (image.endsWith(':latest') || (!isOwnImage(image) && !/[:@]/.test(image)))
      problems.push(`${c}: image ${image} is not pinned to a tag`);

    // Restricted: the container's own settings, or the pod's where Kubernetes inherits them.
    const security = objectAt(container, 'securityContext') ?? {};
    const effective = (key: string): unknown => at(security, key) ?? at(podSecurity, key);
    if (effective('runAsNonRoot') !== true) problems.push(`${c}: runAsNonRoot must be true`);
    const uid = effective('runAsUser');
    if (uid !== undefined && (typeof uid !== 'number' || uid <= 0))
      problems.push(`${c}: runAsUser must be a non-zero number`);
    if (at(security, 'allowPrivilegeEscalation') !== false)
      problems.push(`${c}: allowPrivilegeEscalation must be false`);
    if (at(security, 'privileged') === true) problems.push(`${c}: privileged`);
    if (!listAt(security, 'capabilities', 'drop').includes('ALL')) problems.push(`${c}: capabilities must drop ALL`);
    if (listAt(security, 'capabilities', 'add').length > 0) problems.push(`${c}: adds capabilities`);
    const seccomp = stringAt(security, 'seccompProfile', 'type') ?? stringAt(podSecurity, 'seccompProfile', 'type');
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
      problems.push(`${c}: seccompProfile must be RuntimeDefault`);
    if (at(security, 'readOnlyRootFilesystem') !== true) problems.push(`${c}: readOnlyRootFilesystem must be true`);

    for (const kind of ['requests', 'limits']) {
      for (const resource of ['cpu', 'memory']) {
        if (quantity(at(container, 'resources', kind, resource)) === undefined)
          problems.push(`${c}: resources.${kind}.${resource} is missing or not a quantity`);
      }
    }
    for (const resource of ['cpu', 'memory']) {
      const request = quantity(at(container, 'resources', 'requests', resource));
      const limit = quantity(at(container, 'resources', 'limits', resource));
      if (request !== undefined && limit !== undefined && request > limit)
        problems.push(`${c}: ${resource} request is above its limit`);
    }

    // Secrets only as files: never in the environment.
    for (const env of listAt(container, 'env').filter(isObject)) {
      if (at(env, 'valueFrom', 'secretKeyRef') !== undefined)
        problems.push(`${c}: env ${stringAt(env, 'name') ?? ''} reads a Secret (secretKeyRef); mount it instead`);
    }
    for (const source of listAt(container, 'envFrom').filter(isObject)) {
      if (at(source, 'secretRef') !== undefined)
        problems.push(`${c}: envFrom reads Secret ${stringAt(source, 'secretRef', 'name') ?? ''}; mount it instead`);
    }

    const paths = new Set<string>();
    for (const mount of listAt(container, 'volumeMounts').filter(isObject)) {
      const name = stringAt(mount, 'name') ?? '';
      const mountPath = stringAt(mount, 'mountPath') ?? '';
      mounted.add(name);
      if (!volumes.has(name)) problems.push(`${c}: volumeMount ${name} (${mountPath}) has no volume`);
      if (paths.has(mountPath)) problems.push(`${c}: two volumes are mounted at ${mountPath}`);
      paths.add(mountPath);
      const volume = volumes.get(name);
      const holdsSecrets =
        volume !== undefined && (at(volume, 'secret') !== undefined || at(volume, 'projected') !== undefined);
      if (holdsSecrets && at(mount, 'readOnly') !== true)
        problems.push(`${c}: secrets volume ${name} must be mounted readOnly`);
    }
  }
  for (const name of volumes.keys()) if (!mounted.has(name)) problems.push(`${where}: volume ${name} is never mounted`);
  return problems;
}

/** The container runs the migration command (the only one that reads the owner role's secrets). */
export const runsMigration = (container: unknown): boolean =>
  listAt(container, 'command').some((part) => String(part) === MIGRATE_SCRIPT);

/**
 * Our images read the three secrets as files under SECRETS_DIR (the migration also the
 * owner role's two): one projected volume of the Secrets (each key named as its Secret),
 * mounted read-only there, never a plain `secret` volume; a writable emptyDir at /tmp (the
 * root file system is read-only); the shared settings from the cofrap-config ConfigMap;
 * and the Dockerfile's user.
 */
export function ownImageProblems(pod: PodTemplate, expectedUser: number | undefined): string[] {
  const problems: string[] = [];
  const where = describeObject(pod.owner);
  const volumes = listAt(pod.spec, 'volumes').filter(isObject);
  for (const volume of volumes)
    if (at(volume, 'secret') !== undefined)
      problems.push(
        `${where}: volume ${stringAt(volume, 'name') ?? ''} is a secret volume; use the one projected volume`,
      );
  for (const container of listAt(pod.spec, 'containers').filter(isObject)) {
    const image = stringAt(container, 'image') ?? '';
    if (!isOwnImage(image)) continue;
    const c = `${where} container ${stringAt(container, 'name') ?? ''}`;
    const mounts = listAt(container, 'volumeMounts').filter(isObject);
    const secretsMount = mounts.find((m) => stringAt(m, 'mountPath') === SECRETS_DIR);
    const secretsVolume = volumes.find((v) => stringAt(v, 'name') === stringAt(secretsMount, 'name'));
    if (IMAGES_WITHOUT_SECRETS.includes(image)) {
      const projectedSecrets = volumes.filter((v) =>
        listAt(v, 'projected', 'sources').some((source) => at(source, 'secret') !== undefined),
      );
      if (secretsMount !== undefined || projectedSecrets.length > 0)
        problems.push(`${c}: ${image} needs no secret and must not mount one`);
    } else if (secretsMount === undefined || secretsVolume === undefined) {
      problems.push(`${c}: nothing is mounted at ${SECRETS_DIR}`);
    } else {
      if (at(secretsMount, 'readOnly') !== true) problems.push(`${c}: ${SECRETS_DIR} must be mounted readOnly`);
      const sources = listAt(secretsVolume, 'projected', 'sources');
      if (sources.length === 0) problems.push(`${c}: ${SECRETS_DIR} is not a projected volume`);
      const files = sources.flatMap((source) => {
        const secret = stringAt(source, 'secret', 'name');
        if (secret === undefined) return [`(not a secret: ${JSON.stringify(source)})`];
        const items = listAt(source, 'secret', 'items');
        if (items.length === 0) return [`${secret}:*`];
        return items.map((item) => `${secret}:${stringAt(item, 'key') ?? ''}->${stringAt(item, 'path') ?? ''}`);
      });
      // The migration Job alone also reads the owner role's two (contract §8).
      const names = [...SECRET_NAMES, ...(runsMigration(container) ? ADMIN_SECRET_NAMES : [])];
      const expected = names.map((name) => `${name}:${name}->${name}`);
      if (JSON.stringify([...files].sort()) !== JSON.stringify([...expected].sort())) {
        problems.push(
          `${c}: the projected volume at ${SECRETS_DIR} must hold exactly ${expected.join(', ')}; it holds ${files.join(', ')}`,
        );
      }
    }
    const tmpMount = mounts.find((m) => stringAt(m, 'mountPath') === '/tmp');
    const tmpVolume = volumes.find((v) => stringAt(v, 'name') === stringAt(tmpMount, 'name'));
    if (tmpVolume === undefined || at(tmpVolume, 'emptyDir') === undefined)
      problems.push(`${c}: /tmp must be an emptyDir (the root file system is read-only)`);
    else if (at(tmpMount, 'readOnly') === true) problems.push(`${c}: /tmp must be writable`);
    const configs = listAt(container, 'envFrom').map((source) => stringAt(source, 'configMapRef', 'name') ?? '');
    if (!configs.some((name) => /^cofrap-config(-[a-z0-9]{10})?$/.test(name)))
      problems.push(`${c}: envFrom must read the cofrap-config ConfigMap`);
    const uid = at(container, 'securityContext', 'runAsUser') ?? at(pod.spec, 'securityContext', 'runAsUser');
    if (expectedUser !== undefined && uid !== expectedUser)
      problems.push(`${c}: runAsUser ${String(uid)} is not the Dockerfile's USER ${expectedUser}`);
    const env = listAt(container, 'env').map((e) => stringAt(e, 'name'));
    if (env.includes('SECRETS_DIR')) problems.push(`${c}: SECRETS_DIR belongs in cofrap-config`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Knative Serving: what its admission webhook refuses (knative.dev/serving
// pkg/apis/serving/k8s_validation.go and fieldmask.go) and the schema lets through.

export const KNATIVE_RESERVED_ENV = ['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION'];
export const KNATIVE_RESERVED_PORTS = [8012, 8013, 8022, 9090, 9091, 8008];
export const KNATIVE_PORT_NAMES = ['', 'http1', 'h2c'];
/** Knative ≥ 1.13 (knative/serving#14719 freed /tmp and /var/log). */
export const KNATIVE_RESERVED_PATHS = ['/', '/dev', '/dev/log', '/var'];
const KNATIVE_POD_FIELDS = [
  'serviceAccountName',
  'containers',
  'volumes',
  'imagePullSecrets',
  'enableServiceLinks',
  'automountServiceAccountToken',
  'containerConcurrency',
  'timeoutSeconds',
  'responseStartTimeoutSeconds',
  'idleTimeoutSeconds',
];
const KNATIVE_CONTAINER_FIELDS = [
  'name',
  'args',
  'command',
  'env',
  'workingDir',
  'envFrom',
  'image',
  'imagePullPolicy',
  'livenessProbe',
  'ports',
  'readinessProbe',
  'resources',
  'securityContext',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'volumeMounts',
];
const KNATIVE_SECURITY_FIELDS = [
  'capabilities',
  'readOnlyRootFilesystem',
  'runAsUser',
  'runAsGroup',
  'runAsNonRoot',
  'allowPrivilegeEscalation',
  'seccompProfile',
];
const KNATIVE_VOLUME_SOURCES = ['secret', 'configMap', 'projected', 'emptyDir'];
const AUTOSCALING = 'autoscaling.knative.dev/';

export function knativeServiceProblems(l: Located): string[] {
  if (!isKnativeService(l.object)) return [];
  const problems: string[] = [];
  const where = describeObject(l);
  const o = l.object;

  const name = nameOf(o);
  if (!DNS_LABEL.test(name) || name.length > 49)
    problems.push(`${where}: the name must be a DNS label of at most 49 characters (revision names add a suffix)`);
  for (const key of Object.keys(objectAt(o, 'metadata', 'annotations') ?? {})) {
    if (key.startsWith(AUTOSCALING))
      problems.push(
        `${where}: annotation ${key} on the Service's metadata has no effect; put it on spec.template.metadata.annotations`,
      );
  }
  const annotations = objectAt(o, 'spec', 'template', 'metadata', 'annotations') ?? {};
  const annotation = (key: string): unknown => annotations[AUTOSCALING + key];
  if (annotation('min-scale') !== '0')
    problems.push(`${where}: autoscaling.knative.dev/min-scale must be "0" (scale to zero)`);
  const maxScale = Number(annotation('max-scale'));
  if (typeof annotation('max-scale') !== 'string' || !Number.isInteger(maxScale) || maxScale < 1)
    problems.push(`${where}: autoscaling.knative.dev/max-scale must be a whole number ≥ 1, as a string`);
  if (annotation('metric') !== 'concurrency')
    problems.push(`${where}: autoscaling.knative.dev/metric must be concurrency`);
  const target = Number(annotation('target'));
  if (typeof annotation('target') !== 'string' || !(target > 0))
    problems.push(`${where}: autoscaling.knative.dev/target must be a positive number, as a string`);
  for (const [key, value] of Object.entries(annotations)) {
    if (key.startsWith(AUTOSCALING) && typeof value !== 'string')
      problems.push(`${where}: annotation ${key} must be a string`);
  }

  const spec = objectAt(o, 'spec', 'template', 'spec') ?? {};
  for (const key of Object.keys(spec)) {
    if (!KNATIVE_POD_FIELDS.includes(key))
      problems.push(`${where}: spec.template.spec.${key} is refused by Knative (or needs a feature flag)`);
  }
  if (at(spec, 'automountServiceAccountToken') === true)
    problems.push(`${where}: Knative accepts automountServiceAccountToken only as false`);
  const concurrency = at(spec, 'containerConcurrency');
  if (
    concurrency !== undefined &&
    (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 0 || concurrency > 1000)
  )
    problems.push(`${where}: containerConcurrency must be 0–1000`);
  if (typeof concurrency === 'number' && concurrency > 0 && target > concurrency)
    problems.push(`${where}: target ${target} is above containerConcurrency ${concurrency}`);
  const timeout = at(spec, 'timeoutSeconds');
  if (timeout !== undefined && (typeof timeout !== 'number' || timeout < 1 || timeout > 600))
    problems.push(`${where}: timeoutSeconds must be 1–600 (max-revision-timeout-seconds)`);

  const volumes = new Map<string, JsonObject>();
  for (const volume of listAt(spec, 'volumes').filter(isObject)) {
    const volumeName = stringAt(volume, 'name') ?? '';
    volumes.set(volumeName, volume);
    const sources = Object.keys(volume).filter((key) => key !== 'name');
    if (sources.length !== 1 || !KNATIVE_VOLUME_SOURCES.includes(sources[0] ?? ''))
      problems.push(`${where}: volume ${volumeName} must be exactly one of ${KNATIVE_VOLUME_SOURCES.join(', ')}`);
    for (const source of listAt(volume, 'projected', 'sources')) {
      const kinds = Object.keys(isObject(source) ? source : {});
      if (kinds.length !== 1 || !['secret', 'configMap', 'serviceAccountToken'].includes(kinds[0] ?? ''))
        problems.push(
          `${where}: projected volume ${volumeName} may hold only secret, configMap or serviceAccountToken sources`,
        );
    }
  }

  const containers = listAt(spec, 'containers').filter(isObject);
  if (containers.length !== 1) problems.push(`${where}: exactly one container expected, found ${containers.length}`);
  for (const container of containers) {
    const c = `${where} container ${stringAt(container, 'name') ?? '(no name)'}`;
    if (stringAt(container, 'name') === 'queue-proxy') problems.push(`${c}: queue-proxy is a reserved container name`);
    for (const key of Object.keys(container))
      if (!KNATIVE_CONTAINER_FIELDS.includes(key)) problems.push(`${c}: field ${key} is refused by Knative`);
    for (const key of Object.keys(objectAt(container, 'securityContext') ?? {})) {
      if (!KNATIVE_SECURITY_FIELDS.includes(key)) problems.push(`${c}: securityContext.${key} is refused by Knative`);
    }
    for (const env of listAt(container, 'env')) {
      const envName = stringAt(env, 'name') ?? '';
      if (KNATIVE_RESERVED_ENV.includes(envName)) problems.push(`${c}: env ${envName} is reserved: Knative sets it`);
    }
    const ports = listAt(container, 'ports').filter(isObject);
    if (ports.length > 1) problems.push(`${c}: Knative allows one container port`);
    const port = ports[0];
    const containerPort = at(port, 'containerPort');
    if (port !== undefined) {
      if (typeof containerPort === 'number' && KNATIVE_RESERVED_PORTS.includes(containerPort))
        problems.push(`${c}: container port ${containerPort} is reserved by Knative`);
      if (!KNATIVE_PORT_NAMES.includes(stringAt(port, 'name') ?? ''))
        problems.push(`${c}: port name ${String(at(port, 'name'))} must be empty, http1 or h2c`);
      const protocol = at(port, 'protocol');
      if (protocol !== undefined && protocol !== 'TCP') problems.push(`${c}: port protocol must be TCP`);
      for (const key of ['hostPort', 'hostIP'])
        if (at(port, key) !== undefined) problems.push(`${c}: port ${key} is refused by Knative`);
    }
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      const p = objectAt(container, probe);
      if (p === undefined) continue;
      const handlers = ['httpGet', 'tcpSocket', 'exec', 'grpc'].filter((key) => at(p, key) !== undefined);
      if (handlers.length !== 1) problems.push(`${c}: ${probe} needs exactly one of httpGet, tcpSocket, exec`);
      const probePort = at(p, 'httpGet', 'port') ?? at(p, 'tcpSocket', 'port');
      if (probePort !== undefined && probePort !== containerPort)
        problems.push(`${c}: ${probe} port must be left out (Knative fills in the container port)`);
      const period = at(p, 'periodSeconds');
      if (probe === 'readinessProbe' && (period === undefined || period === 0)) {
        for (const key of ['failureThreshold', 'timeoutSeconds'])
          if (at(p, key) !== undefined)
            problems.push(`${c}: ${probe}.${key} is refused when periodSeconds is 0 or unset`);
      }
    }
    const mountPaths = new Set<string>();
    for (const mount of listAt(container, 'volumeMounts').filter(isObject)) {
      const mountName = stringAt(mount, 'name') ?? '';
      const mountPath = path.posix.normalize(stringAt(mount, 'mountPath') ?? '').replace(/(.)\/$/, '$1');
      if (!volumes.has(mountName)) problems.push(`${c}: volumeMount ${mountName} has no matching volume`);
      if (!path.posix.isAbsolute(mountPath)) problems.push(`${c}: mountPath ${mountPath} must be absolute`);
      if (KNATIVE_RESERVED_PATHS.includes(mountPath))
        problems.push(`${c}: mountPath ${mountPath} is reserved by Knative`);
      if (mountPaths.has(mountPath)) problems.push(`${c}: mountPath ${mountPath} is used twice`);
      mountPaths.add(mountPath);
      const volume = volumes.get(mountName);
      if (volume !== undefined && at(volume, 'emptyDir') === undefined && at(mount, 'readOnly') !== true)
        problems.push(`${c}: volumeMount ${mountName} must be readOnly (only emptyDir may be writable)`);
      if (at(mount, 'mountPropagation') !== undefined) problems.push(`${c}: mountPropagation is refused by Knative`);
    }
  }
  const mountedNames = new Set(containers.flatMap((c) => listAt(c, 'volumeMounts').map((m) => stringAt(m, 'name'))));
  for (const volumeName of volumes.keys())
    if (!mountedNames.has(volumeName))
      problems.push(`${where}: volume ${volumeName} is not mounted (Knative refuses it)`);
  return problems;
}

// ---------------------------------------------------------------------------------------
// References between objects

export interface ReferenceOptions {
  /** ConfigMaps referenced by envFrom must be in the set (true once kustomize has generated them). */
  requireConfigMaps: boolean;
  /** Secrets referenced by volumes must be in the set (dev); false where they exist beforehand (prod). */
  requireSecrets: boolean;
}

export function referenceProblems(objects: Located[], options: ReferenceOptions): string[] {
  const problems: string[] = [];
  const names = (apiVersion: string, kind: string): Set<string> =>
    new Set(objects.filter((l) => isA(l.object, apiVersion, kind)).map((l) => nameOf(l.object)));
  const brokers = names('eventing.knative.dev/v1', 'Broker');
  const triggers = names('eventing.knative.dev/v1', 'Trigger');
  const sinkBindings = names('sources.knative.dev/v1', 'SinkBinding');
  const knativeServices = names('serving.knative.dev/v1', 'Service');
  const configMaps = names('v1', 'ConfigMap');
  const secrets = names('v1', 'Secret');
  const claims = names('v1', 'PersistentVolumeClaim');

  for (const l of objects) {
    const o = l.object;
    if (isA(o, 'eventing.knative.dev/v1', 'Trigger')) {
      const broker = stringAt(o, 'spec', 'broker');
      if (broker === undefined || !brokers.has(broker))
        problems.push(`${describeObject(l)}: broker ${String(broker)} is not defined`);
      if (stringAt(o, 'spec', 'filter', 'attributes', 'type') === undefined)
        problems.push(`${describeObject(l)}: no filter on the event type`);
      const ref = objectAt(o, 'spec', 'subscriber', 'ref');
      if (
        ref === undefined ||
        stringAt(ref, 'apiVersion') !== 'serving.knative.dev/v1' ||
        stringAt(ref, 'kind') !== 'Service' ||
        !knativeServices.has(stringAt(ref, 'name') ?? '')
      ) {
        problems.push(
          `${describeObject(l)}: the subscriber must be a Knative Service defined here (serving.knative.dev/v1 Service), not ${JSON.stringify(ref ?? at(o, 'spec', 'subscriber'))}`,
        );
      }
      if (
        stringAt(ref, 'namespace') !== undefined &&
        stringAt(ref, 'namespace') !== stringAt(o, 'metadata', 'namespace')
      )
        problems.push(`${describeObject(l)}: the subscriber is in another namespace`);
    }
    if (isA(o, 'eventing.knative.dev/v1alpha1', 'EventPolicy')) {
      for (const to of listAt(o, 'spec', 'to')) {
        const ref = objectAt(to, 'ref');
        if (ref === undefined) continue;
        const known =
          stringAt(ref, 'kind') === 'Broker' ? brokers : stringAt(ref, 'kind') === 'Trigger' ? triggers : undefined;
        if (known !== undefined && !known.has(stringAt(ref, 'name') ?? ''))
          problems.push(
            `${describeObject(l)}: spec.to names ${stringAt(ref, 'kind') ?? ''} ${stringAt(ref, 'name') ?? ''}, which is not defined`,
          );
      }
      for (const from of listAt(o, 'spec', 'from')) {
        const ref = objectAt(from, 'ref');
        const kind = stringAt(ref, 'kind');
        const known = kind === 'Trigger' ? triggers : kind === 'SinkBinding' ? sinkBindings : undefined;
        if (ref === undefined || known === undefined) continue;
        if (!known.has(stringAt(ref, 'name') ?? ''))
          problems.push(
            `${describeObject(l)}: spec.from names ${kind ?? ''} ${stringAt(ref, 'name') ?? ''}, which is not defined`,
          );
        if (
          stringAt(ref, 'namespace') !== undefined &&
          stringAt(ref, 'namespace') !== stringAt(o, 'metadata', 'namespace')
        )
          problems.push(`${describeObject(l)}: spec.from names a ${kind ?? ''} of another namespace`);
      }
    }
    if (isA(o, 'sources.knative.dev/v1', 'PingSource') || isA(o, 'sources.knative.dev/v1', 'SinkBinding')) {
      const ref = objectAt(o, 'spec', 'sink', 'ref');
      const target = `${stringAt(ref, 'apiVersion') ?? ''}/${stringAt(ref, 'kind') ?? ''}`;
      const known =
        target === 'serving.knative.dev/v1/Service'
          ? knativeServices
          : target === 'eventing.knative.dev/v1/Broker'
            ? brokers
            : undefined;
      if (ref === undefined || known === undefined || !known.has(stringAt(ref, 'name') ?? ''))
        problems.push(
          `${describeObject(l)}: spec.sink.ref must name a Knative Service or a Broker defined here, not ${JSON.stringify(ref ?? at(o, 'spec', 'sink'))}`,
        );
      if (
        stringAt(ref, 'namespace') !== undefined &&
        stringAt(ref, 'namespace') !== stringAt(o, 'metadata', 'namespace')
      )
        problems.push(`${describeObject(l)}: the sink is in another namespace`);
    }
    if (isA(o, 'v1', 'Service')) {
      const selector = objectAt(o, 'spec', 'selector') ?? {};
      const selected = objects.some((other) => {
        const labels = podTemplateOf(other)?.metadata.labels;
        return (
          isObject(labels) &&
          Object.keys(selector).length > 0 &&
          Object.entries(selector).every(([k, v]) => labels[k] === v)
        );
      });
      if (!selected) problems.push(`${describeObject(l)}: its selector matches no pod template`);
    }
    const pod = podTemplateOf(l);
    if (pod === undefined) continue;
    for (const container of containersOf(pod.spec)) {
      for (const source of listAt(container, 'envFrom')) {
        const configMap = stringAt(source, 'configMapRef', 'name');
        if (options.requireConfigMaps && configMap !== undefined && !configMaps.has(configMap))
          problems.push(`${describeObject(l)}: envFrom ConfigMap ${configMap} is not defined`);
      }
    }
    for (const volume of listAt(pod.spec, 'volumes')) {
      const secretNames = [
        stringAt(volume, 'secret', 'secretName'),
        ...listAt(volume, 'projected', 'sources').map((s) => stringAt(s, 'secret', 'name')),
      ];
      for (const secret of secretNames) {
        if (options.requireSecrets && secret !== undefined && !secrets.has(secret))
          problems.push(`${describeObject(l)}: Secret ${secret} is not defined`);
      }
      const claim = stringAt(volume, 'persistentVolumeClaim', 'claimName');
      if (claim !== undefined && !claims.has(claim))
        problems.push(`${describeObject(l)}: PersistentVolumeClaim ${claim} is not defined`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Knative Eventing's sender identity (authentication-oidc): how the broker filter signs a
// delivery, and who the broker admits. The names follow knative.dev/eventing pkg/auth
// (serviceaccount.go, audience.go) and knative.dev/pkg kmeta/names.go.

/** kmeta.ChildName: a child resource's name, hashed when parent and suffix pass 63 characters. */
export function kmetaChildName(parent: string, suffix: string): string {
  const longest = 63;
  const head = longest - 32;
  const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
  if (parent.length <= longest - suffix.length) return parent + suffix;
  if (head - suffix.length <= 0) {
    let name = parent.slice(0, head) + md5(parent + suffix);
    if (name.length < longest) name += suffix.slice(0, longest - name.length);
    return name.replace(/[^a-zA-Z0-9]+$/, '');
  }
  return parent.slice(0, head - suffix.length) + md5(parent) + suffix;
}

/** The ServiceAccount Knative creates for a resource's OIDC identity (status.auth.serviceAccountName). */
export const oidcServiceAccountName = (group: string, kind: string, name: string): string =>
  kmetaChildName(name, `-oidc-${group}-${kind}`).toLowerCase();
/** The token subject of that ServiceAccount. */
export const serviceAccountSubject = (namespace: string, name: string): string =>
  `system:serviceaccount:${namespace}:${name}`;
/** The subject of the tokens the broker filter sends for a Trigger: the Trigger's own OIDC ServiceAccount. */
export const triggerSubject = (namespace: string, trigger: string): string =>
  serviceAccountSubject(namespace, oidcServiceAccountName('eventing.knative.dev', 'Trigger', trigger));
/** Knative's audience form, <group>/<kind>/<namespace>/<name> in lower case (the broker announces its own so). */
export const knativeAudience = (group: string, kind: string, namespace: string, name: string): string =>
  `${group}/${kind}/${namespace}/${name}`.toLowerCase();
/** The longest Trigger name whose ServiceAccount name stays readable (not hashed). */
export const LONGEST_PLAIN_TRIGGER_NAME = 63 - '-oidc-eventing.knative.dev-trigger'.length;
/** The subject of the tokens a PingSource's adapter sends (pkg/reconciler/pingsource: its own OIDC ServiceAccount). */
export const pingSourceSubject = (namespace: string, name: string): string =>
  serviceAccountSubject(namespace, oidcServiceAccountName('sources.knative.dev', 'PingSource', name));
/** The subject of the token a SinkBinding mounts in its subjects (pkg/reconciler/sinkbinding: its own OIDC ServiceAccount). */
export const sinkBindingSubject = (namespace: string, name: string): string =>
  serviceAccountSubject(namespace, oidcServiceAccountName('sources.knative.dev', 'SinkBinding', name));
export const LONGEST_PLAIN_PINGSOURCE_NAME = 63 - '-oidc-sources.knative.dev-pingsource'.length;
export const LONGEST_PLAIN_SINKBINDING_NAME = 63 - '-oidc-sources.knative.dev-sinkbinding'.length;

export const EMPLOYEE_EVENTS = 'employee-events';
export const HOUSEKEEPING = 'housekeeping';
export const HOUSEKEEPING_CONFIG = 'housekeeping-config';
/** A tick every minute (contract §12). */
export const EVERY_MINUTE = '* * * * *';
export const EMPLOYEE_EVENTS_CONFIG = 'employee-events-config';
export const API_SERVER_JWKS = 'https://kubernetes.default.svc/openid/v1/jwks';

const SA_SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

export const triggersTo = (objects: Located[], service: string): Located[] =>
  objects.filter(
    (l) =>
      isA(l.object, 'eventing.knative.dev/v1', 'Trigger') &&
      stringAt(l.object, 'spec', 'subscriber', 'ref', 'kind') === 'Service' &&
      stringAt(l.object, 'spec', 'subscriber', 'ref', 'name') === service,
  );

/** A comma-separated setting as a sorted list. */
export const listSetting = (value: unknown): string[] =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '')
        .sort()
    : [];

/** What the broker admits: every EventPolicy whose spec.to names the broker, as sender → filters. */
export interface AdmittedSender {
  policy: string;
  sub?: string;
  trigger?: string;
  sinkBinding?: string;
  typePrefixes: string[];
}

export function sendersAdmittedBy(objects: Located[], broker: string): AdmittedSender[] {
  const senders: AdmittedSender[] = [];
  for (const l of objects.filter((x) => isA(x.object, 'eventing.knative.dev/v1alpha1', 'EventPolicy'))) {
    const to = listAt(l.object, 'spec', 'to');
    const appliesToBroker =
      to.length === 0 ||
      to.some((t) => stringAt(t, 'ref', 'kind') === 'Broker' && stringAt(t, 'ref', 'name') === broker);
    if (!appliesToBroker) continue;
    const typePrefixes = listAt(l.object, 'spec', 'filters')
      .map((f) => stringAt(f, 'prefix', 'type'))
      .filter((p): p is string => p !== undefined);
    for (const from of listAt(l.object, 'spec', 'from')) {
      const sub = stringAt(from, 'sub');
      const trigger = stringAt(from, 'ref', 'kind') === 'Trigger' ? stringAt(from, 'ref', 'name') : undefined;
      const sinkBinding = stringAt(from, 'ref', 'kind') === 'SinkBinding' ? stringAt(from, 'ref', 'name') : undefined;
      senders.push({
        policy: nameOf(l.object),
        ...(sub !== undefined ? { sub } : {}),
        ...(trigger !== undefined ? { trigger } : {}),
        ...(sinkBinding !== undefined ? { sinkBinding } : {}),
        typePrefixes,
      });
    }
  }
  return senders;
}

/** What Knative's EventPolicy webhook refuses (pkg/apis/eventing/v1alpha1/eventpolicy_validation.go). */
export function eventPolicyProblems(l: Located): string[] {
  if (!isA(l.object, 'eventing.knative.dev/v1alpha1', 'EventPolicy')) return [];
  const where = describeObject(l);
  const problems: string[] = [];
  listAt(l.object, 'spec', 'from').forEach((from, i) => {
    const ref = objectAt(from, 'ref');
    const sub = at(from, 'sub');
    if (ref === undefined && (typeof sub !== 'string' || sub === ''))
      problems.push(`${where}: spec.from[${i}] needs one of ref, sub`);
    if (ref !== undefined && sub !== undefined) problems.push(`${where}: spec.from[${i}] has both ref and sub`);
    for (const key of ['apiVersion', 'kind', 'name'])
      if (ref !== undefined && !stringAt(ref, key)) problems.push(`${where}: spec.from[${i}].ref.${key} is missing`);
    if (typeof sub === 'string' && sub.length > 1 && sub.indexOf('*') !== -1 && sub.indexOf('*') < sub.length - 1)
      problems.push(`${where}: spec.from[${i}].sub: '*' is only allowed as suffix`);
  });
  listAt(l.object, 'spec', 'to').forEach((to, i) => {
    const ref = objectAt(to, 'ref');
    const selector = objectAt(to, 'selector');
    if ((ref === undefined) === (selector === undefined))
      problems.push(`${where}: spec.to[${i}] needs exactly one of ref, selector`);
    for (const key of ['apiVersion', 'kind', 'name'])
      if (ref !== undefined && !stringAt(ref, key)) problems.push(`${where}: spec.to[${i}].ref.${key} is missing`);
  });
  listAt(l.object, 'spec', 'filters').forEach((filter, i) => {
    const dialects = ['exact', 'prefix', 'suffix', 'all', 'any', 'not', 'cesql'].filter(
      (key) => at(filter, key) !== undefined,
    );
    if (dialects.length !== 1)
      problems.push(`${where}: spec.filters[${i}] needs exactly one dialect, has ${dialects.join(', ') || 'none'}`);
  });
  return problems;
}

/** The issuer and its keys, as a receiver's ConfigMap `config` names them: https, and the API server's JWKS. */
export function issuerProblems(config: string, settings: JsonObject): string[] {
  const problems: string[] = [];
  let issuer: URL | undefined;
  try {
    issuer = new URL(String(settings.EVENTS_OIDC_ISSUER));
  } catch {
    problems.push(`${config}: EVENTS_OIDC_ISSUER is not a URL: ${String(settings.EVENTS_OIDC_ISSUER)}`);
  }
  if (issuer !== undefined && issuer.protocol !== 'https:')
    problems.push(`${config}: EVENTS_OIDC_ISSUER must be https`);
  if (settings.EVENTS_OIDC_JWKS_URL !== API_SERVER_JWKS)
    problems.push(
      `${config}: EVENTS_OIDC_JWKS_URL must be the API server's ${API_SERVER_JWKS}, not ${String(settings.EVENTS_OIDC_JWKS_URL)}`,
    );
  return problems;
}

/**
 * The checks of the sender identity on a set of objects deployed to `namespace`, with
 * employee-events' settings `settings` (the employee-events-config ConfigMap): each Trigger
 * to employee-events names its audience, employee-events expects exactly those Triggers'
 * identities, and the broker admits the replies of exactly those Triggers.
 */
export function eventSenderProblems(objects: Located[], namespace: string, settings: JsonObject): string[] {
  const problems: string[] = [];
  const audience = knativeAudience('serving.knative.dev', 'Service', namespace, EMPLOYEE_EVENTS);
  const triggers = triggersTo(objects, EMPLOYEE_EVENTS);
  if (triggers.length === 0) problems.push(`no Trigger delivers to ${EMPLOYEE_EVENTS}`);
  for (const t of triggers) {
    const name = nameOf(t.object);
    const given = stringAt(t.object, 'spec', 'subscriber', 'audience');
    if (given !== audience)
      problems.push(
        `${describeObject(t)}: spec.subscriber.audience must be ${audience} (a Knative Service announces none: without it the broker sends no token), not ${String(given)}`,
      );
    if (name.length > LONGEST_PLAIN_TRIGGER_NAME)
      problems.push(
        `${describeObject(t)}: a name over ${LONGEST_PLAIN_TRIGGER_NAME} characters gets a hashed OIDC ServiceAccount name`,
      );
  }
  if (settings.EVENTS_OIDC_AUDIENCE !== audience)
    problems.push(
      `${EMPLOYEE_EVENTS_CONFIG}: EVENTS_OIDC_AUDIENCE must be ${audience}, not ${String(settings.EVENTS_OIDC_AUDIENCE)}`,
    );
  const expected = triggers.map((t) => triggerSubject(namespace, nameOf(t.object))).sort();
  const subjects = listSetting(settings.EVENTS_OIDC_SUBJECTS);
  if (JSON.stringify(subjects) !== JSON.stringify(expected))
    problems.push(
      `${EMPLOYEE_EVENTS_CONFIG}: EVENTS_OIDC_SUBJECTS must name the Triggers' OIDC ServiceAccounts ${expected.join(',')}; it names ${subjects.join(',')}`,
    );
  problems.push(...issuerProblems(EMPLOYEE_EVENTS_CONFIG, settings));

  const brokers = new Set(triggers.map((t) => stringAt(t.object, 'spec', 'broker') ?? ''));
  for (const broker of brokers) {
    const admitted = sendersAdmittedBy(objects, broker);
    const replies = admitted.filter((a) => a.trigger !== undefined);
    const replyTriggers = replies.map((a) => a.trigger as string).sort();
    const expectedTriggers = triggers
      .filter((t) => stringAt(t.object, 'spec', 'broker') === broker)
      .map((t) => nameOf(t.object))
      .sort();
    if (JSON.stringify(replyTriggers) !== JSON.stringify(expectedTriggers))
      problems.push(
        `broker ${broker}: the replies of ${expectedTriggers.join(', ')} must be admitted (EventPolicy spec.from ref Trigger), found ${replyTriggers.join(', ') || 'none'}`,
      );
    for (const a of replies)
      if (JSON.stringify(a.typePrefixes) !== JSON.stringify([REPLY_TYPE_PREFIX]))
        problems.push(`EventPolicy ${a.policy}: the replies must be limited to type ${REPLY_TYPE_PREFIX}*`);
    for (const a of admitted) {
      if (a.sub !== undefined && !SA_SUBJECT.test(a.sub))
        problems.push(
          `EventPolicy ${a.policy}: ${a.sub} is not one ServiceAccount (system:serviceaccount:<namespace>:<name>, no wildcard)`,
        );
      if (a.typePrefixes.length === 0) problems.push(`EventPolicy ${a.policy}: no filter on the event type`);
    }
    const subs = admitted.filter((a) => a.sub !== undefined).map((a) => a.sub as string);
    if (new Set(subs).size !== subs.length)
      problems.push(`broker ${broker}: a subject is named by two policies (only the first one's filters would apply)`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// housekeeping's ticks: a PingSource (sources.knative.dev/v1). Its adapter (the
// pingsource-mt-adapter of knative-eventing, pkg/adapter/mtping/runner.go) requests each
// token for the PingSource's own OIDC ServiceAccount (pkg/reconciler/pingsource,
// status.auth.serviceAccountName) and the audience the sink resolves to, spec.sink.audience
// for a Knative Service (knative.dev/pkg resolver: the destination's audience wins).

export const isPingSource = (o: K8sObject): boolean => isA(o, 'sources.knative.dev/v1', 'PingSource');

export const pingSourcesTo = (objects: Located[], service: string): Located[] =>
  objects.filter(
    (l) =>
      isPingSource(l.object) &&
      stringAt(l.object, 'spec', 'sink', 'ref', 'apiVersion') === 'serving.knative.dev/v1' &&
      stringAt(l.object, 'spec', 'sink', 'ref', 'kind') === 'Service' &&
      stringAt(l.object, 'spec', 'sink', 'ref', 'name') === service,
  );

/**
 * The checks of housekeeping's ticks on a set of objects deployed to `namespace`, with
 * housekeeping's settings `settings` (the housekeeping-config ConfigMap): one PingSource
 * fires it every minute and names its audience, and housekeeping expects exactly that
 * PingSource's identity, signed by the cluster's issuer.
 */
export function tickSenderProblems(objects: Located[], namespace: string, settings: JsonObject): string[] {
  const problems: string[] = [];
  const audience = knativeAudience('serving.knative.dev', 'Service', namespace, HOUSEKEEPING);
  const sources = pingSourcesTo(objects, HOUSEKEEPING);
  if (sources.length !== 1) problems.push(`exactly one PingSource must fire ${HOUSEKEEPING}, found ${sources.length}`);
  for (const p of sources) {
    const where = describeObject(p);
    const schedule = stringAt(p.object, 'spec', 'schedule');
    if (schedule !== EVERY_MINUTE)
      problems.push(`${where}: spec.schedule must be "${EVERY_MINUTE}" (every minute), not ${String(schedule)}`);
    const given = stringAt(p.object, 'spec', 'sink', 'audience');
    if (given !== audience)
      problems.push(
        `${where}: spec.sink.audience must be ${audience} (a Knative Service announces none: without it the adapter sends no token), not ${String(given)}`,
      );
    if (at(p.object, 'spec', 'sink', 'uri') !== undefined)
      problems.push(`${where}: spec.sink.uri must be left out (the Service's own address)`);
    if (nameOf(p.object).length > LONGEST_PLAIN_PINGSOURCE_NAME)
      problems.push(
        `${where}: a name over ${LONGEST_PLAIN_PINGSOURCE_NAME} characters gets a hashed OIDC ServiceAccount name`,
      );
  }
  if (settings.EVENTS_OIDC_AUDIENCE !== audience)
    problems.push(
      `${HOUSEKEEPING_CONFIG}: EVENTS_OIDC_AUDIENCE must be ${audience}, not ${String(settings.EVENTS_OIDC_AUDIENCE)}`,
    );
  const expected = sources.map((p) => pingSourceSubject(namespace, nameOf(p.object))).sort();
  const subjects = listSetting(settings.EVENTS_OIDC_SUBJECTS);
  if (JSON.stringify(subjects) !== JSON.stringify(expected))
    problems.push(
      `${HOUSEKEEPING_CONFIG}: EVENTS_OIDC_SUBJECTS must name the PingSource's OIDC ServiceAccount ${expected.join(',')}; it names ${subjects.join(',')}`,
    );
  problems.push(...issuerProblems(HOUSEKEEPING_CONFIG, settings));
  return problems;
}

// ---------------------------------------------------------------------------------------
// Where identity events go: K_SINK, which a SinkBinding (sources.knative.dev/v1) sets in
// the pod template of each resource its subject selects, with the token of its own OIDC
// ServiceAccount for the sink's audience (pkg/apis/sources/v1/sinkbinding_lifecycle.go Do,
// pkg/reconciler/sinkbinding/sinkbinding.go), or a K_SINK in a Service's own env.

export const isSinkBinding = (o: K8sObject): boolean => isA(o, 'sources.knative.dev/v1', 'SinkBinding');
/** Where the SinkBinding's webhook mounts its token: the Secret <binding>-oidc-token (key token) as the volume oidc-token at /oidc. */
export const SINK_BINDING_TOKEN_VOLUME = 'oidc-token';
export const SINK_BINDING_TOKEN_DIR = '/oidc';
export const SINK_BINDING_TOKEN_FILE = `${SINK_BINDING_TOKEN_DIR}/token`;
/** The env the webhook sets (K_CA_CERTS too when the sink has CA certificates). */
export const SINK_BINDING_ENV = ['K_SINK', 'K_CE_OVERRIDES'] as const;

/** The objects a SinkBinding's subject selects in its namespace: by name, or by a selector on their own labels. */
export function subjectsOf(binding: Located, objects: Located[]): Located[] {
  const subject = objectAt(binding.object, 'spec', 'subject');
  const namespace = stringAt(binding.object, 'metadata', 'namespace');
  const name = stringAt(subject, 'name');
  const selector = objectAt(subject, 'selector');
  if ((name === undefined) === (selector === undefined)) return [];
  return objects.filter(
    (l) =>
      l.object.apiVersion === stringAt(subject, 'apiVersion') &&
      l.object.kind === stringAt(subject, 'kind') &&
      stringAt(l.object, 'metadata', 'namespace') === namespace &&
      (name !== undefined ? nameOf(l.object) === name : selectorMatches(selector, at(l.object, 'metadata', 'labels'))),
  );
}

/** The Knative Service opens the database: it mounts the functions' secrets. */
export const opensDatabase = (l: Located): boolean =>
  listAt(podTemplateOf(l)?.spec, 'volumes').some((v) =>
    listAt(v, 'projected', 'sources').some((src) => stringAt(src, 'secret', 'name') === SECRET_NAMES[0]),
  );

/** For each Knative Service of the set, where its K_SINK comes from: `SinkBinding <name> → <Kind> <name>`, `env K_SINK=<value>`. */
export function sinkWiringOf(objects: Located[]): Map<string, string[]> {
  const wiring = new Map<string, string[]>();
  for (const l of objects.filter((x) => isKnativeService(x.object))) {
    const env = listAt(podTemplateOf(l)?.spec, 'containers')
      .flatMap((c) => listAt(c, 'env'))
      .filter((e) => stringAt(e, 'name') === 'K_SINK');
    wiring.set(
      nameOf(l.object),
      env.map((e) => `env K_SINK=${stringAt(e, 'value') ?? '(from elsewhere)'}`),
    );
  }
  for (const binding of objects.filter((x) => isSinkBinding(x.object))) {
    const ref = objectAt(binding.object, 'spec', 'sink', 'ref');
    const target =
      ref === undefined
        ? `uri ${String(at(binding.object, 'spec', 'sink', 'uri'))}`
        : `${stringAt(ref, 'kind') ?? ''} ${stringAt(ref, 'name') ?? ''}`;
    for (const subject of subjectsOf(binding, objects))
      wiring.get(nameOf(subject.object))?.push(`SinkBinding ${nameOf(binding.object)} → ${target}`);
  }
  return wiring;
}

/**
 * The identity events' way to the Broker `broker`: every Knative Service that opens the
 * database gets K_SINK exactly once, from a SinkBinding to that Broker (only a SinkBinding
 * gives it a token the broker knows; a K_SINK in its env would post without one, and be
 * refused), the others none; each such SinkBinding selects Knative Services of its own
 * namespace, keeps a plain ServiceAccount name, and the broker admits its identity for the
 * identity events' types only.
 */
export function identityEventProblems(objects: Located[], broker: string): string[] {
  const problems: string[] = [];
  const expected = `Broker ${broker}`;
  for (const [service, sinks] of sinkWiringOf(objects)) {
    const l = objects.find((x) => isKnativeService(x.object) && nameOf(x.object) === service) as Located;
    if (!opensDatabase(l)) {
      if (sinks.length > 0)
        problems.push(`${describeObject(l)}: publishes no identity event, but gets K_SINK from ${sinks.join('; ')}`);
      continue;
    }
    if (sinks.length !== 1 || !sinks[0]?.startsWith('SinkBinding ') || !sinks[0].endsWith(` → ${expected}`)) {
      problems.push(
        `${describeObject(l)}: must get K_SINK once, from a SinkBinding to the ${expected} (the token the broker asks for comes with it); it gets ${sinks.join('; ') || 'none'}`,
      );
    }
  }
  const admitted = sendersAdmittedBy(objects, broker);
  for (const binding of objects.filter((x) => isSinkBinding(x.object))) {
    const where = describeObject(binding);
    const name = nameOf(binding.object);
    const subject = objectAt(binding.object, 'spec', 'subject');
    if (stringAt(subject, 'apiVersion') !== 'serving.knative.dev/v1' || stringAt(subject, 'kind') !== 'Service')
      problems.push(`${where}: spec.subject must select Knative Services (serving.knative.dev/v1 Service)`);
    if ((stringAt(subject, 'name') === undefined) === (objectAt(subject, 'selector') === undefined))
      problems.push(`${where}: spec.subject needs exactly one of name, selector`);
    const namespace = stringAt(subject, 'namespace');
    if (namespace !== undefined && namespace !== stringAt(binding.object, 'metadata', 'namespace'))
      problems.push(`${where}: spec.subject.namespace must be the binding's own (the webhook refuses another)`);
    if (subjectsOf(binding, objects).length === 0) problems.push(`${where}: its subject selects no Knative Service`);
    if (name.length > LONGEST_PLAIN_SINKBINDING_NAME)
      problems.push(
        `${where}: a name over ${LONGEST_PLAIN_SINKBINDING_NAME} characters gets a hashed OIDC ServiceAccount name`,
      );
    const ref = objectAt(binding.object, 'spec', 'sink', 'ref');
    if (
      stringAt(ref, 'apiVersion') !== 'eventing.knative.dev/v1' ||
      stringAt(ref, 'kind') !== 'Broker' ||
      stringAt(ref, 'name') !== broker
    )
      continue;
    const policies = admitted.filter((a) => a.sinkBinding === name);
    if (policies.length !== 1)
      problems.push(
        `broker ${broker}: the identity of ${where} must be admitted by one EventPolicy (spec.from ref SinkBinding), found ${policies.length}: without it every identity event is refused`,
      );
    for (const a of policies)
      if (JSON.stringify(a.typePrefixes) !== JSON.stringify([REPLY_TYPE_PREFIX]))
        problems.push(`EventPolicy ${a.policy}: the identity events must be limited to type ${REPLY_TYPE_PREFIX}*`);
  }
  return problems;
}

/**
 * A Knative Service as the SinkBinding's webhook leaves it (sinkbinding_lifecycle.go Do):
 * K_SINK and K_CE_OVERRIDES added to each container's env, and, with the sender identity on,
 * the token Secret as the projected volume oidc-token, mounted read-only at /oidc.
 */
export function boundBySinkBinding(service: Located, binding: Located, sinkUrl: string): Located {
  const copy = structuredClone(service);
  const spec = objectAt(copy.object, 'spec', 'template', 'spec');
  if (spec === undefined) return copy;
  for (const container of listAt(spec, 'containers').filter(isObject)) {
    container.env = [
      ...listAt(container, 'env'),
      { name: 'K_SINK', value: sinkUrl },
      { name: 'K_CE_OVERRIDES', value: '' },
    ];
    container.volumeMounts = [
      ...listAt(container, 'volumeMounts'),
      { name: SINK_BINDING_TOKEN_VOLUME, mountPath: SINK_BINDING_TOKEN_DIR, readOnly: true },
    ];
  }
  spec.volumes = [
    ...listAt(spec, 'volumes'),
    {
      name: SINK_BINDING_TOKEN_VOLUME,
      projected: { sources: [{ secret: { name: kmetaChildName(nameOf(binding.object), '-oidc-token') } }] },
    },
  ];
  return copy;
}

// ---------------------------------------------------------------------------------------
// NetworkPolicies

/** A label selector (matchLabels, matchExpressions) against a set of labels; an empty selector selects everything. */
export function selectorMatches(selector: unknown, labels: unknown): boolean {
  const have = isObject(labels) ? labels : {};
  for (const [key, value] of Object.entries(objectAt(selector, 'matchLabels') ?? {}))
    if (have[key] !== value) return false;
  for (const expression of listAt(selector, 'matchExpressions')) {
    const key = stringAt(expression, 'key') ?? '';
    const values = listAt(expression, 'values').map(String);
    const present = Object.prototype.hasOwnProperty.call(have, key);
    switch (stringAt(expression, 'operator')) {
      case 'In':
        if (!present || !values.includes(String(have[key]))) return false;
        break;
      case 'NotIn':
        if (present && values.includes(String(have[key]))) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The pod templates (by owner description) a NetworkPolicy applies to. */
export function podsSelectedBy(policy: Located, objects: Located[]): PodTemplate[] {
  const selector = objectAt(policy.object, 'spec', 'podSelector') ?? {};
  return objects
    .map(podTemplateOf)
    .filter((p): p is PodTemplate => p !== undefined && selectorMatches(selector, p.metadata.labels));
}

/** One allowed peer of an ingress rule, in words: `namespace <n> pods <selector>` or `pods <selector>` (same namespace). */
export interface IngressPeer {
  namespace: string | undefined;
  pods: JsonObject | undefined;
  ports: string[];
}

export function ingressPeersOf(policy: Located): IngressPeer[] {
  return listAt(policy.object, 'spec', 'ingress').flatMap((rule) => {
    const ports = listAt(rule, 'ports').map((p) => `${stringAt(p, 'protocol') ?? 'TCP'}/${String(at(p, 'port'))}`);
    const from = listAt(rule, 'from');
    if (from.length === 0) return [{ namespace: '*', pods: undefined, ports }];
    return from.map((peer) => ({
      namespace:
        objectAt(peer, 'namespaceSelector') === undefined
          ? undefined
          : (stringAt(peer, 'namespaceSelector', 'matchLabels', 'kubernetes.io/metadata.name') ?? '*'),
      pods: objectAt(peer, 'podSelector'),
      ports,
    }));
  });
}

/** What a NetworkPolicy must be here: ingress only, selecting pods of the set, peers named by namespace name. */
export function networkPolicyProblems(policy: Located, objects: Located[]): string[] {
  if (!isA(policy.object, 'networking.k8s.io/v1', 'NetworkPolicy')) return [];
  const where = describeObject(policy);
  const problems: string[] = [];
  if (JSON.stringify(listAt(policy.object, 'spec', 'policyTypes')) !== JSON.stringify(['Ingress']))
    problems.push(`${where}: policyTypes must be [Ingress]`);
  if (podsSelectedBy(policy, objects).length === 0) problems.push(`${where}: its podSelector selects no pod template`);
  for (const peer of ingressPeersOf(policy)) {
    if (peer.namespace === '*')
      problems.push(
        `${where}: a rule admits every namespace (name the namespace by its kubernetes.io/metadata.name label)`,
      );
    if (peer.namespace === undefined && peer.pods === undefined)
      problems.push(`${where}: a peer with neither namespaceSelector nor podSelector`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// kustomize

const KUSTOMIZATION_FIELDS = [
  'apiVersion',
  'kind',
  'metadata',
  'resources',
  'components',
  'namespace',
  'namePrefix',
  'nameSuffix',
  'labels',
  'commonLabels',
  'commonAnnotations',
  'images',
  'replicas',
  'patches',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
  'configurations',
  'crds',
  'replacements',
  'buildMetadata',
  'sortOptions',
  'openapi',
  'transformers',
  'generators',
  'validators',
  'helmCharts',
];

export interface Kustomization {
  dir: string;
  data: JsonObject;
  /** Files listed in resources (directories resolved to their kustomization). */
  resourceFiles: string[];
  /** Other files it uses: patches, configurations, components, generator sources. */
  otherFiles: string[];
  problems: string[];
}

const generatorSource = (entry: string): string => entry.replace(/^[^=]*=/, '');

export function readKustomization(dir: string): Kustomization {
  const file = path.join(dir, 'kustomization.yaml');
  const result: Kustomization = { dir, data: {}, resourceFiles: [], otherFiles: [], problems: [] };
  const where = rel(file);
  if (!existsSync(file)) {
    result.problems.push(`${rel(dir)}: no kustomization.yaml`);
    return result;
  }
  const [data] = parseYamlFile(file);
  if (!isObject(data)) {
    result.problems.push(`${where}: not a mapping`);
    return result;
  }
  result.data = data;
  if (data.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || data.kind !== 'Kustomization')
    result.problems.push(`${where}: apiVersion kustomize.config.k8s.io/v1beta1, kind Kustomization expected`);
  for (const key of Object.keys(data)) {
    if (!KUSTOMIZATION_FIELDS.includes(key)) result.problems.push(`${where}: unknown field ${key}`);
    if (['patchesStrategicMerge', 'patchesJson6902', 'bases', 'vars'].includes(key))
      result.problems.push(`${where}: ${key} is deprecated; use patches / resources / replacements`);
  }
  const exists = (entry: string, what: string, directoryAllowed: boolean): string | undefined => {
    if (/^[a-z]+:\/\//i.test(entry) || entry.startsWith('github.com/')) {
      result.problems.push(`${where}: ${what} ${entry} is remote; everything must be in the repository`);
      return undefined;
    }
    const full = path.resolve(dir, entry);
    if (!existsSync(full)) {
      result.problems.push(`${where}: ${what} ${entry} does not exist`);
      return undefined;
    }
    if (statSync(full).isDirectory()) {
      if (!directoryAllowed) result.problems.push(`${where}: ${what} ${entry} is a directory`);
      else if (!existsSync(path.join(full, 'kustomization.yaml')))
        result.problems.push(`${where}: ${what} ${entry} has no kustomization.yaml`);
      return undefined;
    }
    return full;
  };
  for (const entry of listAt(data, 'resources')) {
    const full = exists(String(entry), 'resource', true);
    if (full !== undefined) result.resourceFiles.push(full);
  }
  for (const entry of listAt(data, 'components')) exists(String(entry), 'component', true);
  for (const key of ['configurations', 'crds']) {
    for (const entry of listAt(data, key)) {
      const full = exists(String(entry), key, false);
      if (full !== undefined) result.otherFiles.push(full);
    }
  }
  for (const patch of listAt(data, 'patches')) {
    const patchPath = stringAt(patch, 'path');
    if (patchPath === undefined && stringAt(patch, 'patch') === undefined)
      result.problems.push(`${where}: a patch has neither path nor patch`);
    if (patchPath !== undefined) {
      const full = exists(patchPath, 'patch', false);
      if (full !== undefined) result.otherFiles.push(full);
    }
  }
  for (const key of ['configMapGenerator', 'secretGenerator']) {
    for (const generator of listAt(data, key)) {
      if (stringAt(generator, 'name') === undefined) result.problems.push(`${where}: a ${key} entry has no name`);
      for (const entry of [...listAt(generator, 'files'), ...listAt(generator, 'envs')]) {
        const full = exists(
          generatorSource(String(entry)),
          `${key} ${stringAt(generator, 'name') ?? ''} source`,
          false,
        );
        if (full !== undefined) result.otherFiles.push(full);
      }
    }
  }
  return result;
}

/** Every kustomization under a folder (each directory that has a kustomization.yaml). */
export function kustomizationsUnder(dir: string): Kustomization[] {
  return listFiles(dir, (name) => name === 'kustomization.yaml').map((file) => readKustomization(path.dirname(file)));
}

export function kubectlOnPath(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(path.join(dir, 'kubectl'), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** `kubectl kustomize <dir>`: what `kubectl apply -k` and skaffold would send to the cluster. */
export function renderKustomization(dir: string): Located[] {
  let output: string;
  try {
    output = execFileSync('kubectl', ['kustomize', dir], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
  } catch (error) {
    const output = isObject(error) ? at(error, 'stderr') : undefined;
    const stderr = typeof output === 'string' ? output : Buffer.isBuffer(output) ? output.toString('utf8') : '';
    throw new Error(`kubectl kustomize ${rel(dir)} failed: ${stderr.trim() || String(error)}`, { cause: error });
  }
  const source = `kubectl kustomize ${rel(dir)}`;
  return objectsOf(parseYamlStream(output, source), source);
}

// ---------------------------------------------------------------------------------------
// skaffold.yaml

export interface SkaffoldArtifact {
  image: string;
  context: string;
  dockerfile: string;
  buildArgs: Record<string, unknown>;
}

export interface SkaffoldConfig {
  data: JsonObject;
  artifacts: SkaffoldArtifact[];
  kustomizePaths: string[];
  profiles: Array<{ name: string; kustomizePaths: string[] }>;
}

const SKAFFOLD_FIELDS = [
  'apiVersion',
  'kind',
  'metadata',
  'requires',
  'build',
  'test',
  'manifests',
  'deploy',
  'portForward',
  'resourceSelector',
  'verify',
  'customActions',
  'profiles',
];

export function readSkaffold(file: string): SkaffoldConfig {
  const [data] = parseYamlFile(file, '1.2');
  if (!isObject(data)) throw new Error(`${rel(file)}: not a mapping`);
  const artifacts = listAt(data, 'build', 'artifacts').map((a) => ({
    image: stringAt(a, 'image') ?? '',
    context: stringAt(a, 'context') ?? '.',
    dockerfile: stringAt(a, 'docker', 'dockerfile') ?? 'Dockerfile',
    buildArgs: objectAt(a, 'docker', 'buildArgs') ?? {},
  }));
  const pathsOf = (v: unknown): string[] => listAt(v, 'manifests', 'kustomize', 'paths').map(String);
  return {
    data,
    artifacts,
    kustomizePaths: pathsOf(data),
    profiles: listAt(data, 'profiles').map((p) => ({ name: stringAt(p, 'name') ?? '', kustomizePaths: pathsOf(p) })),
  };
}

export function skaffoldProblems(config: SkaffoldConfig): string[] {
  const problems: string[] = [];
  const d = config.data;
  if (d.apiVersion !== 'skaffold/v4beta13' || d.kind !== 'Config')
    problems.push('skaffold.yaml: apiVersion skaffold/v4beta13, kind Config expected');
  for (const key of Object.keys(d))
    if (!SKAFFOLD_FIELDS.includes(key)) problems.push(`skaffold.yaml: unknown field ${key}`);
  if (!isObject(at(d, 'deploy', 'kubectl'))) problems.push('skaffold.yaml: deploy.kubectl expected');
  const images = new Set<string>();
  for (const a of config.artifacts) {
    if (images.has(a.image)) problems.push(`skaffold.yaml: artifact ${a.image} is listed twice`);
    images.add(a.image);
    const artifact = listAt(d, 'build', 'artifacts').find((x) => stringAt(x, 'image') === a.image);
    if (objectAt(artifact, 'docker') === undefined)
      problems.push(`skaffold.yaml: artifact ${a.image} must use the docker builder`);
    if (!existsSync(path.join(ROOT, a.context, a.dockerfile)))
      problems.push(`skaffold.yaml: artifact ${a.image}: ${path.join(a.context, a.dockerfile)} does not exist`);
    for (const [key, value] of Object.entries(a.buildArgs))
      if (typeof value !== 'string')
        problems.push(`skaffold.yaml: artifact ${a.image}: buildArgs.${key} must be a string`);
  }
  const allPaths = [...config.kustomizePaths, ...config.profiles.flatMap((p) => p.kustomizePaths)];
  for (const p of allPaths)
    if (!existsSync(path.join(ROOT, p, 'kustomization.yaml')))
      problems.push(`skaffold.yaml: kustomize path ${p} has no kustomization.yaml`);
  return problems;
}

// ---------------------------------------------------------------------------------------
// Dockerfile and .dockerignore

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions with their continuation lines joined; comments and blank lines dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { text: string; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (pending === undefined && (line === '' || line.startsWith('#'))) return;
    if (pending !== undefined && line.startsWith('#')) return;
    const continues = line.endsWith('\\');
    const content = continues ? line.slice(0, -1) : line;
    pending =
      pending === undefined
        ? { text: content, line: index + 1 }
        : { text: `${pending.text} ${content}`, line: pending.line };
    if (!continues) {
      const match = /^(\S+)\s*(.*)$/.exec(pending.text.trim());
      if (match !== null)
        instructions.push({
          keyword: (match[1] ?? '').toUpperCase(),
          args: (match[2] ?? '').trim(),
          line: pending.line,
        });
      pending = undefined;
    }
  });
  return instructions;
}

export interface Stage {
  name: string | undefined;
  from: string;
  instructions: Instruction[];
}

export function stagesOf(instructions: Instruction[]): { globalArgs: Instruction[]; stages: Stage[] } {
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      stages.push({ from: match?.[1] ?? '', name: match?.[2], instructions: [] });
    } else if (stages.length === 0) {
      if (instruction.keyword === 'ARG') globalArgs.push(instruction);
    } else {
      stages[stages.length - 1]?.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

/** KEY=value pairs of an ENV or ARG instruction (values without spaces). */
export function assignments(args: string): Map<string, string | undefined> {
  const pairs = new Map<string, string | undefined>();
  for (const token of args.split(/\s+/).filter((t) => t !== '')) {
    const eq = token.indexOf('=');
    if (eq === -1) pairs.set(token, undefined);
    else pairs.set(token.slice(0, eq), token.slice(eq + 1).replace(/^"(.*)"$/, '$1'));
  }
  return pairs;
}

export interface DockerfileFacts {
  problems: string[];
  /** The numeric user the image runs as. */
  uid: number | undefined;
}

export function dockerfileFacts(text: string): DockerfileFacts {
  const problems: string[] = [];
  const { globalArgs, stages } = stagesOf(parseDockerfile(text));
  const globals = new Map(globalArgs.flatMap((a) => [...assignments(a.args)]));
  const base = globals.get('NODE_BASE');
  if (base === undefined || !/^node:22(\.|-|$)/.test(base))
    problems.push(
      `Dockerfile: ARG NODE_BASE with a Node 22 default (node:22-…) must come before the first FROM; got ${String(base)}`,
    );
  const stageNames = new Set<string>();
  for (const stage of stages) {
    if (!['${NODE_BASE}', '$NODE_BASE'].includes(stage.from) && !stageNames.has(stage.from))
      problems.push(`Dockerfile: FROM ${stage.from} is neither \${NODE_BASE} nor an earlier stage`);
    if (stage.name !== undefined) stageNames.add(stage.name);
  }
  const final = stages[stages.length - 1];
  if (final === undefined) return { problems: [...problems, 'Dockerfile: no FROM'], uid: undefined };
  const finalOf = (keyword: string): Instruction[] => final.instructions.filter((i) => i.keyword === keyword);
  const all = stages.flatMap((s) => s.instructions);

  if (!finalOf('ARG').some((a) => assignments(a.args).has('FUNCTION')))
    problems.push('Dockerfile: the final stage must declare ARG FUNCTION');
  const env = new Map(finalOf('ENV').flatMap((e) => [...assignments(e.args)]));
  if (!['${FUNCTION}', '$FUNCTION'].includes(env.get('FUNCTION_TARGET') ?? ''))
    problems.push('Dockerfile: the final stage must set ENV FUNCTION_TARGET=${FUNCTION}');
  if (env.get('NODE_ENV') !== 'production')
    problems.push('Dockerfile: the final stage must set ENV NODE_ENV=production');
  if (env.has('PORT')) problems.push('Dockerfile: PORT must not be set (Knative sets it)');

  let uid: number | undefined;
  const user = finalOf('USER').at(-1)?.args;
  const userMatch = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  if (userMatch === null)
    problems.push(`Dockerfile: the final stage must end as a numeric user (USER 10001:10001), not ${String(user)}`);
  else {
    uid = Number(userMatch[1]);
    if (uid === 0 || Number(userMatch[2] ?? 1) === 0) problems.push('Dockerfile: USER must not be root (0)');
  }

  const cmd = finalOf('CMD').at(-1)?.args;
  let cmdArray: unknown;
  try {
    cmdArray = cmd === undefined ? undefined : JSON.parse(cmd);
  } catch {
    cmdArray = undefined;
  }
  if (JSON.stringify(cmdArray) !== JSON.stringify(['node', 'dist/bin/serve.js']))
    problems.push(
      `Dockerfile: CMD must be the exec form ["node","dist/bin/serve.js"] (so SIGTERM reaches node), not ${String(cmd)}`,
    );
  for (const entrypoint of finalOf('ENTRYPOINT'))
    if (!entrypoint.args.startsWith('['))
      problems.push('Dockerfile: ENTRYPOINT in shell form would keep SIGTERM from node');

  if (!all.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args)))
    problems.push('Dockerfile: dependencies must be installed with npm ci (the lock file, exactly)');
  if (finalOf('RUN').some((i) => /\bnpm (ci|install|i)\b/.test(i.args) && !/--omit=dev/.test(i.args)))
    problems.push('Dockerfile: the final stage installs dev dependencies');
  const modulesFrom = finalOf('COPY')
    .map((i) => /--from=(\S+)\s+\S*node_modules/.exec(i.args)?.[1])
    .find((s) => s !== undefined);
  const pruned = (name: string | undefined, seen = new Set<string>()): boolean => {
    const stage = stages.find((s) => s.name === name);
    if (stage === undefined || name === undefined || seen.has(name)) return false;
    seen.add(name);
    return (
      stage.instructions.some((i) => i.keyword === 'RUN' && /npm (prune|ci) [^&|;]*--omit=dev/.test(i.args)) ||
      pruned(stage.from, seen)
    );
  };
  if (!pruned(modulesFrom))
    problems.push(
      'Dockerfile: the final stage must copy node_modules from a stage that pruned them to production dependencies (npm prune --omit=dev)',
    );
  if (!finalOf('COPY').some((i) => /\bdist\b/.test(i.args)))
    problems.push('Dockerfile: the final stage must copy dist/');
  // The image runs its function's bundle (scripts/bundle.mjs) under the command's old path:
  // the loader, the bundle it runs beside it, and that bundle's code cache.
  const copied = (extension: string): boolean => {
    const escaped = extension.replaceAll('.', '\\.');
    const copy = new RegExp(
      `\\bcp "?dist/bundle/\\$\\{?FUNCTION\\}?\\.${escaped}"? \\S*dist/bin/serve\\.${escaped}(?![\\w.])`,
    );
    return all.some((i) => i.keyword === 'RUN' && copy.test(i.args));
  };
  for (const extension of ['js', 'cjs', 'cjs.cache'])
    if (!copied(extension))
      problems.push(
        `Dockerfile: dist/bin/serve.${extension} must be dist/bundle/\${FUNCTION}.${extension}, the function's bundle`,
      );
  if (finalOf('COPY').some((i) => /--from=\S+\s+\S*\/app\/node_modules\b/.test(i.args)))
    problems.push(
      'Dockerfile: the final stage must not copy the whole node_modules (the bundles need only the native bcrypt addon)',
    );
  return { problems, uid };
}

/** Whether a top-level name of the build context is sent to the builder (last matching pattern wins). */
export function dockerContextIncludes(dockerignore: string, name: string): boolean {
  let included = true;
  for (const raw of dockerignore.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = (negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
    if (pattern.includes('/')) continue; // deeper patterns do not decide a top-level name
    const regex = new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    );
    if (regex.test(name)) included = negated;
  }
  return included;
}
