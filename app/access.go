package app

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"meet/app/room"
	"meet/protocol"
	"meet/store"
)

// Hosts and bans over REST and the socket (the rules are room's,
// app/room/access.go). A host is the room's owner or a moderator: the
// REST calls a moderator may make check the stored standing, since a
// request carries an identity, not a participant.

var (
	errBanned = newError(http.StatusForbidden, protocol.CodeBanned,
		"A host banned you from this room.")
	errNotHost = newError(http.StatusForbidden, protocol.CodeForbidden,
		"Only the room's hosts (its owner and moderators) can do that.")
)

// hostedRoom loads the room the path names for one of its hosts; anyone
// else gets errNotHost. It reports whether the handler may go on.
func (s *Server) hostedRoom(c *gin.Context) (*store.Room, bool) {
	stored, err := s.loadRoom(c.Param("id"))
	if err == nil && !s.isHost(stored, identityOf(c).ID) {
		err = errNotHost
	}
	if err != nil {
		s.abortWithError(c, err)
		return nil, false
	}
	return stored, true
}

// isHost reports whether an identity owns the room or moderates it.
func (s *Server) isHost(stored *store.Room, userID string) bool {
	if stored.OwnerID == userID {
		return true
	}
	m, err := s.store.Member(stored.ID, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("read a member", "room", stored.ID, "err", err)
	}
	return err == nil && m.Standing == store.StandingModerator
}

// getBans lists the identities banned from a room, for its hosts.
func (s *Server) getBans(c *gin.Context) {
	stored, ok := s.hostedRoom(c)
	if !ok {
		return
	}
	members, err := s.store.Members(stored.ID)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	bans := []protocol.Ban{}
	for _, m := range members {
		if m.Standing == store.StandingBanned {
			bans = append(bans, protocol.Ban{UserID: m.UserID, Name: m.Name, BannedAt: m.UpdatedAt.UTC().Format(time.RFC3339)})
		}
	}
	c.JSON(http.StatusOK, gin.H{"bans": bans})
}

// deleteBan lifts a ban, for a room's hosts: the same as an unban message.
func (s *Server) deleteBan(c *gin.Context) {
	stored, ok := s.hostedRoom(c)
	if !ok {
		return
	}
	userID := c.Param("user")
	err := s.hub.Unban(stored.ID, userID)
	var refusal *room.Refusal
	if errors.As(err, &refusal) {
		err = newError(http.StatusNotFound, refusal.Code, refusal.Message)
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	s.log.Info("ban lifted", "room", stored.ID, "user", userID, "by", identityOf(c).ID)
	s.publish(store.EventBanChanged, stored.ID, userID)
	c.Status(http.StatusNoContent)
}

// handleAccess takes a decoded host message of p about roles and bans,
// and reports whether msg was one.
func (s *Server) handleAccess(p *room.Participant, live *room.Room, msg any) bool {
	switch m := msg.(type) {
	case *protocol.RoleSet:
		answer(p, live.SetRole(p, m.ID, m.Role), protocol.TypeRoleSet, "The role could not be changed. Try again.")
	case *protocol.Unban:
		answer(p, live.Unban(p, m.UserID), protocol.TypeUnban, "The ban could not be lifted. Try again.")
	case *protocol.Remove:
		removed, err := live.Remove(p, m.ID, m.Ban)
		answer(p, err, protocol.TypeRemove, "The participant could not be removed. Try again.")
		for _, q := range removed {
			s.recordLeave(q)
		}
		if m.Ban && len(removed) > 0 {
			s.revokeInviteOf(live.ID(), removed[0].UserID())
		}
	default:
		return false
	}
	return true
}
