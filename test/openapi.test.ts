// openapi.yaml itself: a valid OpenAPI 3.1 document (checked offline by a kept
// validator), and the schemas the code compiles from it are all there.
import { createRequire } from 'node:module';
import { expect } from 'chai';
import { Validator } from '@seriousme/openapi-schema-validator';
import { OPENAPI_DOCUMENT, schemaAt } from '../lib/openapi.js';
import { componentSchema, requestBodySchema } from '../lib/request-schemas.js';
import type { SchemaName } from '../lib/openapi-types.js';
import { validateBody, validateRequestBody } from '../lib/validation.js';
import { HttpError } from '../lib/http/errors.js';
import { FUNCTION_NAMES } from '../lib/function-names.js';
import { checkAgainstDocument } from './helpers/contract.js';

describe('openapi.yaml', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(OPENAPI_DOCUMENT);
    expect(result.errors ?? [], JSON.stringify(result.errors)).to.deep.equal([]);
    expect(result.valid).to.equal(true);
    expect(validator.version).to.equal('3.1');
  });

  it('describes every function, the probes, and the event data schemas', () => {
    const paths = OPENAPI_DOCUMENT.paths as Record<string, Record<string, unknown>>;
    for (const name of FUNCTION_NAMES) expect(paths[`/${name}`]?.post, name).to.be.an('object');
    for (const probe of ['/healthz', '/readyz', '/openapi.json']) expect(paths[probe]?.get, probe).to.be.an('object');
    for (const schema of [
      'GeneratePasswordRequest',
      'Generate2faRequest',
      'AuthenticateRequest',
      'Username',
      'EmployeeEventData',
      'AccountInvitedEventData',
      'EmployeeEventType',
    ] as const) {
      expect(() => componentSchema(schema), schema).to.not.throw();
    }
    for (const operation of ['generatePassword', 'generate2fa', 'authenticate'] as const) {
      expect(() => requestBodySchema(operation), operation).to.not.throw();
    }
    expect(schemaAt('/components/schemas/EmployeeEventType')('fr.cofrap.hr.employee.created')).to.equal(true);
  });

  it('the build compiled a validator for every component schema and every JSON request body, and nothing else', () => {
    const document = OPENAPI_DOCUMENT as {
      components: { schemas: object };
      paths: Record<string, Record<string, { operationId?: string; requestBody?: { content?: object } }>>;
    };
    const jsonOperations = Object.values(document.paths)
      .flatMap((item) => Object.values(item))
      .filter(
        (operation) =>
          operation.requestBody?.content !== undefined && 'application/json' in operation.requestBody.content,
      )
      .map((operation) => operation.operationId);
    expect(jsonOperations).to.include.members(['generatePassword', 'generate2fa', 'authenticate']);
    const exported = Object.keys(createRequire(import.meta.url)('../lib/openapi-validators.cjs') as object);
    expect(exported.sort()).to.deep.equal([...Object.keys(document.components.schemas), ...jsonOperations].sort());
  });

  it('drives the request checks, with messages that name the field', () => {
    const refusal = (schema: SchemaName, body: unknown): string => {
      try {
        validateBody(schema, body);
      } catch (error) {
        expect(error).to.be.instanceOf(HttpError);
        return (error as HttpError).message;
      }
      return 'accepted';
    };
    expect(refusal('AuthenticateRequest', { username: 'a', password: 'p', totp: '12345' })).to.equal(
      'Field "totp" must be a string of exactly 6 digits.',
    );
    expect(refusal('AuthenticateRequest', { username: 'a', totp: '123456' })).to.equal('Field "password" is required.');
    expect(refusal('AuthenticateRequest', { username: 'a', password: '', totp: '123456' })).to.contain('"password"');
    expect(refusal('GeneratePasswordRequest', { username: 1 })).to.equal('Field "username" must be a string.');
    expect(refusal('GeneratePasswordRequest', { username: 'a', renewalToken: 'x' })).to.equal(
      'Unknown field "renewalToken"; expected only username, renewal_token, invitation_token, reset_token.',
    );
    expect(refusal('Generate2faRequest', { username: 'a', enrollment_token: 5 })).to.equal(
      'Field "enrollment_token" must be a string.',
    );
    expect(refusal('Generate2faRequest', { username: 'a', enrollment_token: null })).to.equal('accepted');
    // The JSON functions check their bodies through their operation's request schema: the same rules, the same words.
    expect(() => validateRequestBody('authenticate', { username: 'a', password: 'p', totp: '12345' })).to.throw(
      HttpError,
      'Field "totp" must be a string of exactly 6 digits.',
    );
    expect(() => validateRequestBody('generatePassword', { username: 'a', renewalToken: 'x' })).to.throw(
      HttpError,
      'Unknown field "renewalToken"',
    );
    expect(() => validateRequestBody('generate2fa', [])).to.throw(HttpError, 'The request body must be a JSON object.');
    expect(validateRequestBody('generatePassword', { username: 'a', reset_token: null })).to.deep.equal({
      username: 'a',
      reset_token: null,
    });
  });

  it('the answer checker of the suites refuses what the document does not describe', () => {
    const json = new Headers({ 'content-type': 'application/json' });
    const check =
      (status: number, text: string, headers = json): (() => void) =>
      () =>
        checkAgainstDocument('POST', '/authenticate', { status, headers, text });
    expect(check(401, '{"error":"x","code":"invalid_credentials"}')).to.not.throw();
    expect(check(418, '{}')).to.throw(/does not document status 418/);
    expect(check(200, '{"authenticated":true}')).to.throw(/off its schema/);
    expect(check(401, '{"error":"x","code":"invalid_token"}')).to.throw(/off its schema/);
    expect(check(429, '{"error":"x","code":"too_many_requests"}')).to.throw(/Retry-After is missing/);
    expect(() => checkAgainstDocument('POST', '/nowhere', { status: 200, headers: json, text: '{}' })).to.throw(
      /does not describe/,
    );
  });
});
