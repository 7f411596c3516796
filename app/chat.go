package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"meet/app/room"
	"meet/chat"
	"meet/protocol"
	"meet/store"
)

// Page sizes of GET /api/rooms/:id/messages.
const (
	defaultMessagesLimit = 100
	maxMessagesLimit     = 500
)

// chatStore adapts the database to what the chat service needs, so that
// chat never imports store.
type chatStore struct{ db *store.Store }

func (cs chatStore) Append(m chat.Message) (chat.Message, bool, error) {
	row := store.ChatMessage{
		RoomID:     m.RoomID,
		SenderID:   m.SenderID,
		UserID:     m.UserID,
		SenderName: m.SenderName,
		Text:       m.Text,
		ClientID:   m.ClientID,
		CreatedAt:  m.Time,
	}
	created, err := cs.db.AppendMessage(&row)
	if err != nil {
		return chat.Message{}, false, err
	}
	return fromChatRow(row), created, nil
}

func (cs chatStore) After(roomID string, after int64, limit int) ([]chat.Message, error) {
	rows, err := cs.db.MessagesAfter(roomID, after, limit)
	return fromChatRows(rows), err
}

func (cs chatStore) Recent(roomID string, limit int) ([]chat.Message, error) {
	rows, err := cs.db.RecentMessages(roomID, limit)
	return fromChatRows(rows), err
}

func fromChatRow(r store.ChatMessage) chat.Message {
	return chat.Message{
		RoomID:     r.RoomID,
		Seq:        r.Seq,
		SenderID:   r.SenderID,
		UserID:     r.UserID,
		SenderName: r.SenderName,
		Text:       r.Text,
		ClientID:   r.ClientID,
		Time:       r.CreatedAt,
	}
}

func fromChatRows(rows []store.ChatMessage) []chat.Message {
	out := make([]chat.Message, len(rows))
	for i, r := range rows {
		out[i] = fromChatRow(r)
	}
	return out
}

// chatLink connects participants to the chat service: membership follows
// the WebSocket, the sender's identity comes from the connection, and every
// refusal is answered on the socket, which stays open.
type chatLink struct {
	svc *chat.Service
	log *slog.Logger
	// accepted counts messages the service took, for /metrics.
	accepted atomic.Uint64
}

func newChatLink(db *store.Store, log *slog.Logger, now func() time.Time) (*chatLink, error) {
	svc, err := chat.New(chat.Config{Store: chatStore{db: db}, Logger: log, Now: now})
	if err != nil {
		return nil, err
	}
	return &chatLink{svc: svc, log: log}, nil
}

// join makes p a member of its room's chat and sends it the recent
// history. Call it after the room's welcome has been queued, so that the
// client has its own id before it reads any chat.
func (l *chatLink) join(p *room.Participant) {
	if err := l.svc.Join(p.RoomID(), p.ID(), p); err != nil {
		// p is a member all the same: live messages reach it, and the
		// history can be asked for again.
		l.log.Error("load chat history", "room", p.RoomID(), "participant", p.ID(), "err", err)
		sendError(p, protocol.CodeInternal, "Could not load the earlier chat messages. Ask again with chat-sync.", protocol.TypeChatSync)
	}
}

// leave ends p's chat membership. It is safe to call for a participant that
// never joined the chat.
func (l *chatLink) leave(p *room.Participant) {
	l.svc.Leave(p.RoomID(), p.ID())
}

// handle takes a decoded chat message of p and reports whether msg was one.
// A participant's messages are handled in order, so each chat-send gets one
// answer in order: its echo (a chat-message with its clientId) or an error
// with ref "chat-send".
func (l *chatLink) handle(p *room.Participant, live *room.Room, msg any) bool {
	switch m := msg.(type) {
	case *protocol.ChatSend:
		// The name is the room's to read: a rename may be under way.
		name := live.NameOf(p)
		err := l.svc.Send(p.RoomID(), chat.Sender{ID: p.ID(), UserID: p.UserID(), Name: name}, m)
		if err == nil {
			l.accepted.Add(1)
		}
		l.reply(p, err, protocol.TypeChatSend)
	case *protocol.ChatSync:
		l.reply(p, l.svc.Sync(p.RoomID(), p.ID(), m.After), protocol.TypeChatSync)
	default:
		return false
	}
	return true
}

// reply maps a chat error to the one error message the client gets.
func (l *chatLink) reply(p *room.Participant, err error, ref string) {
	if err == nil {
		return
	}
	var decodeErr *protocol.DecodeError
	var limitErr *chat.RateLimitError
	switch {
	case errors.As(err, &decodeErr):
		sendError(p, decodeErr.Code, decodeErr.Message, ref)
	case errors.As(err, &limitErr):
		sendError(p, protocol.CodeRateLimited, limitErr.Message(), ref)
	case errors.Is(err, chat.ErrNotMember):
		// join runs before the read loop starts, so this is a bug, not a
		// client's doing.
		l.log.Error("chat message from a non-member", "room", p.RoomID(), "participant", p.ID())
		sendError(p, protocol.CodeInternal, "You are not connected to this room's chat. Reload the page to reconnect.", ref)
	default:
		l.log.Error("chat failed", "room", p.RoomID(), "participant", p.ID(), "ref", ref, "err", err)
		if ref == protocol.TypeChatSend {
			sendError(p, protocol.CodeInternal, "Your message could not be saved. Send it again.", ref)
		} else {
			sendError(p, protocol.CodeInternal, "Could not load the chat messages. Try again.", ref)
		}
	}
}

// getMessages serves GET /api/rooms/:id/messages?after=N&limit=M: the same
// pages as chat-sync, for any room that exists, ended rooms included.
func (s *Server) getMessages(c *gin.Context) {
	room, err := s.loadRoom(c.Param("id"))
	if err == nil {
		err = s.mayRead(room, identityOf(c).ID)
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	after, limit, err := messagesPage(c)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	page, err := chat.After(chatStore{db: s.store}, room.ID, after, limit)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"messages": page.Messages, "hasMore": page.HasMore})
}

// messagesPage reads ?after= (default 0) and ?limit= (default 100, at
// most 500).
func messagesPage(c *gin.Context) (after int64, limit int, err error) {
	limit = defaultMessagesLimit
	if raw, ok := c.GetQuery("after"); ok {
		after, err = strconv.ParseInt(raw, 10, 64)
		if err != nil || after < 0 {
			return 0, 0, newError(http.StatusBadRequest, protocol.CodeBadRequest, "after must be a message seq: a whole number, 0 or more.")
		}
	}
	if raw, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxMessagesLimit {
			return 0, 0, newError(http.StatusBadRequest, protocol.CodeBadRequest,
				fmt.Sprintf("limit must be a whole number from 1 to %d.", maxMessagesLimit))
		}
		limit = n
	}
	return after, limit, nil
}
