package protocol

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Chat message types. Chat is a star: clients send to the server, which
// numbers, stores and fans out each message to the sender's room.
const (
	// Client → server.
	TypeChatSend = "chat-send" // post a message to my room
	TypeChatSync = "chat-sync" // send me the messages after a seq (resync after a reconnect)

	// Server → client.
	TypeChatMessage = "chat-message" // one new message; the sender's own copy is its acknowledgement
	TypeChatHistory = "chat-history" // a page of stored messages, after welcome and in answer to chat-sync
)

// Chat limits. Text is counted in characters (runes) after trimming, so
// "数学" is two, not six.
const (
	MaxChatChars = 2000
	// MaxChatClientIDBytes fits a UUID with room to spare.
	MaxChatClientIDBytes = 64
)

// Protocol error codes for chat messages the decoder refuses. A refused
// chat-send carries Ref "chat-send"; the sender stays connected.
const (
	CodeChatEmpty   = "chat_empty"
	CodeChatTooLong = "chat_too_long"
)

// ChatTimeLayout is how ChatMessage.Time is written: RFC 3339 in UTC with
// milliseconds, so that messages of one second still sort and display
// sensibly.
const ChatTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// ChatSend posts a message to the sender's room. The server answers with
// the stored chat-message (to everyone, the sender included) or an error.
type ChatSend struct {
	Type string `json:"type"`
	Text string `json:"text"`
	// ClientID is chosen by the client (a UUID, say) and echoed in the
	// chat-message. A client that did not see its echo before a reconnect
	// sends the same clientId again: the server answers with the message it
	// already stored instead of storing it twice.
	ClientID string `json:"clientId,omitempty"`
}

// ChatSync asks for the messages with a seq greater than After, oldest
// first. The answer is one chat-history; when its HasMore is set, the
// client asks again after the last seq it got.
type ChatSync struct {
	Type  string `json:"type"`
	After int64  `json:"after"`
}

// ChatMessage is one stored chat message. Everything but Text and ClientID
// is stamped by the server; what a client sends in those fields is ignored.
type ChatMessage struct {
	Type     string `json:"type"`
	Seq      int64  `json:"seq"`      // per room: 1, 2, 3, ... in the order everyone sees
	From     string `json:"from"`     // the sending participant (connection) id
	FromName string `json:"fromName"` // the sender's display name when it was sent
	UserID   string `json:"userId"`   // the identity behind From; survives reconnects
	Text     string `json:"text"`     // plain text, never markup: render it as text
	Time     string `json:"time"`     // ChatTimeLayout, UTC
	ClientID string `json:"clientId,omitempty"`
}

// ChatHistory carries stored messages, oldest first. Sent after welcome it
// holds the room's most recent messages, and HasMore says that older ones
// exist (GET /api/rooms/:id/messages pages through them). In answer to a
// chat-sync it holds the messages after the requested seq, and HasMore says
// that newer ones exist beyond this page. Live chat-message frames may
// arrive around a chat-history: clients keep messages by seq.
type ChatHistory struct {
	Type     string        `json:"type"`
	Messages []ChatMessage `json:"messages"`
	HasMore  bool          `json:"hasMore"`
}

func chatError(code, format string, args ...any) error {
	return &DecodeError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (m *ChatSend) validate() error {
	// encoding/json has already replaced invalid UTF-8 with U+FFFD, so
	// counting runes is counting what the user sees.
	text := strings.TrimSpace(m.Text)
	if text == "" {
		return chatError(CodeChatEmpty, "Message is empty; type something to send.")
	}
	if n := utf8.RuneCountInString(text); n > MaxChatChars {
		return chatError(CodeChatTooLong, "Message is %d characters; the limit is %d. Split it into shorter messages.", n, MaxChatChars)
	}
	for _, r := range text {
		// Newlines and tabs are text; other control characters only hide
		// things from readers and from logs.
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return invalid("Message contains a control character (U+%04X).", r)
		}
	}
	if len(m.ClientID) > MaxChatClientIDBytes {
		return invalid("clientId is longer than %d bytes.", MaxChatClientIDBytes)
	}
	for i := 0; i < len(m.ClientID); i++ {
		if c := m.ClientID[i]; c < 0x21 || c > 0x7e {
			return invalid("clientId must be printable ASCII without spaces.")
		}
	}
	return nil
}

func (m *ChatSync) validate() error {
	if m.After < 0 {
		return invalid(`chat-sync "after" must be a seq, 0 or more.`)
	}
	return nil
}

// Validate checks m as Decode does, for a receiver that is handed a
// ChatSend it did not decode itself: the chat service checks again rather
// than trust every caller to have gone through Decode.
func (m *ChatSend) Validate() error { return m.validate() }
