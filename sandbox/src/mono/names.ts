/** Word lists for realistic Nigerian / Ghanaian / Kenyan bank data. */
export const FIRST_NAMES = [
  'ADAEZE',
  'CHINEDU',
  'OLUWASEUN',
  'FOLAKE',
  'EMEKA',
  'NGOZI',
  'TUNDE',
  'AISHA',
  'IBRAHIM',
  'KEMI',
  'YETUNDE',
  'OBINNA',
  'AMAKA',
  'SEGUN',
  'FATIMA',
  'CHIDI',
  'BUKOLA',
  'MUSA',
  'ZAINAB',
  'IFEANYI',
  'TOLU',
  'HADIZA',
  'UCHE',
  'DAMILOLA',
] as const;
export const LAST_NAMES = [
  'OKAFOR',
  'ADEYEMI',
  'BELLO',
  'OKONKWO',
  'ABUBAKAR',
  'EZE',
  'OGUNLEYE',
  'NWOSU',
  'ADEBAYO',
  'DANJUMA',
  'OKORO',
  'BALOGUN',
  'USMAN',
  'CHUKWU',
  'AFOLABI',
  'IBEKWE',
  'LAWAL',
  'OLADIPO',
  'NNAMDI',
  'SANNI',
] as const;

export interface Institution {
  id: string;
  name: string;
  bank_code: string;
  type: 'PERSONAL_BANKING' | 'BUSINESS_BANKING';
}

export const INSTITUTIONS: Record<string, readonly Institution[]> = {
  NGN: [
    { id: '5f2d08be60b92e2888287702', name: 'GTBank', bank_code: '058', type: 'PERSONAL_BANKING' },
    { id: '5f2d08c060b92e2888287703', name: 'Access Bank', bank_code: '044', type: 'PERSONAL_BANKING' },
    { id: '5f2d08c360b92e2888287704', name: 'Zenith Bank', bank_code: '057', type: 'PERSONAL_BANKING' },
    { id: '5f2d08c660b92e2888287705', name: 'First Bank of Nigeria', bank_code: '011', type: 'PERSONAL_BANKING' },
    { id: '5f2d08c960b92e2888287706', name: 'UBA', bank_code: '033', type: 'PERSONAL_BANKING' },
    { id: '5f5b530a67ffc15e5911e0d2', name: 'Kuda Bank', bank_code: '50211', type: 'PERSONAL_BANKING' },
    { id: '5f2d08cc60b92e2888287707', name: 'Stanbic IBTC', bank_code: '221', type: 'BUSINESS_BANKING' },
  ],
  GHS: [
    { id: '60c8a3f1b1e4d90012ab0101', name: 'GCB Bank', bank_code: 'GH040', type: 'PERSONAL_BANKING' },
    { id: '60c8a3f1b1e4d90012ab0102', name: 'Ecobank Ghana', bank_code: 'GH130', type: 'PERSONAL_BANKING' },
  ],
  KES: [
    { id: '61a0c2b7e4d9001200ab0201', name: 'KCB Bank Kenya', bank_code: 'KE01', type: 'PERSONAL_BANKING' },
    { id: '61a0c2b7e4d9001200ab0202', name: 'Equity Bank Kenya', bank_code: 'KE68', type: 'PERSONAL_BANKING' },
  ],
};

export const MERCHANTS = [
  'SHOPRITE',
  'SPAR',
  'CHICKEN REPUBLIC',
  'DOMINOS PIZZA',
  'TOTAL ENERGIES',
  'MRS FILLING STN',
  'JUST RITE',
  'PRINCE EBEANO',
  'FILMHOUSE CINEMA',
  'KILIMANJARO REST',
  'MEDPLUS PHARMACY',
  'COLD STONE',
  'HUBMART',
  'CONOIL',
] as const;
export const AREAS = ['LEKKI', 'IKEJA', 'VI', 'YABA', 'SURULERE', 'WUSE II', 'GARKI', 'GRA PH', 'BODIJA', 'AJAH', 'MAITAMA'] as const;
export const ONLINE = ['JUMIA.COM.NG', 'KONGA.COM', 'NETFLIX.COM', 'SPOTIFY', 'UBER BV', 'BOLT.EU', 'APPLE.COM/BILL', 'CHOWDECK'] as const;
export const BILLS = [
  'DSTV SUBSCRIPTION',
  'GOTV MAX',
  'IKEDC PREPAID TOKEN',
  'EKEDC POSTPAID',
  'SPECTRANET LTE',
  'LAWMA WASTE BILL',
] as const;
export const TELCOS = ['MTN', 'AIRTEL', 'GLO', '9MOBILE'] as const;
export const EMPLOYERS = [
  'INTERSWITCH LTD',
  'DANGOTE IND',
  'MTN NIGERIA',
  'FLUTTERWAVE',
  'ANDELA NG',
  'NESTLE NIG PLC',
  'LAGOS STATE GOVT',
] as const;
export const MEMOS = ['RENT CONTRIB', 'UPKEEP', 'REFUND', 'FOOD STUFF', 'SCHOOL FEES', 'AJO', 'THANKS', 'BALANCE', 'LOAN REPAY'] as const;
export const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] as const;
