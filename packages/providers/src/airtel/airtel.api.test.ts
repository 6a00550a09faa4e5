/** The Airtel WalletApi's pure parts: credentials and callbacks (providers.md §3.2, §3.7). */
import { PermanentError, ValidationError } from '@intellifin/core';
import { AirtelApi } from './airtel.api';
import type { AirtelClient } from './airtel.client';

const api = new AirtelApi({} as AirtelClient);

it('a TS callback (the §3.7 sample) is final with airtel_money_id as the ledger id', () => {
  const body = {
    transaction: { id: 'SUB8841OCT2025A', message: 'Paid ZMW 150 to ACME', status_code: 'TS', airtel_money_id: 'MP251002.1422.A39151' },
  };
  expect(api.parseCallback(body, undefined)).toMatchObject({
    referenceId: 'SUB8841OCT2025A',
    lookup: { status: 'successful', ledgerId: 'MP251002.1422.A39151', providerStatus: 'TS' },
  });
});

it('a TF callback carries no DP code: it triggers the enquiry (pending) instead of recording a reason-less failure', () => {
  const body = { transaction: { id: 'SUB8841OCT2025A', message: 'Transaction failed', status_code: 'TF' } };
  expect(api.parseCallback(body, undefined).lookup).toMatchObject({ status: 'pending', providerStatus: 'TF' });
});

it('a callback with `status` instead of `status_code` (the enquiry key) is malformed, naming the field', () => {
  const err = (() => {
    try {
      api.parseCallback({ transaction: { id: 'X1', status: 'TS' } }, undefined);
    } catch (e) {
      return e as Error;
    }
  })();
  expect(err).toBeInstanceOf(ValidationError);
  expect(err!.message).toContain('transaction.status_code');
});

it('a callback for another reference than its URL named is malformed', () => {
  expect(() => api.parseCallback({ transaction: { id: 'X1', status_code: 'TS', airtel_money_id: 'MP1' } }, 'X2')).toThrow(ValidationError);
});

it('a TS callback without airtel_money_id is malformed', () => {
  expect(() => api.parseCallback({ transaction: { id: 'X1', status_code: 'TS' } }, undefined)).toThrow(ValidationError);
});

it('a credential without client_secret is permanent and names the field, not the value', () => {
  const err = (() => {
    try {
      api.parseCredential({ clientId: 'c02e9e46-db9d-4faf-b91a-94f88bbe688c' });
    } catch (e) {
      return e as Error;
    }
  })();
  expect(err).toBeInstanceOf(PermanentError);
  expect(err!.message).toContain('clientSecret');
  expect(err!.message).not.toContain('c02e9e46');
});
