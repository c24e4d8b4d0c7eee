// Koyeb's account and organization routes, as far as Pier's model has them: `koyeb whoami`, `organizations list`,
// `organizations switch` and `--organization` (which calls switch before every command) read them.
//
// Pier has no users: an API token belongs to exactly one organization and acts only there. So the "user" of
// /v1/account/profile is the calling token (id, name), its only organization is the token's, its only membership is
// that one (role OWNER), and switching answers the caller's own bearer token for its own organization and 404 for any
// other id (never saying whether that organization exists): nothing here ever crosses tenants. The operator manages
// organizations through /v1/pier/organizations instead.
import { notFound } from '../domain/errors.ts';
import type { Organization } from '../domain/types.ts';
import { getOrganization, getToken } from '../store/organizations.ts';
import { authenticateCaller, bearerToken, type Caller } from './auth.ts';
import { listReply } from './http.ts';
import type { RequestContext, Route } from './router.ts';

/** Koyeb's `Organization` for a Pier organization (no billing: plan `no_plan`, always ACTIVE and VALID). */
export function organizationView(org: Organization): Record<string, unknown> {
  return {
    id: org.id, external_id: '', provisioning: false, address1: '', address2: '', city: '', postal_code: '', state: '',
    country: '', company: false, vat_number: '', billing_name: '', billing_email: '', name: org.name, plan: 'no_plan',
    plan_updated_at: null, has_payment_method: false, subscription_id: '', current_subscription_id: '',
    latest_subscription_id: '', signup_qualification: {}, status: 'ACTIVE', status_message: 'VALID',
    deactivation_reason: 'INVALID', verified: true, qualifies_for_hobby23: false, reprocess_after: null, trialing: false,
    trial_starts_at: null, trial_ends_at: null, email_domain_allowlist: [], default_project_id: '',
  };
}

interface Who { caller: Caller; org: Organization; tokenName: string; expiresAt: string | null }

/** The calling token and its organization. */
async function who(c: RequestContext): Promise<Who> {
  const caller = await authenticateCaller(c.store, c.req);
  const org = await getOrganization(c.store.db, caller.organizationId);
  // Tokens are deleted with their organization; should one ever be left behind, its organization is simply not found.
  if (!org) throw notFound('organization', caller.organizationId);
  const row = await getToken(c.store.db, caller.organizationId, caller.tokenId);
  return { caller, org, tokenName: row?.name ?? '', expiresAt: row?.expires_at ?? null };
}

/** Koyeb's `User` standing for the calling token. */
function userView(w: Who): Record<string, unknown> {
  return {
    id: w.caller.tokenId, email: '', avatar_url: '', two_factor_authentication: false, last_login: null, last_login_ip: '',
    updated_at: w.org.updated_at, created_at: w.org.created_at, newsletter_subscribed: false, github_id: '',
    github_user: '', flags: [], name: w.tokenName, email_validated: false, trialed: false,
  };
}

/** The caller's one membership (Koyeb's `OrganizationMember`). */
function memberView(w: Who): Record<string, unknown> {
  return {
    id: w.caller.tokenId, organization_id: w.org.id, user_id: w.caller.tokenId, external_id: '', joined_at: w.org.created_at,
    role: 'OWNER', status: 'ACTIVE',
    user: { id: w.caller.tokenId, email: '', name: w.tokenName, avatar_url: '', github_id: '', github_user: '' },
    organization: { id: w.org.id, name: w.org.name, plan: 'no_plan', status: 'ACTIVE', external_id: '' },
  };
}

/** The caller's organization when `id` names it, else 404 (another organization is never confirmed to exist). */
async function ownOrganization(c: RequestContext, id: string): Promise<Who> {
  const w = await who(c);
  if (id !== w.org.id) throw notFound('organization', id);
  return w;
}

/** Routes of the account and organizations, scoped to the calling token's organization. */
export function accountRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/account/profile', operationId: 'GetCurrentUser', tag: 'Profile',
      handler: async (c) => ({ user: userView(await who(c)) }),
    },
    {
      method: 'GET', path: '/v1/account/organization', operationId: 'GetCurrentOrganization', tag: 'Profile',
      handler: async (c) => ({ organization: organizationView((await who(c)).org) }),
    },
    {
      method: 'GET', path: '/v1/account/organizations', operationId: 'ListUserOrganizations', tag: 'Profile',
      handler: async (c) => {
        const page = c.query.page();
        const { org } = await who(c);
        const search = c.query.str('search')?.toLowerCase();
        const statuses = c.query.list('statuses');
        const matches = (!search || org.name.includes(search)) && (!statuses || statuses.includes('ACTIVE'));
        const all = matches ? [organizationView(org)] : [];
        const items = all.slice(page.offset, page.offset + page.limit);
        return { organizations: items, limit: page.limit, offset: page.offset, has_next: page.offset + items.length < all.length };
      },
    },
    {
      method: 'GET', path: '/v1/organizations/{id}', operationId: 'GetOrganization', tag: 'Organization',
      handler: async (c) => ({ organization: organizationView((await ownOrganization(c, c.params.id!)).org) }),
    },
    {
      method: 'POST', path: '/v1/organizations/{id}/switch', operationId: 'SwitchOrganization', tag: 'Organization', reads: true,
      // The CLI uses `token.id` as the bearer token from then on: the caller's own token, which it already holds, so
      // switching creates nothing and keeps the token's rights (a read-only token stays read-only).
      handler: async (c) => {
        const w = await ownOrganization(c, c.params.id!);
        return { token: { id: bearerToken(c.req), user_id: w.caller.tokenId, organization_id: w.org.id, expires_at: w.expiresAt } };
      },
    },
    {
      method: 'GET', path: '/v1/organization_members', operationId: 'ListOrganizationMembers', tag: 'OrganizationMembers',
      handler: async (c) => {
        const page = c.query.page();
        const w = await who(c);
        const org = c.query.str('organization_id');
        const user = c.query.str('user_id');
        const statuses = c.query.list('organization_statuses');
        const matches = (!org || org === w.org.id) && (!user || user === w.caller.tokenId) && (!statuses || statuses.includes('ACTIVE'));
        const all = matches ? [memberView(w)] : [];
        return listReply('members', all.slice(page.offset, page.offset + page.limit), page, all.length);
      },
    },
  ];
}
