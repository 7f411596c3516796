package protocol

import "slices"

// Emoji reactions: a participant sends one of a fixed set of emoji, and
// everyone in the room, the sender included, sees it float over the
// sender's tile for a moment. The server relays it and keeps nothing: a
// reaction is not chat and never stored.
const (
	// TypeReaction travels both ways: the client sends the emoji; the
	// server relays it to everyone with from set to the sender.
	TypeReaction = "reaction"
)

// Reactions is the fixed set a client may send, in the order the picker
// shows them. Each is matched exactly, variation selector included.
var Reactions = []string{"👍", "👏", "😂", "❤️", "🎉", "😮", "🤔", "✋"}

// IsReaction reports whether emoji is one of Reactions.
func IsReaction(emoji string) bool {
	return slices.Contains(Reactions, emoji)
}

// Reaction is one emoji reaction. From is set by the server; whatever a
// client puts there is overwritten.
type Reaction struct {
	Type  string `json:"type"`
	From  string `json:"from,omitempty"`
	Emoji string `json:"emoji"`
}

func (m *Reaction) validate() error {
	if m.Emoji == "" {
		return invalid(`reaction needs an "emoji".`)
	}
	if !IsReaction(m.Emoji) {
		return invalid("%q is not one of the reactions: %s.", truncate(m.Emoji, 40), reactionList)
	}
	return nil
}

// reactionList names the allowed emoji in an error message.
var reactionList = func() string {
	out := ""
	for i, e := range Reactions {
		if i > 0 {
			out += " "
		}
		out += e
	}
	return out
}()
