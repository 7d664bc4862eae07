/**
 * The person an event is about, as ad platforms match people: contact details read from the
 * user's traits, normalised the way Meta's Conversions API documents it (customer information
 * parameters), and SHA-256 hashed. TikTok's Events API takes the same normalised email and
 * external id, and the phone number in E.164 (`+` and the digits).
 *
 * Normalisation, per Meta's examples: email trimmed and lower-cased; phone reduced to its digits
 * with leading zeros dropped, starting with the country code; names lower-cased without
 * punctuation; city lower-cased without spaces or punctuation; state as its two-letter code;
 * zip lower-cased without spaces or dashes (US: the first five digits; UK: area, district and
 * sector); country as its lower-case ISO 3166-1 alpha-2 code; gender `f` or `m`; date of birth
 * `YYYYMMDD`.
 */
import type { SegmentEvent } from '../../src/event';
import { countryCode, usStateCode } from './regions';
import { addressOf, userTraits } from './traits';
import { calendarDate, firstString, sha256Hex, stringOf, valueAt } from './values';

/** Trimmed and lower-cased; undefined for text that is no email address. */
export function normalisedEmail(email: string): string | undefined {
  const normalised = email.trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+$/.test(normalised) ? normalised : undefined;
}

/**
 * The digits of a phone number, starting with the country code, without leading zeros. A
 * number written with its international prefix (`+49 …`, `0049 …`) keeps its own country code;
 * one written without (`(650) 555-1212`, `0151 …`) gets `defaultCountryCode` when one is set,
 * after its trunk zero. Undefined when fewer than 7 digits remain.
 */
export function phoneDigits(phone: string, defaultCountryCode?: string): string | undefined {
  const trimmed = phone.trim();
  const international = /^(\+|00)/.test(trimmed);
  let digits = trimmed.replace(/\D/g, '').replace(/^0+/, '');
  if (!international && defaultCountryCode) digits = `${defaultCountryCode}${digits}`;
  return digits.length >= 7 ? digits : undefined;
}

/** Lower-cased, without punctuation (letters keep their accents: `Valéry` → `valéry`). */
export function normalisedName(name: string): string | undefined {
  const normalised = name
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
  return normalised || undefined;
}

/** Letters and digits only, lower-cased: `Menlo Park` → `menlopark`. */
function squeezed(text: string): string | undefined {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '') || undefined;
}

export const normalisedCity = squeezed;

/** A US state's two-letter code (from its code or name); other states squeezed. */
export function normalisedState(state: string): string | undefined {
  return usStateCode(state) ?? squeezed(state);
}

/**
 * Lower-cased without spaces or dashes. A US zip keeps its first five digits; a UK postcode its
 * area, district and sector (the inward code's letters dropped).
 */
export function normalisedZip(zip: string, country?: string): string | undefined {
  const compact = zip.toLowerCase().replace(/[\s-]/g, '');
  if (/^\d{5}(\d{4})?$/.test(compact) && (country === undefined || country === 'us')) {
    return compact.slice(0, 5);
  }
  if (country === 'gb' && /^[a-z]{1,2}\d[a-z\d]?\d[a-z]{2}$/.test(compact)) {
    return compact.slice(0, -2);
  }
  return compact || undefined;
}

/** `f` or `m` from `female`/`woman`/`f` and `male`/`man`/`m`; undefined otherwise. */
export function normalisedGender(gender: string): string | undefined {
  const word = gender.trim().toLowerCase();
  if (['f', 'female', 'woman'].includes(word)) return 'f';
  if (['m', 'male', 'man'].includes(word)) return 'm';
  return undefined;
}

/** `YYYYMMDD` of a date of birth. */
export function birthDateDigits(birthday: unknown): string | undefined {
  return calendarDate(birthday)?.replaceAll('-', '');
}

/** The lower-case hex SHA-256 of each value, in order, without repeats. */
export function hashed(values: ReadonlyArray<string | undefined>): string[] {
  const present = values.filter((value): value is string => value !== undefined);
  return [...new Set(present.map(sha256Hex))];
}

/** Contact details of an event's user as given (not normalised), from its traits. */
export interface Contact {
  email?: string;
  phone?: string;
  firstName?: string;
  lastName?: string;
  gender?: string;
  birthday?: unknown;
  city?: string;
  state?: string;
  zip?: string;
  /** Lower-case ISO 3166-1 alpha-2. */
  country?: string;
  /** The userId, then the anonymousId: ids the advertiser knows the person by. */
  externalIds: string[];
}

/**
 * The user's contact details: traits (explicit, then `context.traits`), the address trait, and
 * for the country, `context.location.country` when the address has none.
 */
export function contactOf(event: SegmentEvent): Contact {
  const traits = userTraits(event);
  const trait = (...names: string[]) => firstString(...names.map((name) => traits[name]));
  const address = addressOf(traits);
  const country = firstString(address.country, valueAt(event.context, 'location.country'));
  return {
    email: trait('email'),
    phone: trait('phone'),
    firstName: trait('firstName', 'first_name'),
    lastName: trait('lastName', 'last_name'),
    gender: trait('gender'),
    birthday: traits.birthday,
    city: address.city,
    state: address.state,
    zip: address.postalCode,
    country: country === undefined ? undefined : countryCode(country),
    externalIds: [event.userId, event.anonymousId]
      .map((id) => stringOf(id)?.trim())
      .filter((id): id is string => Boolean(id)),
  };
}

/**
 * A click id an ad platform appends to its landing page URLs (`fbclid`, `ttclid`), from the
 * event's page URL or query string; undefined when absent.
 */
export function clickIdOf(event: SegmentEvent, parameter: string): string | undefined {
  const sources = [
    event.type === 'page' ? valueAt(event.properties, 'url') : undefined,
    valueAt(event.context, 'page.url'),
    valueAt(event.context, 'page.search'),
  ];
  for (const source of sources) {
    const text = stringOf(source);
    if (!text) continue;
    const query = text.includes('?') ? text.slice(text.indexOf('?') + 1) : text;
    const value = new URLSearchParams(query.split('#')[0]).get(parameter);
    if (value) return value;
  }
  return undefined;
}
