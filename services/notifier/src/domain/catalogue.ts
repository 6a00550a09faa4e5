/**
 * The message catalogue: one JSON file per language in `messages/` (`en.json` is required and is
 * the fallback). Adding a language is adding a file; every push carries every language the
 * catalogue has, and OneSignal picks the device's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const MESSAGES_DIR = join(__dirname, '..', '..', 'messages');
export const PUSH_KINDS = ['reauth', 'reminder', 'expiry_warning'] as const;
export type PushKind = (typeof PUSH_KINDS)[number];
const PROVIDER_IDS = ['mono', 'momo', 'airtel'] as const;
type ProviderId = (typeof PROVIDER_IDS)[number];

const text = z.object({ heading: z.string().min(1), body: z.string().min(1) });
const perProvider = z.object({ mono: text, momo: text, airtel: text }).partial();
const languageFile = z.object({
  reauth: perProvider.optional(),
  reminder: perProvider.optional(),
  expiry_warning: perProvider.optional(),
  fallbackAccountName: z.object({ mono: z.string(), momo: z.string(), airtel: z.string() }).partial().optional(),
});
type LanguageFile = z.infer<typeof languageFile>;

export interface RenderedPush {
  /** `<kind>.<provider>`: what was rendered, stored with the notification. */
  template: string;
  headings: Record<string, string>;
  contents: Record<string, string>;
}

export interface Catalogue {
  languages: readonly string[];
  render(kind: PushKind, provider: ProviderId, vars: { account: string | null; days?: number }): RenderedPush;
}

/** Loads every `<lang>.json` in `dir` (language = file name: `en`, `fr`, `pt-BR`, …). */
export function loadCatalogue(dir: string = MESSAGES_DIR): Catalogue {
  const files = readdirSync(dir).filter((f) => /^[a-z]{2,3}(-[A-Za-z]{2,4})?\.json$/.test(f));
  const langs = new Map<string, LanguageFile>();
  for (const f of files) {
    const lang = f.replace(/\.json$/, '');
    const parsed = languageFile.safeParse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
    if (!parsed.success)
      throw new Error(`message catalogue ${f}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    langs.set(lang, parsed.data);
  }
  const en = langs.get('en');
  if (!en) throw new Error(`message catalogue ${dir}: en.json is required (the default language)`);
  for (const kind of PUSH_KINDS)
    for (const p of PROVIDER_IDS)
      if (!en[kind]?.[p]) throw new Error(`message catalogue en.json: ${kind}.${p} is missing (English is the fallback for every message)`);

  const fill = (s: string, vars: Record<string, string>) => s.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
  return {
    languages: [...langs.keys()].sort(),
    render(kind, provider, vars) {
      const headings: Record<string, string> = {};
      const contents: Record<string, string> = {};
      for (const [lang, file] of langs) {
        const msg = file[kind]?.[provider];
        if (!msg) continue;
        const account = vars.account ?? file.fallbackAccountName?.[provider] ?? en.fallbackAccountName?.[provider] ?? provider;
        const v = { account, days: String(vars.days ?? '') };
        headings[lang] = fill(msg.heading, v);
        contents[lang] = fill(msg.body, v);
      }
      return { template: `${kind}.${provider}`, headings, contents };
    },
  };
}
