// The test fixture itself: serviceTest gives a file one service on the real engine, on a
// database of its own, with the file's serviceEnv; typed reads come back as the schemas say.
import { describe, expect } from 'vitest';
import { event, problemOf, serviceTest as test, type TestService } from './service.ts';

test.override('serviceEnv', { AUDIT_READ_RATE_LIMIT: '1000' });

let first: TestService | undefined;
describe('serviceTest', () => {
  test('starts a service with the file env on its own database, and stores and reads back through the API', async ({ service }) => {
    first = service;
    expect(service.services.config.clickhouse.database).toBe(service.database);
    expect(service.database).toMatch(/^t_[0-9a-f]{12}$/);
    const res = await service.get('/api/v1/audit/activities?limit=1');
    expect(res.headers.get('ratelimit-limit')).toBe('1000');
    const posted = await service.post(event({ description: 'through the fixture' }));
    expect(posted.status).toBe(202);
    const { ids } = await posted.json();
    const got = await service.get(`/api/v1/audit/activities/${ids[0]!}`);
    expect((await got.json()).description).toBe('through the fixture');
  });

  test('hands the same service to every test of the file', async ({ service }) => {
    expect(service).toBe(first);
    expect(await service.count()).toBe(1);
  });

  test('types a refusal as problem+json', async ({ service }) => {
    const res = await service.get('/api/v1/audit/activities?limit=0');
    expect(res.status).toBe(400);
    expect((await problemOf(res)).type).toMatch(/invalid-parameters$/);
  });
});
