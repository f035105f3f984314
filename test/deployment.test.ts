// The deployment files, checked offline: the Knative/Kubernetes manifests of knative/ (as
// files, and as kustomize renders each overlay when kubectl is installed), skaffold.yaml,
// the Dockerfile and .dockerignore. The last suite feeds the checks broken manifests, to
// show that each rule can fail.
import { expect } from 'chai';
import { readdirSync, readFileSync, mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ADMIN_SECRET_NAMES,
  API_SERVER_JWKS,
  BASE_DIR,
  EMPLOYEE_EVENTS,
  EMPLOYEE_EVENTS_CONFIG,
  EMPLOYEE_EVENT_TYPES,
  EVERY_MINUTE,
  HOUSEKEEPING,
  HOUSEKEEPING_CONFIG,
  KNATIVE_DIR,
  LONGEST_PLAIN_PINGSOURCE_NAME,
  LONGEST_PLAIN_SINKBINDING_NAME,
  LONGEST_PLAIN_TRIGGER_NAME,
  OVERLAYS_DIR,
  REPLY_TYPE_PREFIX,
  ROOT,
  SECRETS_DIR,
  SECRET_NAMES,
  SINK_BINDING_TOKEN_FILE,
  THIRD_PARTY_IMAGES,
  at,
  boundBySinkBinding,
  dockerContextIncludes,
  dockerfileFacts,
  describeObject,
  eventPolicyProblems,
  eventSenderProblems,
  identityEventProblems,
  imagesOf,
  ingressPeersOf,
  isA,
  isKnativeService,
  isObject,
  isOwnImage,
  isSinkBinding,
  isYamlName,
  kmetaChildName,
  knativeAudience,
  knativeServiceProblems,
  kubectlOnPath,
  kustomizationsUnder,
  listAt,
  listFiles,
  listSetting,
  modelProblems,
  nameOf,
  networkPolicyProblems,
  objectAt,
  objectsOf,
  oidcServiceAccountName,
  opensDatabase,
  ownImageProblems,
  parseYamlFile,
  pingSourceSubject,
  pingSourcesTo,
  podProblems,
  podTemplateOf,
  podsSelectedBy,
  quantity,
  readKustomization,
  readSkaffold,
  referenceProblems,
  rel,
  renderKustomization,
  runsMigration,
  selectorMatches,
  sendersAdmittedBy,
  sinkBindingSubject,
  sinkWiringOf,
  skaffoldProblems,
  stringAt,
  subjectsOf,
  tickSenderProblems,
  triggerSubject,
  triggersTo,
} from './helpers/manifests.js';
import type {
  JsonObject,
  Kustomization,
  Located,
  PodTemplate,
  ReferenceOptions,
  SkaffoldConfig,
} from './helpers/manifests.js';

const functionFolders = readdirSync(path.join(ROOT, 'functions'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();
const overlayDirs = readdirSync(OVERLAYS_DIR, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => path.join(OVERLAYS_DIR, entry.name));
/** The functions no one outside the cluster calls: the broker's and the PingSource's. */
const CLUSTER_LOCAL = [EMPLOYEE_EVENTS, HOUSEKEEPING];
/** What no overlay applies: a mailer's subscriptions, as an example. */
const EXAMPLES_DIR = path.join(KNATIVE_DIR, 'examples');
/** The functions that change accounts and publish identity events (contract §11): those that open the database. */
const PUBLISHERS = ['authenticate', 'employee-events', 'generate-2fa', 'generate-password', 'housekeeping'];

/** Every rule that applies to a set of objects, as one list of problems. */
function objectProblems(objects: Located[], uid: number | undefined, references: ReferenceOptions): string[] {
  return [
    ...objects.flatMap(modelProblems),
    ...objects.flatMap(knativeServiceProblems),
    ...objects.flatMap((l) => {
      const pod = podTemplateOf(l);
      return pod === undefined ? [] : [...podProblems(pod), ...ownImageProblems(pod, uid)];
    }),
    ...referenceProblems(objects, references),
  ];
}

function imageProblems(objects: Located[], skaffold: SkaffoldConfig, thirdPartyAllowed: boolean): string[] {
  const artifacts = new Set(skaffold.artifacts.map((a) => a.image));
  const problems: string[] = [];
  for (const [image, users] of imagesOf(objects)) {
    if (artifacts.has(image)) continue;
    if (thirdPartyAllowed && (THIRD_PARTY_IMAGES as readonly string[]).includes(image)) continue;
    problems.push(
      `image ${image} (${users.join('; ')}) is not an artifact of skaffold.yaml${thirdPartyAllowed ? ' nor a listed third-party image' : ''}`,
    );
  }
  return problems;
}

function cofrapConfig(objects: Located[], name = 'cofrap-config'): JsonObject | undefined {
  const map = objects.find(
    (l) => isA(l.object, 'v1', 'ConfigMap') && new RegExp(`^${name}(-[a-z0-9]{10})?$`).test(nameOf(l.object)),
  );
  return map === undefined ? undefined : (objectAt(map.object, 'data') ?? {});
}

/** The pod templates of a set that mount a Secret (projected or plain) of one of `names`. */
function podsMounting(objects: Located[], names: readonly string[]): string[] {
  return objects
    .map(podTemplateOf)
    .filter((p): p is PodTemplate => p !== undefined)
    .filter((p) =>
      listAt(p.spec, 'volumes').some((v) =>
        [
          stringAt(v, 'secret', 'secretName'),
          ...listAt(v, 'projected', 'sources').map((src) => stringAt(src, 'secret', 'name')),
        ].some((n) => n !== undefined && names.includes(n)),
      ),
    )
    .map((p) => nameOf(p.owner.object))
    .sort();
}

/** PgBouncer's configuration file of an overlay (its configMapGenerator pgbouncer-config), by section. */
function pgbouncerIni(dir: string, kustomization: Kustomization): Record<string, Record<string, string>> {
  const generator = listAt(kustomization.data, 'configMapGenerator').find(
    (g) => stringAt(g, 'name') === 'pgbouncer-config',
  );
  const files = listAt(generator, 'files').map(String);
  expect(files, 'pgbouncer-config').to.deep.equal(['pgbouncer/pgbouncer.ini']);
  // PgBouncer's own format: [section], key = value, ; or # comments.
  const sections: Record<string, Record<string, string>> = {};
  let section: Record<string, string> = {};
  for (const raw of readFileSync(path.join(dir, files[0] as string), 'utf8').split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      section = sections[header[1]] ??= {};
      continue;
    }
    const equals = line.indexOf('=');
    expect(equals, `pgbouncer.ini: ${line}`).to.be.above(0);
    section[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
  }
  return sections;
}

/** Every namespace the overlays deploy to. */
const overlayNamespaces = (): string[] => [
  ...new Set(overlayDirs.map((dir) => stringAt(readKustomization(dir).data, 'namespace') ?? '')),
];

/** A settings file of the base (config.env, employee-events.env, housekeeping.env), as the ConfigMap generator reads it. */
function baseSettings(file = 'config.env'): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of readFileSync(path.join(BASE_DIR, file), 'utf8').split(/\r?\n/)) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match !== null) settings.set(match[1] ?? '', match[2] ?? '');
  }
  return settings;
}

describe('deployment: manifests, skaffold and the Dockerfile', () => {
  let kustomizations: Kustomization[];
  const parseErrors: string[] = [];
  let documents = 0;
  let objects: Located[];
  let baseObjects: Located[];
  let skaffold: SkaffoldConfig;
  let uid: number | undefined;

  before(() => {
    kustomizations = kustomizationsUnder(KNATIVE_DIR);
    objects = [];
    const resourceFiles = new Set(kustomizations.flatMap((k) => k.resourceFiles));
    for (const file of listFiles(KNATIVE_DIR, isYamlName)) {
      try {
        const values = parseYamlFile(file);
        documents += values.length;
        if (resourceFiles.has(file)) objects.push(...objectsOf(values, rel(file)));
      } catch (error) {
        parseErrors.push(error instanceof Error ? error.message : String(error));
      }
    }
    baseObjects = objects.filter((l) => l.source.startsWith(`${rel(BASE_DIR)}/`));
    // The examples are applied by no overlay: kept apart from what is deployed.
    objects = objects.filter((l) => !l.source.startsWith(`${rel(EXAMPLES_DIR)}/`));
    skaffold = readSkaffold(path.join(ROOT, 'skaffold.yaml'));
    uid = dockerfileFacts(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).uid;
  });

  /**
   * `configMap` is read by the Service `reader` alone, whose container trusts the cluster's
   * CA (NODE_EXTRA_CA_CERTS from the kube-root-ca.crt ConfigMap) to fetch the API server's
   * JWKS: employee-events' and housekeeping's OIDC settings.
   */
  function expectOnlyReaderWithClusterCa(configMap: string, reader: string): void {
    const readers = baseObjects.filter((l) =>
      listAt(podTemplateOf(l)?.spec, 'containers').some((c) =>
        listAt(c, 'envFrom').some((e) => stringAt(e, 'configMapRef', 'name') === configMap),
      ),
    );
    expect(readers.map((l) => nameOf(l.object))).to.deep.equal([reader]);
    const pod = podTemplateOf(readers[0] as Located) as PodTemplate;
    const container = listAt(pod.spec, 'containers')[0];
    const caFile =
      stringAt(
        listAt(container, 'env').find((e) => stringAt(e, 'name') === 'NODE_EXTRA_CA_CERTS'),
        'value',
      ) ?? '';
    const mount = listAt(container, 'volumeMounts').find(
      (m) => path.posix.dirname(caFile) === stringAt(m, 'mountPath'),
    );
    const volume = listAt(pod.spec, 'volumes').find((v) => stringAt(v, 'name') === stringAt(mount, 'name'));
    expect(stringAt(volume, 'configMap', 'name'), 'NODE_EXTRA_CA_CERTS from the kube-root-ca.crt ConfigMap').to.equal(
      'kube-root-ca.crt',
    );
    expect(listAt(volume, 'configMap', 'items')).to.deep.equal([{ key: 'ca.crt', path: path.posix.basename(caFile) }]);
  }

  it('every YAML file under knative/ and skaffold.yaml parses, every document of it', () => {
    expect(parseErrors).to.deep.equal([]);
    expect(() => parseYamlFile(path.join(ROOT, 'skaffold.yaml'), '1.2')).to.not.throw();
    expect(documents, 'YAML documents found').to.be.greaterThan(10);
  });

  it('every kustomization names files that exist, and every YAML file under knative/ is used by one', () => {
    expect(kustomizations.map((k) => rel(k.dir)).sort()).to.include.members([
      'knative/base',
      'knative/examples',
      'knative/overlays/dev',
      'knative/overlays/prod',
    ]);
    expect(kustomizations.flatMap((k) => k.problems)).to.deep.equal([]);
    const used = new Set(
      kustomizations.flatMap((k) => [path.join(k.dir, 'kustomization.yaml'), ...k.resourceFiles, ...k.otherFiles]),
    );
    const unused = listFiles(KNATIVE_DIR, isYamlName)
      .filter((file) => !used.has(file))
      .map(rel);
    expect(unused, 'YAML files no kustomization uses').to.deep.equal([]);
    for (const overlay of overlayDirs)
      expect(listAt(readKustomization(overlay).data, 'resources'), rel(overlay)).to.include('../../base');
  });

  it('every object validates against its kubernetes-models / @kubernetes-models/knative model', () => {
    expect(objects.flatMap(modelProblems)).to.deep.equal([]);
  });

  it('the Knative Services keep the rules the Knative webhook enforces (env, ports, volumes, probes, autoscaling annotations)', () => {
    const services = objects.filter((l) => isKnativeService(l.object));
    expect(services.length).to.equal(functionFolders.length);
    expect(services.flatMap(knativeServiceProblems)).to.deep.equal([]);
  });

  it('every pod runs restricted, read-only, with requests and limits, and no Secret in its environment', () => {
    const pods = objects.map(podTemplateOf).filter((p): p is PodTemplate => p !== undefined);
    expect(pods.map((p) => describeObject(p.owner))).to.have.length.greaterThan(functionFolders.length);
    expect(pods.flatMap(podProblems)).to.deep.equal([]);
  });

  it('the functions, the migration Job and the rotation CronJob read the three secrets from one projected volume at SECRETS_DIR; the portal sees none', () => {
    expect(baseSettings().get('SECRETS_DIR')).to.equal(SECRETS_DIR);
    const own = objects
      .map(podTemplateOf)
      .filter(
        (p): p is PodTemplate =>
          p !== undefined && listAt(p.spec, 'containers').some((c) => isOwnImage(stringAt(c, 'image') ?? '')),
      );
    expect(own.map((p) => p.owner.object.kind).sort()).to.deep.equal(
      [...functionFolders.map(() => 'Service'), 'Job', 'CronJob'].sort(),
    );
    expect(own.flatMap((p) => ownImageProblems(p, uid))).to.deep.equal([]);
    for (const l of objects)
      expect(
        l.object.kind,
        `${describeObject(l)}: secrets are generated by an overlay or created by hand`,
      ).to.not.equal('Secret');
  });

  it('every folder of functions/ has its Knative Service in the base and its skaffold artifact', () => {
    expect(functionFolders).to.include.members([
      'generate-password',
      'generate-2fa',
      'authenticate',
      'employee-events',
    ]);
    const services = baseObjects.filter((l) => isKnativeService(l.object));
    expect(services.map((l) => nameOf(l.object)).sort()).to.deep.equal(functionFolders);
    for (const name of functionFolders) {
      const service = services.find((l) => nameOf(l.object) === name);
      expect(stringAt(service?.object, 'spec', 'template', 'spec', 'containers', 0, 'image'), name).to.equal(
        `cofrap/${name}`,
      );
      const artifact = skaffold.artifacts.find((a) => a.image === `cofrap/${name}`);
      expect(artifact?.buildArgs, `skaffold artifact cofrap/${name}`).to.deep.equal({ FUNCTION: name });
      const visibility = stringAt(service?.object, 'metadata', 'labels', 'networking.knative.dev/visibility');
      expect(visibility, `${name} visibility`).to.equal(CLUSTER_LOCAL.includes(name) ? 'cluster-local' : undefined);
    }
  });

  it('the broker routes each HR and helpdesk event type to employee-events, a Service of the base', () => {
    expect(referenceProblems(baseObjects, { requireConfigMaps: false, requireSecrets: false })).to.deep.equal([]);
    const triggers = baseObjects.filter((l) => isA(l.object, 'eventing.knative.dev/v1', 'Trigger'));
    for (const type of EMPLOYEE_EVENT_TYPES) {
      const matching = triggers.filter((l) => stringAt(l.object, 'spec', 'filter', 'attributes', 'type') === type);
      expect(matching, type).to.have.length(1);
      expect(stringAt(matching[0]?.object, 'spec', 'subscriber', 'ref', 'name'), type).to.equal('employee-events');
    }
    expect(triggers).to.have.length(EMPLOYEE_EVENT_TYPES.length);
  });

  it('every image of the manifests is built by skaffold, except pinned third-party images of the dev overlay', () => {
    expect(imageProblems(baseObjects, skaffold, false)).to.deep.equal([]);
    expect(imageProblems(objects, skaffold, true)).to.deep.equal([]);
    const used = new Set(imagesOf(objects).keys());
    expect(
      skaffold.artifacts.filter((a) => !used.has(a.image)).map((a) => a.image),
      'artifacts no manifest uses',
    ).to.deep.equal([]);
  });

  it('skaffold.yaml: v4beta13, one docker artifact per function from the Dockerfile, dev overlay, prod profile', () => {
    expect(skaffoldProblems(skaffold)).to.deep.equal([]);
    expect(skaffold.artifacts.map((a) => a.image).sort()).to.deep.equal(functionFolders.map((f) => `cofrap/${f}`));
    for (const a of skaffold.artifacts) expect([a.context, a.dockerfile], a.image).to.deep.equal(['.', 'Dockerfile']);
    expect(skaffold.kustomizePaths).to.deep.equal(['knative/overlays/dev']);
    expect(skaffold.profiles.find((p) => p.name === 'prod')?.kustomizePaths).to.deep.equal(['knative/overlays/prod']);
  });

  it("the prod overlay holds no secret; the dev overlay generates the seed secrets and the owner role's under their own names", () => {
    const prod = readKustomization(path.join(OVERLAYS_DIR, 'prod'));
    expect(prod.data).to.not.have.property('secretGenerator');
    for (const file of listFiles(prod.dir, () => true)) {
      if (!isYamlName(file)) expect.fail(`${rel(file)}: the prod overlay holds only YAML (no secret files)`);
      for (const value of parseYamlFile(file)) expect(at(value, 'kind'), rel(file)).to.not.equal('Secret');
    }
    const dev = readKustomization(path.join(OVERLAYS_DIR, 'dev'));
    const generators = listAt(dev.data, 'secretGenerator');
    expect(generators.map((g) => stringAt(g, 'name')).sort()).to.deep.equal(
      [...SECRET_NAMES, ...ADMIN_SECRET_NAMES].sort(),
    );
    for (const generator of generators) {
      const name = stringAt(generator, 'name') ?? '';
      expect(at(generator, 'options', 'disableNameSuffixHash'), name).to.equal(true);
      expect(
        listAt(generator, 'files').map((f) => String(f).split('=')[0]),
        name,
      ).to.deep.equal([name]);
    }
    const key = readFileSync(path.join(dev.dir, 'secrets', 'encryption-key'), 'utf8').trim();
    expect(key, 'dev encryption-key is one Fernet key').to.match(/^[A-Za-z0-9_-]{43}=$/);
  });

  it("the base config turns self-registration off: accounts come from HR's events (SELF_REGISTRATION=false)", () => {
    expect(baseSettings().get('SELF_REGISTRATION')).to.equal('false');
  });

  it("Knative's OIDC names as knative.dev/eventing computes them (pkg/auth serviceaccount_test.go, audience.go)", () => {
    expect(oidcServiceAccountName('group', 'kind', 'name')).to.equal('name-oidc-group-kind');
    expect(oidcServiceAccountName('eventing.knative.dev', 'Broker', 'my-Broker')).to.equal(
      'my-broker-oidc-eventing.knative.dev-broker',
    );
    expect(
      oidcServiceAccountName('eventing.knative.dev', 'Broker', 'my-loooooooooooooooooooooooooooooooooooooog-Broker'),
    ).to.equal('my-looooooooooooooooooooooooooo2dfc2a3825b8d82077b0f25518b36884');
    expect(kmetaChildName('a'.repeat(40), '-short')).to.equal(`${'a'.repeat(40)}-short`);
    expect(kmetaChildName('a'.repeat(60), '-short')).to.match(/^a{25}[0-9a-f]{32}-short$/);
    expect(triggerSubject('cofrap', 'employee-created')).to.equal(
      'system:serviceaccount:cofrap:employee-created-oidc-eventing.knative.dev-trigger',
    );
    expect(knativeAudience('eventing.knative.dev', 'Broker', 'cofrap', 'cofrap')).to.equal(
      'eventing.knative.dev/broker/cofrap/cofrap',
    );
    expect(LONGEST_PLAIN_TRIGGER_NAME).to.equal(29);
    // The sources' (pkg/reconciler/pingsource, pkg/reconciler/sinkbinding: group sources.knative.dev).
    expect(pingSourceSubject('cofrap', 'housekeeping')).to.equal(
      'system:serviceaccount:cofrap:housekeeping-oidc-sources.knative.dev-pingsource',
    );
    expect(sinkBindingSubject('cofrap', 'identity-events')).to.equal(
      'system:serviceaccount:cofrap:identity-events-oidc-sources.knative.dev-sinkbinding',
    );
    expect([LONGEST_PLAIN_PINGSOURCE_NAME, LONGEST_PLAIN_SINKBINDING_NAME]).to.deep.equal([27, 26]);
    // The Secret that holds a SinkBinding's token (kmeta.ChildName(<binding>, "-oidc-token")).
    expect(kmetaChildName('identity-events', '-oidc-token')).to.equal('identity-events-oidc-token');
  });

  it("each Trigger to employee-events sends a token for its audience; employee-events expects exactly those Triggers' identities and trusts the cluster CA for the JWKS", () => {
    const settings: JsonObject = Object.fromEntries(baseSettings('employee-events.env'));
    const triggers = triggersTo(baseObjects, EMPLOYEE_EVENTS);
    expect(triggers.map((t) => stringAt(t.object, 'spec', 'filter', 'attributes', 'type')).sort()).to.deep.equal(
      [...EMPLOYEE_EVENT_TYPES].sort(),
    );
    for (const namespace of overlayNamespaces())
      expect(eventSenderProblems(baseObjects, namespace, settings), `namespace ${namespace}`).to.deep.equal([]);
    // Spelled out for namespace cofrap, where both overlays deploy.
    expect(overlayNamespaces()).to.deep.equal(['cofrap']);
    expect(settings.EVENTS_OIDC_AUDIENCE).to.equal('serving.knative.dev/service/cofrap/employee-events');
    expect(listSetting(settings.EVENTS_OIDC_SUBJECTS)).to.deep.equal([
      'system:serviceaccount:cofrap:employee-created-oidc-eventing.knative.dev-trigger',
      'system:serviceaccount:cofrap:employee-departed-oidc-eventing.knative.dev-trigger',
      'system:serviceaccount:cofrap:employee-rehired-oidc-eventing.knative.dev-trigger',
      'system:serviceaccount:cofrap:helpdesk-reset-requested-oidc-eventing.knative.dev-trigger',
    ]);
    expect(settings.EVENTS_OIDC_ISSUER).to.equal('https://kubernetes.default.svc.cluster.local');
    expect(settings.EVENTS_OIDC_JWKS_URL).to.equal(API_SERVER_JWKS);
    expect(settings, 'HR_EVENT_SOURCES belongs to the overlays').to.not.have.property('HR_EVENT_SOURCES');

    // employee-events alone reads them, and reaches the API server's JWKS over its CA.
    expectOnlyReaderWithClusterCa(EMPLOYEE_EVENTS_CONFIG, EMPLOYEE_EVENTS);
  });

  it("the broker admits only the HR system's and the helpdesk's ServiceAccounts, each for its own event types, and employee-events' replies", () => {
    expect(baseObjects.flatMap(eventPolicyProblems)).to.deep.equal([]);
    const admitted = sendersAdmittedBy(baseObjects, 'cofrap');
    expect(admitted.filter((a) => a.sub !== undefined).map((a) => [a.policy, a.typePrefixes])).to.deep.equal([
      ['hr-system', ['fr.cofrap.hr.']],
      ['it-helpdesk', ['fr.cofrap.it.']],
    ]);
    expect(admitted.filter((a) => a.trigger !== undefined).map((a) => [a.trigger, a.typePrefixes])).to.deep.equal(
      triggersTo(baseObjects, EMPLOYEE_EVENTS).map((t) => [nameOf(t.object), [REPLY_TYPE_PREFIX]]),
    );
    // and the functions' own identity events, with the SinkBinding's identity
    expect(
      admitted.filter((a) => a.sinkBinding !== undefined).map((a) => [a.policy, a.sinkBinding, a.typePrefixes]),
    ).to.deep.equal([['identity-events', 'identity-events', [REPLY_TYPE_PREFIX]]]);
    expect(
      admitted.every((a) => [a.sub, a.trigger, a.sinkBinding].filter((x) => x !== undefined).length === 1),
      'every sender is one of the three kinds',
    ).to.equal(true);
    // Every event type employee-events takes is admitted from one sender, and only from it.
    for (const type of EMPLOYEE_EVENT_TYPES)
      expect(
        admitted.filter((a) => a.sub !== undefined && a.typePrefixes.some((p) => type.startsWith(p))),
        type,
      ).to.have.length(1);
    // Each overlay names the two ServiceAccounts (a patch of spec.from), one each.
    for (const overlay of overlayDirs) {
      const patches = listAt(readKustomization(overlay).data, 'patches')
        .map((p) => stringAt(p, 'path'))
        .filter((p): p is string => p !== undefined);
      const policies = patches
        .flatMap((p) => objectsOf(parseYamlFile(path.join(overlay, p)), rel(path.join(overlay, p))))
        .filter((l) => isA(l.object, 'eventing.knative.dev/v1alpha1', 'EventPolicy'));
      expect(
        policies.map((l) => [nameOf(l.object), listAt(l.object, 'spec', 'from').length]).sort(),
        rel(overlay),
      ).to.deep.equal([
        ['hr-system', 1],
        ['it-helpdesk', 1],
      ]);
    }
  });

  it("NetworkPolicy: the functions' pods accept connections from Knative's data plane only (activator, the ingress gateways, the autoscaler's metrics port)", () => {
    const policies = baseObjects.filter((l) => isA(l.object, 'networking.k8s.io/v1', 'NetworkPolicy'));
    expect(policies.map((l) => nameOf(l.object))).to.deep.equal(['functions-from-knative-data-plane']);
    const policy = policies[0] as Located;
    const devObjects = objects.filter((l) => !l.source.startsWith(`${rel(path.join(OVERLAYS_DIR, 'prod'))}/`));
    expect(networkPolicyProblems(policy, devObjects)).to.deep.equal([]);
    // Exactly the Knative Services' pods: not the Jobs', not PostgreSQL's.
    expect(
      podsSelectedBy(policy, devObjects)
        .map((p) => nameOf(p.owner.object))
        .sort(),
    ).to.deep.equal(functionFolders);
    expect(podsSelectedBy(policy, devObjects).every((p) => p.knative)).to.equal(true);
    expect(ingressPeersOf(policy)).to.deep.equal([
      { namespace: 'knative-serving', pods: { matchLabels: { app: 'activator' } }, ports: [] },
      { namespace: 'kourier-system', pods: undefined, ports: [] },
      { namespace: 'knative-serving', pods: { matchLabels: { app: 'autoscaler' } }, ports: ['TCP/9090'] },
    ]);
  });

  it('NetworkPolicy: the dev PostgreSQL accepts connections only from its PgBouncer and the migration Job, the PgBouncer only from the other holders of the database credentials, on 5432', () => {
    const dev = objects.filter((l) => !l.source.startsWith(`${rel(path.join(OVERLAYS_DIR, 'prod'))}/`));
    /** The pod templates one NetworkPolicy of the dev overlay, the only one that selects `target`, admits. */
    const admittedTo = (target: string, policyName: string): string[] => {
      const policies = dev.filter(
        (l) =>
          isA(l.object, 'networking.k8s.io/v1', 'NetworkPolicy') &&
          podsSelectedBy(l, dev).some((p) => nameOf(p.owner.object) === target),
      );
      expect(policies.map((l) => nameOf(l.object))).to.deep.equal([policyName]);
      const policy = policies[0] as Located;
      expect(networkPolicyProblems(policy, dev)).to.deep.equal([]);
      expect(podsSelectedBy(policy, dev).map((p) => nameOf(p.owner.object))).to.deep.equal([target]);
      const peers = ingressPeersOf(policy);
      expect(peers.map((p) => [p.namespace, p.ports])).to.deep.equal([[undefined, ['TCP/5432']]]);
      return dev
        .map(podTemplateOf)
        .filter((p): p is PodTemplate => p !== undefined && selectorMatches(peers[0]?.pods, p.metadata.labels))
        .map((p) => nameOf(p.owner.object))
        .sort();
    };
    // PostgreSQL: the pooler, and the migration Job, which connects directly (its session lock).
    expect(admittedTo('postgres', 'postgres-from-cofrap-clients')).to.deep.equal(['cofrap-migrate', 'pgbouncer']);
    // The pooler: exactly the other pods that hold the database credentials.
    const holders = podsMounting(dev, ['db-credentials-username']).filter(
      (name) => !['postgres', 'pgbouncer', 'cofrap-migrate'].includes(name),
    );
    expect(admittedTo('pgbouncer', 'pgbouncer-from-cofrap-clients')).to.deep.equal(holders);
    expect(holders)
      .to.include.members(['cofrap-rotate-encryption-key', ...PUBLISHERS])
      .and.not.include('portal');
    // The prod overlay brings no database, so no policy for one.
    expect(
      objects.filter(
        (l) => l.source.startsWith(`${rel(path.join(OVERLAYS_DIR, 'prod'))}/`) && l.object.kind === 'NetworkPolicy',
      ),
    ).to.deep.equal([]);
  });

  it('the dev overlay: the functions connect through PgBouncer in transaction mode, the migration Job to PostgreSQL directly', () => {
    const dir = path.join(OVERLAYS_DIR, 'dev');
    const dev = readKustomization(dir);
    const literals = listAt(dev.data, 'configMapGenerator')
      .filter((g) => stringAt(g, 'name') === 'cofrap-config')
      .flatMap((g) => listAt(g, 'literals').map(String));
    expect(literals).to.include('POSTGRES_HOST=pgbouncer');
    const service = objects.find((l) => isA(l.object, 'v1', 'Service') && nameOf(l.object) === 'pgbouncer') as Located;
    expect(service, 'a Service pgbouncer').to.not.equal(undefined);
    const pooler = objects.filter(
      (l) =>
        l.source.startsWith(`${rel(dir)}/`) &&
        podTemplateOf(l) !== undefined &&
        selectorMatches(
          { matchLabels: objectAt(service.object, 'spec', 'selector') },
          podTemplateOf(l)?.metadata.labels,
        ),
    );
    expect(pooler.map((l) => `${String(l.object.kind)}/${nameOf(l.object)}`)).to.deep.equal(['Deployment/pgbouncer']);
    const container = listAt((podTemplateOf(pooler[0] as Located) as PodTemplate).spec, 'containers')[0];
    expect(THIRD_PARTY_IMAGES).to.include(stringAt(container, 'image'));

    // The migration Job's own POSTGRES_HOST, a patch of the overlay, names PostgreSQL's Service.
    const patches = listAt(dev.data, 'patches').map((p) => stringAt(p, 'path') ?? '');
    const direct = patches
      .flatMap((file) => parseYamlFile(path.join(dir, file)))
      .find((doc) => isObject(doc) && doc.kind === 'Job' && stringAt(doc, 'metadata', 'name') === 'cofrap-migrate');
    const migrateEnv = listAt(direct, 'spec', 'template', 'spec', 'containers', 0, 'env');
    expect(migrateEnv.map((e) => [stringAt(e, 'name'), stringAt(e, 'value')])).to.deep.equal([
      ['POSTGRES_HOST', 'postgres'],
    ]);
    expect(objects.some((l) => isA(l.object, 'v1', 'Service') && nameOf(l.object) === 'postgres')).to.equal(true);

    // PgBouncer's configuration: transaction mode, the functions' database on PostgreSQL's
    // Service, no startup parameter ignored (a statement_timeout would be silently dropped).
    const ini = pgbouncerIni(dir, dev);
    expect(ini.pgbouncer?.pool_mode).to.equal('transaction');
    expect(ini.pgbouncer?.ignore_startup_parameters ?? '').to.equal('');
    expect(ini.pgbouncer?.listen_port).to.equal(baseSettings().get('POSTGRES_PORT'));
    const database = baseSettings().get('POSTGRES_DB') ?? '';
    expect(ini.databases?.[database], `[databases] ${database}`)
      .to.match(/(^| )host=postgres( |$)/)
      .and.match(new RegExp(`(^| )dbname=${database}( |$)`));
  });

  it("behind the dev PgBouncer: every pod's PG_POOL_MAX fits its client connections, and its server connections plus the migration Job stay under PostgreSQL's 100", () => {
    const dir = path.join(OVERLAYS_DIR, 'dev');
    const ini = pgbouncerIni(dir, readKustomization(dir));
    const pool = Number(baseSettings().get('PG_POOL_MAX'));
    const pods = baseObjects
      .filter((l) => isKnativeService(l.object) && opensDatabase(l))
      .map((l) =>
        Number(at(l.object, 'spec', 'template', 'metadata', 'annotations', 'autoscaling.knative.dev/max-scale')),
      );
    // every Service at its max-scale, the rotation CronJob and an operator's pod
    const clients = (pods.reduce((sum, n) => sum + n, 0) + 2) * pool;
    expect(clients, `(${pods.join(' + ')} + 2) × ${pool}`).to.be.at.most(Number(ini.pgbouncer?.max_client_conn));
    const server = Number(ini.pgbouncer?.max_db_connections);
    expect(server, "max_db_connections bounds the pooler's server connections").to.be.above(0);
    expect(Number(ini.pgbouncer?.default_pool_size)).to.be.at.most(server);
    // PostgreSQL's default max_connections, less its 3 superuser_reserved_connections
    expect(server + pool, `${server} + ${pool} (the migration Job)`).to.be.below(100 - 3);
  });

  it("only the migration Job mounts the owner role's secrets (db-admin-username, db-admin-password); the Services and the rotation CronJob do not", () => {
    const own = baseObjects.map(podTemplateOf).filter((p): p is PodTemplate => p !== undefined);
    expect(podsMounting(baseObjects, ADMIN_SECRET_NAMES)).to.deep.equal(['cofrap-migrate']);
    for (const pod of own) {
      const migration = listAt(pod.spec, 'containers').some(runsMigration);
      expect(migration, describeObject(pod.owner)).to.equal(nameOf(pod.owner.object) === 'cofrap-migrate');
      const mounted = podsMounting([pod.owner], ADMIN_SECRET_NAMES).length === 1;
      expect(mounted, `${describeObject(pod.owner)} mounts the owner role's secrets`).to.equal(migration);
      // and every one of them still has the functions' role (the migration grants it)
      expect(podsMounting([pod.owner], ['db-credentials-username']), describeObject(pod.owner)).to.have.length(
        nameOf(pod.owner.object) === 'portal' ? 0 : 1,
      );
    }
  });

  it("the dev PostgreSQL makes the two roles on its first start: the owner role's password, the init script, neither role a superuser", () => {
    const postgres = objects.find((l) => l.object.kind === 'Deployment' && nameOf(l.object) === 'postgres') as Located;
    const pod = podTemplateOf(postgres) as PodTemplate;
    const container = listAt(pod.spec, 'containers')[0];
    const env = Object.fromEntries(
      listAt(container, 'env').map((e): [string, string | undefined] => [
        String(stringAt(e, 'name')),
        stringAt(e, 'value'),
      ]),
    );
    expect(env.POSTGRES_PASSWORD_FILE).to.equal(`${SECRETS_DIR}/db-admin-password`);
    expect(env, "the superuser is the image's postgres, not one of the two roles").to.not.have.property(
      'POSTGRES_USER_FILE',
    );
    expect(
      podsMounting([postgres], [...SECRET_NAMES.filter((n) => n !== 'encryption-key'), ...ADMIN_SECRET_NAMES]),
    ).to.deep.equal(['postgres']);
    const initMount = listAt(container, 'volumeMounts').find(
      (m) => stringAt(m, 'mountPath') === '/docker-entrypoint-initdb.d',
    );
    const initVolume = listAt(pod.spec, 'volumes').find((v) => stringAt(v, 'name') === stringAt(initMount, 'name'));
    expect(stringAt(initVolume, 'configMap', 'name')).to.equal('postgres-init');
    expect(
      Number(at(initVolume, 'configMap', 'defaultMode')) & 0o111,
      'the script is executable (run, not sourced)',
    ).to.equal(0o111);
    const dev = readKustomization(path.join(OVERLAYS_DIR, 'dev'));
    const generator = listAt(dev.data, 'configMapGenerator').find((g) => stringAt(g, 'name') === 'postgres-init');
    const scripts = listAt(generator, 'files').map(String);
    expect(scripts).to.deep.equal(['postgres-init/create-roles.sh']);
    const script = readFileSync(path.join(dev.dir, scripts[0] as string), 'utf8');
    for (const file of [...ADMIN_SECRET_NAMES, 'db-credentials-username', 'db-credentials-password'])
      expect(script).to.contain(`$secrets/${file}`);
    expect(script).to.match(/^#!\/bin\/sh\n/);
    const roleStatements = script.split('\n').filter((line) => /^\s*(CREATE|ALTER) ROLE/i.test(line));
    expect(roleStatements).to.have.length(2);
    for (const line of roleStatements)
      expect(line)
        .to.match(/ LOGIN PASSWORD /)
        .and.not.match(/\b(SUPERUSER|CREATEDB|CREATEROLE|BYPASSRLS|REPLICATION)\b/i);
  });

  it("housekeeping: a cluster-local Service scaled to zero, with the functions' secrets and settings, and its own OIDC settings over the cluster CA", () => {
    const service = baseObjects.find((l) => isKnativeService(l.object) && nameOf(l.object) === HOUSEKEEPING) as Located;
    expect(service, 'knative/base/housekeeping.yaml').to.not.equal(undefined);
    expect(stringAt(service.object, 'metadata', 'labels', 'networking.knative.dev/visibility')).to.equal(
      'cluster-local',
    );
    const annotations = objectAt(service.object, 'spec', 'template', 'metadata', 'annotations') ?? {};
    expect(annotations['autoscaling.knative.dev/min-scale'], 'scaled to zero').to.equal('0');
    expect(annotations['autoscaling.knative.dev/max-scale']).to.equal('1');
    const pod = podTemplateOf(service) as PodTemplate;
    expect(podsMounting([service], SECRET_NAMES)).to.deep.equal([HOUSEKEEPING]);
    expect(podsMounting([service], ADMIN_SECRET_NAMES)).to.deep.equal([]);
    const container = listAt(pod.spec, 'containers')[0];
    expect(listAt(container, 'envFrom').map((e) => stringAt(e, 'configMapRef', 'name'))).to.deep.equal([
      'cofrap-config',
      HOUSEKEEPING_CONFIG,
    ]);
    // housekeeping alone reads its ConfigMap, and reaches the API server's JWKS over its CA (as employee-events).
    expectOnlyReaderWithClusterCa(HOUSEKEEPING_CONFIG, HOUSEKEEPING);
    // Its settings: the reminders and the retention of contract §11/§12, the same issuer and keys as employee-events'.
    const settings = baseSettings('housekeeping.env');
    const events = baseSettings('employee-events.env');
    expect(settings.get('EXPIRY_REMINDERS')).to.equal('30 days,7 days,1 day');
    expect(settings.get('AUDIT_RETENTION')).to.equal('400 days');
    expect(settings.get('EVENTS_OIDC_ISSUER')).to.equal(events.get('EVENTS_OIDC_ISSUER'));
    expect(settings.get('EVENTS_OIDC_JWKS_URL')).to.equal(events.get('EVENTS_OIDC_JWKS_URL'));
    expect(
      [...settings.keys()].filter((key) => key.startsWith('HR_')),
      "HR_EVENT_SOURCES is employee-events'",
    ).to.deep.equal([]);
    // The NetworkPolicy of the functions takes it in (the PingSource's adapter comes through the gateway or the activator).
    const policy = baseObjects.find((l) => isA(l.object, 'networking.k8s.io/v1', 'NetworkPolicy')) as Located;
    expect(podsSelectedBy(policy, [service])).to.have.length(1);
  });

  it("housekeeping: a PingSource fires it every minute with a token for its audience; housekeeping expects exactly that PingSource's identity", () => {
    const settings: JsonObject = Object.fromEntries(baseSettings('housekeeping.env'));
    const sources = pingSourcesTo(baseObjects, HOUSEKEEPING);
    expect(sources.map((l) => [nameOf(l.object), stringAt(l.object, 'spec', 'schedule')])).to.deep.equal([
      [HOUSEKEEPING, EVERY_MINUTE],
    ]);
    expect(baseObjects.filter((l) => isA(l.object, 'sources.knative.dev/v1', 'PingSource'))).to.have.length(1);
    for (const namespace of overlayNamespaces())
      expect(tickSenderProblems(baseObjects, namespace, settings), `namespace ${namespace}`).to.deep.equal([]);
    // Spelled out for namespace cofrap.
    expect(at(sources[0]?.object, 'spec', 'sink')).to.deep.equal({
      ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: HOUSEKEEPING },
      audience: 'serving.knative.dev/service/cofrap/housekeeping',
    });
    expect(settings.EVENTS_OIDC_AUDIENCE).to.equal('serving.knative.dev/service/cofrap/housekeeping');
    expect(listSetting(settings.EVENTS_OIDC_SUBJECTS)).to.deep.equal([
      'system:serviceaccount:cofrap:housekeeping-oidc-sources.knative.dev-pingsource',
    ]);
    expect(referenceProblems(baseObjects, { requireConfigMaps: false, requireSecrets: false })).to.deep.equal([]);
  });

  it('identity events: every function that opens the database gets K_SINK from the SinkBinding identity-events to the broker cofrap, the portal none; the broker admits that identity for fr.cofrap.identity.* only', () => {
    expect(
      baseObjects
        .filter((l) => isKnativeService(l.object) && opensDatabase(l))
        .map((l) => nameOf(l.object))
        .sort(),
    ).to.deep.equal(PUBLISHERS);
    expect(identityEventProblems(baseObjects, 'cofrap')).to.deep.equal([]);
    const wiring = sinkWiringOf(baseObjects);
    for (const name of functionFolders)
      expect(wiring.get(name), name).to.deep.equal(
        PUBLISHERS.includes(name) ? ['SinkBinding identity-events → Broker cofrap'] : [],
      );
    const bindings = baseObjects.filter((l) => isSinkBinding(l.object));
    expect(bindings.map((l) => nameOf(l.object))).to.deep.equal(['identity-events']);
    expect(
      subjectsOf(bindings[0] as Located, baseObjects)
        .map((l) => nameOf(l.object))
        .sort(),
    ).to.deep.equal(PUBLISHERS);
    // K_SINK comes from the binding alone: not from config.env, not from a Service's env.
    expect(baseSettings().has('K_SINK')).to.equal(false);
    expect(baseSettings('housekeeping.env').has('K_SINK')).to.equal(false);
  });

  it("identity events: the Services as the SinkBinding's webhook leaves them keep every rule, and SINK_OIDC_TOKEN_FILE names the token it mounts (/oidc/token)", () => {
    expect(baseSettings().get('SINK_OIDC_TOKEN_FILE')).to.equal(SINK_BINDING_TOKEN_FILE);
    const binding = baseObjects.find((l) => isSinkBinding(l.object)) as Located;
    const bound = subjectsOf(binding, baseObjects).map((l) =>
      boundBySinkBinding(l, binding, 'http://broker-ingress.knative-eventing.svc.cluster.local/cofrap/cofrap'),
    );
    expect(bound).to.have.length(PUBLISHERS.length);
    for (const l of bound) {
      const pod = podTemplateOf(l) as PodTemplate;
      expect(
        [...modelProblems(l), ...knativeServiceProblems(l), ...podProblems(pod), ...ownImageProblems(pod, uid)],
        describeObject(l),
      ).to.deep.equal([]);
      const env = listAt(pod.spec, 'containers', 0, 'env').map((e) => stringAt(e, 'name'));
      expect(
        env.filter((name) => name === 'K_SINK'),
        `${describeObject(l)}: one K_SINK`,
      ).to.have.length(1);
      const mounts = listAt(pod.spec, 'containers', 0, 'volumeMounts').map((m) => stringAt(m, 'mountPath'));
      expect(
        mounts.filter((m) => m === path.posix.dirname(SINK_BINDING_TOKEN_FILE)),
        `${describeObject(l)}: the token's directory is free`,
      ).to.have.length(1);
    }
  });

  it("PG_POOL_MAX × the max-scale of the Services that open the database, plus the migration Job, stays under PostgreSQL's 100 connections", () => {
    const pool = Number(baseSettings().get('PG_POOL_MAX'));
    const pods = baseObjects
      .filter((l) => isKnativeService(l.object) && opensDatabase(l))
      .map((l) =>
        Number(at(l.object, 'spec', 'template', 'metadata', 'annotations', 'autoscaling.knative.dev/max-scale')),
      );
    expect(pods).to.have.length(PUBLISHERS.length);
    const total = pods.reduce((sum, n) => sum + n, 0) * pool + pool;
    expect(total, `(${pods.join(' + ')}) × ${pool} + ${pool}`).to.be.below(100);
  });

  it('the mailer example (knative/examples, applied by no overlay): a Trigger of the broker cofrap for each of account.invited, account.reset and credentials.expiring, to the mailer with its audience', function () {
    const kustomization = readKustomization(EXAMPLES_DIR);
    expect(kustomization.problems).to.deep.equal([]);
    expect(stringAt(kustomization.data, 'namespace')).to.equal('cofrap');
    for (const overlay of [BASE_DIR, ...overlayDirs])
      expect(
        listAt(readKustomization(overlay).data, 'resources')
          .map(String)
          .filter((r) => r.includes('examples')),
        rel(overlay),
      ).to.deep.equal([]);
    const file = path.join(EXAMPLES_DIR, 'mailer-trigger.yaml');
    const triggers = objectsOf(parseYamlFile(file), rel(file));
    expect(triggers.flatMap(modelProblems)).to.deep.equal([]);
    expect(
      triggers.map((l) => [
        l.object.kind,
        stringAt(l.object, 'spec', 'broker'),
        stringAt(l.object, 'spec', 'filter', 'attributes', 'type'),
      ]),
    ).to.deep.equal([
      ['Trigger', 'cofrap', 'fr.cofrap.identity.account.invited'],
      ['Trigger', 'cofrap', 'fr.cofrap.identity.account.reset'],
      ['Trigger', 'cofrap', 'fr.cofrap.identity.credentials.expiring'],
    ]);
    for (const t of triggers) {
      expect(at(t.object, 'spec', 'subscriber'), nameOf(t.object)).to.deep.equal({
        ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'mailer' },
        audience: knativeAudience('serving.knative.dev', 'Service', 'cofrap', 'mailer'),
      });
      expect(nameOf(t.object).length, nameOf(t.object)).to.be.at.most(LONGEST_PLAIN_TRIGGER_NAME);
    }
    // With the base and a mailer Service, every reference resolves: the broker, the mailer.
    const mailer = structuredClone(
      baseObjects.find((l) => nameOf(l.object) === 'generate-2fa' && isKnativeService(l.object)) as Located,
    );
    (objectAt(mailer.object, 'metadata') as JsonObject).name = 'mailer';
    expect(
      referenceProblems([...baseObjects, mailer, ...triggers], { requireConfigMaps: false, requireSecrets: false }),
    ).to.deep.equal([]);
    if (kubectlOnPath())
      expect(
        renderKustomization(EXAMPLES_DIR).map((l) => [
          l.object.kind,
          nameOf(l.object),
          stringAt(l.object, 'metadata', 'namespace'),
        ]),
      ).to.deep.equal(triggers.map((l) => ['Trigger', nameOf(l.object), 'cofrap']));
  });

  it("the Dockerfile: ARG NODE_BASE (Node 22) and ARG FUNCTION, the function's bundle and the pruned bcrypt addon, numeric USER, exec-form CMD", () => {
    const facts = dockerfileFacts(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
    expect(facts.problems).to.deep.equal([]);
    expect(facts.uid).to.equal(10001);
  });

  it('.dockerignore sends the builder what the build needs, and never .data, .git or node_modules', () => {
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8');
    for (const name of ['.data', '.git', 'node_modules', 'dist', 'test', 'knative', 'docs', '.ci', '.env']) {
      expect(dockerContextIncludes(ignore, name), `${name} must stay out of the build context`).to.equal(false);
    }
    // What npm ci and npm run build read: the package files, tsconfig's inputs (tests
    // aside), the build scripts and the assets they copy.
    const tsconfig = JSON.parse(readFileSync(path.join(ROOT, 'tsconfig.json'), 'utf8')) as { include?: string[] };
    const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    const build = packageJson.scripts?.build ?? '';
    const scripts = [...build.matchAll(/node\s+(\S+)/g)].map((m) => m[1] ?? '');
    const copied = scripts.flatMap((script) =>
      [...readFileSync(path.join(ROOT, script), 'utf8').matchAll(/cpSync\(\s*'([^']+)'/g)].map((m) => m[1] ?? ''),
    );
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      ...(tsconfig.include ?? []).filter((dir) => dir !== 'test'),
      ...scripts,
      ...copied,
    ];
    const topLevel = [...new Set(needed.map((p) => p.split('/')[0] ?? p))];
    for (const name of topLevel)
      expect(dockerContextIncludes(ignore, name), `${name} is needed by the build`).to.equal(true);
  });

  it('each overlay, as kubectl kustomize renders it, passes the same checks', function () {
    if (!kubectlOnPath()) {
      console.log('    ! SKIPPED: kubectl not on PATH; overlays not rendered');
      this.skip();
    }
    const settings = baseSettings();
    for (const dir of [BASE_DIR, ...overlayDirs]) {
      const rendered = renderKustomization(dir);
      const where = `kubectl kustomize ${rel(dir)}`;
      const kustomization = readKustomization(dir);
      const generatesSecrets = listAt(kustomization.data, 'secretGenerator').length > 0;
      expect(
        objectProblems(rendered, uid, { requireConfigMaps: true, requireSecrets: generatesSecrets }),
        where,
      ).to.deep.equal([]);
      expect(imageProblems(rendered, skaffold, dir !== BASE_DIR), where).to.deep.equal([]);
      expect(
        rendered
          .filter((l) => isKnativeService(l.object))
          .map((l) => nameOf(l.object))
          .sort(),
        where,
      ).to.deep.equal(functionFolders);

      // The settings reached the generated ConfigMap; one bcrypt thread per CPU of the limit.
      const config = cofrapConfig(rendered);
      expect(config, `${where}: cofrap-config`).to.not.equal(undefined);
      for (const key of settings.keys()) expect(config, `${where}: cofrap-config`).to.have.property(key);
      expect(config?.SECRETS_DIR, where).to.equal(SECRETS_DIR);
      for (const l of rendered.filter((x) => isKnativeService(x.object))) {
        const cpu =
          quantity(at(l.object, 'spec', 'template', 'spec', 'containers', 0, 'resources', 'limits', 'cpu')) ?? 0;
        expect(
          Number(config?.BCRYPT_THREADS),
          `${describeObject(l)}: BCRYPT_THREADS within the CPU limit`,
        ).to.be.within(1, Math.max(1, Math.floor(cpu)));
      }
      expect(config?.SELF_REGISTRATION, where).to.equal('false');
      expect(rendered.flatMap(eventPolicyProblems), where).to.deep.equal([]);
      expect(
        rendered.flatMap((l) => networkPolicyProblems(l, rendered)),
        where,
      ).to.deep.equal([]);
      if (dir === BASE_DIR) continue;

      // employee-events: the overlay's namespace in its audience and subjects, the overlay's
      // sources; the broker: exactly the overlay's two ServiceAccounts, and the replies.
      const namespace = stringAt(kustomization.data, 'namespace') ?? '';
      const senderSettings = cofrapConfig(rendered, EMPLOYEE_EVENTS_CONFIG);
      expect(senderSettings, `${where}: ${EMPLOYEE_EVENTS_CONFIG}`).to.not.equal(undefined);
      expect(eventSenderProblems(rendered, namespace, senderSettings ?? {}), where).to.deep.equal([]);
      expect(listSetting(senderSettings?.HR_EVENT_SOURCES), `${where}: HR_EVENT_SOURCES`).to.have.length(2);
      // housekeeping: the overlay's namespace in its audience and subject, the PingSource's
      // audience; the same issuer and keys as employee-events'.
      const tickSettings = cofrapConfig(rendered, HOUSEKEEPING_CONFIG);
      expect(tickSettings, `${where}: ${HOUSEKEEPING_CONFIG}`).to.not.equal(undefined);
      expect(tickSenderProblems(rendered, namespace, tickSettings ?? {}), where).to.deep.equal([]);
      for (const key of ['EVENTS_OIDC_ISSUER', 'EVENTS_OIDC_JWKS_URL'])
        expect(tickSettings?.[key], `${where}: ${key}`).to.equal(senderSettings?.[key]);
      // Identity events: K_SINK for the database functions from the SinkBinding, admitted by the broker.
      expect(identityEventProblems(rendered, 'cofrap'), where).to.deep.equal([]);
      const subs = sendersAdmittedBy(rendered, 'cofrap').filter((a) => a.sub !== undefined);
      expect(
        subs.map((a) => a.policy),
        where,
      ).to.deep.equal(['hr-system', 'it-helpdesk']);
      expect(
        subs.map((a) => (a.sub ?? '').split(':').pop()),
        where,
      ).to.deep.equal(['hr-connector', 'it-helpdesk']);
      expect(
        new Set(subs.map((a) => (a.sub ?? '').split(':')[2])).size,
        `${where}: both in the namespace the overlay names`,
      ).to.equal(1);
      if (path.basename(dir) === 'dev') {
        const accounts = rendered
          .filter((l) => isA(l.object, 'v1', 'ServiceAccount'))
          .map((l) => `system:serviceaccount:${namespace}:${nameOf(l.object)}`);
        expect(
          subs.map((a) => a.sub),
          `${where}: the senders are the overlay's own ServiceAccounts`,
        ).to.deep.equal(accounts.sort());
      }

      if (path.basename(dir) === 'prod') {
        for (const l of rendered.filter((x) => isKnativeService(x.object))) {
          if (stringAt(l.object, 'metadata', 'labels', 'networking.knative.dev/visibility') === 'cluster-local')
            continue;
          expect(
            stringAt(l.object, 'metadata', 'annotations', 'networking.knative.dev/http-protocol'),
            `${describeObject(l)}: HTTPS only`,
          ).to.equal('redirected');
        }
      }
      expect(namespace, `${where}: namespace`).to.be.a('string').and.not.equal('');
      for (const l of rendered)
        if (l.object.kind !== 'Namespace')
          expect(stringAt(l.object, 'metadata', 'namespace'), describeObject(l)).to.equal(namespace);
      const host = config?.POSTGRES_HOST;
      expect(host, `${where}: POSTGRES_HOST (the embedded database is refused on Knative)`)
        .to.be.a('string')
        .and.not.equal('');
      const secrets = rendered.filter((l) => l.object.kind === 'Secret');
      if (generatesSecrets) {
        expect(secrets.map((l) => nameOf(l.object)).sort(), where).to.deep.equal(
          [...SECRET_NAMES, ...ADMIN_SECRET_NAMES].sort(),
        );
        for (const l of secrets)
          expect(Object.keys(objectAt(l.object, 'data') ?? {}), describeObject(l)).to.deep.equal([nameOf(l.object)]);
        // The database the overlay brings is the one the functions are pointed at.
        expect(
          rendered.some((l) => isA(l.object, 'v1', 'Service') && nameOf(l.object) === host),
          `${where}: POSTGRES_HOST=${String(host)} is a Service of the overlay`,
        ).to.equal(true);
      } else {
        expect(secrets.map(describeObject), `${where}: no Secret may be rendered`).to.deep.equal([]);
      }
    }
  });
});

describe('deployment: the checks catch broken manifests', () => {
  let service: Located;
  let job: Located;

  before(() => {
    const objects = objectsOf(
      parseYamlFile(path.join(BASE_DIR, 'authenticate.yaml')),
      'knative/base/authenticate.yaml',
    );
    service = objects.find((l) => isKnativeService(l.object)) as Located;
    job = objectsOf(
      parseYamlFile(path.join(BASE_DIR, 'migrate-job.yaml')),
      'knative/base/migrate-job.yaml',
    )[0] as Located;
  });

  /** A deep copy of the object with one change, and the problems the checks find in it. */
  function broken(
    original: Located,
    change: (spec: JsonObject, container: JsonObject, object: JsonObject) => void,
  ): string[] {
    const copy = structuredClone(original);
    const pod = podTemplateOf(copy);
    const container = listAt(pod?.spec, 'containers')[0];
    if (pod === undefined || !isObject(container)) throw new Error('no pod template');
    change(pod.spec, container, copy.object);
    return [
      ...modelProblems(copy),
      ...knativeServiceProblems(copy),
      ...podProblems(pod),
      ...ownImageProblems(pod, 10001),
    ];
  }

  it('the unchanged objects pass', () => {
    expect(broken(service, () => undefined)).to.deep.equal([]);
    expect(broken(job, () => undefined)).to.deep.equal([]);
  });

  it('a user-set PORT or K_SERVICE', () => {
    expect(broken(service, (_s, c) => (c.env = [{ name: 'PORT', value: '8080' }])).join()).to.include(
      'env PORT is reserved',
    );
    expect(broken(service, (_s, c) => (c.env = [{ name: 'K_SERVICE', value: 'x' }])).join()).to.include(
      'env K_SERVICE is reserved',
    );
  });

  it('a reserved port, a second port, a port name other than http1/h2c, a probe port', () => {
    expect(broken(service, (_s, c) => (c.ports = [{ name: 'http1', containerPort: 8012 }])).join()).to.include(
      '8012 is reserved',
    );
    expect(
      broken(service, (_s, c) => (c.ports = [{ containerPort: 8080 }, { containerPort: 8081 }])).join(),
    ).to.include('one container port');
    expect(broken(service, (_s, c) => (c.ports = [{ name: 'http', containerPort: 8080 }])).join()).to.include(
      'must be empty, http1 or h2c',
    );
    expect(
      broken(service, (_s, c) => ((c.livenessProbe as JsonObject).httpGet = { path: '/healthz', port: 9000 })).join(),
    ).to.include('port must be left out');
  });

  it('a volumeMount without its volume, a volume never mounted, a writable secret mount, a PVC volume', () => {
    expect(broken(service, (s) => (s.volumes = listAt(s, 'volumes').slice(0, 1))).join()).to.include(
      'volumeMount tmp has no matching volume',
    );
    expect(
      broken(service, (s) => (s.volumes = [...listAt(s, 'volumes'), { name: 'extra', emptyDir: {} }])).join(),
    ).to.include('volume extra is not mounted');
    expect(
      broken(service, (_s, c) => ((objectAt(c, 'volumeMounts', 0) as JsonObject).readOnly = false)).join(),
    ).to.include('must be readOnly');
    expect(
      broken(
        service,
        (s) => (s.volumes = [listAt(s, 'volumes')[0], { name: 'tmp', persistentVolumeClaim: { claimName: 'x' } }]),
      ).join(),
    ).to.include('volume tmp must be exactly one of');
  });

  it('autoscaling annotations on the Service instead of its revision template, a missing min-scale, a target above containerConcurrency', () => {
    expect(
      broken(service, (_s, _c, o) => {
        const template = objectAt(o, 'spec', 'template', 'metadata') as JsonObject;
        (objectAt(o, 'metadata') as JsonObject).annotations = template.annotations;
        delete template.annotations;
      }).join(),
    ).to.include("on the Service's metadata has no effect");
    expect(
      broken(
        service,
        (_s, _c, o) =>
          delete (objectAt(o, 'spec', 'template', 'metadata', 'annotations') as JsonObject)[
            'autoscaling.knative.dev/min-scale'
          ],
      ).join(),
    ).to.include('min-scale must be "0"');
    expect(broken(service, (s) => (s.containerConcurrency = 2)).join()).to.include('above containerConcurrency');
  });

  it('fields Knative refuses: a pod securityContext, a lifecycle hook, a readiness failureThreshold with no period', () => {
    expect(broken(service, (s) => (s.securityContext = { runAsNonRoot: true })).join()).to.include(
      'spec.template.spec.securityContext is refused',
    );
    expect(
      broken(service, (_s, c) => (c.lifecycle = { preStop: { exec: { command: ['sleep', '5'] } } })).join(),
    ).to.include('field lifecycle is refused');
    expect(broken(service, (_s, c) => ((c.readinessProbe as JsonObject).failureThreshold = 3)).join()).to.include(
      'failureThreshold is refused',
    );
  });

  it('a secret in the environment, a plain secret volume, secrets elsewhere than SECRETS_DIR', () => {
    expect(
      broken(
        service,
        (_s, c) =>
          (c.env = [
            {
              name: 'DB_PASSWORD',
              valueFrom: { secretKeyRef: { name: 'db-credentials-password', key: 'db-credentials-password' } },
            },
          ]),
      ).join(),
    ).to.include('reads a Secret (secretKeyRef)');
    expect(broken(job, (_s, c) => (c.envFrom = [{ secretRef: { name: 'encryption-key' } }])).join()).to.include(
      'envFrom reads Secret encryption-key',
    );
    expect(
      broken(
        service,
        (s) => (s.volumes = [{ name: 'secrets', secret: { secretName: 'encryption-key' } }, listAt(s, 'volumes')[1]]),
      ).join(),
    ).to.include('is a secret volume');
    expect(
      broken(service, (_s, c) => ((objectAt(c, 'volumeMounts', 0) as JsonObject).mountPath = '/secrets')).join(),
    ).to.include(`nothing is mounted at ${SECRETS_DIR}`);
    expect(broken(service, (s) => listAt(s, 'volumes', 0, 'projected', 'sources').pop()).join()).to.include(
      'must hold exactly',
    );
  });

  it('the portal given the secrets it must not see', () => {
    const portal = objectsOf(
      parseYamlFile(path.join(BASE_DIR, 'portal.yaml')),
      'knative/base/portal.yaml',
    )[0] as Located;
    expect(broken(portal, () => undefined)).to.deep.equal([]);
    const secrets = listAt(podTemplateOf(service)?.spec, 'volumes', 0);
    expect(
      broken(portal, (s, c) => {
        s.volumes = [...listAt(s, 'volumes'), structuredClone(secrets)];
        c.volumeMounts = [...listAt(c, 'volumeMounts'), { name: 'secrets', mountPath: SECRETS_DIR, readOnly: true }];
      }).join(),
    ).to.include('needs no secret');
  });

  it("a security context short of restricted, a missing limit, an unpinned image, another user than the Dockerfile's", () => {
    expect(
      broken(service, (_s, c) => ((c.securityContext as JsonObject).allowPrivilegeEscalation = true)).join(),
    ).to.include('allowPrivilegeEscalation must be false');
    expect(
      broken(job, (s, c) => {
        delete (c.securityContext as JsonObject).runAsNonRoot;
        delete (s.securityContext as JsonObject).runAsNonRoot;
      }).join(),
    ).to.include('runAsNonRoot must be true');
    expect(
      broken(service, (_s, c) => ((c.securityContext as JsonObject).readOnlyRootFilesystem = false)).join(),
    ).to.include('readOnlyRootFilesystem must be true');
    expect(broken(service, (_s, c) => delete (objectAt(c, 'resources') as JsonObject).limits).join()).to.include(
      'resources.limits.cpu is missing',
    );
    expect(broken(job, (_s, c) => (c.image = 'postgres')).join()).to.include('is not pinned');
    expect(broken(service, (_s, c) => ((c.securityContext as JsonObject).runAsUser = 1000)).join()).to.include(
      "is not the Dockerfile's USER",
    );
  });

  it('a wrong type caught by the models (containerConcurrency as a string, an annotation as a number)', () => {
    expect(broken(service, (s) => (s.containerConcurrency = '8')).join()).to.include(
      'containerConcurrency must be integer',
    );
    expect(
      broken(
        service,
        (_s, _c, o) =>
          ((objectAt(o, 'spec', 'template', 'metadata', 'annotations') as JsonObject)[
            'autoscaling.knative.dev/max-scale'
          ] = 10),
      ).join(),
    ).to.include('max-scale');
  });

  it('YAML 1.1 as Kubernetes reads it: an unquoted yes is a boolean, a duplicate key is refused', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cofrap-manifests-'));
    try {
      writeFileSync(
        path.join(dir, 'cm.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  SELF_REGISTRATION: yes\n',
      );
      expect(
        objectsOf(parseYamlFile(path.join(dir, 'cm.yaml')), 'cm.yaml')
          .flatMap(modelProblems)
          .join(),
      ).to.include('must be string');
      writeFileSync(path.join(dir, 'dup.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n');
      expect(() => parseYamlFile(path.join(dir, 'dup.yaml'))).to.throw(/unique/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a trigger to a Service that does not exist, or to a plain Kubernetes Service', () => {
    const base = objectsOf(parseYamlFile(path.join(BASE_DIR, 'eventing.yaml')), 'eventing.yaml').concat(service);
    const options = { requireConfigMaps: false, requireSecrets: false };
    expect(referenceProblems(base, options).join()).to.include('employee-events'); // authenticate alone: no employee-events
    const retargeted = base.map((l) => structuredClone(l));
    for (const l of retargeted)
      if (l.object.kind === 'Trigger')
        (objectAt(l.object, 'spec', 'subscriber', 'ref') as JsonObject).name = 'authenticate';
    expect(referenceProblems(retargeted, options)).to.deep.equal([]);
    for (const l of retargeted)
      if (l.object.kind === 'Trigger')
        (objectAt(l.object, 'spec', 'subscriber', 'ref') as JsonObject).apiVersion = 'v1';
    expect(referenceProblems(retargeted, options).join()).to.include('must be a Knative Service');
  });

  it('a Trigger to employee-events without its OIDC audience, a Trigger that employee-events does not expect, replies the broker refuses', () => {
    const base = objectsOf(parseYamlFile(path.join(BASE_DIR, 'eventing.yaml')), 'eventing.yaml').concat(
      objectsOf(parseYamlFile(path.join(BASE_DIR, 'event-policies.yaml')), 'event-policies.yaml'),
    );
    const settings: JsonObject = {};
    for (const line of readFileSync(path.join(BASE_DIR, 'employee-events.env'), 'utf8').split('\n')) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line);
      if (match !== null) settings[match[1] ?? ''] = match[2] ?? '';
    }
    expect(eventSenderProblems(base, 'cofrap', settings)).to.deep.equal([]);
    expect(eventSenderProblems(base, 'elsewhere', settings).join()).to.include(
      'EVENTS_OIDC_AUDIENCE must be serving.knative.dev/service/elsewhere/employee-events',
    );

    const noAudience = base.map((l) => structuredClone(l));
    delete (objectAt(noAudience.find((l) => l.object.kind === 'Trigger')?.object, 'spec', 'subscriber') as JsonObject)
      .audience;
    expect(eventSenderProblems(noAudience, 'cofrap', settings).join()).to.include('the broker sends no token');

    const extra = structuredClone(base.find((l) => l.object.kind === 'Trigger') as Located);
    (objectAt(extra.object, 'metadata') as JsonObject).name = 'employee-promoted';
    const problems = eventSenderProblems([...base, extra], 'cofrap', settings).join('\n');
    expect(problems).to.include('EVENTS_OIDC_SUBJECTS must name');
    expect(problems).to.include('the replies of');

    const misspelt = structuredClone(base.find((l) => l.object.kind === 'Trigger') as Located);
    (objectAt(misspelt.object, 'spec', 'subscriber') as JsonObject).audiance = 'x';
    expect(modelProblems(misspelt).join()).to.include('must NOT have additional properties (audiance)');

    const long = structuredClone(extra);
    (objectAt(long.object, 'metadata') as JsonObject).name = 'employee-created-by-the-hr-system';
    expect(eventSenderProblems([...base, long], 'cofrap', settings).join()).to.include(
      'hashed OIDC ServiceAccount name',
    );
  });

  it('an EventPolicy Knative refuses: both ref and sub, a wildcard before the end, a misspelt field, two dialects in one filter; one that admits a whole namespace', () => {
    const policy = objectsOf(
      parseYamlFile(path.join(BASE_DIR, 'event-policies.yaml')),
      'event-policies.yaml',
    )[0] as Located;
    const change = (edit: (spec: JsonObject) => void): string[] => {
      const copy = structuredClone(policy);
      edit(objectAt(copy.object, 'spec') as JsonObject);
      return [...modelProblems(copy), ...eventPolicyProblems(copy)];
    };
    expect(change(() => undefined)).to.deep.equal([]);
    expect(
      change(
        (spec) =>
          (spec.from = [
            { sub: 'system:serviceaccount:hr:x', ref: { apiVersion: 'v1', kind: 'ServiceAccount', name: 'x' } },
          ]),
      ).join(),
    ).to.include('both ref and sub');
    expect(change((spec) => (spec.from = [{ sub: 'system:*:hr' }])).join()).to.include("'*' is only allowed as suffix");
    expect(change((spec) => (spec.from = [{ subject: 'system:serviceaccount:hr:x' }])).join()).to.include(
      'must NOT have additional properties (subject)',
    );
    expect(change((spec) => (spec.filters = [{ prefix: { type: 'fr.' }, exact: { type: 'fr.x' } }])).join()).to.include(
      'exactly one dialect',
    );
    const wide = structuredClone(policy);
    (objectAt(wide.object, 'spec') as JsonObject).from = [{ sub: 'system:serviceaccount:hr-integration:*' }];
    const triggers = objectsOf(parseYamlFile(path.join(BASE_DIR, 'eventing.yaml')), 'eventing.yaml');
    expect(eventSenderProblems([...triggers, wide], 'cofrap', { EVENTS_OIDC_AUDIENCE: 'x' }).join()).to.include(
      'is not one ServiceAccount',
    );
  });

  it("a NetworkPolicy that admits every namespace, or selects no pod; the owner role's secrets on the rotation CronJob", () => {
    const policy = objectsOf(
      parseYamlFile(path.join(BASE_DIR, 'network-policies.yaml')),
      'network-policies.yaml',
    )[0] as Located;
    expect(networkPolicyProblems(policy, [service])).to.deep.equal([]);
    const open = structuredClone(policy);
    listAt(open.object, 'spec', 'ingress').push({ from: [{ namespaceSelector: {} }] });
    expect(networkPolicyProblems(open, [service]).join()).to.include('admits every namespace');
    const nowhere = structuredClone(policy);
    (objectAt(nowhere.object, 'spec', 'podSelector', 'matchLabels') as JsonObject)['app.kubernetes.io/component'] =
      'nothing';
    expect(networkPolicyProblems(nowhere, [service]).join()).to.include('selects no pod template');

    const cron = objectsOf(
      parseYamlFile(path.join(BASE_DIR, 'rotate-encryption-key.yaml')),
      'rotate-encryption-key.yaml',
    )[0] as Located;
    const admin = structuredClone(cron);
    const sources = listAt(podTemplateOf(admin)?.spec, 'volumes', 0, 'projected', 'sources');
    for (const name of ADMIN_SECRET_NAMES) sources.push({ secret: { name, items: [{ key: name, path: name }] } });
    expect(ownImageProblems(podTemplateOf(cron) as PodTemplate, 10001)).to.deep.equal([]);
    expect(ownImageProblems(podTemplateOf(admin) as PodTemplate, 10001).join()).to.include('must hold exactly');
    // and the migration Job without them
    const bare = structuredClone(job);
    const jobSources = listAt(podTemplateOf(bare)?.spec, 'volumes', 0, 'projected', 'sources');
    jobSources.splice(
      0,
      jobSources.length,
      ...jobSources.filter((src) => !String(stringAt(src, 'secret', 'name')).startsWith('db-admin-')),
    );
    expect(ownImageProblems(podTemplateOf(bare) as PodTemplate, 10001).join()).to.include(
      'db-admin-username:db-admin-username->db-admin-username',
    );
  });

  it('a PingSource that fires housekeeping on another schedule, without its audience, or as a stranger; a misspelt field', () => {
    const base = objectsOf(parseYamlFile(path.join(BASE_DIR, 'housekeeping.yaml')), 'housekeeping.yaml');
    const settings: JsonObject = {};
    for (const line of readFileSync(path.join(BASE_DIR, 'housekeeping.env'), 'utf8').split('\n')) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line);
      if (match !== null) settings[match[1] ?? ''] = match[2] ?? '';
    }
    expect(tickSenderProblems(base, 'cofrap', settings)).to.deep.equal([]);
    expect(base.flatMap(modelProblems)).to.deep.equal([]);
    expect(tickSenderProblems(base, 'elsewhere', settings).join()).to.include(
      'EVENTS_OIDC_AUDIENCE must be serving.knative.dev/service/elsewhere/housekeeping',
    );
    const change = (edit: (spec: JsonObject) => void): Located[] =>
      base.map((l) => {
        const copy = structuredClone(l);
        if (copy.object.kind === 'PingSource') edit(objectAt(copy.object, 'spec') as JsonObject);
        return copy;
      });
    expect(
      tickSenderProblems(
        change((spec) => (spec.schedule = '0 * * * *')),
        'cofrap',
        settings,
      ).join(),
    ).to.include('spec.schedule must be "* * * * *"');
    expect(
      tickSenderProblems(
        change((spec) => delete (spec.sink as JsonObject).audience),
        'cofrap',
        settings,
      ).join(),
    ).to.include('the adapter sends no token');
    const renamed = change(() => undefined);
    (objectAt(renamed.find((l) => l.object.kind === 'PingSource')?.object, 'metadata') as JsonObject).name =
      'housekeeping-tick';
    expect(tickSenderProblems(renamed, 'cofrap', settings).join()).to.include(
      "EVENTS_OIDC_SUBJECTS must name the PingSource's OIDC ServiceAccount system:serviceaccount:cofrap:housekeeping-tick-oidc-sources.knative.dev-pingsource",
    );
    expect(
      tickSenderProblems(
        base.filter((l) => l.object.kind !== 'PingSource'),
        'cofrap',
        settings,
      ).join(),
    ).to.include('exactly one PingSource');
    const misspelt = change((spec) => ((spec.sink as JsonObject).audiance = 'x')).find(
      (l) => l.object.kind === 'PingSource',
    ) as Located;
    expect(modelProblems(misspelt).join()).to.include('must NOT have additional properties (audiance)');
    const elsewhere = change(
      (spec) =>
        ((spec.sink as JsonObject).ref = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'nowhere' }),
    );
    expect(referenceProblems(elsewhere, { requireConfigMaps: false, requireSecrets: false }).join()).to.include(
      'spec.sink.ref must name a Knative Service or a Broker defined here',
    );
  });

  it("identity events: a database function the SinkBinding does not select, K_SINK in a Service's env instead, the portal bound, a binding the broker does not admit", () => {
    const files = [
      'generate-password.yaml',
      'generate-2fa.yaml',
      'authenticate.yaml',
      'employee-events.yaml',
      'housekeeping.yaml',
      'portal.yaml',
      'eventing.yaml',
      'identity-events.yaml',
      'event-policies.yaml',
    ];
    const base = files.flatMap((f) => objectsOf(parseYamlFile(path.join(BASE_DIR, f)), f));
    expect(identityEventProblems(base, 'cofrap')).to.deep.equal([]);
    const edited = (edit: (binding: JsonObject, objects: Located[]) => void): string => {
      const copy = base.map((l) => structuredClone(l));
      edit(copy.find((l) => isSinkBinding(l.object))?.object as JsonObject, copy);
      return identityEventProblems(copy, 'cofrap').join('\n');
    };
    const values = (binding: JsonObject): unknown[] =>
      listAt(binding, 'spec', 'subject', 'selector', 'matchExpressions', 0, 'values');
    expect(edited((b) => values(b).splice(values(b).indexOf('housekeeping'), 1))).to.include(
      'Service housekeeping (housekeeping.yaml): must get K_SINK once, from a SinkBinding to the Broker cofrap',
    );
    expect(edited((b) => values(b).push('portal'))).to.include(
      'Service portal (portal.yaml): publishes no identity event',
    );
    expect(
      edited((b, objects) => {
        values(b).splice(values(b).indexOf('authenticate'), 1);
        const service = objects.find(
          (l) => nameOf(l.object) === 'authenticate' && isKnativeService(l.object),
        ) as Located;
        (objectAt(podTemplateOf(service)?.spec, 'containers', 0) as JsonObject).env = [
          { name: 'K_SINK', value: 'http://broker-ingress.knative-eventing.svc.cluster.local/cofrap/cofrap' },
        ];
      }),
    ).to.include('it gets env K_SINK=http://broker-ingress');
    expect(
      edited(
        (b) =>
          ((objectAt(b, 'spec', 'sink') as JsonObject).ref = {
            apiVersion: 'eventing.knative.dev/v1',
            kind: 'Broker',
            name: 'other',
          }),
      ),
    ).to.include('from a SinkBinding to the Broker cofrap');
    expect(
      edited((_b, objects) =>
        objects.splice(
          objects.findIndex((l) => nameOf(l.object) === 'identity-events' && l.object.kind === 'EventPolicy'),
          1,
        ),
      ),
    ).to.include('must be admitted by one EventPolicy');
    expect(
      edited((_b, objects) => {
        const policy = objects.find(
          (l) => nameOf(l.object) === 'identity-events' && l.object.kind === 'EventPolicy',
        ) as Located;
        (objectAt(policy.object, 'spec') as JsonObject).filters = [{ prefix: { type: 'fr.cofrap.' } }];
      }),
    ).to.include('limited to type fr.cofrap.identity.*');
    expect(
      edited((b) => ((objectAt(b, 'metadata') as JsonObject).name = 'identity-events-of-the-functions')),
    ).to.include('hashed OIDC ServiceAccount name');
    expect(edited((b) => ((objectAt(b, 'spec', 'subject') as JsonObject).name = 'authenticate'))).to.include(
      'exactly one of name, selector',
    );
    // A policy naming a binding that is not there, and a misspelt field the CRD refuses.
    const orphan = base.filter((l) => !isSinkBinding(l.object));
    expect(referenceProblems(orphan, { requireConfigMaps: false, requireSecrets: false }).join()).to.include(
      'spec.from names SinkBinding identity-events, which is not defined',
    );
    const misspelt = structuredClone(base.find((l) => isSinkBinding(l.object)) as Located);
    (objectAt(misspelt.object, 'spec') as JsonObject).subjects = [];
    expect(modelProblems(misspelt).join()).to.include('must NOT have additional properties (subjects)');
  });

  it('a kustomization naming a file that does not exist, or an unknown field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cofrap-kustomize-'));
    try {
      mkdirSync(path.join(dir, 'overlay'));
      writeFileSync(
        path.join(dir, 'overlay', 'kustomization.yaml'),
        [
          'apiVersion: kustomize.config.k8s.io/v1beta1',
          'kind: Kustomization',
          'resources:',
          '  - missing.yaml',
          '  - ../nowhere',
          'patches:',
          '  - path: gone.yaml',
          'secretGenerator:',
          '  - name: s',
          '    files:',
          '    - key=absent.txt',
          'patchesStrategicMerge: []',
          '',
        ].join('\n'),
      );
      const problems = readKustomization(path.join(dir, 'overlay')).problems.join('\n');
      for (const expected of [
        'resource missing.yaml does not exist',
        'resource ../nowhere does not exist',
        'patch gone.yaml does not exist',
        'absent.txt does not exist',
        'patchesStrategicMerge is deprecated',
      ]) {
        expect(problems).to.include(expected);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a Dockerfile with a shell-form CMD, a named user, no FUNCTION, an unpruned or whole node_modules, no bundle', () => {
    const good = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfileFacts(good.replace(/^CMD .*$/m, 'CMD node dist/bin/serve.js')).problems.join()).to.include(
      'exec form',
    );
    expect(dockerfileFacts(good.replace(/^USER .*$/m, 'USER node')).problems.join()).to.include('numeric user');
    expect(dockerfileFacts(good.replace(/^USER .*$/m, 'USER 0:0')).problems.join()).to.include('root');
    expect(dockerfileFacts(good.replace(/^ARG FUNCTION$/gm, '')).problems.join()).to.include('ARG FUNCTION');
    expect(dockerfileFacts(good.replace(/^ARG NODE_BASE=.*$/m, 'ARG NODE_BASE=node:18')).problems.join()).to.include(
      'Node 22',
    );
    expect(dockerfileFacts(good.replace(/npm prune --omit=dev/, 'npm prune')).problems.join()).to.include('pruned');
    expect(
      dockerfileFacts(
        good.replace(/dist\/bundle\/\$\{FUNCTION\}\.js" \/image/, 'dist/bin/serve.js" /image'),
      ).problems.join(),
    ).to.include("function's bundle");
    // the loader without its bundle's code cache: every cold start would compile it all
    expect(
      dockerfileFacts(good.replace(/^ && cp "dist\/bundle\/\$\{FUNCTION\}\.cjs\.cache".*\n/m, '')).problems.join(),
    ).to.include('dist/bin/serve.cjs.cache must be');
    expect(
      dockerfileFacts(
        good.replace(/COPY --from=addon \/addon\/node_modules/, 'COPY --from=addon /app/node_modules'),
      ).problems.join(),
    ).to.include('whole node_modules');
    expect(dockerContextIncludes('*\n!lib/\n', '.data')).to.equal(false);
    expect(dockerContextIncludes('node_modules\n', '.data')).to.equal(true);
  });
});
