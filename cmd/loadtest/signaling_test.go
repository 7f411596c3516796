package main

import (
	"encoding/json"
	"testing"

	"meet/protocol"
)

// TestMessageType: the type read from a message's start is the one its
// decoding gives, for every kind of message the tool handles; messages laid
// out otherwise are decoded, and a message that is not JSON has none.
func TestMessageType(t *testing.T) {
	for _, m := range []any{
		protocol.SFU{Type: protocol.TypeSFU, PC: protocol.PCSubscribe, Kind: protocol.KindOffer, SDP: "v=0\r\n"},
		protocol.Mode{Type: protocol.TypeMode, Mode: protocol.ModeSFU},
		protocol.ChatMessage{Type: protocol.TypeChatMessage, Text: `say "hi"`},
		protocol.Error{Type: protocol.TypeError, Code: protocol.CodeInternal},
		protocol.Welcome{Type: protocol.TypeWelcome, Participants: []protocol.Participant{{ID: "p_1"}}},
	} {
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var env protocol.Envelope
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatal(err)
		}
		if got := messageType(data); got != env.Type || got == "" {
			t.Errorf("messageType(%s) = %q, want %q", data, got, env.Type)
		}
	}
	for data, want := range map[string]string{
		`{"kind":"offer","type":"sfu"}`: "sfu",          // type not first: decoded
		`{"type":"a\"b"}`:               `a"b`,          // an escape: decoded
		`{"type": "mode"}`:              "mode",         // spaced: decoded
		`not json`:                      "",             // nothing to read
		`{"type":"sfu`:                  "",             // cut short
		`{"type":"chat-message","x":1}`: "chat-message", // the fast path
	} {
		if got := messageType([]byte(data)); got != want {
			t.Errorf("messageType(%s) = %q, want %q", data, got, want)
		}
	}
}
