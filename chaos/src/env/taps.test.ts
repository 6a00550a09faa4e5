import { JwtVerifier } from '../../../services/sync-api/src/http/auth';
import { BASE_SERVICE_ENV } from '../config';
import { userTokenMinter } from './taps';

test('a tap token is accepted by sync-api as the user it names (sub, org_id, roles user)', async () => {
  const orgId = '2f0f4e0c-6f0b-4a53-9a39-1c0de1c0ffee';
  const token = await userTokenMinter()('chaos-user-3', orgId);
  const verifier = new JwtVerifier({
    issuer: BASE_SERVICE_ENV.JWT_ISSUER!,
    audience: BASE_SERVICE_ENV.JWT_AUDIENCE!,
    secret: BASE_SERVICE_ENV.JWT_SECRET!,
    clockToleranceS: 0,
  });
  await expect(verifier.callerOf(`Bearer ${token}`)).resolves.toEqual({ userId: 'chaos-user-3', orgId, roles: ['user'] });
});

test('a token signed with another secret is refused (the minter really signs with the harness secret)', async () => {
  const token = await userTokenMinter()('chaos-user-3', '2f0f4e0c-6f0b-4a53-9a39-1c0de1c0ffee');
  const verifier = new JwtVerifier({
    issuer: BASE_SERVICE_ENV.JWT_ISSUER!,
    audience: BASE_SERVICE_ENV.JWT_AUDIENCE!,
    secret: 'another-secret-of-at-least-thirty-two-characters',
    clockToleranceS: 0,
  });
  await expect(verifier.callerOf(`Bearer ${token}`)).rejects.toThrow();
});
