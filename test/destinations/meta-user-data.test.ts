/**
 * Normalising and hashing user data (destinations/shared/user-data.ts), checked against the
 * examples of Meta's "Customer Information Parameters" page: each input, its normalised form and
 * the SHA-256 Meta expects.
 */
import { countryCode } from '../../destinations/shared/regions';
import { compact } from '../../destinations/shared/values';
import {
  birthDateDigits,
  clickIdOf,
  contactOf,
  hashed,
  normalisedCity,
  normalisedEmail,
  normalisedGender,
  normalisedName,
  normalisedState,
  normalisedZip,
  phoneDigits,
} from '../../destinations/shared/user-data';
import { BROWSER_CONTEXT, MOBILE_CONTEXT, identify, segmentEvent, track } from './support';

describe('Meta’s documented examples', () => {
  test('em: John_Smith@gmail.com → john_smith@gmail.com', () => {
    const email = normalisedEmail('  John_Smith@gmail.com ');
    expect(email).toBe('john_smith@gmail.com');
    expect(hashed([email])).toEqual([
      '62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f',
    ]);
  });

  test('ph: the US number (650)555-1212 → 16505551212', () => {
    const phone = phoneDigits('(650)555-1212', '1');
    expect(phone).toBe('16505551212');
    expect(hashed([phone])).toEqual([
      'e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176',
    ]);
  });

  test.each([
    ['Mary', 'mary', '6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec'],
    ['정', '정', '8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14'],
    ['Valéry', 'valéry', '08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c'],
  ])('fn / ln: %s → %s (UTF-8, accents kept)', (input, normalised, hash) => {
    expect(normalisedName(input)).toBe(normalised);
    expect(hashed([normalisedName(input)])).toEqual([hash]);
  });
});

describe('phone numbers', () => {
  test.each([
    ['+1 (650) 555-1212', undefined, '16505551212'],
    ['+1 (650) 555-1212', '49', '16505551212'],
    ['0049 151 2345678', undefined, '491512345678'],
    ['0151 2345678', '49', '491512345678'],
    ['tel: 650.555.1212 ext', '1', '16505551212'],
    ['12345', '1', undefined],
  ])('%s (country code %s) → %s', (input, countryCallingCode, digits) => {
    expect(phoneDigits(input, countryCallingCode)).toBe(digits);
  });
});

describe('names and places', () => {
  test('names lose punctuation, not letters', () => {
    expect(normalisedName(" O'Brien-Smith ")).toBe('obriensmith');
    expect(normalisedName('Mary Ann')).toBe('mary ann');
    expect(normalisedName('...')).toBeUndefined();
  });

  test('ct: lower case without spaces or punctuation', () => {
    expect(normalisedCity('Menlo Park')).toBe('menlopark');
    expect(normalisedCity('Saint-Étienne')).toBe('saintétienne');
  });

  test('st: the two-letter code of a US state, other states squeezed', () => {
    expect(normalisedState('California')).toBe('ca');
    expect(normalisedState('CA')).toBe('ca');
    expect(normalisedState('New York')).toBe('ny');
    expect(normalisedState('Baden-Württemberg')).toBe('badenwürttemberg');
  });

  test('zp: US the first five digits; UK area, district and sector; else compact', () => {
    expect(normalisedZip('94025-1234')).toBe('94025');
    expect(normalisedZip('94025', 'us')).toBe('94025');
    expect(normalisedZip('SW1A 1AA', 'gb')).toBe('sw1a1');
    expect(normalisedZip('M1 1AE', 'gb')).toBe('m11');
    expect(normalisedZip('10115', 'de')).toBe('10115');
    expect(normalisedZip('K1A 0B1', 'ca')).toBe('k1a0b1');
  });

  test('country: ISO 3166-1 alpha-2 in lower case, from a code or an English name', () => {
    expect(countryCode('US')).toBe('us');
    expect(countryCode('United States')).toBe('us');
    expect(countryCode('USA')).toBe('us');
    expect(countryCode('Germany')).toBe('de');
    expect(countryCode('united kingdom')).toBe('gb');
    expect(countryCode('UK')).toBe('gb');
    expect(countryCode('Atlantis')).toBeUndefined();
  });

  test('ge: f or m; db: YYYYMMDD', () => {
    expect(normalisedGender('Female')).toBe('f');
    expect(normalisedGender('m')).toBe('m');
    expect(normalisedGender('non-binary')).toBeUndefined();
    expect(birthDateDigits('1990-07-14')).toBe('19900714');
    expect(birthDateDigits('1990-07-14T00:00:00.000Z')).toBe('19900714');
  });

  test('hashes are unique and skip missing values', () => {
    expect(hashed([undefined, 'a', 'a'])).toHaveLength(1);
  });
});

describe('contactOf', () => {
  test('reads traits, then context.traits, and the country from the location', () => {
    const contact = contactOf(
      identify(
        { email: 'ada@example.com', address: { city: 'Berlin', postal_code: '10115' } },
        {
          context: {
            ...MOBILE_CONTEXT,
            traits: { phone: '+49 151 2345678', first_name: 'Ada', email: 'old@example.com' },
          },
        },
      ),
    );
    expect(compact({ ...contact })).toEqual({
      email: 'ada@example.com',
      phone: '+49 151 2345678',
      firstName: 'Ada',
      city: 'Berlin',
      zip: '10115',
      country: 'de',
      externalIds: ['user-4711', 'a1b2c3d4-0000-4c4c-8888-0123456789ab'],
    });
  });
});

describe('clickIdOf', () => {
  test('reads a click id from the page URL or query string', () => {
    const page = { ...BROWSER_CONTEXT.page, url: 'https://acme.example/?fbclid=IwAR2F4-dbP0l7' };
    expect(clickIdOf(track('X', {}, { context: { page } }), 'fbclid')).toBe('IwAR2F4-dbP0l7');
    const search = { page: { search: '?ttclid=E.C.P.abc&x=1' } };
    expect(clickIdOf(track('X', {}, { context: search }), 'ttclid')).toBe('E.C.P.abc');
    expect(clickIdOf(segmentEvent('page', { context: {} }), 'fbclid')).toBeUndefined();
  });
});
