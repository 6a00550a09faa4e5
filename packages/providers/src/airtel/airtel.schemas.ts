import { z } from 'zod';

/**
 * Airtel Money Open API bodies (providers.md §3), validated with zod. Tolerances are only those the
 * sources document: `status.code` as a string ("200") or an integer (one fixture), `expires_in` as
 * a string ("180", Airtel's docs) or an integer (a client fixture). Money is never a JSON number
 * here: the balance is a decimal string in major units.
 */

/** `status` block of every envelope (§3.3). Business outcomes are decided on `response_code` and the transaction status, not on `success`. */
export const statusBlockSchema = z.object({
  response_code: z.string().min(1).optional(),
  code: z.union([z.string().regex(/^\d{3}$/), z.number().int().min(100).max(599)]).transform((c) => Number(c)),
  success: z.boolean().optional(),
  result_code: z.string().min(1).optional(),
  message: z.string().optional(),
});
export type AirtelStatusBlock = z.infer<typeof statusBlockSchema>;

/** Any body that carries a status block (errors are a status block without `data`, §3.9). */
export const envelopeSchema = z.object({ status: statusBlockSchema }).passthrough();

/** `POST /auth/oauth2/token` → 200 (§3.2). `expires_in` arrives as a string: parsed to whole seconds, > 0. */
export const tokenResponseSchema = z.object({
  access_token: z.string().min(1).max(4096),
  expires_in: z
    .union([z.string().regex(/^\s*\d{1,9}\s*$/, 'expires_in must be a whole number of seconds'), z.number().int()])
    .transform((v) => Number(typeof v === 'string' ? v.trim() : v))
    .refine((n) => n > 0, 'expires_in must be positive'),
  token_type: z.string().optional(),
});
export type AirtelTokenResponse = z.infer<typeof tokenResponseSchema>;

/** A decimal amount in major units ("230486.65", "-12.5", "100"). */
const decimalString = z.string().regex(/^-?\d{1,15}(\.\d{1,4})?$/, 'balance must be a decimal string in major units');

/** `GET /standard/v1/users/balance` → 200 (§3.6): the merchant's wallet. */
export const balanceResponseSchema = z.object({
  data: z.object({
    balance: decimalString,
    currency: z.string().regex(/^[A-Z]{3}$/),
    account_status: z.string().optional(),
  }),
  status: statusBlockSchema,
});
export type AirtelBalanceResponse = z.infer<typeof balanceResponseSchema>;

/** Transaction status codes of the enquiry (§3.5): TS success, TF failed, TA ambiguous, TIP in progress, TE expired. */
export const airtelTxnStatus = z.enum(['TS', 'TF', 'TA', 'TIP', 'TE']);
export type AirtelTxnStatus = z.infer<typeof airtelTxnStatus>;

/** `GET /standard/v1/payments/{id}` and `/standard/v1/disbursements/{id}` → 200 (§3.5, §3.6). */
export const enquiryResponseSchema = z.object({
  data: z
    .object({
      transaction: z
        .object({
          id: z.string().min(1).max(255),
          status: airtelTxnStatus,
          airtel_money_id: z.string().min(1).max(255).optional(),
          message: z.string().optional(),
        })
        .optional(),
    })
    .nullable()
    .optional(),
  status: statusBlockSchema,
});
export type AirtelEnquiryResponse = z.infer<typeof enquiryResponseSchema>;

/** The callback Airtel posts to the app's portal-configured URL (§3.7): `status_code`, not `status`. */
export const callbackSchema = z.object({
  transaction: z.object({
    id: z.string().min(1).max(255),
    status_code: airtelTxnStatus,
    airtel_money_id: z.string().min(1).max(255).optional(),
    message: z.string().optional(),
  }),
});
export type AirtelCallback = z.infer<typeof callbackSchema>;
