/**
 * Region codes ad platforms match users on: ISO 3166-1 alpha-2 country codes read from a code or
 * an English country name (`Germany`, `United States`), and the two-letter ANSI (USPS) codes of
 * the US states read from a code or a state name (`Texas`).
 */

/** The US states, DC and the inhabited territories by their lower-case name, without spaces. */
const US_STATES: Readonly<Record<string, string>> = {
  alabama: 'al',
  alaska: 'ak',
  americansamoa: 'as',
  arizona: 'az',
  arkansas: 'ar',
  california: 'ca',
  colorado: 'co',
  connecticut: 'ct',
  delaware: 'de',
  districtofcolumbia: 'dc',
  florida: 'fl',
  georgia: 'ga',
  guam: 'gu',
  hawaii: 'hi',
  idaho: 'id',
  illinois: 'il',
  indiana: 'in',
  iowa: 'ia',
  kansas: 'ks',
  kentucky: 'ky',
  louisiana: 'la',
  maine: 'me',
  maryland: 'md',
  massachusetts: 'ma',
  michigan: 'mi',
  minnesota: 'mn',
  mississippi: 'ms',
  missouri: 'mo',
  montana: 'mt',
  nebraska: 'ne',
  nevada: 'nv',
  newhampshire: 'nh',
  newjersey: 'nj',
  newmexico: 'nm',
  newyork: 'ny',
  northcarolina: 'nc',
  northdakota: 'nd',
  northernmarianaislands: 'mp',
  ohio: 'oh',
  oklahoma: 'ok',
  oregon: 'or',
  pennsylvania: 'pa',
  puertorico: 'pr',
  rhodeisland: 'ri',
  southcarolina: 'sc',
  southdakota: 'sd',
  tennessee: 'tn',
  texas: 'tx',
  usvirginislands: 'vi',
  utah: 'ut',
  vermont: 'vt',
  virginia: 'va',
  washington: 'wa',
  westvirginia: 'wv',
  wisconsin: 'wi',
  wyoming: 'wy',
};

/** Letters and digits only, lower case: how names are compared here. */
function squeezed(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

/** The two-letter code of a US state given by name (`New York` → `ny`); undefined otherwise. */
export function usStateCode(name: string): string | undefined {
  return US_STATES[squeezed(name)];
}

/** Names countries are written under besides their English short name. */
const COUNTRY_ALIASES: Readonly<Record<string, string>> = {
  usa: 'us',
  unitedstatesofamerica: 'us',
  uk: 'gb',
  greatbritain: 'gb',
  england: 'gb',
  scotland: 'gb',
  wales: 'gb',
  northernireland: 'gb',
};

let countriesByName: Map<string, string> | undefined;

/** English country names → code, built on first use from the ICU data Node ships. */
function countryNames(): Map<string, string> {
  if (countriesByName) return countriesByName;
  const names = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
  countriesByName = new Map(Object.entries(COUNTRY_ALIASES));
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (const first of letters) {
    for (const second of letters) {
      const code = `${first}${second}`;
      const name = names.of(code);
      if (!name) continue;
      // Retired codes name their successor's country (DD: Germany): keep the canonical code.
      const canonical = Intl.getCanonicalLocales(`und-${code}`)[0].slice(4).toLowerCase();
      countriesByName.set(squeezed(name), canonical);
    }
  }
  return countriesByName;
}

/**
 * The lower-case ISO 3166-1 alpha-2 code of a country given by code (`DE`, `de`) or English name
 * (`Germany`, `United States`, `USA`); undefined when it is neither.
 */
export function countryCode(country: string): string | undefined {
  const trimmed = country.trim();
  const alias = COUNTRY_ALIASES[squeezed(trimmed)];
  if (alias) return alias;
  if (/^[a-z]{2}$/i.test(trimmed)) return trimmed.toLowerCase();
  return countryNames().get(squeezed(trimmed));
}
