// Hash personal data before it leaves Sluice. Destinations can still match users on the hashes
// (the same email always gives the same hash), but never see the email or phone number itself.
// The IP address is removed outright.
import { hashEmail, hashPhone } from 'pii-utils';

export function transformEvent(event) {
  // identify() puts them in traits, track() in properties, some SDKs in context.traits.
  for (const fields of [event.traits, event.context?.traits, event.properties]) {
    if (!fields) continue;
    if (fields.email) fields.email = hashEmail(fields.email);
    if (fields.phone) fields.phone = hashPhone(fields.phone);
  }
  if (event.context) delete event.context.ip;
  return event;
}
