import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ERRORS, SluiceError, asSluiceError } from '../src/errors';

const doc = readFileSync(path.join(__dirname, '../docs/errors.md'), 'utf8');

test.each(Object.entries(ERRORS))('%s is documented with its status', (code, { status }) => {
  const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
  expect(row).toBeDefined();
  const documented = row!.split('|')[2].trim();
  expect(documented).toBe(status >= 500 && code.includes('_INVALID') ? '—' : String(status));
});

test('every documented code exists', () => {
  const documented = [...doc.matchAll(/^\| `(SLUICE_E_[A-Z0-9_]+)`/gm)].map((match) => match[1]);
  expect(documented.sort()).toEqual(Object.keys(ERRORS).sort());
});

test('errors keep their cause and render the response body', () => {
  const cause = new Error('socket hang up');
  const error = new SluiceError('SLUICE_E_DATABASE_UNAVAILABLE', 'insert failed', { cause });
  expect(error.cause).toBe(cause);
  expect(error.message).toBe('The database is unavailable: insert failed');
  // A server error's detail is for the log; the response says only what the catalog says.
  expect(error.toJSON()).toEqual({
    success: false,
    code: 'SLUICE_E_DATABASE_UNAVAILABLE',
    message: 'The database is unavailable',
  });
  expect(new SluiceError('SLUICE_E_INVALID_EVENT', '"userId" must be a string').toJSON()).toEqual({
    success: false,
    code: 'SLUICE_E_INVALID_EVENT',
    message: 'The event is malformed: "userId" must be a string',
  });
  expect(asSluiceError(cause).code).toBe('SLUICE_E_INTERNAL');
  expect(asSluiceError(cause).cause).toBe(cause);
  expect(asSluiceError(error)).toBe(error);
});
