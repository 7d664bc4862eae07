/**
 * The web console at /console, served with the admin API: a sign-in page for anyone, and the
 * console itself (its page and assets) only with a session (see console-session.ts). Everything
 * it shows comes from the admin API.
 *   GET  /console            the console with a session, else the sign-in page
 *   GET  /console/assets/*   the console's scripts and styles, with a session
 *   POST /console/session    {token}: signs in (sets the session cookie)
 *   POST /console/sign-out   clears the session cookie
 */
import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import { SluiceError } from '../errors';
import { CONSOLE_DIR } from '../paths';
import { hasSession, isSameSiteChange, newSession, sessionCookie } from './console-session';

export function createConsoleRoutes(options: { token: string; dir?: string }): Router {
  const dir = options.dir ?? CONSOLE_DIR;
  const router = express.Router({ strict: false });
  const secure = (request: Request) => request.protocol === 'https';
  const page = (name: string) => (_request: Request, response: Response) => {
    const file = path.join(dir, name);
    if (!existsSync(file)) {
      throw new SluiceError('SLUICE_E_NOT_FOUND', 'the console is not built: run npm run build');
    }
    response.set('Cache-Control', 'no-store').set('X-Frame-Options', 'DENY').sendFile(file);
  };
  const signIn = page('sign-in.html');
  const app = page('index.html');

  router.get(['/console', '/console/*rest'], (request, response, next) => {
    if (request.path.startsWith('/console/assets/')) return next();
    return hasSession(request, options.token) ? app(request, response) : signIn(request, response);
  });
  router.use('/console/assets', (request, _response, next) => {
    if (!hasSession(request, options.token)) throw new SluiceError('SLUICE_E_UNAUTHORIZED');
    next();
  });
  router.use('/console/assets', express.static(path.join(dir, 'assets'), { fallthrough: false }));

  const expected = Buffer.from(options.token);
  router.post('/console/session', express.json({ limit: '4kb' }), (request, response) => {
    if (!isSameSiteChange(request)) throw new SluiceError('SLUICE_E_CROSS_SITE');
    const given = Buffer.from(String((request.body as { token?: unknown })?.token ?? ''));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new SluiceError('SLUICE_E_UNAUTHORIZED');
    }
    const session = newSession(options.token);
    response
      .set('Set-Cookie', sessionCookie(session.value, session.maxAge, secure(request)))
      .json({ signedIn: true });
  });
  router.post('/console/sign-out', (request, response) => {
    if (!isSameSiteChange(request)) throw new SluiceError('SLUICE_E_CROSS_SITE');
    response.set('Set-Cookie', sessionCookie('', 0, secure(request))).json({ signedIn: false });
  });
  return router;
}
