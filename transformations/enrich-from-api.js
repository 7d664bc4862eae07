// Add the customer's plan and company from the CRM to every event of a known user.
// The CRM's host must be listed in the workspace's sandbox.fetchAllowList.
/* global log -- the sandbox provides log(); its lines come back with the results */
const CRM_URL = 'https://crm.example.com/api/customers/';

export async function transformEvent(event) {
  if (!event.userId) return event;
  try {
    const response = await fetch(CRM_URL + encodeURIComponent(event.userId), {
      headers: { accept: 'application/json' },
    });
    if (response.status === 404) return event; // not a customer (yet)
    if (!response.ok) throw new Error(`the CRM answered ${response.status}`);
    const customer = await response.json();
    event.context = {
      ...event.context,
      traits: { ...event.context?.traits, plan: customer.plan, company: customer.company },
    };
  } catch (error) {
    // Enrichment is best effort: deliver the event without it, and say why in the logs.
    log(`no CRM data for ${event.userId}: ${error.message}`);
  }
  return event;
}
