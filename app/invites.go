package app

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/olahol/melody"

	"meet/app/room"
	"meet/grant"
	"meet/protocol"
	"meet/store"
)

// Invite links and join tokens (package grant) at the edge: the hosts'
// REST API for invites, and what either lets a joiner do. Both let the
// bearer past the lobby and the passcode, with a role; neither lets a
// banned identity in, nor anyone into a locked or full room. A join token
// also names the identity: another application's user, kept apart from
// this server's guests (tokenIdentity).

var (
	errInviteExpired = newError(http.StatusGone, protocol.CodeInviteExpired,
		"This invite link has expired or was revoked. Ask the host for a new one.")
	errBadInvite = newError(http.StatusUnauthorized, protocol.CodeUnauthorized,
		"This invite link is not valid for this room. Check that it was copied whole.")
	errBadJoinToken = newError(http.StatusUnauthorized, protocol.CodeUnauthorized,
		"The join token is not valid for this room. Ask the application that sent you here for a new link.")
	errJoinTokenExpired = newError(http.StatusGone, protocol.CodeInviteExpired,
		"The join token has expired. Ask the application that sent you here for a new link.")
)

// joinGrant is what an invite or a join token lets a socket do.
type joinGrant struct {
	standing string // store.Standing*, "" for a plain participant
	inviteID string
}

const grantKey = "meet.grant"

// isJoinToken tells a join token (a JWT: three dot-separated parts) from
// an identity token (two) in ?token=.
func isJoinToken(token string) bool { return strings.Count(token, ".") == 2 }

// standingOfRole maps a grant's role to the standing it gives.
func standingOfRole(role string) string {
	switch role {
	case grant.RolePresenter:
		return store.StandingPresenter
	case grant.RoleViewer:
		return store.StandingViewer
	case grant.RoleModerator:
		return store.StandingModerator
	}
	return ""
}

// tokenIdentity is the identity a join token's user has here: prefixed,
// and qualified by the API key, so that no token can speak for one of
// this server's guests, nor one application's user for another's.
func tokenIdentity(c grant.Claims, kid string) Identity {
	sum := sha256.Sum256([]byte(kid + "\x00" + c.UserID))
	return Identity{ID: "x_" + hex.EncodeToString(sum[:10]), Name: c.Name, IssuedAt: time.Now().Unix()}
}

// grantFor checks the invite or join token a socket came with, if any,
// for its room: it stores the standing granted (a ban stays) and returns
// the identity to join as, which a token replaces.
func (s *Server) grantFor(ss *melody.Session, identity Identity) (Identity, *joinGrant, *Error) {
	roomID, _ := ss.Keys["room"].(string)
	invite, _ := ss.Keys["invite"].(string)
	token, _ := ss.Keys["joinToken"].(string)
	var g joinGrant
	switch {
	case token != "":
		claims, kid, err := s.verifyJoinToken(token, roomID)
		if err != nil {
			return identity, nil, err
		}
		identity = tokenIdentity(claims, kid)
		ss.Set("name", claims.Name)
		g.standing = standingOfRole(claims.Role)
	case invite != "":
		inv, err := s.verifyInvite(invite, roomID)
		if err != nil {
			return identity, nil, err
		}
		g.standing, g.inviteID = standingOfRole(inv.Role), inv.ID
	default:
		return identity, nil, nil
	}
	if err := s.storeGrant(roomID, identity, g); err != nil {
		return identity, nil, err
	}
	return identity, &g, nil
}

// verifyJoinToken checks a join token against the stored API keys.
func (s *Server) verifyJoinToken(raw, roomID string) (grant.Claims, string, *Error) {
	var kid string
	lookup := func(id string) (ed25519.PublicKey, error) {
		kid = id
		pub, err := s.store.APIKeyPublic(id)
		if err == nil && len(pub) != ed25519.PublicKeySize {
			err = errors.New("stored public key has the wrong size")
		}
		return ed25519.PublicKey(pub), err
	}
	claims, err := grant.VerifyToken(raw, roomID, lookup, time.Now())
	switch {
	case err == nil:
		return claims, kid, nil
	case errors.Is(err, grant.ErrExpired):
		return claims, "", errJoinTokenExpired
	}
	s.log.Info("join token refused", "room", roomID, "err", err)
	return claims, "", errBadJoinToken
}

// verifyInvite checks an invite link's token and that it is still stored
// unrevoked.
func (s *Server) verifyInvite(raw, roomID string) (grant.Invite, *Error) {
	inv, err := grant.VerifyInvite(s.secret, raw, roomID, time.Now())
	switch {
	case errors.Is(err, grant.ErrExpired):
		return inv, errInviteExpired
	case err != nil:
		s.log.Info("invite refused", "room", roomID, "err", err)
		return inv, errBadInvite
	}
	stored, err := s.store.Invite(inv.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return inv, errBadInvite
	case err != nil:
		s.log.Error("read an invite", "invite", inv.ID, "err", err)
		return inv, errStateUnavailable
	case stored.RevokedAt != nil || stored.RoomID != roomID:
		return inv, errInviteExpired
	}
	return inv, nil
}

// storeGrant writes the standing a grant gives an identity, unless it
// has a ban or a moderator's standing already; a banned identity is
// refused here, before anything is written.
func (s *Server) storeGrant(roomID string, identity Identity, g joinGrant) *Error {
	current := ""
	m, err := s.store.Member(roomID, identity.ID)
	switch {
	case err == nil:
		current = m.Standing
	case !errors.Is(err, store.ErrNotFound):
		s.log.Error("read a member", "room", roomID, "err", err)
		return errStateUnavailable
	}
	if current == store.StandingBanned {
		return errBanned
	}
	next := room.GrantedStanding(current, g.standing)
	if next == current && g.inviteID == "" {
		return nil
	}
	if next == "" {
		if g.inviteID == "" {
			return nil // a plain participant: nothing to keep
		}
		next = store.StandingInvited
	}
	err = s.store.SetMember(store.Member{RoomID: roomID, UserID: identity.ID, Name: identity.Name, Standing: next, InviteID: g.inviteID})
	if err != nil {
		s.log.Error("store a grant", "room", roomID, "err", err)
		return errStateUnavailable
	}
	return nil
}

// grantOf is the grant a socket came with, nil for none.
func grantOf(ss *melody.Session) *joinGrant {
	v, _ := ss.Get(grantKey)
	g, _ := v.(*joinGrant)
	return g
}

// revokeInviteOf revokes the invite a banned identity came in with, if
// any: the link must not let anyone else in either. A failure is logged;
// the ban stands.
func (s *Server) revokeInviteOf(roomID, userID string) {
	m, err := s.store.Member(roomID, userID)
	if err != nil || m.InviteID == "" {
		return
	}
	if _, err := s.store.RevokeInvite(roomID, m.InviteID); err != nil {
		s.log.Error("revoke a banned identity's invite", "room", roomID, "invite", m.InviteID, "err", err)
		return
	}
	s.log.Info("invite revoked with a ban", "room", roomID, "invite", m.InviteID)
}

// inviteRequest is the body of POST /api/rooms/:id/invites.
type inviteRequest struct {
	Role string `json:"role"`
	TTL  int    `json:"ttl"` // seconds; 0 takes grant.DefaultInviteTTL
}

// inviteView is one invite as its room's hosts see it.
type inviteView struct {
	ID        string `json:"id"`
	Role      string `json:"role"`
	URL       string `json:"url"`
	CreatedAt string `json:"createdAt"`
	ExpiresAt string `json:"expiresAt"`
	Revoked   bool   `json:"revoked"`
	Expired   bool   `json:"expired"`
}

// postInvite makes an invite link, for a room's hosts.
func (s *Server) postInvite(c *gin.Context) {
	stored, ok := s.hostedRoom(c)
	if !ok {
		return
	}
	var req inviteRequest
	if err := decodeBody(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	if req.Role == "" {
		req.Role = grant.RoleParticipant
	}
	if !grant.ValidInviteRole(req.Role) {
		s.abortWithError(c, newError(http.StatusBadRequest, protocol.CodeBadRequest, `"role" must be "presenter", "participant" or "viewer".`))
		return
	}
	ttl, err := grant.InviteTTL(req.TTL)
	if err != nil {
		s.abortWithError(c, newError(http.StatusBadRequest, protocol.CodeBadRequest, err.Error()))
		return
	}
	if stored.Status == store.StatusEnded {
		s.abortWithError(c, errRoomEnded)
		return
	}
	inv := store.Invite{ID: grant.NewInviteID(), RoomID: stored.ID, Role: req.Role, CreatedBy: identityOf(c).ID,
		ExpiresAt: time.Now().Add(ttl).UTC().Truncate(time.Second)}
	view, err := s.inviteView(c.Request, inv)
	if err == nil {
		err = s.store.CreateInvite(inv)
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	s.log.Info("invite created", "room", stored.ID, "invite", inv.ID, "role", inv.Role, "by", identityOf(c).ID)
	c.JSON(http.StatusCreated, gin.H{"id": view.ID, "url": view.URL, "expiresAt": view.ExpiresAt})
}

// inviteView signs an invite's link for the request's host.
func (s *Server) inviteView(r *http.Request, inv store.Invite) (inviteView, error) {
	token, err := grant.SignInvite(s.secret, grant.Invite{ID: inv.ID, RoomID: inv.RoomID, Role: inv.Role, ExpiresAt: inv.ExpiresAt})
	if err != nil {
		return inviteView{}, err
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	link := url.URL{Scheme: scheme, Host: r.Host, Path: "/r/" + inv.RoomID, RawQuery: url.Values{"invite": {token}}.Encode()}
	return inviteView{
		ID: inv.ID, Role: inv.Role, URL: link.String(),
		CreatedAt: inv.CreatedAt.UTC().Format(time.RFC3339), ExpiresAt: inv.ExpiresAt.UTC().Format(time.RFC3339),
		Revoked: inv.RevokedAt != nil, Expired: time.Now().After(inv.ExpiresAt),
	}, nil
}

// getInvites lists a room's invites, newest first, for its hosts.
func (s *Server) getInvites(c *gin.Context) {
	stored, ok := s.hostedRoom(c)
	if !ok {
		return
	}
	invites, err := s.store.Invites(stored.ID)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	out := make([]inviteView, 0, len(invites))
	for _, inv := range invites {
		v, err := s.inviteView(c.Request, inv)
		if err != nil {
			s.abortWithError(c, err)
			return
		}
		out = append(out, v)
	}
	c.JSON(http.StatusOK, gin.H{"invites": out})
}

// deleteInvite revokes an invite, for a room's hosts.
func (s *Server) deleteInvite(c *gin.Context) {
	stored, ok := s.hostedRoom(c)
	if !ok {
		return
	}
	revoked, err := s.store.RevokeInvite(stored.ID, c.Param("invite"))
	if err == nil && !revoked {
		err = newError(http.StatusNotFound, protocol.CodeNotFound, "This room has no such invite.")
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	s.log.Info("invite revoked", "room", stored.ID, "invite", c.Param("invite"), "by", identityOf(c).ID)
	c.Status(http.StatusNoContent)
}
