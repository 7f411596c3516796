// @ts-check
// The grant a room page's address may carry (docs/PROTOCOL.md, "Invite
// links" and "Join tokens for other apps"): /r/<id>?invite=<token> (a link
// a host made) or /r/<id>?token=<JWT> (minted by another app's backend).
// The page passes it on to the room's socket, on every socket it opens,
// reconnects included (signaling.js). Both are JWTs; the page peeks at
// their claims only to prepare the pre-join screen (a viewer's link joins
// receive-only, a token names its bearer). The server verifies them and
// alone decides. Pure, for node --test.

/**
 * The grant a room page's address carries: an invite link's token, a
 * join token of another app, or neither ('').
 * @typedef {Object} LinkGrant
 * @property {string} invite
 * @property {string} token
 */

/**
 * Reads ?invite= and ?token= from a room page's query string. Pure.
 * @param {string} search location.search, with or without its "?"
 * @returns {LinkGrant}
 */
export function linkGrant(search) {
  const q = new URLSearchParams(search);
  return { invite: (q.get('invite') || '').trim(), token: (q.get('token') || '').trim() };
}

/**
 * The query parameters of the socket URL that carry a grant. Pure.
 * @param {URLSearchParams} q the socket URL's query, changed in place
 * @param {Partial<LinkGrant>} grant
 */
export function addGrant(q, grant) {
  if (grant.invite) q.set('invite', grant.invite);
  if (grant.token) q.set('token', grant.token);
}

/**
 * What a grant says, read without checking its signature (only the server
 * can): for the page's hints, never for a decision. Missing or unreadable
 * claims are ''/0. Pure.
 * @param {string} jwt
 * @returns {{role: string, name: string, expiresAt: number}} expiresAt in ms since the epoch
 */
export function grantClaims(jwt) {
  const none = { role: '', name: '', expiresAt: 0 };
  const part = String(jwt || '').split('.')[1];
  if (!part || part.length > 8192) return none;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    if (!claims || typeof claims !== 'object') return none;
    return {
      role: typeof claims.role === 'string' ? claims.role : '',
      name: typeof claims.name === 'string' ? claims.name.trim() : '',
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : 0,
    };
  } catch {
    return none;
  }
}

