// Package chat is the room chat: a star in which the server numbers each
// message, stores it, and only then fans it out to the sender's room.
//
// It is a leaf: it knows the wire types of protocol/ and nothing else of
// the application. app hands it a Store (the database), the Members of each
// room (anything that can queue a frame) and the Sender identity of each
// message, which app takes from the authenticated connection, never from
// the client.
package chat

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"meet/protocol"
)

// Message is a stored chat message as the Store sees it.
type Message struct {
	RoomID     string
	Seq        int64 // assigned by the Store: 1, 2, 3, ... per room
	SenderID   string
	UserID     string
	SenderName string
	Text       string
	ClientID   string
	Time       time.Time
}

// Store keeps a room's messages across restarts.
type Store interface {
	// Append stores msg with the room's next seq and returns it as stored.
	// When msg.ClientID is set and the same user already sent that client
	// id in the room, nothing is stored: Append returns the earlier message
	// and created is false.
	Append(msg Message) (stored Message, created bool, err error)
	// After returns up to limit messages with a seq greater than after,
	// oldest first.
	After(roomID string, after int64, limit int) ([]Message, error)
	// Recent returns the last limit messages, oldest first.
	Recent(roomID string, limit int) ([]Message, error)
}

// Member is one connection in a room. Send queues a frame and never blocks:
// the service calls it while holding the room's lock, which is what keeps
// every member's view of the room in one order. A member that cannot keep
// up is the caller's to disconnect; it resyncs with chat-sync.
type Member interface {
	Send(frame []byte)
}

// Sender is who sent a message, as the server knows it.
type Sender struct {
	ID     string // the participant (connection) id; must have joined the room
	UserID string // the identity behind it
	Name   string // the display name now
}

// Errors returned by the service. Validation errors are *protocol.DecodeError,
// with their protocol code and message.
var (
	// ErrNotMember means the sender or syncer has not joined the room (or
	// has left it): nothing is sent to a room from outside.
	ErrNotMember = errors.New("chat: not a member of this room")
	// ErrRateLimited matches a *RateLimitError with errors.Is.
	ErrRateLimited = errors.New("chat: sending too fast")
)

// Wire is the protocol form of a stored message.
func Wire(m Message) protocol.ChatMessage {
	return protocol.ChatMessage{
		Type:     protocol.TypeChatMessage,
		Seq:      m.Seq,
		From:     m.SenderID,
		FromName: m.SenderName,
		UserID:   m.UserID,
		Text:     m.Text,
		Time:     m.Time.UTC().Format(protocol.ChatTimeLayout),
		ClientID: m.ClientID,
	}
}

func wireAll(msgs []Message) []protocol.ChatMessage {
	out := make([]protocol.ChatMessage, len(msgs))
	for i, m := range msgs {
		out[i] = Wire(m)
	}
	return out
}

// After reads the page of a room's messages that follows seq after: at most
// limit of them, with HasMore set when more follow. The WebSocket resync and
// the REST API both answer with it.
func After(st Store, roomID string, after int64, limit int) (protocol.ChatHistory, error) {
	// One extra row tells whether there is more, without a COUNT.
	msgs, err := st.After(roomID, after, limit+1)
	if err != nil {
		return protocol.ChatHistory{}, fmt.Errorf("chat: read messages of %s after %d: %w", roomID, after, err)
	}
	more := len(msgs) > limit
	if more {
		msgs = msgs[:limit]
	}
	return protocol.ChatHistory{Type: protocol.TypeChatHistory, Messages: wireAll(msgs), HasMore: more}, nil
}

// Recent reads a room's last limit messages, with HasMore set when older
// ones exist: what a joiner sees first.
func Recent(st Store, roomID string, limit int) (protocol.ChatHistory, error) {
	msgs, err := st.Recent(roomID, limit+1)
	if err != nil {
		return protocol.ChatHistory{}, fmt.Errorf("chat: read recent messages of %s: %w", roomID, err)
	}
	more := len(msgs) > limit
	if more {
		msgs = msgs[1:]
	}
	return protocol.ChatHistory{Type: protocol.TypeChatHistory, Messages: wireAll(msgs), HasMore: more}, nil
}

// encode marshals a frame. The chat types are plain structs of strings and
// numbers, so an error here is a programming bug, reported rather than
// hidden.
func encode(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("chat: encode %T: %w", v, err)
	}
	return data, nil
}
